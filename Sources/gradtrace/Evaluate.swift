import ArgumentParser
import Datasets
import Foundation
import Networks
import TensorCore
import Training

extension FashionMNIST.Split: ExpressibleByArgument {
  public init?(argument: String) {
    switch argument {
    case "train": self = .train
    case "test": self = .test
    default: return nil
    }
  }

  /// How `--help` shows the default: the word the option takes, not the file prefix.
  public var defaultValueDescription: String { self == .train ? "train" : "test" }
  public static var allValueStrings: [String] { ["train", "test"] }
}

struct Evaluate: ParsableCommand {
  enum Mode: String, ExpressibleByArgument, CaseIterable { case eval, train }

  static let configuration = CommandConfiguration(
    abstract: "Loss and accuracy of a checkpoint on a batch or a dataset split.",
    discussion: """
      --mode eval normalises with BatchNorm's running statistics (as at test time);
      --mode train with the batch's own statistics (as during training and in
      `probe`).

      Examples:
        gradtrace evaluate --checkpoint runs/vgg08/best.h5 --dataset fashion-mnist \\
          --split test
        gradtrace evaluate --checkpoint init.h5 --batch batch.h5 --mode train --json
      """)

  @Option(help: "Checkpoint with the weights.") var checkpoint: String
  @Option(help: "Batch file: /images float32 [N, C, H, W] (normalised) and /labels int64 [N].") var batch: String?
  @Option(help: "Or a dataset: fashion-mnist.") var dataset: String?
  @Option(help: "Dataset directory.") var dataDir = FashionMNIST.defaultDirectory
  @Option(help: "Dataset split: train or test.") var split: FashionMNIST.Split = .test
  @Option(parsing: .unconditional, help: "Use the first N examples of the split (default: all).") var examples: Int?
  @Option(help: "BatchNorm statistics: eval (running) or train (batch).") var mode: Mode = .eval
  @Option(parsing: .unconditional, help: "Examples per forward pass.") var batchSize = 100
  @Option(parsing: .unconditional, help: "Worker threads.") var threads = 2
  @Flag(help: "Print JSON.") var json = false

  func validate() throws {
    if (batch == nil) == (dataset == nil) {
      throw ValidationError("give exactly one of --batch FILE.h5 or --dataset NAME")
    }
    if let dataset, dataset != "fashion-mnist" {
      throw ValidationError("unknown dataset '\(dataset)': evaluate reads fashion-mnist (or any batch with --batch)")
    }
    guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1, got \(batchSize)") }
    guard threads >= 1 else { throw ValidationError("--threads must be at least 1, got \(threads)") }
    if let examples, examples < 1 { throw ValidationError("--examples must be at least 1, got \(examples)") }
  }

  func run() throws {
    ComputeThreads.set(threads)
    let saved = try Checkpoint.read(from: checkpoint)
    if !saved.isVerified { noticeUnverified(checkpoint) }
    let network = try Network<Float>(saved.configuration, parameters: saved.parameters, buffers: saved.buffers)
    let c = saved.configuration
    let images: Tensor<Float>
    let labels: [Int]
    if let batch {
      (images, labels) = try BatchFile.read(batch)
    } else {
      (images, labels) = try FashionMNIST.load(
        directory: dataDir, split: split, limit: examples, pad: c.inputShape[1] == 32)
    }
    guard Array(images.shape.dropFirst()) == c.inputShape else {
      throw CommandError(
        "images are \(images.shape.dropFirst().map(String.init).joined(separator: "x")), but \(checkpoint) holds a \(c.shortName) for \(c.inputShapeDescription) input"
      )
    }
    if let bad = labels.first(where: { $0 < 0 || $0 >= c.classes }) {
      throw CommandError("label \(bad) is outside the model's \(c.classes) classes")
    }
    // In train mode the batch statistics are the whole input's (one pass); in eval mode the
    // input is split into passes of --batch-size.
    let step = mode == .train ? labels.count : batchSize
    var (lossSum, correct) = (0.0, 0.0)
    let imageSize = images.count / labels.count
    for start in stride(from: 0, to: labels.count, by: step) {
      let end = min(labels.count, start + step)
      let part = Tensor<Float>(
        shape: [end - start] + Array(images.shape.dropFirst()),
        scalars: Array(images.scalars[(start * imageSize)..<(end * imageSize)]))
      let result = network.evaluate(
        images: part, labels: Array(labels[start..<end]), mode: mode == .train ? .training : .evaluation)
      lossSum += Double(result.loss) * Double(end - start)
      correct += result.accuracy * Double(end - start)
    }
    let (loss, accuracy) = (lossSum / Double(labels.count), correct / Double(labels.count))
    if json {
      print(
        "{\"accuracy\": \(accuracy), \"examples\": \(labels.count), \"loss\": \(loss), \"mode\": \"\(mode.rawValue)\", \"model\": \"\(c.shortName)\"}"
      )
    } else {
      print(
        String(
          format: "%@ on %d examples (%@ mode): loss %.6f, accuracy %.2f%%", c.shortName, labels.count, mode.rawValue,
          loss, accuracy * 100))
    }
  }
}

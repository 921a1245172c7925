import ArgumentParser
import Foundation
import Networks
import Training

struct Init: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Write a model's initial weights as a checkpoint.",
    discussion: """
      The checkpoint holds /parameters/<name> and /buffers/<name> with PyTorch's
      names and shapes (conv OIHW, linear [out, in]), so other tools can load
      exactly these weights; scripts/torch_reference.py shows how with h5py. The
      same seed gives the same weights.

      The input shape and class count follow --dataset (fashion-mnist, as `train`
      and `probe` default to: 1x32x32, 10 classes), unless --input and --classes
      are given for the synthetic dataset. A --model-file fixes its own shape: it is
      checked against --dataset only when one is given.

      Examples:
        gradtrace init --model vgg38 --batchnorm --residual --seed 0 -o init.h5
        gradtrace init --model vgg08 --dataset cifar100 -o vgg08-cifar100.h5
        gradtrace init --model-file examples/models/small-cnn.json -o small.h5
      """)

  @OptionGroup var modelOptions: ModelOptions

  @Option(help: "The data the model is for: fashion-mnist (the default), cifar10, cifar100, synthetic.")
  var dataset: TrainingConfiguration.DatasetName?

  @Flag(help: "Fashion-MNIST at 28×28 instead of padded to 32×32.")
  var noPad = false

  @Option(parsing: .unconditional, help: "Random seed for the initial weights.")
  var seed: UInt64 = 0

  @Option(name: .customLong("init"), help: "Initialisation: pytorch (the paper's default, U(±1/√fan_in)), he, xavier.")
  var initialization: Initialization = .pytorchDefault

  @Option(name: [.customShort("o"), .long], help: "Checkpoint file to write (HDF5).")
  var output: String

  func validate() throws {
    if noPad && (dataset ?? .fashionMNIST) != .fashionMNIST {
      throw ValidationError("--no-pad applies to fashion-mnist only")
    }
    _ = try model()
  }

  func model() throws -> NetworkConfiguration {
    if dataset == nil && modelOptions.modelFile != nil { return try modelOptions.configuration(for: nil, source: "") }
    let dataset = dataset ?? .fashionMNIST
    return try modelOptions.configuration(for: dataset.shape(pad: !noPad), source: dataset.rawValue)
  }

  func run() throws {
    let network = try Network<Float>(try model(), initialization: initialization, seed: seed)
    var checkpoint = Checkpoint(model: network)
    checkpoint.runConfiguration = Self.runConfiguration(seed: seed, initialization: initialization)
    try checkpoint.write(to: output)
    print(
      "wrote \(output): \(network.configuration.shortName) for \(network.configuration.inputShapeDescription) input, \(network.configuration.classes) classes, \(network.parameterCount) parameters, init \(initialization.rawValue), seed \(seed)"
    )
  }

  static func runConfiguration(seed: UInt64, initialization: Initialization) -> String {
    "{\"initialization\":\"\(initialization.rawValue)\",\"seed\":\(seed)}"
  }
}

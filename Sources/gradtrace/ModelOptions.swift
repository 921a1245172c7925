import ArgumentParser
import Foundation
import Networks
import Training

extension Activation: ExpressibleByArgument {}
extension Initialization: ExpressibleByArgument {}

/// The built-in networks `--model` names.
enum ModelName: String, CaseIterable, ExpressibleByArgument {
  case vgg08, vgg38, densenet, resnet20, resnet32, resnet56

  /// The options that apply to this family (every other architecture option is refused).
  var takes: Set<String> {
    switch self {
    case .vgg08, .vgg38: ["--batchnorm", "--residual", "--activation"]
    case .densenet: ["--batchnorm", "--depth", "--growth-rate"]
    case .resnet20, .resnet32, .resnet56: ["--batchnorm", "--residual"]
    }
  }
}

/// An input shape written `CxHxW` (`3x32x32`, `1x28x28`).
struct InputShape: ExpressibleByArgument, CustomStringConvertible {
  var channels: Int
  var height: Int
  var width: Int

  init?(argument: String) {
    let parts = argument.lowercased().split(separator: "x").map { Int($0) }
    guard parts.count == 3, let c = parts[0], let h = parts[1], let w = parts[2], c > 0, h > 0, w > 0 else {
      return nil
    }
    (channels, height, width) = (c, h, w)
  }

  init(channels: Int, height: Int, width: Int) {
    (self.channels, self.height, self.width) = (channels, height, width)
  }

  var description: String { "\(channels)x\(height)x\(width)" }
  static var defaultCompletionKind: CompletionKind { .list(["3x32x32", "1x32x32", "1x28x28"]) }
}

/// The options that choose an architecture, shared by every subcommand that builds a model.
/// The input shape and class count follow the data unless given; a given one must agree.
struct ModelOptions: ParsableArguments {
  @Option(
    help: ArgumentHelp(
      "The network (default vgg08).",
      discussion: """
        vgg08, vgg38: the paper's (7 or 37 convolutions + linear; --batchnorm, --residual, --activation).
        densenet: DenseNet-BC (Huang et al. 2017; --depth, --growth-rate, --batchnorm).
        resnet20, resnet32, resnet56: He et al.'s CIFAR ResNets (--batchnorm; --residual, else the plain net).
        """))
  var model: ModelName?

  @Option(
    name: .customLong("model-file"),
    help: ArgumentHelp(
      "A network described in a JSON file (docs/model-format.md; examples in examples/models/).",
      valueName: "path"))
  var modelFile: String?

  @Flag(help: "BatchNorm: after every convolution (vgg: the stem always has one; resnet), before (densenet).")
  var batchnorm = false

  @Flag(
    help:
      "Residual connections: vgg: identity in processing blocks, 1×1 stride-2 projections in reduction blocks; resnet: identity shortcuts (without it, the plain network)."
  )
  var residual = false

  @Option(help: "vgg only: the non-linearity everywhere, leaky (ReLU, slope 0.01, the default) or sigmoid.")
  var activation: Activation?

  @Option(help: "densenet only: total depth 6n + 4 (default 40: three dense blocks of 6 bottleneck layers).")
  var depth: Int?

  @Option(name: .customLong("growth-rate"), help: "densenet only: channels each layer adds, k (default 12).")
  var growthRate: Int?

  @Option(help: "Output classes (default: the dataset's: 10 for Fashion-MNIST and CIFAR-10, 100 for CIFAR-100).")
  var classes: Int?

  @Option(help: "Input shape as CxHxW (default: the dataset's: 1x32x32 padded Fashion-MNIST, 3x32x32 CIFAR).")
  var input: InputShape?

  /// The architecture options given, by their command-line names.
  private var architectureOptionsGiven: [String] {
    [
      ("--batchnorm", batchnorm), ("--residual", residual), ("--activation", activation != nil),
      ("--depth", depth != nil), ("--growth-rate", growthRate != nil),
    ].filter(\.1).map(\.0)
  }

  /// The model for data of shape `data` (nil: data drawn in any shape, as the synthetic set;
  /// then `fallback` fills what the command line leaves out).
  /// - Parameter source: how the data is named in a message (`fashion-mnist`).
  /// - Throws: `ValidationError` (a usage error) when an option does not apply to the model, or
  ///   --input or --classes contradicts the data, naming both, or the model cannot be built for
  ///   that shape; `CommandError` when a model file cannot be read or built.
  func configuration(for data: DataShape?, source: String, fallback: DataShape = .fashionMNIST) throws
    -> NetworkConfiguration
  {
    if let data, let input, [input.channels, input.height, input.width] != [data.channels, data.height, data.width] {
      throw ValidationError(
        "--input \(input) contradicts \(source), whose images are \(data.input): leave --input out to use them")
    }
    if let data, let classes, classes != data.classes {
      throw ValidationError(
        "--classes \(classes) contradicts \(source), which has \(data.classes) classes: leave --classes out to use them"
      )
    }
    if let modelFile { return try fileConfiguration(modelFile, data: data, source: source) }
    let name = model ?? .vgg08
    if let refused = architectureOptionsGiven.first(where: { !name.takes.contains($0) }) {
      throw ValidationError(
        "\(refused) does not apply to --model \(name.rawValue) (it takes \(name.takes.sorted().joined(separator: ", ")))"
      )
    }
    let shape = data ?? fallback
    let inputShape = input.map { [$0.channels, $0.height, $0.width] } ?? [shape.channels, shape.height, shape.width]
    let family: NetworkConfiguration
    switch name {
    case .vgg08, .vgg38:
      family = .vgg(
        .preset(
          name == .vgg08 ? .vgg08 : .vgg38, batchNorm: batchnorm, residual: residual, activation: activation ?? .leaky))
    case .densenet:
      family = .denseNet(DenseNetConfiguration(depth: depth ?? 40, growthRate: growthRate ?? 12, batchNorm: batchnorm))
    case .resnet20, .resnet32, .resnet56:
      family = .resNet(
        ResNetConfiguration(depth: Int(name.rawValue.dropFirst(6))!, batchNorm: batchnorm, residual: residual))
    }
    let configuration = family.adapted(toInput: inputShape, classes: classes ?? shape.classes)
    do {
      _ = try configuration.model()
    } catch {
      throw ValidationError(error.message)
    }
    return configuration
  }

  /// The description in `path`, checked against the data and the other options.
  private func fileConfiguration(_ path: String, data: DataShape?, source: String) throws -> NetworkConfiguration {
    if let model {
      throw ValidationError("give --model \(model.rawValue) or --model-file, not both")
    }
    if let refused = architectureOptionsGiven.first {
      throw ValidationError("\(refused) does not apply to --model-file: the file fixes the architecture")
    }
    let graph = try ModelFile.read(path)
    let compiled: Model
    do {
      compiled = try Model(graph)
    } catch {
      throw CommandError("\(path): \(error.message)")
    }
    let fileInput = graph.input.map(String.init).joined(separator: "x")
    if let input, [input.channels, input.height, input.width] != graph.input {
      throw ValidationError("--input \(input) contradicts \(path), whose input is \(fileInput)")
    }
    if let classes, classes != compiled.classes {
      throw ValidationError("--classes \(classes) contradicts \(path), whose last layer gives \(compiled.classes)")
    }
    if let data {
      guard graph.input == [data.channels, data.height, data.width] else {
        throw CommandError("\(path): its input is \(fileInput) but \(source)'s images are \(data.input)")
      }
      guard compiled.classes == data.classes else {
        throw CommandError(
          "\(path): its last layer gives \(compiled.classes) class scores but \(source) has \(data.classes) classes")
      }
    }
    return .graph(graph)
  }

  /// Whether the command line names any part of the model (a resumed run must then match it).
  var given: Bool {
    CommandLine.arguments.contains {
      [
        "--model", "--model-file", "--batchnorm", "--residual", "--activation", "--depth", "--growth-rate",
        "--classes", "--input",
      ].contains($0)
    }
  }
}

/// Model files: a network description as JSON (docs/model-format.md).
enum ModelFile {
  /// The description in `path`.
  /// - Throws: `CommandError` naming the file and, where the JSON is readable, the layer and
  ///   what is wrong with it.
  static func read(_ path: String) throws -> ModelGraph {
    guard let data = FileManager.default.contents(atPath: path) else {
      throw CommandError("\(path): cannot read the model file (does it exist?)")
    }
    do {
      return try JSONDecoder().decode(ModelGraph.self, from: data)
    } catch DecodingError.dataCorrupted(let context) where !context.codingPath.isEmpty {
      // A layer entry's own error ("layer 'conv': unknown kind …").
      throw CommandError("\(path): \(context.debugDescription)")
    } catch DecodingError.dataCorrupted(let context) {
      throw CommandError("\(path): not a JSON model description (\(context.debugDescription))")
    } catch DecodingError.keyNotFound(let key, let context) {
      throw CommandError("\(path): \(Self.where(context.codingPath))needs '\(key.stringValue)'")
    } catch DecodingError.typeMismatch(let type, let context) {
      throw CommandError(
        "\(path): \(Self.where(context.codingPath))'\(context.codingPath.last?.stringValue ?? "?")' should be \(type)")
    } catch {
      throw CommandError("\(path): not a JSON model description (\(error.localizedDescription))")
    }
  }

  /// "layers[3]: " for a coding path into the layer list.
  private static func `where`(_ path: [any CodingKey]) -> String {
    let parts = path.map { key in key.intValue.map { "[\($0)]" } ?? ".\(key.stringValue)" }.joined()
    return parts.isEmpty ? "" : "\(parts.drop { $0 == "." }): "
  }
}

extension DataShape {
  /// Fashion-MNIST padded to 32×32: the default dataset's shape.
  static var fashionMNIST: DataShape { TrainingConfiguration.DatasetName.fashionMNIST.shape()! }
}

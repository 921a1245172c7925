import ArgumentParser
import Networks
import Training

extension VGGConfiguration.Preset: ExpressibleByArgument {}
extension Activation: ExpressibleByArgument {}
extension Initialization: ExpressibleByArgument {}

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
  @Option(help: "The network: vgg08 (7 convolutions + linear) or vgg38 (37 + linear).")
  var model: VGGConfiguration.Preset = .vgg08

  @Flag(help: "BatchNorm after every convolution (the stem always has one).")
  var batchnorm = false

  @Flag(help: "Residual connections: identity in processing blocks, 1×1 stride-2 projections in reduction blocks.")
  var residual = false

  @Option(help: "The non-linearity everywhere: leaky (ReLU, slope 0.01) or sigmoid.")
  var activation: Activation = .leaky

  @Option(help: "Output classes (default: the dataset's: 10 for Fashion-MNIST and CIFAR-10, 100 for CIFAR-100).")
  var classes: Int?

  @Option(help: "Input shape as CxHxW (default: the dataset's: 1x32x32 padded Fashion-MNIST, 3x32x32 CIFAR).")
  var input: InputShape?

  /// The model for data of shape `data` (nil: data drawn in any shape, as the synthetic set;
  /// then `fallback` fills what the command line leaves out).
  /// - Parameter source: how the data is named in a message (`fashion-mnist`).
  /// - Throws: `ValidationError` (a usage error) when --input or --classes contradicts the
  ///   data, naming both, or the model cannot be built for that shape.
  func configuration(for data: DataShape?, source: String, fallback: DataShape = .fashionMNIST) throws
    -> VGGConfiguration
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
    let shape = data ?? fallback
    let configuration = VGGConfiguration.preset(
      model, batchNorm: batchnorm, residual: residual, activation: activation,
      inputChannels: input?.channels ?? shape.channels, inputHeight: input?.height ?? shape.height,
      inputWidth: input?.width ?? shape.width, classes: classes ?? shape.classes)
    do {
      try configuration.validate()
    } catch {
      throw ValidationError(error.message)
    }
    return configuration
  }

  /// Whether the command line names any part of the model (a resumed run must then match it).
  var given: Bool {
    CommandLine.arguments.contains {
      ["--model", "--batchnorm", "--residual", "--activation", "--classes", "--input"].contains($0)
    }
  }
}

extension DataShape {
  /// Fashion-MNIST padded to 32×32: the default dataset's shape.
  static var fashionMNIST: DataShape { TrainingConfiguration.DatasetName.fashionMNIST.shape()! }
}

import ArgumentParser
import Networks

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
struct ModelOptions: ParsableArguments {
  @Option(help: "The network: vgg08 (7 convolutions + linear) or vgg38 (37 + linear).")
  var model: VGGConfiguration.Preset = .vgg08

  @Flag(help: "BatchNorm after every convolution (the stem always has one).")
  var batchnorm = false

  @Flag(help: "Residual connections: identity in processing blocks, 1×1 stride-2 projections in reduction blocks.")
  var residual = false

  @Option(help: "The non-linearity everywhere: leaky (ReLU, slope 0.01) or sigmoid.")
  var activation: Activation = .leaky

  @Option(help: "Output classes (100 for CIFAR-100, 10 for Fashion-MNIST or CIFAR-10).")
  var classes = 100

  @Option(help: "Input shape as CxHxW, e.g. 3x32x32 (CIFAR) or 1x32x32 (padded Fashion-MNIST).")
  var input = InputShape(channels: 3, height: 32, width: 32)

  var configuration: VGGConfiguration {
    .preset(
      model, batchNorm: batchnorm, residual: residual, activation: activation,
      inputChannels: input.channels, inputHeight: input.height, inputWidth: input.width,
      classes: classes)
  }

  func validate() throws {
    do {
      try configuration.validate()
    } catch {
      throw ValidationError(error.message)
    }
  }
}

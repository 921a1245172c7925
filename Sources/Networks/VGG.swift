// VGG08 / VGG38 and their BatchNorm and residual variants, as in T.-V. Pricope, "An analysis on
// very deep convolutional neural networks: problems and solutions" (Studia Universitatis
// Babeș-Bolyai Informatica, 2021), and the coursework framework it ran in.

import Autodiff
import TensorCore

/// Whether BatchNorm uses batch statistics (training) or its running averages (evaluation).
public enum NetworkMode: Sendable {
  case training
  case evaluation
}

/// One layer as the forward pass applied it: what `gradtrace describe` prints.
public struct LayerRecord: Equatable, Sendable {
  /// A dotted name (`block_0_0.conv_0`, `reduction_block_1.pool`, `global_pool`).
  public var name: String
  /// conv, batchnorm, leaky_relu, sigmoid, avgpool, add, global_avgpool, linear.
  public var kind: String
  /// The output shape, batch axis included.
  public var outputShape: [Int]
  /// Trainable parameters the layer owns.
  public var parameters: Int
}

/// A VGG-family network: its configuration, its model description, parameters and BatchNorm
/// buffers. The architecture is data (`VGGConfiguration.graph`); the parameter list and the
/// forward pass both come from that description (`Model`).
public final class VGG<Scalar: TensorScalar> {
  public let configuration: VGGConfiguration
  /// The compiled description: layers, shapes, parameter and buffer specifications.
  public let model: Model
  /// Trainable parameters by name, PyTorch shapes (conv OIHW, linear [out, in]).
  public var parameters: NamedTensors<Scalar>
  /// BatchNorm running statistics: `<bn>.running_mean`, `<bn>.running_var`.
  public var buffers: NamedTensors<Scalar>

  /// PyTorch's BatchNorm momentum: running = (1 − 0.1) · running + 0.1 · batch statistic.
  public static var batchNormMomentum: Double { BatchNorm.momentum }
  public static var batchNormEpsilon: Double { BatchNorm.epsilon }

  /// Builds the network and initialises its parameters.
  /// - Throws: `ConfigurationError` when the configuration cannot be built.
  public init(
    _ configuration: VGGConfiguration, initialization: Initialization = .pytorchDefault,
    seed: UInt64 = 0
  ) throws(ConfigurationError) {
    self.configuration = configuration
    model = try Self.model(configuration)
    parameters = model.initialParameters(initialization, seed: seed)
    buffers = model.initialBuffers()
  }

  /// A network with given parameters and buffers (names and shapes must match the
  /// configuration's): a copy of another network, possibly in another scalar type.
  public init(
    _ configuration: VGGConfiguration, parameters: NamedTensors<Scalar>, buffers: NamedTensors<Scalar>
  ) throws(ConfigurationError) {
    self.configuration = configuration
    model = try Self.model(configuration)
    precondition(
      parameters.names == model.specifications.map(\.name),
      "VGG: parameters \(parameters.names.prefix(3))… do not match \(configuration.shortName)")
    for specification in model.specifications {
      precondition(
        parameters[specification.name]!.shape == specification.shape,
        "VGG: \(specification.name) has shape \(parameters[specification.name]!.shape), expected \(specification.shape)"
      )
    }
    self.parameters = parameters
    self.buffers = buffers
  }

  private static func model(_ configuration: VGGConfiguration) throws(ConfigurationError) -> Model {
    try configuration.validate()
    do {
      return try Model(configuration.graph)
    } catch {
      throw ConfigurationError(message: error.message)
    }
  }

  /// Every parameter tensor, in application order.
  public var specifications: [ParameterSpecification] { model.specifications }

  /// The names of the blocks whose outputs traces record, in order.
  public var blockNames: [String] { model.blocks.map(\.name) }

  /// The total number of trainable scalars.
  public var parameterCount: Int { parameters.elementCount }

  /// The weight tensors of the gradient-flow figure (conv weights, BatchNorm γ, linear weight),
  /// in application order.
  public var weightTensors: [ParameterSpecification] { model.weightTensors }

  /// The parameter tensors of a configuration, in application order.
  public static func parameterSpecifications(_ configuration: VGGConfiguration) -> [ParameterSpecification] {
    // A validated configuration always builds.
    (try? Model(configuration.graph))?.specifications ?? []
  }
}

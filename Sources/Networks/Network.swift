// A network of any family as the engine trains it: a compiled model description with its
// weights. The families (VGG, DenseNet-BC, CIFAR ResNets) and model files differ only in the
// description they compile (`NetworkConfiguration`).

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

/// A network: its configuration, its compiled model description, parameters and BatchNorm
/// buffers. The architecture is data (`NetworkConfiguration.graph`); the parameter list and the
/// forward pass both come from that description (`Model`).
public final class Network<Scalar: TensorScalar> {
  public let configuration: NetworkConfiguration
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
    _ configuration: NetworkConfiguration, initialization: Initialization = .pytorchDefault, seed: UInt64 = 0
  ) throws(ConfigurationError) {
    self.configuration = configuration
    model = try configuration.model()
    parameters = model.initialParameters(initialization, seed: seed)
    buffers = model.initialBuffers()
  }

  /// A network with given parameters and buffers: a copy of another network, possibly in
  /// another scalar type.
  /// - Throws: `ConfigurationError` when the configuration cannot be built, or a tensor's name
  ///   or shape is not the configuration's.
  public init(
    _ configuration: NetworkConfiguration, parameters: NamedTensors<Scalar>, buffers: NamedTensors<Scalar>
  ) throws(ConfigurationError) {
    self.configuration = configuration
    model = try configuration.model()
    try Self.check(parameters, against: model.specifications.map { ($0.name, $0.shape) }, kind: "parameters")
    try Self.check(buffers, against: model.bufferSpecifications.map { ($0.name, $0.shape) }, kind: "buffers")
    self.parameters = parameters
    self.buffers = buffers
  }

  /// A VGG-family network (the paper's).
  public convenience init(
    _ configuration: VGGConfiguration, initialization: Initialization = .pytorchDefault, seed: UInt64 = 0
  ) throws(ConfigurationError) {
    try self.init(.vgg(configuration), initialization: initialization, seed: seed)
  }

  private static func check(
    _ tensors: NamedTensors<Scalar>, against expected: [(name: String, shape: [Int])], kind: String
  ) throws(ConfigurationError) {
    guard tensors.names == expected.map(\.name) else {
      let missing = expected.map(\.name).filter { tensors[$0] == nil }
      let extra = tensors.names.filter { name in !expected.contains { $0.name == name } }
      throw ConfigurationError(
        message:
          "\(kind) do not match the model: missing \(missing.prefix(3)), unexpected \(extra.prefix(3))"
          + (missing.isEmpty && extra.isEmpty ? " (same names, another order)" : ""))
    }
    for (name, shape) in expected where tensors[name]!.shape != shape {
      throw ConfigurationError(message: "\(kind): \(name) has shape \(tensors[name]!.shape), the model's is \(shape)")
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
}

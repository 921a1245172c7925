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

/// What one forward pass left on the tape.
public struct VGGForward: Sendable {
  /// [N, classes] logits.
  public var logits: Variable
  /// Each block's post-activation output, in order (`input_conv`, `block_0_0`, …): read them
  /// with `tape.value(_:)`, no copy is made.
  public var blockOutputs: [(name: String, output: Variable)]
  /// The tape variable of every parameter, by name.
  public var parameters: [String: Variable]
}

/// A VGG-family network: its configuration, parameters and BatchNorm buffers.
///
/// The architecture is data: `blocks` lists the stem, each stage's processing blocks and its
/// reduction block; the parameter list and the forward pass are both loops over it.
public final class VGG<Scalar: TensorScalar> {
  /// One block of the network.
  public struct Block: Sendable {
    public enum Kind: Sendable { case stem, processing, reduction }
    public var name: String
    public var kind: Kind
  }

  public let configuration: VGGConfiguration
  /// The blocks in application order.
  public let blocks: [Block]
  /// Every parameter tensor, in application order.
  public let specifications: [ParameterSpecification]
  /// Trainable parameters by name, PyTorch shapes (conv OIHW, linear [out, in]).
  public var parameters: NamedTensors<Scalar>
  /// BatchNorm running statistics: `<bn>.running_mean`, `<bn>.running_var`.
  public var buffers: NamedTensors<Scalar>

  /// PyTorch's BatchNorm momentum: running = (1 − 0.1) · running + 0.1 · batch statistic.
  public static var batchNormMomentum: Double { 0.1 }
  public static var batchNormEpsilon: Double { 1e-5 }

  /// Builds the network and initialises its parameters.
  /// - Throws: `ConfigurationError` when the configuration cannot be built.
  public init(
    _ configuration: VGGConfiguration, initialization: Initialization = .pytorchDefault,
    seed: UInt64 = 0
  ) throws(ConfigurationError) {
    try configuration.validate()
    self.configuration = configuration
    blocks = Self.blocks(configuration)
    specifications = Self.parameterSpecifications(configuration)
    var generator = SeededGenerator(seed: seed)
    var parameters = NamedTensors<Scalar>()
    for specification in specifications {
      parameters.append(
        initialization.draw(specification, using: &generator), named: specification.name)
    }
    self.parameters = parameters
    var buffers = NamedTensors<Scalar>()
    for specification in specifications where specification.role == .batchNormScale {
      let layer = String(specification.name.dropLast(".weight".count))
      buffers.append(Tensor(zeros: specification.shape), named: "\(layer).running_mean")
      buffers.append(Tensor(repeating: 1, shape: specification.shape), named: "\(layer).running_var")
    }
    self.buffers = buffers
  }

  /// A network with given parameters and buffers (names and shapes must match the
  /// configuration's): a copy of another network, possibly in another scalar type.
  public init(
    _ configuration: VGGConfiguration, parameters: NamedTensors<Scalar>, buffers: NamedTensors<Scalar>
  ) throws(ConfigurationError) {
    try configuration.validate()
    self.configuration = configuration
    blocks = Self.blocks(configuration)
    specifications = Self.parameterSpecifications(configuration)
    precondition(
      parameters.names == specifications.map(\.name),
      "VGG: parameters \(parameters.names.prefix(3))… do not match \(configuration.shortName)")
    for specification in specifications {
      precondition(
        parameters[specification.name]!.shape == specification.shape,
        "VGG: \(specification.name) has shape \(parameters[specification.name]!.shape), expected \(specification.shape)"
      )
    }
    self.parameters = parameters
    self.buffers = buffers
  }

  /// The total number of trainable scalars.
  public var parameterCount: Int { parameters.elementCount }

  /// The weight tensors of the gradient-flow figure (conv weights, BatchNorm γ, linear weight),
  /// in application order.
  public var weightTensors: [ParameterSpecification] { specifications.filter(\.role.isWeightTensor) }

  /// The stem, then per stage its processing blocks and its reduction block.
  public static func blocks(_ configuration: VGGConfiguration) -> [Block] {
    var blocks = [Block(name: "input_conv", kind: .stem)]
    for stage in 0..<configuration.numStages {
      for index in 0..<configuration.blocksPerStage {
        blocks.append(Block(name: "block_\(stage)_\(index)", kind: .processing))
      }
      blocks.append(Block(name: "reduction_block_\(stage)", kind: .reduction))
    }
    return blocks
  }

  /// The parameter tensors, in application order: for each block its convolutions (conv_0,
  /// [bn_0], conv_1, [bn_1], [shortcut]), then the linear head.
  public static func parameterSpecifications(_ c: VGGConfiguration) -> [ParameterSpecification] {
    let f = c.numFilters
    var list: [ParameterSpecification] = []
    func conv(_ name: String, in channels: Int, kernel: Int, bias: Bool) {
      let fanIn = channels * kernel * kernel
      let fanOut = f * kernel * kernel
      list.append(
        .init(
          name: "\(name).weight", shape: [f, channels, kernel, kernel],
          role: .convolutionWeight, fanIn: fanIn, fanOut: fanOut))
      if bias {
        list.append(
          .init(
            name: "\(name).bias", shape: [f], role: .convolutionBias,
            fanIn: fanIn, fanOut: fanOut))
      }
    }
    func batchNorm(_ name: String) {
      list.append(.init(name: "\(name).weight", shape: [f], role: .batchNormScale, fanIn: 0, fanOut: 0))
      list.append(.init(name: "\(name).bias", shape: [f], role: .batchNormShift, fanIn: 0, fanOut: 0))
    }
    for block in blocks(c) {
      switch block.kind {
      case .stem:
        conv("\(block.name).conv_0", in: c.inputChannels, kernel: 3, bias: false)
        batchNorm("\(block.name).bn_0")
      case .processing, .reduction:
        let bias = block.kind == .reduction
        for index in 0..<2 {
          conv("\(block.name).conv_\(index)", in: f, kernel: 3, bias: bias)
          if c.batchNorm { batchNorm("\(block.name).bn_\(index)") }
        }
        if c.residual && block.kind == .reduction {
          conv("\(block.name).shortcut", in: f, kernel: 1, bias: false)
        }
      }
    }
    list.append(
      .init(
        name: "logit_linear_layer.weight", shape: [c.classes, f],
        role: .linearWeight, fanIn: f, fanOut: c.classes))
    list.append(
      .init(
        name: "logit_linear_layer.bias", shape: [c.classes],
        role: .linearBias, fanIn: f, fanOut: c.classes))
    return list
  }
}

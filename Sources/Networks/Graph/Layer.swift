import Autodiff
import TensorCore

/// One kind of layer of a model description: how it reads its attributes from a model file,
/// what shape it produces, which parameters and buffers it owns, and how it is applied.
///
/// A kind is one small file in `Layers/` plus its line in `LayerKinds.all`; the executor, the
/// parameter list, `describe` and the model-file reader know nothing else about it. It lowers
/// to one of the engine's operations (`Operation`), whose derivatives are its primitives'
/// (`Tape+…`): a layer never has derivative code of its own.
public protocol Layer: Codable, Sendable {
  /// The kind's name in model files and in `describe` ("conv2d").
  static var kind: String { get }
  /// The attribute keys a model file may give for this kind (besides name, kind, inputs, block).
  static var attributeKeys: [String] { get }
  /// Whether the layer combines several inputs (add, concat); every other kind takes one.
  static var takesSeveralInputs: Bool { get }

  /// The output shape of one example (no batch axis) for these input shapes.
  /// - Throws: `LayerError` saying what does not fit.
  func outputShape(for inputs: [[Int]]) throws(LayerError) -> [Int]
  /// The parameter tensors the layer owns, named relative to the layer ("weight", "bias").
  func parameters(for inputs: [[Int]]) -> [LayerParameter]
  /// The non-trainable tensors it keeps (BatchNorm's running statistics).
  func buffers(for inputs: [[Int]]) -> [LayerBuffer]
  /// What the layer does, as an engine primitive (`Operation`).
  var operation: Operation { get }
}

extension Layer {
  public static var takesSeveralInputs: Bool { false }
  /// A layer of this kind read from a model file's entry.
  public static func decoded(from decoder: any Decoder) throws -> any Layer { try Self(from: decoder) }
  public func parameters(for inputs: [[Int]]) -> [LayerParameter] { [] }
  public func buffers(for inputs: [[Int]]) -> [LayerBuffer] { [] }
}

/// A layer's input shapes that do not fit it, or a bad attribute.
public struct LayerError: Error, CustomStringConvertible, Sendable {
  public var message: String
  public init(_ message: String) { self.message = message }
  public var description: String { message }
}

/// A parameter tensor a layer owns: its name relative to the layer, shape, role and fans.
public struct LayerParameter: Sendable {
  public var suffix: String
  public var shape: [Int]
  public var role: ParameterRole
  public var fanIn: Int
  public var fanOut: Int
  public init(_ suffix: String, shape: [Int], role: ParameterRole, fanIn: Int = 0, fanOut: Int = 0) {
    self.suffix = suffix
    self.shape = shape
    self.role = role
    self.fanIn = fanIn
    self.fanOut = fanOut
  }
}

/// A non-trainable tensor a layer keeps, with the value it starts at.
public struct LayerBuffer: Sendable {
  public var suffix: String
  public var shape: [Int]
  public var initialValue: Double
  public init(_ suffix: String, shape: [Int], initialValue: Double) {
    self.suffix = suffix
    self.shape = shape
    self.initialValue = initialValue
  }
}

/// What a layer sees while it is applied: the tape, its own parameters and buffers, the mode,
/// and where to leave batch statistics. One context serves one layer of one forward pass.
public final class LayerContext<Scalar: TensorScalar> {
  public let tape: Tape<Scalar>
  /// The layer's name (`block_0_0.conv_0`).
  public let name: String
  public let mode: NetworkMode
  /// Seeds this layer's random draws (a dropout mask): the same for every pass of one step.
  public let seed: UInt64
  private let parameters: [String: Variable]
  private let buffers: NamedTensors<Scalar>
  /// BatchNorm's batch mean and biased variance, and how many values each was taken over,
  /// when it normalised with them.
  public internal(set) var batchStatistics: BatchStatistics<Scalar>?
  /// Whether a BatchNorm layer reads this layer's output (`Model.feedsBatchNorm`).
  public let feedsBatchNorm: Bool

  init(
    tape: Tape<Scalar>, name: String, mode: NetworkMode, seed: UInt64, parameters: [String: Variable],
    buffers: NamedTensors<Scalar>, feedsBatchNorm: Bool
  ) {
    self.tape = tape
    self.name = name
    self.mode = mode
    self.seed = seed
    self.parameters = parameters
    self.buffers = buffers
    self.feedsBatchNorm = feedsBatchNorm
  }

  /// The tape variable of the layer's parameter `suffix` ("weight"), nil when it has none.
  public func parameter(_ suffix: String) -> Variable? { parameters["\(name).\(suffix)"] }

  /// The layer's buffer `suffix` ("running_mean").
  public func buffer(_ suffix: String) -> Tensor<Scalar> {
    guard let tensor = buffers["\(name).\(suffix)"] else { preconditionFailure("\(name) has no buffer \(suffix)") }
    return tensor
  }

  /// Keeps the batch statistics a BatchNorm layer normalised with (folded into the running
  /// averages by the caller of a training pass).
  public func keep(batchMean mean: Tensor<Scalar>, biasedVariance variance: Tensor<Scalar>, count: Int) {
    batchStatistics = BatchStatistics(layer: name, mean: mean, biasedVariance: variance, count: count)
  }
}

/// The statistics a BatchNorm layer normalised a training batch with, per channel.
public struct BatchStatistics<Scalar: TensorScalar> {
  public var layer: String
  public var mean: Tensor<Scalar>
  public var biasedVariance: Tensor<Scalar>
  /// Values per channel (N·H·W).
  public var count: Int

  /// Folds these statistics into running averages as PyTorch does: running ← (1 − m) · running
  /// + m · batch, the variance made unbiased (× M / (M − 1)) first.
  public func fold(into buffers: inout NamedTensors<Scalar>, momentum: Double) {
    let m = Scalar(momentum)
    let unbias = count > 1 ? Scalar(Double(count) / Double(count - 1)) : 1
    let meanName = "\(layer).running_mean"
    let varianceName = "\(layer).running_var"
    buffers[meanName] = buffers[meanName]!.zipped(with: mean) { r, b in (1 - m) * r + m * b }
    buffers[varianceName] = buffers[varianceName]!.zipped(with: biasedVariance) { r, b in (1 - m) * r + m * (b * unbias)
    }
  }
}

/// Every layer kind a model description can use, by its name in model files.
public enum LayerKinds {
  public static let all: [any Layer.Type] = [
    Conv2d.self, BatchNorm.self, LeakyReLU.self, ReLU.self, Sigmoid.self, Tanh.self, AveragePool.self,
    MaxPool.self, GlobalAveragePool.self, Add.self, Concat.self, Linear.self, Flatten.self, Dropout.self,
    SubsamplePad.self,
  ]

  public static let byName: [String: any Layer.Type] = Dictionary(uniqueKeysWithValues: all.map { ($0.kind, $0) })
  /// The kinds' names, in `all`'s order.
  public static var names: String { all.map { $0.kind }.joined(separator: ", ") }
}

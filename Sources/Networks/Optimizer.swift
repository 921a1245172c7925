import TensorCore

/// An optimizer: turns gradients into an update of the parameters, keeping its own state.
public protocol Optimizer {
  associatedtype Scalar: TensorScalar
  /// Applies one update, w ← w + d, at the given learning rate.
  mutating func step(
    _ parameters: inout NamedTensors<Scalar>, gradients: NamedTensors<Scalar>, learningRate: Double)
  /// The optimizer's state tensors by name (for checkpoints), e.g. `exp_avg/<parameter>`.
  var state: NamedTensors<Scalar> { get }
  /// Steps taken so far.
  var stepCount: Int { get }
}

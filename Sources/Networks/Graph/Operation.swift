import Autodiff
import TensorCore

/// What a layer does, as one of the engine's primitives: the closed vocabulary a backend
/// executes. Layers (open: one file each) lower to an operation when the model is compiled; the
/// executor interprets operations (closed: one `switch`), so every primitive runs specialised
/// for the scalar type of the pass (Float, Double, Dual, Jet) instead of through a generic call
/// on an existential. Chains of them (BatchNorm or add → leaky ReLU) run fused
/// (`ElementwiseFusion`).
public enum Operation: Sendable, Equatable {
  /// Convolution with the layer's `weight` (and `bias`, if it has one).
  case convolution(stride: Int, padding: Int)
  /// BatchNorm with the layer's `weight`, `bias` and running statistics.
  case batchNorm
  case leakyReLU(slope: Double)
  case sigmoid
  case tanh
  case averagePool(window: Int)
  case maxPool(window: Int)
  case globalAveragePool
  /// The sum of every input.
  case add
  /// The inputs stacked along channels.
  case concatenate
  /// A fully connected layer with the layer's `weight` (and `bias`).
  case linear
  /// [N, …] → [N, product of the rest].
  case flatten
  /// Zero each element with this probability in training mode, scale the rest.
  case dropout(probability: Double)
  /// Every `stride`-th pixel, channels zero-padded to `outChannels` (half in front).
  case subsamplePad(stride: Int, outChannels: Int)

  /// Applies the operation to its inputs on the context's tape; with a `leakyReLUSlope`, the
  /// leaky ReLU that reads it in the same pass (a BatchNorm or an add: `ElementwiseFusion`).
  func apply<Scalar: TensorScalar>(
    _ inputs: [Variable], leakyReLUSlope: Double?, in context: LayerContext<Scalar>
  ) -> Variable {
    let kind = leakyReLUSlope == nil ? profileKind : "\(profileKind)+activation"
    return context.tape.labelled(kind) {
      KernelProfile.measure("\(kind) forward") { run(inputs, leakyReLUSlope: leakyReLUSlope, in: context) }
    }
  }

  /// The kind of work the operation is in a `KernelProfile` (a convolution layer's own time is
  /// its glue; its kernel is charged to the convolution's geometry).
  var profileKind: String {
    switch self {
    case .convolution: "convolution layer"
    case .batchNorm: "BatchNorm"
    case .leakyReLU, .sigmoid, .tanh: "activation"
    case .averagePool, .maxPool, .globalAveragePool: "pooling"
    case .add: "add"
    case .concatenate: "concatenate"
    case .linear: "linear"
    case .flatten: "reshape"
    case .dropout: "dropout"
    case .subsamplePad: "subsample_pad"
    }
  }

  private func run<Scalar: TensorScalar>(
    _ inputs: [Variable], leakyReLUSlope: Double?, in context: LayerContext<Scalar>
  ) -> Variable {
    let tape = context.tape
    precondition(leakyReLUSlope == nil || self == .batchNorm || self == .add, "\(self) does not fuse an activation")
    switch self {
    case .convolution(let stride, let padding):
      return tape.conv2d(
        inputs[0], filter: context.parameter("weight")!, bias: context.parameter("bias"), stride: stride,
        padding: padding, blockedSeriesOutput: !context.feedsBatchNorm)
    case .batchNorm: return Self.batchNorm(inputs[0], leakyReLUSlope: leakyReLUSlope, in: context)
    case .leakyReLU(let slope): return tape.leakyReLU(inputs[0], slope: slope)
    case .sigmoid: return tape.sigmoid(inputs[0])
    case .tanh: return tape.tanh(inputs[0])
    case .averagePool(let window): return tape.averagePool(inputs[0], window: window)
    case .maxPool(let window): return tape.maxPool(inputs[0], window: window)
    case .globalAveragePool: return tape.globalAveragePool(inputs[0])
    case .add:
      let sum = inputs.dropFirst().dropLast().reduce(inputs[0]) { tape.add($0, $1) }
      guard let slope = leakyReLUSlope else { return tape.add(sum, inputs.last!) }
      return tape.addLeakyReLU(sum, inputs.last!, slope: slope)
    case .concatenate: return tape.concatenateChannels(inputs)
    case .linear: return tape.linear(inputs[0], weight: context.parameter("weight")!, bias: context.parameter("bias"))
    case .flatten:
      let shape = tape.shape(inputs[0])
      return tape.reshape(inputs[0], to: [shape[0], shape.dropFirst().reduce(1, *)])
    case .dropout(let probability): return Self.dropout(inputs[0], probability: probability, in: context)
    case .subsamplePad(let stride, let outChannels):
      let padding = outChannels - tape.shape(inputs[0])[1]
      return tape.subsampleAndPadChannels(inputs[0], stride: stride, before: padding / 2, after: padding - padding / 2)
    }
  }

  /// Training mode: batch statistics, differentiated through, kept for the running averages;
  /// evaluation mode: the running averages.
  private static func batchNorm<Scalar: TensorScalar>(
    _ x: Variable, leakyReLUSlope: Double?, in context: LayerContext<Scalar>
  ) -> Variable {
    let statistics: BatchNormStatistics<Scalar>
    switch context.mode {
    case .training: statistics = .batch
    case .evaluation:
      statistics = .running(mean: context.buffer("running_mean"), variance: context.buffer("running_var"))
    }
    let (y, mean, variance, count) = context.tape.batchNorm(
      x, scale: context.parameter("weight")!, shift: context.parameter("bias")!, statistics: statistics,
      epsilon: BatchNorm.epsilon, leakyReLUSlope: leakyReLUSlope)
    if let mean, let variance { context.keep(batchMean: mean, biasedVariance: variance, count: count) }
    return y
  }

  /// y = x ⊙ m, the mask m drawn from the context's seed (0 with probability p, else 1/(1 − p))
  /// and entered as a constant input, so `multiply` carries the derivatives.
  private static func dropout<Scalar: TensorScalar>(
    _ x: Variable, probability: Double, in context: LayerContext<Scalar>
  ) -> Variable {
    guard context.mode == .training, probability > 0 else { return x }
    var generator = SeededGenerator(seed: context.seed)
    let kept = Scalar(1 / (1 - probability))
    // On a shard of a global batch: the global batch's mask, this shard's rows of it.
    let shape = context.tape.shape(x)
    let skipped = (BatchShard.current?.offset ?? 0) * shape.dropFirst().reduce(1, *)
    for _ in 0..<skipped { _ = generator.nextUnit() }
    let mask = Tensor<Scalar>(shape: shape) { m in
      for i in 0..<m.count { m[i] = generator.nextUnit() < probability ? 0 : kept }
    }
    return context.tape.multiply(x, context.tape.input(mask))
  }
}

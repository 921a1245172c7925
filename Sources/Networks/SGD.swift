import TensorCore

/// Stochastic gradient descent with momentum and coupled weight decay, as PyTorch's
/// `torch.optim.SGD` (dampening 0, no Nesterov):
///
///     g ← g + λ w
///     b ← g on the first step, μ b + g after          (skipped when μ = 0)
///     w ← w − lr · b
public struct SGD<Scalar: TensorScalar>: Optimizer {
  public var momentum: Double
  public var weightDecay: Double
  public private(set) var stepCount = 0
  private var buffers = NamedTensors<Scalar>()

  public init(momentum: Double = 0, weightDecay: Double = 0) {
    self.momentum = momentum
    self.weightDecay = weightDecay
  }

  public mutating func step(
    _ parameters: inout NamedTensors<Scalar>, gradients: NamedTensors<Scalar>, learningRate: Double
  ) {
    stepCount += 1
    let (lr, mu, decay) = (Scalar(learningRate), Scalar(momentum), Scalar(weightDecay))
    let firstStep = buffers.count == 0
    let useMomentum = momentum != 0
    parameters.updateEach { name, weights in
      guard let gradient = gradients[name] else { preconditionFailure("SGD: no gradient for \(name)") }
      var direction = weightDecay == 0 ? gradient : gradient.zipped(with: weights) { g, w in g + decay * w }
      if useMomentum {
        if firstStep {
          buffers.append(direction, named: name)
        } else {
          direction = buffers[name]!.zipped(with: direction) { b, g in mu * b + g }
          buffers[name] = direction
        }
      }
      weights = weights.zipped(with: direction) { w, d in w - lr * d }
    }
  }

  /// `momentum_buffer/<name>`, as PyTorch calls it (empty without momentum).
  public var state: NamedTensors<Scalar> {
    var state = NamedTensors<Scalar>()
    for (name, tensor) in buffers.entries { state.append(tensor, named: "momentum_buffer/\(name)") }
    return state
  }

  /// Restores the momentum buffers and step count.
  public mutating func restore(state: NamedTensors<Scalar>, stepCount: Int) {
    buffers = NamedTensors()
    for (name, tensor) in state.entries where name.hasPrefix("momentum_buffer/") {
      buffers.append(tensor, named: String(name.dropFirst("momentum_buffer/".count)))
    }
    self.stepCount = stepCount
  }
}

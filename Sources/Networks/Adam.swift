import TensorCore

/// Adam (Kingma & Ba 2015) with PyTorch's `torch.optim.Adam` semantics: bias correction,
/// ε added outside the square root, and weight decay as *coupled* L2 (added to the gradient,
/// not AdamW's decoupled decay).
///
/// Per element, at step t (from 1):
///
///     g ← g + λ w
///     m ← β1 m + (1 − β1) g,        v ← β2 v + (1 − β2) g²
///     w ← w − (lr / (1 − β1^t)) · m / (√v / √(1 − β2^t) + ε)
public struct Adam<Scalar: TensorScalar>: Optimizer {
  public var beta1: Double
  public var beta2: Double
  public var epsilon: Double
  public var weightDecay: Double
  public private(set) var stepCount = 0
  private var firstMoment = NamedTensors<Scalar>()
  private var secondMoment = NamedTensors<Scalar>()

  public init(beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8, weightDecay: Double = 0) {
    self.beta1 = beta1
    self.beta2 = beta2
    self.epsilon = epsilon
    self.weightDecay = weightDecay
  }

  public mutating func step(
    _ parameters: inout NamedTensors<Scalar>, gradients: NamedTensors<Scalar>, learningRate: Double
  ) {
    stepCount += 1
    let t = Double(stepCount)
    let stepSize = Scalar(learningRate / (1 - pow(beta1, t)))
    let secondCorrection = Scalar((1 - pow(beta2, t)).squareRoot())
    let (b1, b2, eps, decay) = (Scalar(beta1), Scalar(beta2), Scalar(epsilon), Scalar(weightDecay))
    let applyDecay = weightDecay != 0
    if firstMoment.count == 0 {
      for (name, tensor) in parameters.entries {
        firstMoment.append(Tensor(zeros: tensor.shape), named: name)
        secondMoment.append(Tensor(zeros: tensor.shape), named: name)
      }
    }
    parameters.updateEach { name, weights in
      guard let gradient = gradients[name] else { preconditionFailure("Adam: no gradient for \(name)") }
      var m = firstMoment[name]!
      var v = secondMoment[name]!
      weights.scalars.withUnsafeMutableBufferPointer { w in
        gradient.scalars.withUnsafeBufferPointer { g in
          m.scalars.withUnsafeMutableBufferPointer { ms in
            v.scalars.withUnsafeMutableBufferPointer { vs in
              for i in 0..<w.count {
                let gi = applyDecay ? g[i] + decay * w[i] : g[i]
                ms[i] = b1 * ms[i] + (1 - b1) * gi
                vs[i] = b2 * vs[i] + (1 - b2) * gi * gi
                w[i] -= stepSize * ms[i] / (Scalar.sqrt(vs[i]) / secondCorrection + eps)
              }
            }
          }
        }
      }
      firstMoment[name] = m
      secondMoment[name] = v
    }
  }

  /// `exp_avg/<name>` and `exp_avg_sq/<name>`, as PyTorch calls them.
  public var state: NamedTensors<Scalar> {
    var state = NamedTensors<Scalar>()
    for (name, tensor) in firstMoment.entries { state.append(tensor, named: "exp_avg/\(name)") }
    for (name, tensor) in secondMoment.entries { state.append(tensor, named: "exp_avg_sq/\(name)") }
    return state
  }

  /// Restores the moments and step count saved by `state` and `stepCount`.
  public mutating func restore(state: NamedTensors<Scalar>, stepCount: Int) {
    firstMoment = NamedTensors()
    secondMoment = NamedTensors()
    for (name, tensor) in state.entries {
      if name.hasPrefix("exp_avg/") { firstMoment.append(tensor, named: String(name.dropFirst(8))) }
      if name.hasPrefix("exp_avg_sq/") { secondMoment.append(tensor, named: String(name.dropFirst(11))) }
    }
    self.stepCount = stepCount
  }
}

#if canImport(Glibc)
  import Glibc
#else
  import Foundation
#endif

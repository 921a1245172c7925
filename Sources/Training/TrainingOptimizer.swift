import Curvature
import Foundation
import Networks
import TensorCore

/// The run's optimizer, either kind, with its state for checkpoints (in the run's arithmetic:
/// Float, or Double for `train --precision double`).
public enum TrainingOptimizerOf<Scalar: TensorScalar> {
  case adam(Adam<Scalar>)
  case sgd(SGD<Scalar>)

  public init(_ c: TrainingConfiguration) {
    switch c.optimizer {
    case .adam: self = .adam(Adam(weightDecay: c.weightDecay))
    case .sgd: self = .sgd(SGD(momentum: c.momentum, weightDecay: c.weightDecay))
    }
  }

  public mutating func step(
    _ parameters: inout NamedTensors<Scalar>, gradients: NamedTensors<Scalar>, learningRate: Double
  ) {
    switch self {
    case .adam(var adam):
      adam.step(&parameters, gradients: gradients, learningRate: learningRate)
      self = .adam(adam)
    case .sgd(var sgd):
      sgd.step(&parameters, gradients: gradients, learningRate: learningRate)
      self = .sgd(sgd)
    }
  }

  public var state: NamedTensors<Scalar> {
    switch self {
    case .adam(let adam): adam.state
    case .sgd(let sgd): sgd.state
    }
  }

  public var stepCount: Int {
    switch self {
    case .adam(let adam): adam.stepCount
    case .sgd(let sgd): sgd.stepCount
    }
  }

  public mutating func restore(state: NamedTensors<Scalar>, stepCount: Int) {
    switch self {
    case .adam(var adam):
      adam.restore(state: state, stepCount: stepCount)
      self = .adam(adam)
    case .sgd(var sgd):
      sgd.restore(state: state, stepCount: stepCount)
      self = .sgd(sgd)
    }
  }

  /// The optimizer for the edge of stability at learning rate η: SGD with its momentum, or Adam
  /// with P^(−1/2), P = diag(√v̂ + ε) from its second moments after its `stepCount` steps (the
  /// preconditioner its last step used); nil for Adam before its first step.
  public func stability(learningRate eta: Double) -> CurvatureReport.OptimizerState? {
    switch self {
    case .sgd(let sgd): return .sgd(learningRate: eta, momentum: sgd.momentum)
    case .adam(let adam):
      guard adam.stepCount > 0 else { return nil }
      let state = adam.state
      var secondMoment = NamedTensors<Float>()
      for (name, tensor) in state.entries where name.hasPrefix("exp_avg_sq/") {
        secondMoment.append(tensor.converted(), named: String(name.dropFirst("exp_avg_sq/".count)))
      }
      let scaling = StabilityThreshold.adamScaling(
        secondMoment: secondMoment, steps: adam.stepCount, beta2: adam.beta2, epsilon: adam.epsilon)
      return .adam(
        learningRate: eta, beta1: adam.beta1,
        scaling: Dictionary(uniqueKeysWithValues: scaling.names.map { ($0, scaling[$0]!.scalars.map(Double.init)) }))
    }
  }
}

/// The optimizer of a float32 run (every run but `train --precision double`).
public typealias TrainingOptimizer = TrainingOptimizerOf<Float>

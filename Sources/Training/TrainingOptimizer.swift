import Networks
import TensorCore

/// The run's optimizer, either kind, with its state for checkpoints.
public enum TrainingOptimizer {
  case adam(Adam<Float>)
  case sgd(SGD<Float>)

  public init(_ c: TrainingConfiguration) {
    switch c.optimizer {
    case .adam: self = .adam(Adam(weightDecay: c.weightDecay))
    case .sgd: self = .sgd(SGD(momentum: c.momentum, weightDecay: c.weightDecay))
    }
  }

  public mutating func step(
    _ parameters: inout NamedTensors<Float>, gradients: NamedTensors<Float>, learningRate: Double
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

  public var state: NamedTensors<Float> {
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

  public mutating func restore(state: NamedTensors<Float>, stepCount: Int) {
    switch self {
    case .adam(var adam):
      adam.restore(state: state, stepCount: stepCount)
      self = .adam(adam)
    case .sgd(var sgd):
      sgd.restore(state: state, stepCount: stepCount)
      self = .sgd(sgd)
    }
  }
}

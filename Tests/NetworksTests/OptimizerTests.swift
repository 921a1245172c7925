import Foundation
import Networks
import TensorCore
import Testing
import TraceIO

/// Adam, SGD and cosine annealing against PyTorch (float64 golden values from
/// scripts/torch_reference.py): three steps on fixed weights and gradients.
@Suite("Optimizers and schedules against PyTorch")
struct OptimizerTests {
  static func golden() throws -> HDF5File {
    let url = try #require(Bundle.module.url(forResource: "Golden/optimizers", withExtension: "h5"))
    return try HDF5File(reading: url.path)
  }

  func run<O: Optimizer>(_ optimizer: inout O, learningRate: Double) throws -> [[Double]] where O.Scalar == Double {
    let file = try Self.golden()
    let weights = try file.read(Double.self, from: "/weights").values
    let gradients = try file.read(Double.self, from: "/gradients").values
    var parameters = NamedTensors<Double>()
    parameters.append(Tensor(shape: [10], scalars: weights), named: "w")
    var trajectory: [[Double]] = []
    for step in 0..<3 {
      var g = NamedTensors<Double>()
      g.append(Tensor(shape: [10], scalars: Array(gradients[(step * 10)..<(step * 10 + 10)])), named: "w")
      optimizer.step(&parameters, gradients: g, learningRate: learningRate)
      trajectory.append(parameters["w"]!.scalars)
    }
    return trajectory
  }

  func expectClose(_ ours: [[Double]], _ path: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let expected = try Self.golden().read(Double.self, from: path).values
    let flat = ours.flatMap { $0 }
    #expect(flat.count == expected.count, sourceLocation: sourceLocation)
    for (a, b) in zip(flat, expected) {
      #expect(abs(a - b) <= 1e-12 * max(1, abs(b)), "\(a) vs PyTorch \(b)", sourceLocation: sourceLocation)
    }
  }

  @Test func adamMatchesPyTorch() throws {
    var adam = Adam<Double>(weightDecay: 1e-2)
    try expectClose(try run(&adam, learningRate: 1e-2), "/adam")
    #expect(adam.stepCount == 3)
    #expect(adam.state.names.count == 2)
  }

  @Test func sgdWithMomentumMatchesPyTorch() throws {
    var sgd = SGD<Double>(momentum: 0.9, weightDecay: 1e-2)
    try expectClose(try run(&sgd, learningRate: 1e-1), "/sgd")
  }

  @Test func adamResumesFromItsState() throws {
    var first = Adam<Double>(weightDecay: 1e-2)
    let full = try run(&first, learningRate: 1e-2)
    // A fresh optimizer restored from the state after three steps continues identically.
    var restored = Adam<Double>(weightDecay: 1e-2)
    restored.restore(state: first.state, stepCount: first.stepCount)
    var parameters = NamedTensors<Double>()
    parameters.append(Tensor(shape: [10], scalars: full[2]), named: "w")
    var continued = parameters
    var g = NamedTensors<Double>()
    g.append(Tensor(repeating: 0.5, shape: [10]), named: "w")
    first.step(&parameters, gradients: g, learningRate: 1e-2)
    restored.step(&continued, gradients: g, learningRate: 1e-2)
    #expect(parameters["w"]!.scalars == continued["w"]!.scalars)
  }

  @Test func cosineAnnealingMatchesPyTorch() throws {
    let expected = try Self.golden().read(Double.self, from: "/cosine_lr").values
    let schedule = LearningRateSchedule.cosine(learningRate: 1e-3, minimum: 2e-5, period: 10)
    for (epoch, rate) in expected.enumerated() {
      // PyTorch's recursive form and the closed form agree to rounding, and both go back up
      // past T_max (the cosine continues).
      #expect(abs(schedule.learningRate(epoch: epoch) - rate) <= 1e-12, "epoch \(epoch)")
    }
    #expect(LearningRateSchedule.constant(learningRate: 0.1).learningRate(epoch: 7) == 0.1)
  }
}

import Autodiff
import Foundation
import Networks
import TensorCore
import Testing
import TraceIO
import Training

/// `/merges/input_norm`: each add and concat input's √(mean_n ‖x_n‖²), read where the tape holds
/// it, against a direct computation in Double; the columns follow the model's description.
@Suite("Add and concat input norms")
struct MergeNormTests {
  @Test func normsFollowTheDescriptionAndTheDefinition() throws {
    let c = syntheticConfiguration(epochs: 1, batchNorm: true, residual: true)
    let network = try Network<Float>(c.model)
    let recorder = try TraceRecorder(
      path: temporaryDirectory("merges") + ".h5", network: network, configuration: c.json,
      options: RecordingOptions())
    let merges = try #require(recorder.writer?.layout.merges)
    #expect(merges.count == network.model.merges.count && merges.allSatisfy { $0.kind == "add" })
    // VGG08 with residual connections: each reduction block adds its branch and its shortcut.
    #expect(merges.map(\.input).filter { $0.hasSuffix(".shortcut") }.count == merges.count / 2)

    var generator = SeededGenerator(seed: 9)
    let images = Tensor<Float>(
      shape: [8, 1, 16, 16], scalars: (0..<(8 * 256)).map { _ in Float(generator.nextNormal()) })
    let tape = Tape<Float>()
    let forward = network.loss(images: images, labels: Array(repeating: 1, count: 8), on: tape, mode: .training)
    #expect(forward.forward.mergeInputs.count == merges.count)
    let norms = recorder.signalStatistics(forward.forward, on: tape).mergeNorms
    for (column, variable) in forward.forward.mergeInputs.enumerated() {
      let x = tape.value(variable)
      let perExample = x.count / 8
      let squares = (0..<8).map { n in
        x.scalars[(n * perExample)..<((n + 1) * perExample)].reduce(0.0) { $0 + Double($1) * Double($1) }
      }
      let expected = (squares.reduce(0, +) / 8).squareRoot()
      #expect(abs(norms[column] - expected) <= 1e-5 * expected, "\(merges[column]): \(norms[column]) vs \(expected)")
    }
  }
}

import Foundation
import Testing
import TraceIO
import Training

/// An interrupted run that resumes from its last checkpoint continues its trace: the steps
/// and epochs recorded after the checkpoint are dropped, the rest kept exactly.
@Suite("Continuing a trace")
struct TraceContinuationTests {
  static let layout = TraceLayout(
    layerNames: ["a", "b"], layerKinds: ["conv", "linear"], layerParameters: [4, 2], activationNames: ["block"],
    recordsCurvature: true)

  static func record(_ step: Int, _ value: Float) -> StepRecord {
    StepRecord(
      step: step, epoch: step / 4, loss: value, accuracy: 0.5, learningRate: 1e-3, gradientMeanAbs: [value, 2 * value],
      gradientL2Norm: [1, 1], gradientMaxAbs: [1, 1], updateL2Norm: [1, 1], weightL2Norm: [1, 1],
      activations: [[value, 1, 0.5, .nan]])
  }

  static func curvature(_ step: Int, _ value: Double) -> CurvatureRecord {
    CurvatureRecord(
      step: step, scalars: Array(repeating: value, count: TraceSchema.curvatureScalars.count), layerGHg: [1, 2],
      layerTrace: [.nan, .nan])
  }

  @Test func keepsWhatTheCheckpointSawAndAppendsTheRest() throws {
    let path = temporaryDirectory("continue") + ".h5"
    // The interrupted run: 2 epochs of 4 steps done, 2 steps of epoch 2 flushed, then killed.
    let first = try TraceWriter(
      path: path, configuration: "{\"x\":1}", model: "{}", toolVersion: "t", layout: Self.layout, flushEvery: 1)
    for step in 0..<10 {
      try first.append(Self.record(step, Float(step)))
      if step % 3 == 0 { try first.append(Self.curvature(step, Double(step))) }
      if step % 4 == 3 {
        try first.append(
          EpochRow(epoch: step / 4, trainLoss: 1, trainAccuracy: 0.5, validLoss: 1, validAccuracy: 0.5, seconds: 1))
      }
    }
    try first.flush()
    // Resumed from the checkpoint after epoch 2 (8 steps): steps 8... are recorded again.
    let second = try TraceWriter.continuing(path, layout: Self.layout, beforeStep: 8, epochs: 2, flushEvery: 1)
    for step in 8..<12 {
      try second.append(Self.record(step, Float(100 + step)))
      if step % 3 == 0 { try second.append(Self.curvature(step, Double(100 + step))) }
    }
    try second.append(
      EpochRow(epoch: 2, trainLoss: 1, trainAccuracy: 0.5, validLoss: 1, validAccuracy: 0.5, seconds: 1))
    try second.finish(status: "finished")

    let reader = try TraceReader(path: path)
    #expect(try reader.column(TraceSchema.step) == (0..<12).map(Double.init))
    #expect(try reader.column(TraceSchema.loss) == (0..<8).map(Double.init) + (108..<112).map(Double.init))
    #expect(try reader.matrix(TraceSchema.gradientMeanAbs)[5] == [5, 10])
    #expect(
      try reader.matrix("/activations/mean").map { $0[0] } == (0..<8).map(Double.init) + (108..<112).map(Double.init))
    #expect(try reader.column(TraceSchema.curvatureStep) == [0, 3, 6, 9])
    #expect(try reader.column("/curvature/gTg") == [0, 3, 6, 109])
    #expect(try reader.column("/epochs/epoch") == [0, 1, 2])
    #expect(reader.configuration == "{\"x\":1}" && reader.status == "finished")
    #expect(!FileManager.default.fileExists(atPath: path + ".interrupted"))
  }

  @Test func anotherLayoutIsRefused() throws {
    let path = temporaryDirectory("other") + ".h5"
    let writer = try TraceWriter(path: path, configuration: "{}", model: "{}", toolVersion: "t", layout: Self.layout)
    try writer.finish(status: "running")
    let other = TraceLayout(
      layerNames: ["a"], layerKinds: ["conv"], layerParameters: [4], activationNames: nil, recordsCurvature: false)
    #expect { try TraceWriter.continuing(path, layout: other, beforeStep: 0, epochs: 0) } throws: {
      "\($0)".contains("records other layers")
    }
  }
}

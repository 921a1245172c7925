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
    recordsCurvature: true, spectrum: TraceLayout.SpectrumShape(topK: 2, probes: 2, steps: 3, gridPoints: 4))

  /// A spectrum whose every value is `value` (nodes and weights [2, 3], stored [Q, 2, 3]).
  static func spectrum(_ step: Int, _ value: Double) -> TraceRow {
    var row = TraceRow(.spectrum, at: step)
    for dataset in TraceSchema.datasets(following: .spectrum).dropFirst() {
      row[values: dataset] = Array(repeating: value, count: layout.width(of: dataset))
    }
    return row
  }

  static func record(_ step: Int, _ value: Float) -> TraceRow {
    TraceRows.step(step, epoch: step / 4, loss: value, gradientMeanAbs: [value, 2 * value], blocks: [value])
  }

  /// The per-layer split, measured at every other curvature measurement (its own index).
  static func layerCurvature(_ step: Int, _ value: Double) -> TraceRow {
    var row = TraceRow(.layerCurvature, at: step)
    row[values: .layerGHg] = [value, 2 * value]
    return row
  }

  @Test func keepsWhatTheCheckpointSawAndAppendsTheRest() throws {
    let path = temporaryDirectory("continue") + ".h5"
    // The interrupted run: 2 epochs of 4 steps done, 2 steps of epoch 2 flushed, then killed.
    let first = try TraceWriter(
      path: path, configuration: "{\"x\":1}", model: "{}", toolVersion: "t", layout: Self.layout, flushEvery: 1)
    for step in 0..<10 {
      try first.append(Self.record(step, Float(step)))
      if step % 3 == 0 { try first.append(TraceRows.curvature(step, Double(step))) }
      if step % 6 == 0 { try first.append(Self.layerCurvature(step, Double(step))) }
      if step % 5 == 0 { try first.append(Self.spectrum(step, Double(step))) }
      if step % 4 == 3 { try first.append(TraceRows.epoch(step / 4)) }
    }
    try first.flush()
    // Resumed from the checkpoint after epoch 2 (8 steps): steps 8... are recorded again.
    let second = try TraceWriter.continuing(path, layout: Self.layout, beforeStep: 8, epochs: 2, flushEvery: 1)
    for step in 8..<12 {
      try second.append(Self.record(step, Float(100 + step)))
      if step % 3 == 0 { try second.append(TraceRows.curvature(step, Double(100 + step))) }
      if step % 6 == 0 { try second.append(Self.layerCurvature(step, Double(100 + step))) }
      if step % 5 == 0 { try second.append(Self.spectrum(step, Double(100 + step))) }
    }
    try second.append(TraceRows.epoch(2))
    try second.finish(status: "finished")

    let reader = try TraceReader(path: path)
    #expect(try reader.steps(.steps) == Array(0..<12))
    #expect(try reader.values(.loss) == (0..<8).map(Double.init) + (108..<112).map(Double.init))
    #expect(try reader.rows(.gradientMeanAbs)[5] == [5, 10])
    #expect(try reader.rows(.activationMean).map { $0[0] } == (0..<8).map(Double.init) + (108..<112).map(Double.init))
    #expect(try reader.steps(.curvature) == [0, 3, 6, 9])
    #expect(try reader.values(.gTg) == [0, 3, 6, 109])
    #expect(try reader.steps(.layerCurvature) == [0, 6])
    #expect(try reader.rows(.layerGHg) == [[0, 0], [6, 12]])
    #expect(try reader.steps(.spectrum) == [0, 5, 10])
    #expect(try reader.rows(.spectrumNodes) == [0.0, 5, 110].map { Array(repeating: $0, count: 6) })
    #expect(try reader.spectrumShape() == Self.layout.spectrum)
    #expect(try reader.steps(.epochs) == [0, 1, 2])
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

import Analysis
import Foundation
import Testing
import TraceIO

/// Writes a trace whose gradient flow at every step is `flow(step)`, over `epochs` epochs of
/// `stepsPerEpoch` steps; with `spectra`, a spectrum at each of their steps whose sharpness is
/// `ratio` × `threshold` (k = 2, one probe of 3 nodes, 5 grid points).
func makeTrace(
  layers: Int = 4, epochs: Int = 2, stepsPerEpoch: Int = 5, curvature: Bool = false,
  spectra: [(step: Int, ratio: Double)] = [], threshold: Double = 38_000,
  epochOfStep: ((Int) -> Int)? = nil, flow: (Int) -> [Float]
) throws -> String {
  let path = FileManager.default.temporaryDirectory.appendingPathComponent("analysis-\(UUID().uuidString).h5").path
  let layout = TraceLayout(
    layerNames: (0..<layers).map { "layer_\($0)" }, layerKinds: Array(repeating: "conv", count: layers),
    layerParameters: Array(repeating: 10, count: layers), activationNames: nil, recordsCurvature: curvature,
    spectrum: spectra.isEmpty ? nil : TraceLayout.SpectrumShape(topK: 2, probes: 1, steps: 3, gridPoints: 5))
  let writer = try TraceWriter(
    path: path, configuration: "{}", model: "{}", toolVersion: "test", layout: layout, flushEvery: 4)
  for step in 0..<(epochs * stepsPerEpoch) {
    let g = flow(step).map(Double.init)
    var row = TraceRow(.steps, at: step)
    row[.epoch] = Double(epochOfStep?(step) ?? step / stepsPerEpoch)
    row[.loss] = g.contains { !$0.isFinite } ? .nan : 2
    row[.accuracy] = 0.1
    row[.learningRate] = 1e-3
    for dataset in [TraceDataset.gradientMeanAbs, .gradientL2Norm, .gradientMaxAbs, .updateL2Norm, .weightL2Norm] {
      row[values: dataset] = g
    }
    try writer.append(row)
    if curvature {
      // predicted_second = actual_delta · 1.1, α = 0.5 − step/20, dHd = 1.
      let actual = -0.01 * Double(step + 1)
      var measured = TraceRow(.curvature, at: step)
      for (dataset, value) in [
        (TraceDataset.gTg, 1), (.gHg, 1), (.gTd, -0.02), (.dHd, 1), (.predictedFirst, -0.02),
        (.predictedSecond, actual * 1.1), (.actualDelta, actual), (.epsilonStar, 1), (.alpha, 0.5 - Double(step) / 20),
      ] {
        measured[dataset] = value
      }
      try writer.append(measured)
    }
    if let spectrum = spectra.first(where: { $0.step == step }) {
      var row = TraceRow(.spectrum, at: step)
      row[.spectrumLanczosSteps] = 3
      row[values: .spectrumTop] = [2, 1]
      row[values: .spectrumBottom] = [-0.1, 0]
      row[.spectrumGradientOverlap] = 0.6
      row[.spectrumUpdateOverlap] = 0.1
      row[.spectrumOutliers] = 1
      row[.spectrumBulkEdge] = 0.5
      row[.spectrumNegativeMass] = 0.2
      row[.spectrumSharpness] = spectrum.ratio * threshold
      row[.spectrumThreshold] = threshold
      row[values: .spectrumNodes] = [-0.1, 0.5, 2]
      row[values: .spectrumWeights] = [0.2, 0.7, 0.1]
      row[.spectrumSigma] = 0.05
      row[.spectrumGridLow] = -0.3
      row[.spectrumGridHigh] = 2.2
      row[values: .spectrumDensity] = [0.1, 1, 2, 0.1, 0.5]
      row[.spectrumSeconds] = 1
      try writer.append(row)
    }
    if step % stepsPerEpoch == stepsPerEpoch - 1 {
      var epoch = TraceRow(.epochs, at: step / stepsPerEpoch)
      epoch[.trainLoss] = 2
      epoch[.trainAccuracy] = 0.1
      epoch[.validLoss] = 2
      epoch[.validAccuracy] = 0.1 + 0.1 * Double(step / stepsPerEpoch)
      epoch[.epochSeconds] = 1
      try writer.append(epoch)
    }
  }
  try writer.finish(status: "finished", testLoss: 2, testAccuracy: 0.3, bestEpoch: 1)
  return path
}

@Suite("Analysis of traces")
struct AnalysisTests {
  @Test func vanishingPatternIsNamedWithItsDepth() throws {
    // Like plain VGG38 at initialisation: 1e-18 at the stem up to 1e-4 at the head.
    let path = try makeTrace { _ in [1e-18, 1e-12, 1e-7, 1e-4] }
    let analysis = try TraceAnalysis.analyze(path: path)
    #expect(analysis.verdict == "vanishing")
    #expect(abs(analysis.firstToLastRatio - 1e-14) < 1e-16)
    #expect(analysis.vanishingDepth == 1, "layer_2 (1e-7) is the first below 0.01 × 1e-4")
    #expect(analysis.hint.contains("BatchNorm or residual"))
    #expect(analysis.epochs == 2 && analysis.steps == 10)
    #expect(analysis.testAccuracy == 0.3 && abs((analysis.bestValidAccuracy ?? 0) - 0.2) < 1e-6)
    #expect(analysis.missing.contains { $0.hasPrefix("curvature") })
  }

  @Test func flatFlowIsHealthyAndTrendIsMeasured() throws {
    // Per-epoch means of the first layer: epoch 0 steps 0-4 (0.01 each), epoch 1 steps 5-9 (0.02).
    let path = try makeTrace { step in [step < 5 ? 0.01 : 0.02, 0.01, 0.02, 0.03] }
    let analysis = try TraceAnalysis.analyze(path: path)
    #expect(analysis.verdict == "healthy")
    #expect(abs(analysis.trend - 2) < 1e-6)
    #expect(analysis.layers[0].epochMean.map { Float($0) } == [0.01, 0.02])
    #expect(analysis.layers[3].epochLastStep.map { Float($0) } == [0.03, 0.03])
    #expect(analysis.vanishingDepth == nil)
  }

  @Test func nonFiniteStepsMeanExploding() throws {
    let path = try makeTrace { step in step >= 7 ? [.nan, .nan, .nan, .nan] : [0.1, 0.1, 0.1, 0.1] }
    let analysis = try TraceAnalysis.analyze(path: path)
    #expect(analysis.verdict == "exploding" && analysis.nonFiniteSteps == 3)
    let json = try analysis.json()
    #expect(json.contains("\"first_to_last_ratio\" : \"NaN\""))
  }

  @Test func growingFlowMeansExploding() throws {
    let analysis = try TraceAnalysis.analyze(path: try makeTrace { _ in [1e3, 1, 1e-1, 1e-2] })
    #expect(analysis.verdict == "exploding")
  }

  @Test func taylorStatistics() throws {
    let analysis = try TraceAnalysis.analyze(path: try makeTrace(curvature: true) { _ in [0.1, 0.1, 0.1, 0.1] })
    let taylor = try #require(analysis.taylor)
    #expect(taylor.measurements == 10)
    #expect(abs(taylor.correlation - 1) < 1e-6)
    #expect(abs(taylor.medianRelativeError - 0.1) < 1e-5)
    #expect(taylor.curvatureDominates == 10, "|½ dᵀHd| = 0.5 > |gᵀd| = 0.02")
  }

  /// Reading in blocks of 3 rows gives exactly what reading in one block gives.
  /// At the edge once every later sharpness/threshold is ≥ 0.9, above it past 1.1, below
  /// otherwise; the directional curvatures against the threshold scaled to each step's η.
  @Test func edgeOfStabilityIsStatedWithItsStep() throws {
    let flat: (Int) -> [Float] = { _ in [0.1, 0.1, 0.1, 0.1] }
    let cases: [([Double], Int?, Int?, String)] = [
      ([0.5, 0.95, 1.0, 0.92], 2, nil, "trains at its edge of stability since step 2"),
      ([0.5, 0.8, 1.2, 1.3], 4, 4, "trains above its edge of stability since step 4"),
      ([0.95, 0.5, 0.93, 1.0], 4, nil, "since step 4"),
      (
        [0.3, 0.5, 0.4, 0.2], nil, nil,
        "below its edge of stability: sharpness reaches at most 0.5 of the threshold (step 2)"
      ),
    ]
    for (ratios, edge, above, statement) in cases {
      let path = try makeTrace(spectra: ratios.enumerated().map { (2 * $0.offset, $0.element) }, flow: flat)
      let spectrum = try #require(try TraceAnalysis.analyze(path: path).spectrum)
      #expect(spectrum.edgeOfStabilitySince == edge && spectrum.aboveEdgeSince == above, "\(ratios)")
      #expect(spectrum.statement.contains(statement), "\(spectrum.statement)")
      #expect(spectrum.measurements == 4 && spectrum.lastStep == 6 && spectrum.largest == 2 && spectrum.outliers == 1)
      #expect(spectrum.topK == 2)
    }
    // gᵀHg/gᵀg = 1 and dᵀHd/dᵀd = 1/(4 · 0.1²) = 25 at every measurement: below a threshold of
    // 38,000, at or above one of 0.5.
    let high = try TraceAnalysis.analyze(path: try makeTrace(curvature: true, spectra: [(0, 0.5)], flow: flat))
    #expect(high.spectrum?.directionalCompared == 10 && high.spectrum?.gradientCurvatureAtEdge == 0)
    let low = try TraceAnalysis.analyze(
      path: try makeTrace(curvature: true, spectra: [(0, 0.5)], threshold: 0.5, flow: flat))
    #expect(low.spectrum?.gradientCurvatureAtEdge == 10 && low.spectrum?.updateCurvatureAtEdge == 10)
    #expect(low.text.contains("gᵀHg/gᵀg at or above the threshold at 10 of 10"), "\(low.text)")
    #expect(low.text.contains("1 of the top 2 eigenvalues above the bulk"), "\(low.text)")
    let none = try TraceAnalysis.analyze(path: try makeTrace(flow: flat))
    #expect(
      none.spectrum == nil && !none.missing.contains { $0.contains("spectrum") } && !none.text.contains("Spectrum"))
  }

  @Test func streamingInSmallBlocksChangesNothing() throws {
    let path = try makeTrace(epochs: 3, stepsPerEpoch: 7) { step in [Float(step + 1) * 1e-3, 0.5, 0.2, 0.1] }
    let whole = try TraceAnalysis.analyze(path: path, blockRows: 1000)
    let blocks = try TraceAnalysis.analyze(path: path, blockRows: 3)
    #expect(whole.layers.map(\.epochMean) == blocks.layers.map(\.epochMean))
    #expect(whole.layers.map(\.epochLastStep) == blocks.layers.map(\.epochLastStep))
  }

  @Test func zeroStepsAndBadFilesAreClear() throws {
    let empty = try makeTrace(epochs: 0) { _ in [] }
    let analysis = try TraceAnalysis.analyze(path: empty)
    #expect(analysis.verdict == "no data" && analysis.steps == 0)

    let text = FileManager.default.temporaryDirectory.appendingPathComponent("analysis-\(UUID().uuidString).h5").path
    try "not a trace".write(toFile: text, atomically: true, encoding: .utf8)
    #expect { try TraceAnalysis.analyze(path: text) } throws: { "\($0)".contains("not an HDF5 file") }

    let foreign = FileManager.default.temporaryDirectory.appendingPathComponent("analysis-\(UUID().uuidString).h5").path
    let file = try HDF5File(creating: foreign)
    try file.write([Float(1)], shape: [1], to: "/x")
    try file.close()
    #expect { try TraceAnalysis.analyze(path: foreign) } throws: { "\($0)".contains("not a gradtrace trace") }

    let newer = try makeTrace { _ in [1, 1, 1, 1] }
    let update = try HDF5File(newer, access: .update)
    try update.setAttribute("format_version", Int64(3))
    try update.close()
    #expect { try TraceAnalysis.analyze(path: newer) } throws: { "\($0)".contains("format_version 3 is newer") }
  }
}

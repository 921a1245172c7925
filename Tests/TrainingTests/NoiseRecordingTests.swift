import Foundation
import Networks
import Testing
import TraceIO
import Training

/// `train --record noise`: gradient-noise rows on their own index, the model's values the sums
/// of the layers', the step taken along −g equal to plain SGD's learning rate at its first step,
/// and the curvature side built on the same step's gᵀHg.
@Suite("Gradient-noise recording")
struct NoiseRecordingTests {
  @Test func noiseRowsAreConsistentWithTheRun() throws {
    var c = syntheticConfiguration(epochs: 1, batchNorm: true, residual: true)
    c.optimizer = .sgd
    c.learningRate = 0.05
    var options = RecordingOptions()
    options.noise = true
    options.noiseEvery = 3
    options.noiseGroups = 4
    options.curvature = true
    options.curvatureEvery = 3
    let (path, _) = try recordedRun(c, options: options, name: "noise")
    let reader = try TraceReader(path: path)
    let steps = try reader.stepCount()
    let rows = try reader.steps(.noise)
    #expect(rows == Array(stride(from: 0, to: steps, by: 3)), "\(rows) of \(steps) steps")
    #expect(try reader.values(.noiseBatch).allSatisfy { $0 == Double(c.batchSize) })
    #expect(try reader.values(.noiseGroups).allSatisfy { $0 == 4 })

    func close(_ a: Double, _ b: Double, _ tolerance: Double = 1e-5) -> Bool {
      abs(a - b) <= tolerance * max(abs(a), abs(b))
    }
    let n = Double(c.batchSize)
    let (norms, traces) = (try reader.values(.noiseGradientNormSquared), try reader.values(.noiseCovarianceTrace))
    let (layerNorms, layerTraces) = (
      try reader.rows(.layerNoiseGradientNormSquared), try reader.rows(.layerNoiseCovarianceTrace)
    )
    let (scales, ratios) = (try reader.values(.noiseSimpleScale), try reader.values(.noiseSignalToNoise))
    for r in rows.indices {
      // Every parameter belongs to one of the trace's layers, so the layers add up to the model.
      #expect(close(layerNorms[r].reduce(0, +), norms[r], 1e-4), "row \(r): Σ|G_l|² vs |G|²")
      #expect(close(layerTraces[r].reduce(0, +), traces[r]), "row \(r): Σ tr(Σ_l) vs tr(Σ)")
      #expect(traces[r] > 0, "groups of different examples have different gradients")
      #expect(close(scales[r], traces[r] / norms[r], 1e-4) && close(ratios[r] * scales[r], n, 1e-4))
    }
    // SGD's first step is d = −lr g (its momentum starts at zero): the step taken along −g is lr.
    #expect(close(try reader.values(.noiseStepTaken)[0], c.learningRate, 1e-5))

    // The curvature side reuses the step's own gᵀHg (the curvature steps are the noise steps).
    let curvatureSteps = try reader.steps(.curvature)
    let gHg = try reader.values(.gHg)
    let (hessianTraces, expected) = (
      try reader.values(.noiseHessianCovarianceTrace), try reader.values(.noiseExpectedCurvature)
    )
    let (bNoise, epsilonMax, epsilonOpt) = (
      try reader.values(.noiseCurvatureScale), try reader.values(.noiseEpsilonMax),
      try reader.values(.noiseEpsilonOptimal)
    )
    for (r, step) in rows.enumerated() {
      let m = try #require(curvatureSteps.firstIndex(of: step))
      #expect(close(expected[r], gHg[m] - hessianTraces[r] / n, 1e-4), "row \(r): GᵀHG = gᵀHg − tr(HΣ)/N")
      #expect(close(bNoise[r], hessianTraces[r] / expected[r], 1e-4))
      if expected[r] > 0 {
        #expect(close(epsilonMax[r], norms[r] / expected[r], 1e-4))
        #expect(close(epsilonOpt[r], epsilonMax[r] / (1 + bNoise[r] / n), 1e-4))
      } else {
        #expect(epsilonMax[r].isNaN && epsilonOpt[r].isNaN, "no ε_max without positive curvature along G")
      }
    }
  }
}

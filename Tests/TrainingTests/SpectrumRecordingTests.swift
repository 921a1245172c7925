import Curvature
import Foundation
import Networks
import TensorCore
import Testing
import TraceIO
import Training

/// `train --spectrum-every`: spectra recorded on their own index with the schema's shapes, each
/// row self-consistent, the edge of stability from the optimizer's own state; the reproduce
/// schedule.
@Suite("Spectrum recording")
struct SpectrumRecordingTests {
  @Test func spectraAreRecordedOnTheirOwnIndex() throws {
    let c = syntheticConfiguration(epochs: 1, batchNorm: true)
    var options = RecordingOptions()
    options.spectrumEvery = 5
    options.spectrum.steps = 8
    options.spectrum.probes = 2
    options.spectrum.topK = 3
    options.spectrum.gridPoints = 120
    let (path, _) = try recordedRun(c, options: options, name: "spectrum")

    let reader = try TraceReader(path: path)
    let steps = try reader.stepCount()
    let spectrumSteps = try reader.steps(.spectrum)
    #expect(spectrumSteps == Array(stride(from: 0, to: steps, by: 5)), "\(spectrumSteps) of \(steps) steps")
    #expect(try reader.spectrumShape() == TraceLayout.SpectrumShape(topK: 3, probes: 2, steps: 8, gridPoints: 120))
    let rates = Dictionary(
      uniqueKeysWithValues: zip(try reader.steps(.steps), try reader.values(.learningRate)))
    let top = try reader.rows(.spectrumTop)
    let bottom = try reader.rows(.spectrumBottom)
    let nodes = try reader.rows(.spectrumNodes)
    let weights = try reader.rows(.spectrumWeights)
    let density = try reader.rows(.spectrumDensity)
    let columns = try reader.columns([
      .spectrumGradientOverlap, .spectrumUpdateOverlap, .spectrumOutliers, .spectrumSharpness, .spectrumThreshold,
      .spectrumGridLow, .spectrumGridHigh, .spectrumSeconds,
    ])
    for (q, step) in spectrumSteps.enumerated() {
      #expect(top[q] == top[q].sorted(by: >) && bottom[q] == bottom[q].sorted(), "step \(step)")
      #expect(top[q][0] >= bottom[q][0] && bottom[q][0] < top[q][2], "step \(step)")
      // Both probes' quadrature weights sum to 1, their nodes ascend.
      for probe in 0..<2 {
        let w = weights[q][(probe * 8)..<((probe + 1) * 8)]
        #expect(abs(w.reduce(0, +) - 1) < 1e-4, "step \(step) probe \(probe): Σ weights \(w.reduce(0, +))")
        let n = Array(nodes[q][(probe * 8)..<((probe + 1) * 8)])
        #expect(n == n.sorted(), "step \(step) probe \(probe): \(n)")
      }
      // The eigenvalue run is the first probe: its extreme nodes are the top and bottom Ritz values.
      #expect(
        abs(nodes[q][7] - top[q][0]) <= 1e-5 * abs(top[q][0])
          && abs(nodes[q][0] - bottom[q][0]) <= 1e-5 * abs(bottom[q][0]))
      // The density integrates to 1 over its grid (trapezoids; spacing 0.9σ at σ = 1% of the range).
      let spacing = (columns[6][q] - columns[5][q]) / 119
      let integral = density[q].reduce(0, +) * spacing - 0.5 * spacing * (density[q].first! + density[q].last!)
      #expect(abs(integral - 1) < 1e-3, "step \(step): ∫φ = \(integral)")
      for overlap in [columns[0][q], columns[1][q]] { #expect(overlap >= 0 && overlap <= 1 + 1e-5) }
      #expect(columns[2][q] >= 0 && columns[2][q] <= 3)
      // Adam (β₁ = 0.9): the threshold (2 + 2β₁)/((1 − β₁)η) at the step's learning rate, and a
      // positive preconditioned sharpness.
      let eta = Double(Float(rates[step]!))
      #expect(abs(columns[4][q] - 38 / eta) <= 1e-5 * 38 / eta, "threshold \(columns[4][q]) at η = \(eta)")
      #expect(columns[3][q] > 0 && columns[7][q] > 0)
    }
  }

  /// Adam's preconditioner for the edge of stability is the one its last step used: after one
  /// step from zero moments v̂ = v/(1 − β₂) with v = (1 − β₂)g² computed in Float, where
  /// 1 − Float(β₂) = 0.000999987 (exact, Sterbenz) differs from 1 − β₂ by 1.3e-5 relative; so
  /// P^(−1/2) = 1/√(√v̂ + ε) with that factor, to a few Float roundings (≤ 1e-6 relative).
  @Test func adamStabilityUsesItsOwnSecondMoments() throws {
    var c = TrainingConfiguration(model: .vgg(.preset(.vgg08)), dataset: .synthetic)
    c.learningRate = 0.01
    var optimizer = TrainingOptimizer(c)
    #expect(optimizer.stability(learningRate: 0.01) == nil, "no preconditioner before the first step")
    var parameters = NamedTensors<Float>()
    parameters.append(Tensor(shape: [3], scalars: [1, 2, 3]), named: "w")
    var gradients = NamedTensors<Float>()
    gradients.append(Tensor(shape: [3], scalars: [0.5, -2, 1e-3]), named: "w")
    optimizer.step(&parameters, gradients: gradients, learningRate: 0.01)
    guard case .adam(let eta, let beta1, let scaling)? = optimizer.stability(learningRate: 0.01) else {
      Issue.record("Adam gives an Adam stability state")
      return
    }
    #expect(eta == 0.01 && beta1 == 0.9)
    for (computed, g) in zip(scaling["w"]!, [0.5, -2, 1e-3]) {
      let beta2 = 1 - Double(1 - Float(0.999))
      let vHat = Double(Float(g) * Float(g)) * (1 - beta2) / (1 - 0.999)
      let expected = 1 / (vHat.squareRoot() + 1e-8).squareRoot()
      #expect(abs(computed - expected) <= 1e-6 * expected, "\(computed) vs \(expected)")
    }
    c.optimizer = .sgd
    c.momentum = 0.9
    guard case .sgd(let rate, let momentum)? = TrainingOptimizer(c).stability(learningRate: 0.1) else {
      Issue.record("SGD gives an SGD stability state")
      return
    }
    #expect(rate == 0.1 && momentum == 0.9)
  }

  /// The default schedule fits in a tenth of the run: 6 spectra in a paper run at batch 100
  /// (45,000 steps), 2 at batch 256 (17,600), none where one spectrum costs more than the whole
  /// run; the points span step 0 to the last.
  @Test func reproduceSchedulesAffordableSpectra() {
    let products = SpectrumOptions().products(preconditioned: true, layers: 0)
    #expect(products == 150)
    #expect(ReproductionPlan.affordableSpectra(trainingSteps: 45_000, products: products) == 6)
    #expect(ReproductionPlan.affordableSpectra(trainingSteps: 17_600, products: products) == 2)
    #expect(ReproductionPlan.affordableSpectra(trainingSteps: 120, products: products) == 0)
    #expect(ReproductionPlan.affordableSpectra(trainingSteps: 1_000_000, products: products) == 8)
    #expect(ReproductionPlan.spectrumEvery(points: 0, trainingSteps: 30) == 0)
    #expect(ReproductionPlan.spectrumEvery(points: 3, trainingSteps: 30) == 14, "steps 0, 14, 28")
    #expect(ReproductionPlan.spectrumEvery(points: 1, trainingSteps: 30) == 30, "step 0 only")
    #expect(ReproductionPlan.spectrumEvery(points: 8, trainingSteps: 50_000) == 7142)
  }
}

import Curvature
import Networks
import TensorCore
import Testing

/// The estimators on a network small enough to write its Hessian out column by column
/// (H e_i for every basis vector e_i), where trace and eigenvalues are exact.
@Suite("Curvature estimators")
struct EstimatorTests {
  static func tinyProbe(batchNorm: Bool = true) throws -> CurvatureProbe<Float> {
    let configuration = VGGConfiguration(
      numFilters: 2, numStages: 1, blocksPerStage: 0, inputChannels: 1, inputHeight: 4, inputWidth: 4,
      classes: 3, batchNorm: batchNorm, residual: false, activation: .sigmoid)
    let network = try Network<Float>(configuration, initialization: .he, seed: 4)
    var generator = SeededGenerator(seed: 8)
    let images = Tensor<Float>(shape: [6, 1, 4, 4], scalars: (0..<96).map { _ in Float(generator.nextNormal()) })
    return CurvatureProbe(network: network, images: images, labels: [0, 1, 2, 0, 1, 2])
  }

  /// The dense Hessian, one product per parameter.
  static func denseHessian(_ probe: CurvatureProbe<Float>) -> [[Double]] {
    let names = probe.weights.names
    let sizes = names.map { probe.weights[$0]!.count }
    let total = sizes.reduce(0, +)
    var columns: [[Double]] = []
    for column in 0..<total {
      var index = 0
      let basis = probe.weights.filled { _, _ in
        defer { index += 1 }
        return index == column ? 1 : 0
      }
      let product = probe.hessianVectorProduct(basis)
      columns.append(names.flatMap { product[$0]!.scalars.map(Double.init) })
    }
    return columns
  }

  @Test func hutchinsonTraceIsUnbiased() throws {
    let probe = try Self.tinyProbe()
    let hessian = Self.denseHessian(probe)
    let exact = (0..<hessian.count).reduce(0) { $0 + hessian[$1][$1] }
    let estimate = probe.hutchinsonTrace(probes: 400, seed: 3)
    #expect(
      abs(estimate.trace - exact) <= 4 * estimate.standardError,
      "trace \(estimate.trace) ± \(estimate.standardError), exact \(exact)")
    #expect(abs(estimate.layerTraces.reduce(0, +) - estimate.trace) <= 1e-9 * max(1, abs(estimate.trace)))
  }

  @Test func powerIterationFindsTheDominantEigenvalue() throws {
    let probe = try Self.tinyProbe()
    let hessian = Self.denseHessian(probe)
    // The dominant eigenvalue of the explicit (symmetrised) matrix by many plain iterations.
    let n = hessian.count
    var v = (0..<n).map { Double($0 % 7) - 3 }
    var lambda = 0.0
    for _ in 0..<5000 {
      var w = [Double](repeating: 0, count: n)
      for i in 0..<n { for j in 0..<n { w[i] += 0.5 * (hessian[i][j] + hessian[j][i]) * v[j] } }
      lambda = zip(v, w).reduce(0) { $0 + $1.0 * $1.1 } / v.reduce(0) { $0 + $1 * $1 }
      let norm = w.reduce(0) { $0 + $1 * $1 }.squareRoot()
      v = w.map { $0 / norm }
    }
    let estimate = probe.dominantEigenvalue(tolerance: 1e-6, maximumProducts: 2000, seed: 1)
    #expect(estimate.converged)
    #expect(
      abs(estimate.eigenvalue - lambda) <= 1e-3 * abs(lambda), "power iteration \(estimate.eigenvalue), dense \(lambda)"
    )
  }

  /// Along d = −k ε* g the quadratic model gives s* = 1/k exactly, so α = k − 1.
  @Test func stepQualityAlongTheGradient() throws {
    let probe = try Self.tinyProbe()
    let (_, _, g) = probe.gradient()
    let along = probe.alongGradient(g)
    let epsilonStar = try #require(along.epsilonStar)
    let loss = probe.loss().loss
    for k in [0.5, 1, 2] {
      let update = probe.alongUpdate(g.scaled(by: -k * epsilonStar), gradient: g, loss: loss)
      #expect(abs(update.alpha - (k - 1)) < 1e-3, "k = \(k): α = \(update.alpha)")
      #expect(abs(update.predictedFirst + k * epsilonStar * along.gTg) <= 1e-4 * abs(update.predictedFirst))
    }
    #expect(abs(along.layerGHg.reduce(0, +) - along.gHg) <= 1e-9 * abs(along.gHg))
  }

  /// gᵀHg without the per-layer split is one Taylor-mode pass, not a product, and agrees with
  /// gᵀ(Hg); the contributions it did not measure are NaN, not zeros.
  @Test func gradientCurvatureWithoutLayers() throws {
    let probe = try Self.tinyProbe()
    let (_, _, g) = probe.gradient()
    let full = probe.alongGradient(g)
    #expect(probe.productCount == 1 && probe.jetPassCount == 0)
    let scalar = probe.alongGradient(g, perLayer: false)
    #expect(probe.productCount == 1 && probe.jetPassCount == 1)
    #expect(abs(scalar.gHg - full.gHg) <= 1e-4 * abs(full.gHg), "jets \(scalar.gHg), H·v \(full.gHg)")
    #expect(scalar.gTg == full.gTg)
    #expect(scalar.layerGHg.count == full.layerGHg.count && scalar.layerGHg.allSatisfy { $0.isNaN })
  }

  /// A negative curvature along −g gives no ε*, and the Taylor table runs over the grid.
  @Test func negativeCurvatureUsesTheGrid() throws {
    // Find a tiny network and batch with gᵀHg < 0 (common with BatchNorm).
    var found: CurvatureProbe<Float>?
    for seed in UInt64(0)..<40 where found == nil {
      let configuration = VGGConfiguration(
        numFilters: 3, numStages: 1, blocksPerStage: 1, inputChannels: 1, inputHeight: 4, inputWidth: 4,
        classes: 3, batchNorm: true, residual: true, activation: .leaky)
      let network = try Network<Float>(configuration, seed: seed)
      var generator = SeededGenerator(seed: seed)
      let images = Tensor<Float>(shape: [4, 1, 4, 4], scalars: (0..<64).map { _ in Float(generator.nextNormal()) })
      let probe = CurvatureProbe(network: network, images: images, labels: [0, 1, 2, 1])
      if probe.alongGradient(probe.gradient().gradient).gHg < 0 { found = probe }
    }
    let probe = try #require(found, "no seed gave negative curvature")
    var options = CurvatureReport.Options()
    options.probes = 2
    options.maximumEigenvalueProducts = 5
    options.epsilonGrid = [1e-3, 1e-2]
    let report = CurvatureReport.measure(probe, options: options)
    #expect(report.gHg < 0)
    #expect(report.epsilonStar == nil)
    #expect(report.taylor.map(\.epsilon) == [1e-3, 1e-2])
    #expect(report.taylor.allSatisfy { $0.multiple == nil })
    #expect(report.text.contains("negative curvature"))
    let json = try report.json()
    #expect(json.contains("\"negative_curvature\" : true"))
    #expect(!json.contains("\"epsilon_star\""))
  }
}

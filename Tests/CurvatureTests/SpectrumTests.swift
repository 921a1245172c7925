import Foundation
import Curvature
import Networks
import TensorCore
import Testing

/// Lanczos and stochastic Lanczos quadrature in Double against the Hessian written out column
/// by column (H e_i for every unit vector) and decomposed densely, on small networks of each
/// kind with BatchNorm in training mode where they have it.
@Suite("Hessian spectrum")
struct SpectrumTests {
  static func probe(_ configuration: NetworkConfiguration, images: Int = 6) throws -> CurvatureProbe<Double> {
    let network = try Network<Double>(configuration, initialization: .he, seed: 4)
    let shape = configuration.inputShape
    var generator = SeededGenerator(seed: 8)
    let count = images * shape.reduce(1, *)
    let batch = Tensor<Double>(
      shape: [images] + shape, scalars: (0..<count).map { _ in generator.nextNormal() })
    return CurvatureProbe(
      network: network, images: batch, labels: (0..<images).map { $0 % configuration.classes })
  }

  static let networks: [(String, NetworkConfiguration)] = [
    (
      "plain",
      .vgg(
        .init(
          numFilters: 2, numStages: 1, blocksPerStage: 0, inputChannels: 1, inputHeight: 4, inputWidth: 4,
          classes: 3, batchNorm: false, residual: false, activation: .sigmoid))
    ),
    (
      "BN+residual",
      .vgg(
        .init(
          numFilters: 2, numStages: 1, blocksPerStage: 1, inputChannels: 1, inputHeight: 4, inputWidth: 4,
          classes: 3, batchNorm: true, residual: true, activation: .sigmoid))
    ),
    (
      "dense",
      .denseNet(
        DenseNetConfiguration(
          depth: 10, growthRate: 2, batchNorm: true, inputChannels: 1, inputHeight: 4, inputWidth: 4, classes: 3))
    ),
  ]

  /// The positions of `parameters`' scalars in the flat parameter vector (the Hessian's rows).
  static func positions(of parameters: [String], in probe: CurvatureProbe<Double>) -> [Int] {
    var indices: [Int] = []
    var offset = 0
    for name in probe.weights.names {
      let count = probe.weights[name]!.count
      if parameters.contains(name) { indices += offset..<(offset + count) }
      offset += count
    }
    return indices
  }

  /// The dense symmetrised Hessian, one product per parameter.
  static func denseHessian(_ probe: CurvatureProbe<Double>) -> [[Double]] {
    let names = probe.weights.names
    let total = names.reduce(0) { $0 + probe.weights[$1]!.count }
    var columns: [[Double]] = []
    for column in 0..<total {
      var offset = 0
      var offsets: [String: Int] = [:]
      for name in names {
        offsets[name] = offset
        offset += probe.weights[name]!.count
      }
      let basis = probe.weights.filled { name, index in offsets[name]! + index == column ? 1 : 0 }
      let product = probe.hessianVectorProduct(basis)
      columns.append(names.flatMap { product[$0]!.scalars })
    }
    return (0..<total).map { i in (0..<total).map { j in 0.5 * (columns[i][j] + columns[j][i]) } }
  }

  @Test(arguments: networks.map(\.0))
  func extremeEigenvaluesAndOverlapsMatchTheExplicitHessian(name: String) throws {
    let configuration = try #require(Self.networks.first { $0.0 == name }).1
    let probe = try Self.probe(configuration)
    let hessian = Self.denseHessian(probe)
    let n = hessian.count
    let (values, vectors) = SymmetricEigen.decompose(hessian)
    let (_, _, g) = probe.gradient()
    // Enough steps to span the whole space: every Ritz value is an eigenvalue.
    let spectrum = probe.spectrum(steps: n, topK: 5, seed: 1, directions: [g])
    let scale = values.map(abs).max()!
    for (ritz, exact) in zip(spectrum.top, values.reversed()) {
      #expect(abs(ritz - exact) <= 1e-8 * scale, "\(name) top: Lanczos \(ritz), dense \(exact) (n = \(n))")
    }
    for (ritz, exact) in zip(spectrum.bottom, values) {
      #expect(abs(ritz - exact) <= 1e-8 * scale, "\(name) bottom: Lanczos \(ritz), dense \(exact)")
    }
    // The gradient's share of ‖g‖² in the top-5 eigenvectors' span.
    let flat = probe.weights.names.flatMap { g[$0]!.scalars }
    let total = flat.reduce(0) { $0 + $1 * $1 }
    let inTop = vectors.suffix(5).reduce(0.0) { sum, v in
      let c = zip(v, flat).reduce(0) { $0 + $1.0 * $1.1 }
      return sum + c * c
    }
    #expect(abs(spectrum.overlaps[0] - inTop / total) <= 1e-10, "\(name): \(spectrum.overlaps[0]) vs \(inTop / total)")
  }

  /// SLQ's density is a probability density whose first two moments estimate tr(H)/n and
  /// tr(H²)/n within their sampling error.
  @Test func densityMomentsMatchTheExactSpectrum() throws {
    let probe = try Self.probe(Self.networks[0].1)
    let hessian = Self.denseHessian(probe)
    let n = Double(hessian.count)
    let (values, _) = SymmetricEigen.decompose(hessian)
    let density = probe.spectralDensity(probes: 40, steps: 20, points: 2000, seed: 3)
    let step = density.grid[1] - density.grid[0]
    #expect(abs(density.density.reduce(0, +) * step - 1) < 1e-3, "the density integrates to 1")
    // Moments straight from the quadrature (no broadening): per probe Σ τ_j θ_j^k.
    for power in [1, 2] {
      func raised(_ x: Double) -> Double { power == 1 ? x : x * x }
      let perProbe: [Double] = zip(density.nodes, density.weights).map { nodes, weights in
        zip(nodes, weights).reduce(0.0) { $0 + $1.1 * raised($1.0) }
      }
      let count = Double(perProbe.count)
      let mean = perProbe.reduce(0, +) / count
      let variance: Double = perProbe.reduce(0.0) { $0 + ($1 - mean) * ($1 - mean) } / (count - 1)
      let standardError = (variance / count).squareRoot()
      let exact = values.reduce(0.0) { $0 + raised($1) } / n
      #expect(
        abs(mean - exact) <= 4 * standardError + 1e-12,
        "moment \(power): SLQ \(mean) ± \(standardError), exact \(exact)")
    }
  }

  /// Adam's preconditioned Hessian P^(−1/2) H P^(−1/2), P = diag(√v̂ + ε), against the same
  /// matrix formed explicitly.
  @Test func preconditionedTopEigenvalueMatchesTheExplicitMatrix() throws {
    let probe = try Self.probe(Self.networks[1].1)
    let hessian = Self.denseHessian(probe)
    let n = hessian.count
    var generator = SeededGenerator(seed: 11)
    let secondMoment = probe.weights.filled { _, _ in 1e-6 * abs(generator.nextNormal()) + 1e-9 }
    let scaling = StabilityThreshold.adamScaling(secondMoment: secondMoment, steps: 10, beta2: 0.999, epsilon: 1e-8)
    let d = probe.weights.names.flatMap { scaling[$0]!.scalars }
    // P^(−1/2) = 1/√(√(v/(1 − β₂¹⁰)) + ε), checked on one entry.
    let v0 = secondMoment[probe.weights.names[0]]!.scalars[0]
    #expect(abs(d[0] - 1 / ((v0 / (1 - pow(0.999, 10))).squareRoot() + 1e-8).squareRoot()) <= 1e-12 * d[0])
    let explicit = (0..<n).map { i in (0..<n).map { j in d[i] * hessian[i][j] * d[j] } }
    let (values, _) = SymmetricEigen.decompose(explicit)
    let spectrum = probe.spectrum(steps: n, topK: 3, seed: 2, scaling: scaling)
    let scale = values.map(abs).max()!
    for (ritz, exact) in zip(spectrum.top, values.reversed()) {
      #expect(abs(ritz - exact) <= 1e-8 * scale, "preconditioned: Lanczos \(ritz), dense \(exact)")
    }
    #expect(abs(StabilityThreshold.adam(learningRate: 1e-3, beta1: 0.9) - 38_000) < 1e-9)
    #expect(abs(StabilityThreshold.sgd(learningRate: 0.1, momentum: 0.9) - 38) < 1e-12)
  }

  /// A layer's diagonal block H_ll: Lanczos restricted to its parameters against the dense
  /// Hessian's block.
  @Test func aLayerBlockMatchesTheExplicitBlock() throws {
    let probe = try Self.probe(Self.networks[1].1)
    let hessian = Self.denseHessian(probe)
    // The largest layer (a convolution with its bias).
    let group = try #require(
      probe.layers.groups.max { a, b in
        a.parameters.reduce(0) { $0 + probe.weights[$1]!.count }
          < b.parameters.reduce(0) { $0 + probe.weights[$1]!.count }
      })
    let indices = Self.positions(of: group.parameters, in: probe)
    let block = indices.map { i in indices.map { hessian[i][$0] } }
    let (values, _) = SymmetricEigen.decompose(block)
    let spectrum = probe.spectrum(steps: indices.count + 5, topK: 2, seed: 9, block: Set(group.parameters))
    let scale = values.map(abs).max()!
    #expect(spectrum.exhausted, "the Krylov space stays in the block (\(indices.count) parameters)")
    #expect(indices.count >= 10, "\(group.label): \(indices.count) parameters")
    for (ritz, exact) in Array(zip(spectrum.top, values.reversed())) + Array(zip(spectrum.bottom, values)) {
      #expect(abs(ritz - exact) <= 1e-8 * scale, "\(group.label): Lanczos \(ritz), dense \(exact)")
    }
  }

  /// Per description block: the blocks' parameters partition the network's, and each block's
  /// extreme eigenvalues are those of its explicitly assembled diagonal block of H (VGG with
  /// BatchNorm and residual connections: stem, block, reduction, head).
  @Test func descriptionBlocksMatchTheirExplicitBlocks() throws {
    let probe = try Self.probe(Self.networks[1].1)
    let blocks = probe.model.blockParameters
    let all = blocks.flatMap(\.parameters)
    #expect(all.sorted() == probe.weights.names.sorted() && Set(all).count == all.count, "a partition")
    #expect(blocks.count >= 3 && blocks.last?.name == "head", "\(blocks.map(\.name))")
    let hessian = Self.denseHessian(probe)
    var options = SpectrumOptions()
    // Enough steps to exhaust every block (its Krylov space stays inside it).
    options.steps = blocks.map { $0.parameters.reduce(0) { $0 + probe.weights[$1]!.count } }.max()! + 2
    options.probes = 1
    options.topK = 1
    options.perBlock = true
    let g = probe.gradient().2
    let report = SpectrumReport.measure(
      probe, gradient: g, update: nil, gradientCurvature: .nan, options: options, optimizer: nil, seed: 3
    ).spectrum
    let measured = try #require(report.blocks)
    #expect(measured.map(\.label) == blocks.map(\.name))
    let scale = SymmetricEigen.decompose(hessian).0.map(abs).max()!
    for (block, spectrum) in zip(blocks, measured) {
      let indices = Self.positions(of: block.parameters, in: probe)
      let (values, _) = SymmetricEigen.decompose(indices.map { i in indices.map { hessian[i][$0] } })
      #expect(
        abs(spectrum.largest - values.last!) <= 1e-8 * scale, "\(block.name): \(spectrum.largest) vs \(values.last!)")
      #expect(abs(spectrum.smallest - values.first!) <= 1e-8 * scale, "\(block.name)")
    }
  }

  /// The outlier rule on a spectrum with a known answer: 99,997 eigenvalues spread over [0, 1]
  /// and three outliers at 5, 7 and 10. The bulk edge lands in the bulk's upper end, the three
  /// are counted, and nothing is counted without them. (At n = 3,000, below the rule's 50 m²,
  /// the bulk's outer nodes are lighter than 50/n and bulk eigenvalues count as outliers.)
  @Test func outliersAboveTheBulkAreCounted() {
    let n = 100_000
    for outliers in [[5.0, 7, 10], []] {
      let bulk = (0..<(n - outliers.count)).map { Double($0) / Double(n - outliers.count - 1) }
      let diagonal = bulk + outliers
      var generator = SeededGenerator(seed: 11)
      var nodes: [[Double]] = []
      var weights: [[Double]] = []
      var top: [Double] = []
      for probe in 0..<4 {
        let start = (0..<n).map { _ in generator.nextNormal() }
        let run = Lanczos.run(start: start, steps: 30) { v in zip(diagonal, v).map(*) }
        nodes.append(run.ritzValues)
        weights.append(run.quadratureWeights)
        if probe == 0 { top = Array(run.ritzValues.suffix(5).reversed()) }
      }
      let edge = Outliers.bulkEdge(nodes: nodes, weights: weights, parameterCount: n)
      #expect(edge > 0.8 && edge <= 1 + 1e-9, "bulk edge \(edge)")
      #expect(Outliers.count(top: top, above: edge) == outliers.count, "top \(top), edge \(edge)")
    }
  }

  @Test func jacobiDecomposesAKnownMatrix() {
    // [[2, 1], [1, 2]]: eigenvalues 1 and 3, eigenvectors (1, −1)/√2 and (1, 1)/√2.
    let (values, vectors) = SymmetricEigen.decompose([[2, 1], [1, 2]])
    #expect(abs(values[0] - 1) < 1e-15 && abs(values[1] - 3) < 1e-15)
    #expect(abs(abs(vectors[1][0]) - 0.5.squareRoot()) < 1e-15 && vectors[1][0] * vectors[1][1] > 0)
  }
}

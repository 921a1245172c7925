import Foundation
import Networks
import TensorCore

/// How a spectrum is measured (`gradtrace probe --spectrum`, `gradtrace train --spectrum-every`).
public struct SpectrumOptions: Codable, Equatable, Sendable {
  /// Lanczos steps (Hessian-vector products) of the eigenvalue run and of each density probe.
  public var steps = 30
  /// How many of the largest (and smallest) eigenvalues to keep.
  public var topK = 5
  /// Probes of the density (the eigenvalue run is the first: its start is Gaussian too).
  public var probes = 4
  /// Gaussian broadening σ of the density; nil: 1% of the nodes' range.
  public var sigma: Double?
  /// Points of the density's grid.
  public var gridPoints = 200
  /// Also each layer's diagonal block (one Lanczos run of `steps` per layer).
  public var perLayer = false
  /// Also each block's (of the network description: a VGG block, a dense block, …).
  public var perBlock = false
  public init() {}

  /// Hessian-vector products of one measurement: the eigenvalue run, the other density probes,
  /// Adam's preconditioned run, one run per layer when asked for.
  public func products(preconditioned: Bool, layers: Int, blocks: Int = 0) -> Int {
    steps * (probes + (preconditioned ? 1 : 0) + (perLayer ? layers : 0) + (perBlock ? blocks : 0))
  }
}

/// Lanczos' extreme eigenvalues with the gradient's (and the update's) share in the top-k
/// span, the outliers above the bulk, and the density by stochastic Lanczos quadrature.
public struct SpectrumReport: Codable, Sendable {
  public var eigenpairs: HessianSpectrum
  /// ‖P_k g‖² / ‖g‖²: the share of the gradient in the span of the top-k eigenvectors.
  public var gradientOverlap: Double
  /// ‖P_k d‖² / ‖d‖² for the update d the optimizer took (when measured during training).
  public var updateOverlap: Double?
  public var density: SpectralDensity
  /// The quadrature weight of the nodes below −σ (beyond the density's resolution; by default
  /// 1% of its range), averaged over probes: the share of the spectrum that is clearly
  /// negative curvature. (With few Lanczos steps one node stands for the whole bulk near 0 and
  /// can land on either side of it; the margin keeps it out.)
  public var negativeMass: Double
  /// The bulk's upper edge and the top-k eigenvalues above it (`Outliers`).
  public var bulkEdge: Double
  public var outliers: Int
  /// Each layer's diagonal block H_ll (its weights and biases), when asked for.
  public var layers: [LayerSpectrum]?
  /// Each description block's diagonal block (all its layers' parameters), when asked for.
  public var blocks: [LayerSpectrum]?

  /// The extreme eigenvalues of one layer's (or block's) diagonal Hessian block.
  public struct LayerSpectrum: Codable, Sendable {
    public var label: String
    public var largest: Double
    public var smallest: Double
    public var steps: Int
  }

  /// Everything of one spectrum at the probe's weights on its batch: the eigenvalue run from a
  /// Gaussian start (seeded) with the overlaps of g and of d (when given), the other density
  /// probes, the outliers, and with `optimizer` the edge of stability (for Adam one more
  /// Lanczos run on P^(−1/2) H P^(−1/2)). `gradientCurvature` is gᵀHg/gᵀg, compared with the
  /// same threshold.
  public static func measure<Scalar: TensorScalar>(
    _ probe: CurvatureProbe<Scalar>, gradient g: NamedTensors<Scalar>, update d: NamedTensors<Scalar>?,
    gradientCurvature: Double, options: SpectrumOptions, optimizer: CurvatureReport.OptimizerState?, seed: UInt64
  ) -> (spectrum: SpectrumReport, stability: CurvatureReport.StabilityReport?) {
    let (eigenpairs, first) = probe.lanczosSpectrum(
      steps: options.steps, topK: options.topK, seed: seed, directions: [g] + (d.map { [$0] } ?? []))
    let density = probe.spectralDensity(
      probes: options.probes, steps: options.steps, sigma: options.sigma, points: options.gridPoints,
      seed: seed &+ 1, first: first)
    let margin = density.sigma
    let negative =
      zip(density.nodes, density.weights).reduce(0.0) { sum, probe in
        sum + zip(probe.0, probe.1).reduce(0.0) { $0 + ($1.0 < -margin ? $1.1 : 0) }
      } / Double(max(density.nodes.count, 1))
    let edge = Outliers.bulkEdge(
      nodes: density.nodes, weights: density.weights, parameterCount: probe.weights.elementCount)
    /// The extreme eigenvalues of each group's diagonal block H_bb, one seeded Lanczos run each.
    func restricted(_ groups: [(label: String, parameters: [String])], seed: UInt64) -> [LayerSpectrum] {
      groups.enumerated().map { index, group in
        let block = probe.spectrum(
          steps: options.steps, topK: 1, seed: seed &+ UInt64(index), block: Set(group.parameters))
        return LayerSpectrum(
          label: group.label, largest: block.top.first ?? .nan, smallest: block.bottom.first ?? .nan,
          steps: block.steps)
      }
    }
    let layers =
      options.perLayer ? restricted(probe.layers.groups.map { ($0.label, $0.parameters) }, seed: seed &+ 3) : nil
    let blocks =
      options.perBlock
      ? restricted(probe.model.blockParameters.map { ($0.name, $0.parameters) }, seed: seed &+ 1_000) : nil
    let spectrum = SpectrumReport(
      eigenpairs: eigenpairs, gradientOverlap: eigenpairs.overlaps[0],
      updateOverlap: d == nil ? nil : eigenpairs.overlaps[1], density: density, negativeMass: negative,
      bulkEdge: edge, outliers: Outliers.count(top: eigenpairs.top, above: edge), layers: layers, blocks: blocks)
    let stability: CurvatureReport.StabilityReport?
    switch optimizer {
    case .sgd(let eta, let momentum)?:
      let threshold = StabilityThreshold.sgd(learningRate: eta, momentum: momentum)
      let sharpness = eigenpairs.top.first ?? .nan
      stability = .init(
        optimizer: "sgd", learningRate: eta, threshold: threshold, sharpnessKind: "lambda_max", sharpness: sharpness,
        gradientCurvature: gradientCurvature, ratio: sharpness / threshold)
    case .adam(let eta, let beta1, let scaling)?:
      let threshold = StabilityThreshold.adam(learningRate: eta, beta1: beta1)
      let preconditioned = probe.spectrum(
        steps: options.steps, topK: 1, seed: seed &+ 2,
        scaling: probe.weights.filled { name, index in Scalar(scaling[name]![index]) })
      let sharpness = preconditioned.top.first ?? .nan
      stability = .init(
        optimizer: "adam", learningRate: eta, threshold: threshold, sharpnessKind: "preconditioned_lambda_max",
        sharpness: sharpness, gradientCurvature: gradientCurvature, ratio: sharpness / threshold)
    case nil: stability = nil
    }
    return (spectrum, stability)
  }
}

/// Which of the largest eigenvalues are outliers, separated from the bulk of the spectrum
/// (Ghorbani et al. 2019; Papyan 2019: about one per class in networks without BatchNorm).
///
/// The rule reads the density's quadrature. For a unit Gaussian probe v, a node θ_j of its
/// Lanczos quadrature carries the weight τ_j = Σ_i (vᵀu_i)² over the eigenvectors u_i it
/// stands for; one eigenvector's (vᵀu)² is χ²₁/n with mean 1/n, above `bulkWeight`/n = 50/n with
/// probability below 10⁻¹¹, and a cluster of ten below 50/n with probability 1 − 3·10⁻⁷. So a
/// node heavier than 50/n stands for many eigenvalues: the bulk. The **bulk edge** is the
/// largest node, over all probes, that is that heavy; an **outlier** is a top-k eigenvalue
/// above it. The rule needs n ≫ 50 m² (m Lanczos steps; 45,000 at m = 30): the bulk's
/// outermost node weighs about 1/m², and below that size it is lighter than 50/n, the edge
/// moves inward and the bulk's own top Ritz values count as outliers.
public enum Outliers {
  public static let bulkWeight = 50.0

  /// The largest node of weight ≥ `bulkWeight`/n over all probes (−∞ when there is none).
  public static func bulkEdge(nodes: [[Double]], weights: [[Double]], parameterCount n: Int) -> Double {
    let heavy = bulkWeight / Double(max(n, 1))
    return zip(nodes, weights).reduce(-Double.infinity) { edge, probe in
      zip(probe.0, probe.1).reduce(edge) { $1.1 >= heavy ? max($0, $1.0) : $0 }
    }
  }

  /// The top eigenvalues above `edge`.
  public static func count(top: [Double], above edge: Double) -> Int { top.filter { $0 > edge }.count }
}

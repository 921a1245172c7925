import Foundation
import TensorCore

/// The extreme eigenpairs of the Hessian at the probe's weights (BatchNorm in training mode),
/// from Lanczos on exact Hessian-vector products, and where a direction lives among them.
public struct HessianSpectrum: Codable, Sendable {
  /// The largest Ritz values, descending, and the smallest, ascending (λ_min first: negative
  /// curvature shows here).
  public var top: [Double]
  public var bottom: [Double]
  /// Lanczos steps taken (Hessian-vector products), and whether the Krylov space became
  /// invariant first (then every Ritz value is an eigenvalue).
  public var steps: Int
  public var exhausted: Bool
  /// ‖P_k v‖² / ‖v‖² for each direction asked for (the gradient, the update), P_k the
  /// projector on the span of the top-k Ritz vectors.
  public var overlaps: [Double]
}

/// The spectral density of the Hessian by stochastic Lanczos quadrature: for each Gaussian
/// probe v (normalised), m Lanczos steps give nodes θ_j and weights τ_j with
/// vᵀ δ(H − t) v ≈ Σ_j τ_j δ(t − θ_j); averaged over probes and each node broadened by a
/// Gaussian of width σ, φ(t) = (1/P) Σ_p Σ_j τ_j 𝒩(t; θ_j, σ²), whose integral is 1.
public struct SpectralDensity: Codable, Sendable {
  /// Each probe's nodes and weights (what the density is recomputed from offline).
  public var nodes: [[Double]]
  public var weights: [[Double]]
  public var sigma: Double
  /// The density on `grid` (evenly spaced, covering every node ± 4σ, negative ones included).
  public var grid: [Double]
  public var density: [Double]

  /// φ(t) on an evenly spaced grid of `points` covering every node ± 4σ.
  public static func broadened(nodes: [[Double]], weights: [[Double]], sigma: Double, points: Int) -> SpectralDensity {
    let all = nodes.joined()
    let low = (all.min() ?? 0) - 4 * sigma
    let high = (all.max() ?? 0) + 4 * sigma
    let step = (high - low) / Double(max(points - 1, 1))
    let grid = (0..<points).map { low + Double($0) * step }
    let normal = 1 / (sigma * (2 * Double.pi).squareRoot() * Double(max(nodes.count, 1)))
    let density = grid.map { t in
      zip(nodes, weights).reduce(0.0) { sum, probe in
        sum
          + zip(probe.0, probe.1).reduce(0.0) { inner, node in
            let z = (t - node.0) / sigma
            return inner + node.1 * normal * Double.exp(-0.5 * z * z)
          }
      }
    }
    return SpectralDensity(nodes: nodes, weights: weights, sigma: sigma, grid: grid, density: density)
  }
}

extension CurvatureProbe {
  /// The `topK` largest and smallest eigenvalues of H after at most `steps` Lanczos steps from a
  /// Gaussian start (seeded), and the fraction of each of `directions` (the gradient, the
  /// update) in the span of the top-k Ritz vectors.
  ///
  /// With `scaling` D (a positive diagonal, shaped like the weights) the operator is D H D:
  /// for Adam, D = P^(−1/2) with P = diag(√v̂ + ε) from the optimizer's state, the Hessian of the
  /// preconditioned problem whose top eigenvalue is compared with (2 + 2β₁)/((1 − β₁)η).
  ///
  /// With `block` (parameter names: a layer's, or any group's) the operator is that diagonal
  /// block H_bb: vectors are zero outside the block before and after each product.
  public func spectrum(
    steps: Int, topK: Int, seed: UInt64, directions: [NamedTensors<Scalar>] = [], scaling: NamedTensors<Scalar>? = nil,
    block: Set<String>? = nil
  ) -> HessianSpectrum {
    lanczosSpectrum(steps: steps, topK: topK, seed: seed, directions: directions, scaling: scaling, block: block).0
  }

  /// `spectrum(…)` with the Lanczos run it came from (without scaling or block, its start is a
  /// Gaussian probe of the whole space: a quadrature of the density too).
  func lanczosSpectrum(
    steps: Int, topK: Int, seed: UInt64, directions: [NamedTensors<Scalar>] = [], scaling: NamedTensors<Scalar>? = nil,
    block: Set<String>? = nil
  ) -> (HessianSpectrum, LanczosResult) {
    var generator = SeededGenerator(seed: seed)
    var d = scaling.map(flatten)
    if let block {
      // The block's restriction is a diagonal scaling by its 0/1 indicator.
      let indicator = flatten(weights.filled { name, _ in block.contains(name) ? 1 : 0 })
      d = d.map { zip($0, indicator).map(*) } ?? indicator
    }
    var start = flatten(weights.filled { _, _ in Scalar(generator.nextNormal()) })
    if let d { start = zip(start, d).map { $1 == 0 ? 0 : $0 } }
    let result = Lanczos.run(start: start, steps: steps, ritzVectors: directions.isEmpty ? 0 : topK) { v in
      guard let d else { return flatten(hessianVectorProduct(unflatten(v))) }
      let product = flatten(hessianVectorProduct(unflatten(zip(d, v).map(*))))
      return zip(d, product).map(*)
    }
    let k = min(topK, result.ritzValues.count)
    let overlaps = directions.map { direction -> Double in
      let d = flatten(direction)
      let total = Lanczos.dot(d, d)
      let inSpan = result.topRitzVectors.prefix(k).reduce(0.0) { $0 + Lanczos.dot($1, d) * Lanczos.dot($1, d) }
      return total > 0 ? inSpan / total : .nan
    }
    let spectrum = HessianSpectrum(
      top: Array(result.ritzValues.suffix(k).reversed()), bottom: Array(result.ritzValues.prefix(k)),
      steps: result.alphas.count, exhausted: result.exhausted, overlaps: overlaps)
    return (spectrum, result)
  }

  /// The spectral density by stochastic Lanczos quadrature: `probes` Gaussian starts (seeded),
  /// `steps` Lanczos steps each, broadened by `sigma` (default: 1% of the nodes' range) on a
  /// grid of `points`. `first`, a Lanczos run from a Gaussian start already made (the
  /// eigenvalue run), stands for the first probe.
  public func spectralDensity(
    probes: Int, steps: Int, sigma: Double? = nil, points: Int = 200, seed: UInt64, first: LanczosResult? = nil
  ) -> SpectralDensity {
    var generator = SeededGenerator(seed: seed)
    var nodes: [[Double]] = first.map { [$0.ritzValues] } ?? []
    var weights: [[Double]] = first.map { [$0.quadratureWeights] } ?? []
    while nodes.count < max(probes, 1) {
      let start = flatten(self.weights.filled { _, _ in Scalar(generator.nextNormal()) })
      let result = Lanczos.run(start: start, steps: steps) { v in flatten(hessianVectorProduct(unflatten(v))) }
      nodes.append(result.ritzValues)
      weights.append(result.quadratureWeights)
    }
    let all = nodes.joined()
    let range = (all.max() ?? 1) - (all.min() ?? 0)
    return .broadened(
      nodes: nodes, weights: weights, sigma: sigma ?? max(0.01 * range, .leastNormalMagnitude), points: points)
  }

  /// The parameters as one vector, in the network's order.
  func flatten(_ tensors: NamedTensors<Scalar>) -> [Double] {
    tensors.names.flatMap { tensors[$0]!.scalars.map(\.doubleValue) }
  }

  /// A flat vector back as tensors shaped like the weights.
  func unflatten(_ vector: [Double]) -> NamedTensors<Scalar> {
    var offsets: [String: Int] = [:]
    var offset = 0
    for name in weights.names {
      offsets[name] = offset
      offset += weights[name]!.count
    }
    return weights.filled { name, index in Scalar(vector[offsets[name]! + index]) }
  }
}

/// The step sizes beyond which gradient descent on a quadratic of curvature λ diverges (Cohen
/// et al. 2021, 2022: training tends to sit at this edge of stability): λ < 2/η for SGD,
/// 2(1 + β)/η with heavy-ball momentum β, and for Adam's preconditioned sharpness
/// (2 + 2β₁)/((1 − β₁)η) (38/η at β₁ = 0.9).
public enum StabilityThreshold {
  public static func sgd(learningRate eta: Double, momentum beta: Double = 0) -> Double { 2 * (1 + beta) / eta }
  public static func adam(learningRate eta: Double, beta1: Double) -> Double { (2 + 2 * beta1) / ((1 - beta1) * eta) }

  /// P^(−1/2) for Adam's state: 1/√(√v̂ + ε) per parameter, v̂ = v / (1 − β₂ᵗ) after t steps.
  public static func adamScaling<Scalar: TensorScalar>(
    secondMoment v: NamedTensors<Scalar>, steps t: Int, beta2: Double, epsilon: Double
  ) -> NamedTensors<Scalar> {
    let correction = 1 - pow(beta2, Double(t))
    var scaling = v
    for name in v.names {
      let values = v[name]!
      scaling[name] = Tensor(
        shape: values.shape,
        scalars: values.scalars.map {
          Scalar(1 / ((($0.doubleValue / correction).squareRoot() + epsilon).squareRoot()))
        })
    }
    return scaling
  }
}

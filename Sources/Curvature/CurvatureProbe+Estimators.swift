import Foundation
import Networks
import TensorCore

extension CurvatureProbe {
  /// Hutchinson's estimator of tr(H) with Rademacher probes v (entries ±1, E[vvᵀ] = I):
  /// tr(H) ≈ (1/K) Σ_k vₖᵀ H vₖ, and the trace of layer l's diagonal block from the same
  /// products, (1/K) Σ_k v_{k,l}ᵀ (H vₖ)_l.
  public func hutchinsonTrace(probes: Int, seed: UInt64) -> TraceEstimate {
    precondition(probes >= 1, "hutchinsonTrace: need at least one probe")
    var generator = SeededGenerator(seed: seed)
    var samples: [Double] = []
    var layerSums = [Double](repeating: 0, count: layers.groups.count)
    for _ in 0..<probes {
      let v = weights.filled { _, _ in generator.next() & 1 == 0 ? 1 : -1 }
      let hv = hessianVectorProduct(v)
      let perParameter = v.entryDots(hv)
      samples.append(perParameter.reduce(0, +))
      for (index, value) in layers.sum(perParameter, names: v.names).enumerated() { layerSums[index] += value }
    }
    let mean = samples.reduce(0, +) / Double(probes)
    let variance = probes > 1 ? samples.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(probes - 1) : .nan
    return TraceEstimate(
      trace: mean, standardError: (variance / Double(probes)).squareRoot(), probes: probes,
      layerTraces: layerSums.map { $0 / Double(probes) })
  }

  /// The eigenvalue of H of largest magnitude, by power iteration on exact products: v ← Hv/‖Hv‖,
  /// λ = vᵀHv, until |λ − λ_prev| ≤ tolerance · |λ| or `maximumProducts` products.
  /// (It can be negative: then negative curvature dominates.)
  public func dominantEigenvalue(tolerance: Double, maximumProducts: Int, seed: UInt64) -> EigenvalueEstimate {
    var generator = SeededGenerator(seed: seed)
    var v = weights.filled { _, _ in Scalar(generator.nextNormal()) }
    v = v.scaled(by: 1 / v.norm)
    var eigenvalue = Double.nan
    for product in 1...max(1, maximumProducts) {
      let hv = hessianVectorProduct(v)
      let next = v.dot(hv)
      let norm = hv.norm
      let converged = !eigenvalue.isNaN && abs(next - eigenvalue) <= tolerance * abs(next)
      eigenvalue = next
      if converged || norm == 0 || !norm.isFinite {
        return EigenvalueEstimate(eigenvalue: eigenvalue, products: product, converged: converged, tolerance: tolerance)
      }
      v = hv.scaled(by: 1 / norm)
    }
    return EigenvalueEstimate(eigenvalue: eigenvalue, products: maximumProducts, converged: false, tolerance: tolerance)
  }

  /// The quadratic model along −g against the real loss: for each step ε, the first-order
  /// prediction −ε gᵀg, the second-order −ε gᵀg + ½ ε² gᵀHg, and f(w − εg) − f(w).
  public func taylorTable(
    gradient g: NamedTensors<Scalar>, along: AlongGradient, loss: Double, steps: [TaylorStep]
  ) -> [TaylorRow] {
    steps.map { step in
      let epsilon = step.epsilon
      let first = -epsilon * along.gTg
      let second = first + 0.5 * epsilon * epsilon * along.gHg
      let actual = self.loss(displacedBy: g.scaled(by: -epsilon)) - loss
      return TaylorRow(
        multiple: step.multipleOfEpsilonStar, epsilon: epsilon, predictedFirst: first,
        predictedSecond: second, actual: actual,
        relativeError: actual != 0 ? abs(second - actual) / abs(actual) : .nan)
    }
  }
}

/// A step size along −g, possibly given as a multiple of ε*.
public struct TaylorStep: Sendable {
  public var epsilon: Double
  public var multipleOfEpsilonStar: Double?
  public init(epsilon: Double, multipleOfEpsilonStar: Double? = nil) {
    self.epsilon = epsilon
    self.multipleOfEpsilonStar = multipleOfEpsilonStar
  }
}

public struct TaylorRow: Codable, Sendable {
  /// k in ε = k·ε* (nil when ε came from a grid because ε* does not exist).
  public var multiple: Double?
  public var epsilon: Double
  public var predictedFirst: Double
  public var predictedSecond: Double
  public var actual: Double
  /// |second-order prediction − actual| / |actual|.
  public var relativeError: Double
}

public struct TraceEstimate: Codable, Sendable {
  public var trace: Double
  public var standardError: Double
  public var probes: Int
  public var layerTraces: [Double]

  public init(trace: Double, standardError: Double, probes: Int, layerTraces: [Double]) {
    self.trace = trace
    self.standardError = standardError
    self.probes = probes
    self.layerTraces = layerTraces
  }
}

public struct EigenvalueEstimate: Codable, Sendable {
  public var eigenvalue: Double
  public var products: Int
  public var converged: Bool
  public var tolerance: Double
}

/// The symmetric Lanczos process with full reorthogonalisation, on any symmetric operator
/// over flat vectors (here: exact Hessian-vector products).
///
/// From a start vector q₁ it builds an orthonormal basis Q = [q₁ … q_m] of the Krylov space
/// span{q₁, Aq₁, …, A^{m−1}q₁} in which QᵀAQ = T is tridiagonal (diagonal α, off-diagonal β):
///
///     w = A q_j − α_j q_j − β_{j−1} q_{j−1},   α_j = q_jᵀ A q_j,   β_j = ‖w‖,   q_{j+1} = w / β_j
///
/// In floating point the q_j lose orthogonality as Ritz values converge (ghost copies of the
/// extreme eigenvalues); subtracting every earlier q_i from w, twice ("twice is enough"), keeps
/// Q orthonormal to rounding. The eigenvalues of T (Ritz values) approximate A's extreme
/// eigenvalues first; with m = n they are A's eigenvalues. For a unit start vector q₁, the
/// squared first components of T's eigenvectors are the Gauss quadrature weights of the
/// spectral measure q₁ᵀ δ(A − t) q₁ (stochastic Lanczos quadrature).
public struct LanczosResult: Sendable {
  /// T's diagonal (one per step) and off-diagonal (one fewer).
  public var alphas: [Double]
  public var betas: [Double]
  /// T's eigenvalues, ascending, and for each its eigenvector's first component squared.
  public var ritzValues: [Double]
  public var quadratureWeights: [Double]
  /// The Ritz vectors Q s_i (as many as asked for, from the largest Ritz value down), unit length.
  public var topRitzVectors: [[Double]]
  /// Whether the Krylov space became invariant (β ≈ 0) before the step count.
  public var exhausted: Bool
}

public enum Lanczos {
  /// Runs at most `steps` steps from `start` (any non-zero vector), stopping early when
  /// β_j ≤ `tolerance` · ‖T‖ (the space is invariant: T's eigenvalues are then exact ones).
  /// Returns T, its eigen-decomposition and the `ritzVectors` Ritz vectors of largest value.
  public static func run(
    start: [Double], steps: Int, tolerance: Double = 1e-12, ritzVectors: Int = 0, apply: ([Double]) -> [Double]
  ) -> LanczosResult {
    let n = start.count
    let m = max(1, min(steps, n))
    var q = [scaled(start, 1 / norm(start))]
    var alphas: [Double] = []
    var betas: [Double] = []
    var exhausted = false
    for j in 0..<m {
      var w = apply(q[j])
      let alpha = dot(q[j], w)
      alphas.append(alpha)
      // Full reorthogonalisation, twice: w ⟂ q_0 … q_j to rounding.
      for _ in 0..<2 {
        for basis in q {
          let c = dot(basis, w)
          for i in 0..<n { w[i] -= c * basis[i] }
        }
      }
      guard j + 1 < m else { break }
      let beta = norm(w)
      let scale = alphas.map(abs).max()! + (betas.map(abs).max() ?? 0)
      if beta <= tolerance * max(scale, .leastNormalMagnitude) {
        exhausted = true
        break
      }
      betas.append(beta)
      q.append(scaled(w, 1 / beta))
    }
    let k = alphas.count
    var t = [[Double]](repeating: [Double](repeating: 0, count: k), count: k)
    for i in 0..<k {
      t[i][i] = alphas[i]
      if i + 1 < k {
        t[i][i + 1] = betas[i]
        t[i + 1][i] = betas[i]
      }
    }
    let (values, vectors) = SymmetricEigen.decompose(t)
    let wanted = min(ritzVectors, k)
    let top = (0..<wanted).map { r -> [Double] in
      let s = vectors[k - 1 - r]
      var y = [Double](repeating: 0, count: n)
      for (coefficient, basis) in zip(s, q) { for i in 0..<n { y[i] += coefficient * basis[i] } }
      return scaled(y, 1 / norm(y))
    }
    return LanczosResult(
      alphas: alphas, betas: Array(betas.prefix(k - 1)), ritzValues: values,
      quadratureWeights: vectors.map { $0[0] * $0[0] }, topRitzVectors: top, exhausted: exhausted)
  }

  static func dot(_ a: [Double], _ b: [Double]) -> Double {
    var sum = 0.0
    for i in 0..<a.count { sum += a[i] * b[i] }
    return sum
  }

  static func norm(_ a: [Double]) -> Double { dot(a, a).squareRoot() }

  static func scaled(_ a: [Double], _ s: Double) -> [Double] { a.map { $0 * s } }
}

/// Eigenvalues and eigenvectors of a small dense symmetric matrix by cyclic Jacobi rotations
/// (Golub and Van Loan, §8.5): each rotation zeroes one off-diagonal pair; sweeps repeat until
/// the off-diagonal mass is rounding. Accurate to a few ulps of the largest eigenvalue.
public enum SymmetricEigen {
  /// The eigenvalues ascending and, for each, its unit eigenvector.
  public static func decompose(_ matrix: [[Double]]) -> (values: [Double], vectors: [[Double]]) {
    let n = matrix.count
    var a = matrix
    var v = (0..<n).map { i in (0..<n).map { $0 == i ? 1.0 : 0.0 } }
    for _ in 0..<100 {
      var off = 0.0
      for p in 0..<n { for q in (p + 1)..<max(p + 1, n) { off += a[p][q] * a[p][q] } }
      var diagonal = 0.0
      for p in 0..<n { diagonal += a[p][p] * a[p][p] }
      if off <= 1e-30 * max(diagonal, .leastNormalMagnitude) { break }
      for p in 0..<n {
        for q in (p + 1)..<max(p + 1, n) where a[p][q] != 0 {
          // The rotation that zeroes a[p][q]: tan θ = t, θ the smaller root.
          let theta = (a[q][q] - a[p][p]) / (2 * a[p][q])
          let t = (theta >= 0 ? 1.0 : -1.0) / (abs(theta) + (theta * theta + 1).squareRoot())
          let c = 1 / (t * t + 1).squareRoot()
          let s = t * c
          for k in 0..<n {
            let (akp, akq) = (a[k][p], a[k][q])
            a[k][p] = c * akp - s * akq
            a[k][q] = s * akp + c * akq
          }
          for k in 0..<n {
            let (apk, aqk) = (a[p][k], a[q][k])
            a[p][k] = c * apk - s * aqk
            a[q][k] = s * apk + c * aqk
          }
          for k in 0..<n {
            let (vkp, vkq) = (v[k][p], v[k][q])
            v[k][p] = c * vkp - s * vkq
            v[k][q] = s * vkp + c * vkq
          }
        }
      }
    }
    let order = (0..<n).sorted { a[$0][$0] < a[$1][$1] }
    return (order.map { a[$0][$0] }, order.map { column in (0..<n).map { v[$0][column] } })
  }
}

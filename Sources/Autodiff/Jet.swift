import TensorCore

/// A second-order Taylor polynomial `value + first·t + second·t²`, truncated at t³: forward-mode
/// differentiation to second order by arithmetic ("Taylor mode", Griewank & Walther ch. 13).
///
/// Seed every parameter with w + t·v (first = v, second = 0) and run the *forward* pass only:
/// every intermediate carries the first two Taylor coefficients of t ↦ x(w + t v), so the loss
/// comes out as
///
///     f(w + t v) = f(w) + (gᵀv) t + ½ (vᵀHv) t² + O(t³),
///
/// that is, `first` = gᵀv and 2·`second` = vᵀHv, exactly (no finite differences), for the
/// price of one forward pass on jets. Where only the scalar vᵀHv is wanted (dᵀHd along the
/// update, gᵀHg along the gradient) this is cheaper than forward-over-reverse, which carries
/// the whole vector H v back through the backward pass: per convolution it costs 5 real matrix
/// products (value 1, first 2, second 2) against the 9 of a `Dual` H·v.
///
/// Coefficients, not derivatives, are stored because their products are Cauchy products,
/// (a·b)₂ = a₀b₂ + a₁b₁ + a₂b₀, which `gemm` turns into single real products (see there).
/// Comparisons look at the value only, as `Dual`'s do: piecewise-linear pieces take the
/// branch of the value, the convention of every autodiff framework.
public struct Jet<Base: TensorScalar>: TruncatedSeries where Base.Accumulator: TensorScalar {
  public typealias Accumulator = Jet<Base.Accumulator>

  public var value: Base
  /// The coefficient of t: the directional derivative along the seed direction.
  public var first: Base
  /// The coefficient of t²: half the second directional derivative.
  public var second: Base

  @inlinable public init(_ value: Base, first: Base, second: Base) {
    self.value = value
    self.first = first
    self.second = second
  }

  public static var order: Int { 2 }
  @inlinable public func coefficient(_ i: Int) -> Base { i == 0 ? value : i == 1 ? first : second }
  @inlinable public init(constant value: Base) { self.init(value, first: 0, second: 0) }
  @inlinable public init(coefficients coefficient: (Int) -> Base) {
    self.init(coefficient(0), first: coefficient(1), second: coefficient(2))
  }

  public var description: String { "\(value) + \(first)t + \(second)t²" }
  @inlinable public var accumulator: Jet<Base.Accumulator> {
    Jet<Base.Accumulator>(value.accumulator, first: first.accumulator, second: second.accumulator)
  }
  @inlinable public init(accumulator: Jet<Base.Accumulator>) {
    self.init(
      Base(accumulator: accumulator.value), first: Base(accumulator: accumulator.first),
      second: Base(accumulator: accumulator.second))
  }

  @inlinable public static func + (lhs: Jet, rhs: Jet) -> Jet {
    Jet(lhs.value + rhs.value, first: lhs.first + rhs.first, second: lhs.second + rhs.second)
  }
  @inlinable public static func - (lhs: Jet, rhs: Jet) -> Jet {
    Jet(lhs.value - rhs.value, first: lhs.first - rhs.first, second: lhs.second - rhs.second)
  }
  /// The Cauchy product, truncated: (ab)₀ = a₀b₀, (ab)₁ = a₁b₀ + a₀b₁, (ab)₂ = a₂b₀ + a₁b₁ + a₀b₂.
  @inlinable public static func * (lhs: Jet, rhs: Jet) -> Jet {
    Jet(
      lhs.value * rhs.value, first: lhs.first * rhs.value + lhs.value * rhs.first,
      second: lhs.second * rhs.value + lhs.first * rhs.first + lhs.value * rhs.second)
  }
  /// q = a/b solves q·b = a coefficient by coefficient: q₀ = a₀/b₀,
  /// q₁ = (a₁ − q₀b₁)/b₀, q₂ = (a₂ − q₀b₂ − q₁b₁)/b₀.
  @inlinable public static func / (lhs: Jet, rhs: Jet) -> Jet {
    let q0 = lhs.value / rhs.value
    let q1 = (lhs.first - q0 * rhs.first) / rhs.value
    let q2 = (lhs.second - q0 * rhs.second - q1 * rhs.first) / rhs.value
    return Jet(q0, first: q1, second: q2)
  }
  @inlinable public static prefix func - (operand: Jet) -> Jet {
    Jet(-operand.value, first: -operand.first, second: -operand.second)
  }

  /// exp(a₀ + a₁t + a₂t²) = e^{a₀} (1 + a₁t + (a₂ + a₁²/2) t²)
  @inlinable public static func exp(_ x: Jet) -> Jet {
    let e = Base.exp(x.value)
    return Jet(e, first: e * x.first, second: e * (x.second + x.first * x.first / 2))
  }
  /// log(a₀ + a₁t + a₂t²) = log a₀ + (a₁/a₀) t + (a₂/a₀ − ½(a₁/a₀)²) t²
  @inlinable public static func log(_ x: Jet) -> Jet {
    let ratio = x.first / x.value
    return Jet(Base.log(x.value), first: ratio, second: x.second / x.value - ratio * ratio / 2)
  }
  /// r = √a from r² = a: r₀ = √a₀, r₁ = a₁/(2r₀), r₂ = (a₂ − r₁²)/(2r₀).
  @inlinable public static func sqrt(_ x: Jet) -> Jet {
    let root = Base.sqrt(x.value)
    let first = x.first / (2 * root)
    return Jet(root, first: first, second: (x.second - first * first) / (2 * root))
  }

  /// The product of jet matrices in real products. Coefficient j of C = A·B is the Cauchy sum
  /// Σᵢ Aᵢ·B_{j−i}. Lay A's coefficient planes out along k as [A₂ | A₁ | A₀] and B's as
  /// [B₀ ; B₁ ; B₂]: then
  ///
  ///     C₀ = A₀·B₀,   C₁ = [A₁ | A₀]·[B₀ ; B₁],   C₂ = [A₂ | A₁ | A₀]·[B₀ ; B₁ ; B₂],
  ///
  /// each one product over a contiguous sub-matrix of both (larger, more efficient GEMMs than
  /// separate ones). Pairs of planes that are zero at either end of a range are dropped: the
  /// weights' second coefficient (w + t v is linear in t) and the images' tangents, so a
  /// convolution costs 1 + 2 + 2 products, or 1 + 1 + 0 on the images.
  public static func gemm(
    transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
    alpha: Jet, a: UnsafePointer<Jet>, lda: Int,
    b: UnsafePointer<Jet>, ldb: Int,
    beta: Jet, c: UnsafeMutablePointer<Jet>, ldc: Int
  ) {
    precondition(
      alpha.first == 0 && alpha.second == 0 && beta.first == 0 && beta.second == 0,
      "Jet.gemm: alpha and beta must be real")
    let aPlanes = UnsafeMutablePointer<Base>.allocate(capacity: 3 * m * k)
    let bPlanes = UnsafeMutablePointer<Base>.allocate(capacity: 3 * k * n)
    let products = UnsafeMutablePointer<Base>.allocate(capacity: 3 * m * n)
    defer { for pointer in [aPlanes, bPlanes, products] { pointer.deallocate() } }

    // Position p (0, 1, 2) of Â holds A's coefficient 2 − p; position p of B̂ holds B's
    // coefficient p. Stored untransposed Â is m×3k (positions side by side), transposed 3k×m
    // (stacked); B̂ is 3k×n untransposed, n×3k transposed.
    let aLeading = transposeA ? m : 3 * k
    let bLeading = transposeB ? 3 * k : n
    func aPosition(_ p: Int) -> UnsafeMutablePointer<Base> { transposeA ? aPlanes + p * k * m : aPlanes + p * k }
    func bPosition(_ p: Int) -> UnsafeMutablePointer<Base> { transposeB ? bPlanes + p * k : bPlanes + p * k * n }
    let aNonzero = split(
      a, rows: transposeA ? k : m, columns: transposeA ? m : k, leading: lda,
      planes: (aPosition(2), aPosition(1), aPosition(0)), planeLeading: aLeading)
    let bNonzero = split(
      b, rows: transposeB ? n : k, columns: transposeB ? k : n, leading: ldb,
      planes: (bPosition(0), bPosition(1), bPosition(2)), planeLeading: bLeading)

    // C_j pairs Â's position p with B̂'s position p + j − 2, for p in 2 − j ... 2.
    for j in 0..<3 {
      let out = products + j * m * n
      let pairs = (2 - j...2).filter { p in aNonzero[2 - p] && bNonzero[p + j - 2] }
      guard let low = pairs.first, let high = pairs.last else {
        out.initialize(repeating: 0, count: m * n)
        continue
      }
      Base.gemm(
        transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: (high - low + 1) * k, alpha: 1,
        a: aPosition(low), lda: aLeading, b: bPosition(low + j - 2), ldb: bLeading, beta: 0, c: out, ldc: n)
    }
    let (realAlpha, realBeta) = (alpha.value, beta.value)
    for i in 0..<m {
      let target = c + i * ldc
      let (c0, c1, c2) = (products + i * n, products + m * n + i * n, products + 2 * m * n + i * n)
      if realBeta == 0 {
        for j in 0..<n {
          target[j] = Jet(realAlpha * c0[j], first: realAlpha * c1[j], second: realAlpha * c2[j])
        }
      } else {
        for j in 0..<n {
          let old = target[j]
          target[j] = Jet(
            realAlpha * c0[j] + realBeta * old.value, first: realAlpha * c1[j] + realBeta * old.first,
            second: realAlpha * c2[j] + realBeta * old.second)
        }
      }
    }
  }

  /// Copies a stored rows × columns matrix of jets into three coefficient planes (each with
  /// leading dimension `planeLeading`); returns, per coefficient, whether any entry is non-zero.
  private static func split(
    _ matrix: UnsafePointer<Jet>, rows: Int, columns: Int, leading: Int,
    planes: (UnsafeMutablePointer<Base>, UnsafeMutablePointer<Base>, UnsafeMutablePointer<Base>),
    planeLeading: Int
  ) -> [Bool] {
    var firstNonzero = false
    var secondNonzero = false
    for i in 0..<rows {
      let row = matrix + i * leading
      let (values, firsts, seconds) = (
        planes.0 + i * planeLeading, planes.1 + i * planeLeading, planes.2 + i * planeLeading
      )
      for j in 0..<columns {
        values[j] = row[j].value
        firsts[j] = row[j].first
        seconds[j] = row[j].second
      }
      if !firstNonzero { firstNonzero = (0..<columns).contains { firsts[$0] != 0 } }
      if !secondNonzero { secondNonzero = (0..<columns).contains { seconds[$0] != 0 } }
    }
    return [true, firstNonzero, secondNonzero]
  }
}

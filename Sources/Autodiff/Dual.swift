import TensorCore

/// A dual number `value + tangent·ε` with ε² = 0: forward-mode differentiation by arithmetic.
///
/// Running the tape's gradient computation on `Dual` scalars is forward-over-reverse
/// (Pearlmutter 1994; JAX's `jvp(grad(f))`): seed each parameter's tangent with a direction v
/// and every value carries its directional derivative along v, so the gradient's tangent is
/// the exact Hessian-vector product H v. Every primitive's derivative rule is itself built from
/// arithmetic, comparisons, exp, log and sqrt, so it gets its own derivative for free, BatchNorm's
/// batch statistics included; no primitive needs a separate second-order rule.
///
/// Comparisons look at the value only: piecewise-linear pieces (leaky ReLU, the max taken in
/// log-sum-exp) have the derivative of the branch taken, as in every autodiff framework.
public struct Dual<Base: TensorScalar>: TruncatedSeries where Base.Accumulator: TensorScalar {
  public typealias Accumulator = Dual<Base.Accumulator>

  public var value: Base
  public var tangent: Base

  @inlinable public init(_ value: Base, tangent: Base) {
    self.value = value
    self.tangent = tangent
  }

  public static var order: Int { 1 }
  @inlinable public func coefficient(_ i: Int) -> Base { i == 0 ? value : tangent }
  @inlinable public init(constant value: Base) { self.init(value, tangent: 0) }
  @inlinable public init(coefficients coefficient: (Int) -> Base) { self.init(coefficient(0), tangent: coefficient(1)) }

  public var description: String { "\(value) + \(tangent)ε" }
  @inlinable public var accumulator: Dual<Base.Accumulator> {
    Dual<Base.Accumulator>(value.accumulator, tangent: tangent.accumulator)
  }
  @inlinable public init(accumulator: Dual<Base.Accumulator>) {
    self.init(Base(accumulator: accumulator.value), tangent: Base(accumulator: accumulator.tangent))
  }

  @inlinable public static func + (lhs: Dual, rhs: Dual) -> Dual {
    Dual(lhs.value + rhs.value, tangent: lhs.tangent + rhs.tangent)
  }
  @inlinable public static func - (lhs: Dual, rhs: Dual) -> Dual {
    Dual(lhs.value - rhs.value, tangent: lhs.tangent - rhs.tangent)
  }
  /// (a + ȧε)(b + ḃε) = ab + (ȧb + aḃ)ε
  @inlinable public static func * (lhs: Dual, rhs: Dual) -> Dual {
    Dual(lhs.value * rhs.value, tangent: lhs.tangent * rhs.value + lhs.value * rhs.tangent)
  }
  /// (a + ȧε)/(b + ḃε) = a/b + (ȧ − (a/b) ḃ)/b ε
  @inlinable public static func / (lhs: Dual, rhs: Dual) -> Dual {
    let quotient = lhs.value / rhs.value
    return Dual(quotient, tangent: (lhs.tangent - quotient * rhs.tangent) / rhs.value)
  }
  @inlinable public static prefix func - (operand: Dual) -> Dual { Dual(-operand.value, tangent: -operand.tangent) }

  /// d exp(a) = exp(a) ȧ
  @inlinable public static func exp(_ x: Dual) -> Dual {
    let e = Base.exp(x.value)
    return Dual(e, tangent: e * x.tangent)
  }
  /// d log(a) = ȧ / a
  @inlinable public static func log(_ x: Dual) -> Dual { Dual(Base.log(x.value), tangent: x.tangent / x.value) }
  /// d √a = ȧ / (2√a)
  @inlinable public static func sqrt(_ x: Dual) -> Dual {
    let root = Base.sqrt(x.value)
    return Dual(root, tangent: x.tangent / (2 * root))
  }

  /// The product of dual matrices in real products: value C = A·B and tangent
  /// Ċ = Ȧ·B + A·Ḃ = [Ȧ | A] · [B ; Ḃ], one product with K doubled (larger, more efficient
  /// GEMMs than two). The operands are split from interleaved pairs into planes laid out so
  /// that those concatenations are plain sub-matrices, keeping the stored orientation (BLAS
  /// does the transposes). A zero tangent plane (the images) drops its half.
  public static func gemm(
    transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
    alpha: Dual, a: UnsafePointer<Dual>, lda: Int,
    b: UnsafePointer<Dual>, ldb: Int,
    beta: Dual, c: UnsafeMutablePointer<Dual>, ldc: Int
  ) {
    precondition(alpha.tangent == 0 && beta.tangent == 0, "Dual.gemm: alpha and beta must be real")
    // Â holds [Ȧ | A] along k: m×2k row-major, or, stored transposed, 2k×m with Ȧᵀ on top.
    // B̂ holds [B ; Ḃ] along k: 2k×n with B on top, or, stored transposed, n×2k with Bᵀ left.
    let aPlanes = UnsafeMutablePointer<Base>.allocate(capacity: 2 * m * k)
    let bPlanes = UnsafeMutablePointer<Base>.allocate(capacity: 2 * k * n)
    let product = UnsafeMutablePointer<Base>.allocate(capacity: m * n)
    let productTangent = UnsafeMutablePointer<Base>.allocate(capacity: m * n)
    defer { for pointer in [aPlanes, bPlanes, product, productTangent] { pointer.deallocate() } }

    // Where each plane starts and its leading dimension, per stored orientation.
    let aTangent: UnsafeMutablePointer<Base> = aPlanes
    let aValue = transposeA ? aPlanes + k * m : aPlanes + k
    let aLeading = transposeA ? m : 2 * k
    let bValue: UnsafeMutablePointer<Base> = bPlanes
    let bTangent = transposeB ? bPlanes + k : bPlanes + k * n
    let bLeading = transposeB ? 2 * k : n
    let aHasTangent: Bool
    let bHasTangent: Bool
    if transposeA {
      aHasTangent = split(a, rows: k, columns: m, leading: lda, value: aValue, tangent: aTangent, planeLeading: m)
    } else {
      aHasTangent = split(a, rows: m, columns: k, leading: lda, value: aValue, tangent: aTangent, planeLeading: 2 * k)
    }
    if transposeB {
      bHasTangent = split(b, rows: n, columns: k, leading: ldb, value: bValue, tangent: bTangent, planeLeading: 2 * k)
    } else {
      bHasTangent = split(b, rows: k, columns: n, leading: ldb, value: bValue, tangent: bTangent, planeLeading: n)
    }
    func multiply(
      _ left: UnsafePointer<Base>, _ right: UnsafePointer<Base>, depth: Int, into out: UnsafeMutablePointer<Base>
    ) {
      Base.gemm(
        transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: depth, alpha: 1,
        a: left, lda: aLeading, b: right, ldb: bLeading, beta: 0, c: out, ldc: n)
    }
    multiply(aValue, bValue, depth: k, into: product)
    switch (aHasTangent, bHasTangent) {
    case (true, true): multiply(aTangent, bValue, depth: 2 * k, into: productTangent)  // [Ȧ|A]·[B;Ḃ]
    case (true, false): multiply(aTangent, bValue, depth: k, into: productTangent)
    case (false, true): multiply(aValue, bTangent, depth: k, into: productTangent)
    case (false, false): productTangent.initialize(repeating: 0, count: m * n)
    }
    let (realAlpha, realBeta) = (alpha.value, beta.value)
    for i in 0..<m {
      let target = c + i * ldc
      let (values, tangents) = (product + i * n, productTangent + i * n)
      if realBeta == 0 {
        for j in 0..<n { target[j] = Dual(realAlpha * values[j], tangent: realAlpha * tangents[j]) }
      } else {
        for j in 0..<n {
          let old = target[j]
          target[j] = Dual(
            realAlpha * values[j] + realBeta * old.value, tangent: realAlpha * tangents[j] + realBeta * old.tangent)
        }
      }
    }
  }

  /// Copies a stored rows × columns matrix of pairs into a value plane and a tangent plane
  /// (each with leading dimension `planeLeading`); returns whether any tangent is non-zero.
  private static func split(
    _ matrix: UnsafePointer<Dual>, rows: Int, columns: Int, leading: Int,
    value: UnsafeMutablePointer<Base>, tangent: UnsafeMutablePointer<Base>, planeLeading: Int
  ) -> Bool {
    var anyTangent = false
    for i in 0..<rows {
      let row = matrix + i * leading
      let (values, tangents) = (value + i * planeLeading, tangent + i * planeLeading)
      for j in 0..<columns {
        values[j] = row[j].value
        tangents[j] = row[j].tangent
      }
      if !anyTangent {
        for j in 0..<columns where tangents[j] != 0 {
          anyTangent = true
          break
        }
      }
    }
    return anyTangent
  }
}

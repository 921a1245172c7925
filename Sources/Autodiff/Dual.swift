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
public struct Dual<Base: TensorScalar>: TensorScalar where Base.Accumulator: TensorScalar {
  public typealias Accumulator = Dual<Base.Accumulator>

  public var value: Base
  public var tangent: Base

  @inlinable public init(_ value: Base, tangent: Base) {
    self.value = value
    self.tangent = tangent
  }

  @inlinable public init(_ value: Double) { self.init(Base(value), tangent: 0) }
  @inlinable public init(_ value: Int) { self.init(Base(value), tangent: 0) }
  @inlinable public init(floatLiteral value: Double) { self.init(Base(value), tangent: 0) }
  @inlinable public init(integerLiteral value: Int) { self.init(Base(value), tangent: 0) }

  public var doubleValue: Double { value.doubleValue }
  public var description: String { "\(value) + \(tangent)ε" }
  @inlinable public var accumulator: Dual<Base.Accumulator> { Dual<Base.Accumulator>(value.accumulator, tangent: tangent.accumulator) }
  @inlinable public init(accumulator: Dual<Base.Accumulator>) {
    self.init(Base(accumulator: accumulator.value), tangent: Base(accumulator: accumulator.tangent))
  }

  @inlinable public static var zero: Dual { Dual(0, tangent: 0) }

  // Equality and order compare values only (see the type's comment).
  @inlinable public static func == (lhs: Dual, rhs: Dual) -> Bool { lhs.value == rhs.value }
  @inlinable public static func < (lhs: Dual, rhs: Dual) -> Bool { lhs.value < rhs.value }

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
  @inlinable public static func += (lhs: inout Dual, rhs: Dual) { lhs = lhs + rhs }
  @inlinable public static func -= (lhs: inout Dual, rhs: Dual) { lhs = lhs - rhs }
  @inlinable public static func *= (lhs: inout Dual, rhs: Dual) { lhs = lhs * rhs }
  @inlinable public static func /= (lhs: inout Dual, rhs: Dual) { lhs = lhs / rhs }
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

  /// The product of dual matrices is three real products:
  /// value C = A·B, tangent Ċ = Ȧ·B + A·Ḃ (the last two as one product with K doubled:
  /// [Ȧ | A] · [B ; Ḃ]). Operands are split into value and tangent planes first, so each
  /// real product runs in the base type's BLAS; a zero tangent plane skips its product.
  public static func gemm(
    transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
    alpha: Dual, a: UnsafePointer<Dual>, lda: Int,
    b: UnsafePointer<Dual>, ldb: Int,
    beta: Dual, c: UnsafeMutablePointer<Dual>, ldc: Int
  ) {
    precondition(alpha.tangent == 0 && beta.tangent == 0, "Dual.gemm: alpha and beta must be real")
    // op(A) is m×k, op(B) is k×n; copy them out as dense row-major planes.
    let aValue = UnsafeMutablePointer<Base>.allocate(capacity: m * k)
    let aTangent = UnsafeMutablePointer<Base>.allocate(capacity: m * k)
    let bValue = UnsafeMutablePointer<Base>.allocate(capacity: k * n)
    let bTangent = UnsafeMutablePointer<Base>.allocate(capacity: k * n)
    let product = UnsafeMutablePointer<Base>.allocate(capacity: m * n)
    let productTangent = UnsafeMutablePointer<Base>.allocate(capacity: m * n)
    defer {
      for pointer in [aValue, aTangent, bValue, bTangent, product, productTangent] { pointer.deallocate() }
    }
    let aHasTangent = split(a, transposed: transposeA, rows: m, columns: k, leading: lda, value: aValue, tangent: aTangent)
    let bHasTangent = split(b, transposed: transposeB, rows: k, columns: n, leading: ldb, value: bValue, tangent: bTangent)
    Base.gemm(transposeA: false, transposeB: false, m: m, n: n, k: k, alpha: 1, a: aValue, lda: k,
              b: bValue, ldb: n, beta: 0, c: product, ldc: n)
    productTangent.initialize(repeating: 0, count: m * n)
    if aHasTangent {
      Base.gemm(transposeA: false, transposeB: false, m: m, n: n, k: k, alpha: 1, a: aTangent, lda: k,
                b: bValue, ldb: n, beta: 1, c: productTangent, ldc: n)
    }
    if bHasTangent {
      Base.gemm(transposeA: false, transposeB: false, m: m, n: n, k: k, alpha: 1, a: aValue, lda: k,
                b: bTangent, ldb: n, beta: 1, c: productTangent, ldc: n)
    }
    let (realAlpha, realBeta) = (alpha.value, beta.value)
    for i in 0..<m {
      for j in 0..<n {
        let target = c + i * ldc + j
        let p = Dual(product[i * n + j], tangent: productTangent[i * n + j])
        let scaled = Dual(realAlpha * p.value, tangent: realAlpha * p.tangent)
        if realBeta == 0 {
          target.pointee = scaled
        } else {
          let old = target.pointee
          target.pointee = Dual(scaled.value + realBeta * old.value, tangent: scaled.tangent + realBeta * old.tangent)
        }
      }
    }
  }

  /// Copies op(M) (rows × columns) into dense value and tangent planes; returns whether any
  /// tangent is non-zero.
  private static func split(
    _ matrix: UnsafePointer<Dual>, transposed: Bool, rows: Int, columns: Int, leading: Int,
    value: UnsafeMutablePointer<Base>, tangent: UnsafeMutablePointer<Base>
  ) -> Bool {
    var anyTangent = false
    for i in 0..<rows {
      for j in 0..<columns {
        let element = transposed ? matrix[j * leading + i] : matrix[i * leading + j]
        value[i * columns + j] = element.value
        tangent[i * columns + j] = element.tangent
        if element.tangent != 0 { anyTangent = true }
      }
    }
    return anyTangent
  }
}

import CBLAS
import Foundation

/// The element type of a tensor.
///
/// Training runs in `Float`; gradient checks run the very same code in `Double`, so that
/// central differences have the precision to be an oracle. The protocol asks only for what the
/// kernels use: field arithmetic, a few elementary functions, a real value to compare and print,
/// and a matrix product, which each scalar routes to its own BLAS routine.
public protocol TensorScalar: Sendable, Equatable, Comparable, ExpressibleByFloatLiteral,
  ExpressibleByIntegerLiteral, AdditiveArithmetic, CustomStringConvertible
{
  /// The type long reductions (BatchNorm statistics, bias gradients) accumulate in: Double for
  /// Float, so that a sum over a whole batch of activations does not lose digits to rounding.
  associatedtype Accumulator: TensorScalar

  init(_ value: Double)
  init(_ value: Int)
  /// Widens to the accumulator type.
  var accumulator: Accumulator { get }
  /// Narrows from the accumulator type.
  init(accumulator: Accumulator)
  /// The value as a Double, for comparisons, reductions and reports.
  var doubleValue: Double { get }

  static func * (lhs: Self, rhs: Self) -> Self
  static func / (lhs: Self, rhs: Self) -> Self
  static func *= (lhs: inout Self, rhs: Self)
  static func /= (lhs: inout Self, rhs: Self)
  static prefix func - (operand: Self) -> Self

  static func exp(_ x: Self) -> Self
  static func log(_ x: Self) -> Self
  static func sqrt(_ x: Self) -> Self

  /// Row-major `C = alpha · op(A) · op(B) + beta · C`, with `op(A)` of shape m×k and `op(B)` k×n.
  static func gemm(
    transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
    alpha: Self, a: UnsafePointer<Self>, lda: Int,
    b: UnsafePointer<Self>, ldb: Int,
    beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int)
}

@inline(__always)
private func cblasTranspose(_ transpose: Bool) -> CBLAS_TRANSPOSE {
  transpose ? CblasTrans : CblasNoTrans
}

extension Float: TensorScalar {
  public typealias Accumulator = Double
  public var doubleValue: Double { Double(self) }
  @inlinable public var accumulator: Double { Double(self) }
  @inlinable public init(accumulator: Double) { self.init(accumulator) }
  @inlinable public static func exp(_ x: Float) -> Float { Foundation.exp(x) }
  @inlinable public static func log(_ x: Float) -> Float { Foundation.log(x) }
  @inlinable public static func sqrt(_ x: Float) -> Float { x.squareRoot() }

  public static func gemm(
    transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
    alpha: Float, a: UnsafePointer<Float>, lda: Int,
    b: UnsafePointer<Float>, ldb: Int,
    beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
  ) {
    cblas_sgemm(
      CblasRowMajor, cblasTranspose(transposeA), cblasTranspose(transposeB),
      blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb),
      beta, c, blasint(ldc))
  }
}

extension Double: TensorScalar {
  public typealias Accumulator = Double
  public var doubleValue: Double { self }
  @inlinable public var accumulator: Double { self }
  @inlinable public init(accumulator: Double) { self = accumulator }
  @inlinable public static func exp(_ x: Double) -> Double { Foundation.exp(x) }
  @inlinable public static func log(_ x: Double) -> Double { Foundation.log(x) }
  @inlinable public static func sqrt(_ x: Double) -> Double { x.squareRoot() }

  public static func gemm(
    transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
    alpha: Double, a: UnsafePointer<Double>, lda: Int,
    b: UnsafePointer<Double>, ldb: Int,
    beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int
  ) {
    cblas_dgemm(
      CblasRowMajor, cblasTranspose(transposeA), cblasTranspose(transposeB),
      blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb),
      beta, c, blasint(ldc))
  }
}

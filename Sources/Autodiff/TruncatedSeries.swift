import TensorCore

/// A scalar that carries the coefficients of a power series in t truncated after t^K,
/// x₀ + x₁t + … + x_K t^K: `Dual` (K = 1, forward-over-reverse H·v) and `Jet` (K = 2, Taylor
/// mode). One home for what every such carrier shares: constants, comparisons on the value and
/// compound assignment. Each carrier keeps its own arithmetic and its own `gemm` (real products
/// over coefficient planes): a version generic over the order, written once here, took 1.2-1.7×
/// the time of these on a vgg38 H·v (its plane copies did not specialise as well), so the two
/// stay written out.
public protocol TruncatedSeries: TensorScalar {
  associatedtype Base: TensorScalar
  /// K: the highest power of t carried.
  static var order: Int { get }
  /// The coefficient of tⁱ, i in 0...order (0: the value).
  func coefficient(_ i: Int) -> Base
  /// The constant series `value` (every other coefficient 0).
  init(constant value: Base)
  /// The series whose coefficient of tⁱ is `coefficient(i)`, i in 0...order.
  init(coefficients coefficient: (Int) -> Base)
}

extension TruncatedSeries {
  @inlinable public init(_ value: Double) { self.init(constant: Base(value)) }
  @inlinable public init(_ value: Int) { self.init(constant: Base(value)) }
  @inlinable public init(floatLiteral value: Double) { self.init(constant: Base(value)) }
  @inlinable public init(integerLiteral value: Int) { self.init(constant: Base(value)) }
  @inlinable public static var zero: Self { Self(constant: 0) }

  public var doubleValue: Double { coefficient(0).doubleValue }

  // Equality and order compare values only: piecewise-linear pieces (leaky ReLU, max pooling,
  // the max taken in log-sum-exp) take the derivative of the branch of the value, as in every
  // autodiff framework.
  @inlinable public static func == (lhs: Self, rhs: Self) -> Bool { lhs.coefficient(0) == rhs.coefficient(0) }
  @inlinable public static func < (lhs: Self, rhs: Self) -> Bool { lhs.coefficient(0) < rhs.coefficient(0) }

  @inlinable public static func += (lhs: inout Self, rhs: Self) { lhs = lhs + rhs }
  @inlinable public static func -= (lhs: inout Self, rhs: Self) { lhs = lhs - rhs }
  @inlinable public static func *= (lhs: inout Self, rhs: Self) { lhs = lhs * rhs }
  @inlinable public static func /= (lhs: inout Self, rhs: Self) { lhs = lhs / rhs }
}

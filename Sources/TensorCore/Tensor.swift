/// A dense tensor in row-major (NCHW for images) layout with value semantics.
///
/// Storage is a Swift array, so copies are copy-on-write; kernels reach the elements through
/// unsafe buffer pointers to keep hot loops free of bounds checks and reference counting.
public struct Tensor<Scalar: TensorScalar>: Sendable {
  /// The extent of each axis, outermost first.
  public private(set) var shape: [Int]
  /// The elements in row-major order (`.nchw`), or oneDNN's channel-blocked order.
  public var scalars: [Scalar]
  /// How `scalars` are ordered; `.nchw` unless a kernel chose `.blocked16` (see `TensorLayout`).
  public var layout: TensorLayout = .nchw

  /// A tensor of the given shape holding `scalars` in row-major order.
  public init(shape: [Int], scalars: [Scalar]) {
    precondition(
      shape.reduce(1, *) == scalars.count,
      "Tensor: shape \(shape) needs \(shape.reduce(1, *)) elements, got \(scalars.count)")
    self.shape = shape
    self.scalars = scalars
  }

  /// A tensor of the given shape with every element equal to `value`.
  public init(repeating value: Scalar, shape: [Int]) {
    self.init(shape: shape, scalars: Array(repeating: value, count: shape.reduce(1, *)))
  }

  /// A tensor of zeros.
  public init(zeros shape: [Int]) { self.init(repeating: 0, shape: shape) }

  /// A tensor whose every element `initialize` writes (it must write all of them): no zero fill
  /// first, for kernels that overwrite their output anyway.
  @inlinable
  public init(
    shape: [Int], layout: TensorLayout = .nchw,
    initializingWith initialize: (UnsafeMutableBufferPointer<Scalar>) -> Void
  ) {
    let count = shape.reduce(1, *)
    self.init(
      shape: shape,
      scalars: [Scalar](unsafeUninitializedCapacity: count) { buffer, initialized in
        initialize(buffer)
        initialized = count
      })
    self.layout = layout
  }

  /// The number of elements.
  public var count: Int { scalars.count }
  /// The number of axes.
  public var rank: Int { shape.count }

  /// The same elements viewed with another shape of equal element count.
  public func reshaped(to newShape: [Int]) -> Tensor {
    precondition(layout == .nchw, "Tensor.reshaped: a \(layout) tensor has no row-major order to reshape")
    return Tensor(shape: newShape, scalars: scalars)
  }

  /// Converts every element to another scalar type through Double.
  public func converted<Other: TensorScalar>(to _: Other.Type = Other.self) -> Tensor<Other> {
    var result = Tensor<Other>(shape: shape, scalars: scalars.map { Other($0.doubleValue) })
    result.layout = layout
    return result
  }
}

extension Tensor {
  /// Adds `other` element-wise in place: the accumulation every pullback uses (`+=`).
  @inlinable
  public static func += (lhs: inout Tensor, rhs: Tensor) {
    precondition(lhs.shape == rhs.shape, "Tensor +=: shapes \(lhs.shape) and \(rhs.shape) differ")
    precondition(lhs.layout == rhs.layout, "Tensor +=: layouts \(lhs.layout) and \(rhs.layout) differ")
    lhs.scalars.withUnsafeMutableBufferPointer { l in
      rhs.scalars.withUnsafeBufferPointer { r in
        parallelElements(l.count) { range in
          for i in range { l[i] += r[i] }
        }
      }
    }
  }

  /// The sum of squares, accumulated in Double.
  public var squaredNorm: Double {
    scalars.withUnsafeBufferPointer { p in
      var sum = 0.0
      for x in p {
        let d = x.doubleValue
        sum += d * d
      }
      return sum
    }
  }

  /// The mean of absolute values, accumulated in Double.
  public var meanAbsolute: Double {
    guard count > 0 else { return 0 }
    return scalars.withUnsafeBufferPointer { p in
      var sum = 0.0
      for x in p { sum += abs(x.doubleValue) }
      return sum / Double(p.count)
    }
  }
}

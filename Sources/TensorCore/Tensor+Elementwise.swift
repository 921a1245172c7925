extension Tensor {
  /// A tensor of the same shape with `transform` applied to every element (on every thread for a
  /// large tensor: `transform` must not touch shared state).
  @inlinable
  public func mapped(_ transform: (Scalar) -> Scalar) -> Tensor {
    var result = scalars.withUnsafeBufferPointer { x in
      Tensor(shape: shape) { r in
        parallelElements(r.count) { range in
          for i in range { r[i] = transform(x[i]) }
        }
      }
    }
    result.layout = layout
    return result
  }

  /// A tensor of the same shape with `combine(self[i], other[i])` at every index.
  @inlinable
  public func zipped(with other: Tensor, _ combine: (Scalar, Scalar) -> Scalar) -> Tensor {
    precondition(shape == other.shape, "zipped: shapes \(shape) and \(other.shape) differ")
    precondition(layout == other.layout, "zipped: layouts \(layout) and \(other.layout) differ")
    var result = scalars.withUnsafeBufferPointer { a in
      other.scalars.withUnsafeBufferPointer { b in
        Tensor(shape: shape) { r in
          parallelElements(r.count) { range in
            for i in range { r[i] = combine(a[i], b[i]) }
          }
        }
      }
    }
    result.layout = layout
    return result
  }
}

extension Tensor {
  /// A tensor of the same shape with `transform` applied to every element.
  @inlinable
  public func mapped(_ transform: (Scalar) -> Scalar) -> Tensor {
    var result = self
    result.scalars.withUnsafeMutableBufferPointer { r in
      for i in 0..<r.count { r[i] = transform(r[i]) }
    }
    return result
  }

  /// A tensor of the same shape with `combine(self[i], other[i])` at every index.
  @inlinable
  public func zipped(with other: Tensor, _ combine: (Scalar, Scalar) -> Scalar) -> Tensor {
    precondition(shape == other.shape, "zipped: shapes \(shape) and \(other.shape) differ")
    var result = self
    result.scalars.withUnsafeMutableBufferPointer { r in
      other.scalars.withUnsafeBufferPointer { o in
        for i in 0..<r.count { r[i] = combine(r[i], o[i]) }
      }
    }
    return result
  }
}

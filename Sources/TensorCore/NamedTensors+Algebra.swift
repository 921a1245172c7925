/// Vector-space operations on a set of named tensors seen as one long vector (all parameters
/// of a network): what curvature estimators need. Sums accumulate in Double.
extension NamedTensors {
  /// Σ_i a_i b_i over every entry (the names must match).
  public func dot(_ other: NamedTensors) -> Double {
    entries.reduce(0) { $0 + Self.dot($1.tensor, other[$1.name]!) }
  }

  /// Σ_i a_i b_i per entry, in order.
  public func entryDots(_ other: NamedTensors) -> [Double] {
    entries.map { Self.dot($0.tensor, other[$0.name]!) }
  }

  /// ‖self‖₂ over all entries.
  public var norm: Double { dot(self).squareRoot() }

  /// self + scale · other, entry by entry.
  public func adding(_ other: NamedTensors, scaledBy scale: Double) -> NamedTensors {
    var result = self
    let factor = Scalar(scale)
    result.updateEach { name, tensor in tensor = tensor.zipped(with: other[name]!) { $0 + factor * $1 } }
    return result
  }

  /// scale · self.
  public func scaled(by scale: Double) -> NamedTensors {
    var result = self
    let factor = Scalar(scale)
    result.updateEach { _, tensor in tensor = tensor.mapped { factor * $0 } }
    return result
  }

  /// Tensors of the same names and shapes filled by `value(name, index)`.
  public func filled(_ value: (String, Int) -> Scalar) -> NamedTensors {
    var result = self
    result.updateEach { name, tensor in
      tensor = Tensor(shape: tensor.shape, scalars: (0..<tensor.count).map { value(name, $0) })
    }
    return result
  }

  private static func dot(_ a: Tensor<Scalar>, _ b: Tensor<Scalar>) -> Double {
    precondition(a.shape == b.shape, "NamedTensors.dot: shapes \(a.shape) and \(b.shape) differ")
    return a.scalars.withUnsafeBufferPointer { x in
      b.scalars.withUnsafeBufferPointer { y in
        var sum = 0.0
        for i in 0..<x.count { sum += x[i].doubleValue * y[i].doubleValue }
        return sum
      }
    }
  }
}

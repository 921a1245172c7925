import TensorCore

/// A tensor of uniform values in [lower, upper).
func randomTensor(_ shape: [Int], seed: UInt64, in range: ClosedRange<Double> = -1...1) -> Tensor<Double> {
  var generator = SeededGenerator(seed: seed)
  return Tensor(
    shape: shape,
    scalars: (0..<shape.reduce(1, *)).map { _ in generator.nextUniform(range.lowerBound, range.upperBound) })
}

import TensorCore

/// How parameters are drawn before training.
public enum Initialization: String, CaseIterable, Codable, Sendable {
  /// PyTorch's defaults: conv and linear weights Kaiming-uniform with a = √5, which is
  /// U(±1/√fan_in); biases U(±1/√fan_in); BatchNorm γ = 1, β = 0. The paper's setting, under
  /// which a plain VGG38 does not learn.
  case pytorchDefault = "pytorch"
  /// He (Kaiming) normal, fan-in, gain √2: weights N(0, 2/fan_in); biases 0 (He et al. 2015).
  case he
  /// Glorot (Xavier) uniform: weights U(±√(6/(fan_in + fan_out))); biases 0 (Glorot & Bengio 2010).
  case xavier

  /// Draws one parameter tensor. BatchNorm parameters are γ = 1, β = 0 under every scheme.
  public func draw<Scalar: TensorScalar>(
    _ specification: ParameterSpecification, using generator: inout SeededGenerator
  ) -> Tensor<Scalar> {
    let count = specification.elementCount
    let shape = specification.shape
    switch specification.role {
    case .batchNormScale: return Tensor(repeating: 1, shape: shape)
    case .batchNormShift: return Tensor(zeros: shape)
    case .convolutionBias, .linearBias:
      guard self == .pytorchDefault else { return Tensor(zeros: shape) }
      return uniform(bound: 1 / Double(specification.fanIn).squareRoot(), count: count, shape: shape, &generator)
    case .convolutionWeight, .linearWeight:
      switch self {
      case .pytorchDefault:
        return uniform(bound: 1 / Double(specification.fanIn).squareRoot(), count: count, shape: shape, &generator)
      case .he:
        let std = (2 / Double(specification.fanIn)).squareRoot()
        return Tensor(shape: shape, scalars: (0..<count).map { _ in Scalar(std * generator.nextNormal()) })
      case .xavier:
        let bound = (6 / Double(specification.fanIn + specification.fanOut)).squareRoot()
        return uniform(bound: bound, count: count, shape: shape, &generator)
      }
    }
  }

  private func uniform<Scalar: TensorScalar>(
    bound: Double, count: Int, shape: [Int], _ generator: inout SeededGenerator
  ) -> Tensor<Scalar> {
    Tensor(shape: shape, scalars: (0..<count).map { _ in Scalar(generator.nextUniform(-bound, bound)) })
  }
}

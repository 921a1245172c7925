/// Batch normalisation over each channel (PyTorch's `nn.BatchNorm2d`, ε 1e-5, momentum 0.1):
/// in training mode with the batch's statistics, differentiated through (to every order);
/// in evaluation mode with the running averages. Parameters γ (`weight`) and β (`bias`).
public struct BatchNorm: Layer {
  public static let kind = "batchnorm"
  public static let attributeKeys: [String] = []
  /// PyTorch's default ε and momentum: running = (1 − 0.1) · running + 0.1 · batch statistic.
  public static let epsilon = 1e-5
  public static let momentum = 0.1

  public init() {}

  public func outputShape(for inputs: [[Int]]) throws(LayerError) -> [Int] {
    guard inputs[0].count == 3 else { throw LayerError("needs a [channels, height, width] input, got \(inputs[0])") }
    return inputs[0]
  }

  public func parameters(for inputs: [[Int]]) -> [LayerParameter] {
    [
      LayerParameter("weight", shape: [inputs[0][0]], role: .batchNormScale),
      LayerParameter("bias", shape: [inputs[0][0]], role: .batchNormShift),
    ]
  }

  public func buffers(for inputs: [[Int]]) -> [LayerBuffer] {
    [
      LayerBuffer("running_mean", shape: [inputs[0][0]], initialValue: 0),
      LayerBuffer("running_var", shape: [inputs[0][0]], initialValue: 1),
    ]
  }

  public var operation: Operation { .batchNorm }
}

/// The element-wise sum of its inputs, all of one shape: a residual connection.
public struct Add: Layer {
  public static let kind = "add"
  public static let attributeKeys: [String] = []
  public static let takesSeveralInputs = true
  public init() {}

  public func outputShape(for inputs: [[Int]]) throws(LayerError) -> [Int] {
    guard inputs.allSatisfy({ $0 == inputs[0] }) else { throw LayerError("adds inputs of one shape, got \(inputs)") }
    return inputs[0]
  }

  public var operation: Operation { .add }
}

/// Its inputs stacked along the channel axis, in the order given (DenseNet's connections):
/// [C₁, H, W], [C₂, H, W], … → [ΣCᵢ, H, W].
public struct Concat: Layer {
  public static let kind = "concat"
  public static let attributeKeys: [String] = []
  public static let takesSeveralInputs = true
  public init() {}

  public func outputShape(for inputs: [[Int]]) throws(LayerError) -> [Int] {
    guard inputs.allSatisfy({ $0.count == 3 && $0[1...] == inputs[0][1...] }) else {
      throw LayerError("concatenates [channels, height, width] inputs of one height and width, got \(inputs)")
    }
    return [inputs.reduce(0) { $0 + $1[0] }, inputs[0][1], inputs[0][2]]
  }

  public var operation: Operation { .concatenate }
}

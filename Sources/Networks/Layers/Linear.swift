/// A fully connected layer (PyTorch's `nn.Linear`): y = x·Wᵀ + b, W [out, in].
public struct Linear: Layer {
  public static let kind = "linear"
  public static let attributeKeys = ["out_features", "bias"]
  public var outFeatures: Int
  public var bias = true

  enum CodingKeys: String, CodingKey {
    case outFeatures = "out_features", bias
  }

  public init(outFeatures: Int, bias: Bool = true) {
    self.outFeatures = outFeatures
    self.bias = bias
  }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    outFeatures = try c.decode(Int.self, forKey: .outFeatures)
    bias = try c.decodeIfPresent(Bool.self, forKey: .bias) ?? true
  }

  public func outputShape(for inputs: [[Int]]) throws(LayerError) -> [Int] {
    guard outFeatures >= 1 else { throw LayerError("out_features must be at least 1, got \(outFeatures)") }
    guard inputs[0].count == 1 else {
      throw LayerError("needs a flat [features] input, got \(inputs[0]) (put a flatten or global_avgpool before it)")
    }
    return [outFeatures]
  }

  public func parameters(for inputs: [[Int]]) -> [LayerParameter] {
    let fanIn = inputs[0][0]
    var list = [
      LayerParameter("weight", shape: [outFeatures, fanIn], role: .linearWeight, fanIn: fanIn, fanOut: outFeatures)
    ]
    if bias {
      list.append(LayerParameter("bias", shape: [outFeatures], role: .linearBias, fanIn: fanIn, fanOut: outFeatures))
    }
    return list
  }

  public var operation: Operation { .linear }
}

/// Flattens each example: [C, H, W] → [C·H·W].
public struct Flatten: Layer {
  public static let kind = "flatten"
  public static let attributeKeys: [String] = []
  public init() {}

  public func outputShape(for inputs: [[Int]]) throws(LayerError) -> [Int] { [inputs[0].reduce(1, *)] }

  public var operation: Operation { .flatten }
}

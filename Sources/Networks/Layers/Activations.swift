/// Leaky ReLU, y = x for x > 0 and slope·x otherwise (slope 0.01 by default, the paper's).
public struct LeakyReLU: Layer {
  public static let kind = "leaky_relu"
  public static let attributeKeys = ["slope"]
  public var slope = 0.01

  enum CodingKeys: String, CodingKey { case slope }

  public init(slope: Double = 0.01) { self.slope = slope }

  public init(from decoder: any Decoder) throws {
    slope = try decoder.container(keyedBy: CodingKeys.self).decodeIfPresent(Double.self, forKey: .slope) ?? 0.01
  }

  public func outputShape(for inputs: [[Int]]) throws(LayerError) -> [Int] { inputs[0] }

  public var operation: Operation { .leakyReLU(slope: slope) }
}

/// ReLU, y = max(x, 0): leaky ReLU with slope 0 (the gradient at exactly 0 is 0, as in PyTorch).
public struct ReLU: Layer {
  public static let kind = "relu"
  public static let attributeKeys: [String] = []
  public init() {}

  public func outputShape(for inputs: [[Int]]) throws(LayerError) -> [Int] { inputs[0] }

  public var operation: Operation { .leakyReLU(slope: 0) }
}

/// The logistic sigmoid, y = 1 / (1 + e^(−x)).
public struct Sigmoid: Layer {
  public static let kind = "sigmoid"
  public static let attributeKeys: [String] = []
  public init() {}

  public func outputShape(for inputs: [[Int]]) throws(LayerError) -> [Int] { inputs[0] }

  public var operation: Operation { .sigmoid }
}

/// The hyperbolic tangent.
public struct Tanh: Layer {
  public static let kind = "tanh"
  public static let attributeKeys: [String] = []
  public init() {}

  public func outputShape(for inputs: [[Int]]) throws(LayerError) -> [Int] { inputs[0] }

  public var operation: Operation { .tanh }
}

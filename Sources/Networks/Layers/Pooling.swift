/// Average or max pooling over non-overlapping square windows (stride = window), as PyTorch's
/// `nn.AvgPool2d(k)` / `nn.MaxPool2d(k)`: [C, H, W] → [C, ⌊H/k⌋, ⌊W/k⌋].
public protocol WindowPooling: Layer {
  var window: Int { get }
}

extension WindowPooling {
  public static var attributeKeys: [String] { ["window"] }

  public func outputShape(for inputs: [[Int]]) throws(LayerError) -> [Int] {
    let x = inputs[0]
    guard x.count == 3 else { throw LayerError("needs a [channels, height, width] input, got \(x)") }
    guard window >= 1, x[1] >= window, x[2] >= window else {
      throw LayerError("a \(window)×\(window) window does not fit a \(x[1])×\(x[2]) input")
    }
    return [x[0], x[1] / window, x[2] / window]
  }
}

/// Average pooling: each output the mean of its window.
public struct AveragePool: WindowPooling {
  public static let kind = "avgpool"
  public var window: Int
  public init(window: Int) { self.window = window }

  public var operation: Operation { .averagePool(window: window) }
}

/// Max pooling: each output the largest element of its window (the first of equal maxima).
public struct MaxPool: WindowPooling {
  public static let kind = "maxpool"
  public var window: Int
  public init(window: Int) { self.window = window }

  public var operation: Operation { .maxPool(window: window) }
}

/// Global average pooling: [C, H, W] → [C], the mean over each channel's pixels.
public struct GlobalAveragePool: Layer {
  public static let kind = "global_avgpool"
  public static let attributeKeys: [String] = []
  public init() {}

  public func outputShape(for inputs: [[Int]]) throws(LayerError) -> [Int] {
    guard inputs[0].count == 3 else { throw LayerError("needs a [channels, height, width] input, got \(inputs[0])") }
    return [inputs[0][0]]
  }

  public var operation: Operation { .globalAveragePool }
}

/// A 2-D convolution (PyTorch's `nn.Conv2d`, square kernel, no dilation or groups):
/// y = W ⋆ x + b with W [out, in, k, k]; output size ⌊(H + 2p − k)/s⌋ + 1.
public struct Conv2d: Layer {
  public static let kind = "conv2d"
  public static let attributeKeys = ["out_channels", "kernel", "stride", "padding", "bias"]
  public var outChannels: Int
  public var kernel: Int
  public var stride = 1
  public var padding = 0
  public var bias = true

  enum CodingKeys: String, CodingKey {
    case outChannels = "out_channels", kernel, stride, padding, bias
  }

  public init(outChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0, bias: Bool = true) {
    self.outChannels = outChannels
    self.kernel = kernel
    self.stride = stride
    self.padding = padding
    self.bias = bias
  }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    outChannels = try c.decode(Int.self, forKey: .outChannels)
    kernel = try c.decode(Int.self, forKey: .kernel)
    stride = try c.decodeIfPresent(Int.self, forKey: .stride) ?? 1
    padding = try c.decodeIfPresent(Int.self, forKey: .padding) ?? 0
    bias = try c.decodeIfPresent(Bool.self, forKey: .bias) ?? true
  }

  public func outputShape(for inputs: [[Int]]) throws(LayerError) -> [Int] {
    guard outChannels >= 1, kernel >= 1, stride >= 1, padding >= 0 else {
      throw LayerError("out_channels, kernel and stride must be at least 1 and padding at least 0")
    }
    let x = inputs[0]
    guard x.count == 3 else { throw LayerError("needs a [channels, height, width] input, got \(x)") }
    let (height, width) = ((x[1] + 2 * padding - kernel) / stride + 1, (x[2] + 2 * padding - kernel) / stride + 1)
    guard x[1] + 2 * padding >= kernel, x[2] + 2 * padding >= kernel else {
      throw LayerError("a \(kernel)×\(kernel) kernel does not fit the padded \(x[1])×\(x[2]) input")
    }
    return [outChannels, height, width]
  }

  public func parameters(for inputs: [[Int]]) -> [LayerParameter] {
    let fanIn = inputs[0][0] * kernel * kernel
    let fanOut = outChannels * kernel * kernel
    var list = [
      LayerParameter(
        "weight", shape: [outChannels, inputs[0][0], kernel, kernel], role: .convolutionWeight, fanIn: fanIn,
        fanOut: fanOut)
    ]
    if bias {
      list.append(LayerParameter("bias", shape: [outChannels], role: .convolutionBias, fanIn: fanIn, fanOut: fanOut))
    }
    return list
  }

  public var operation: Operation { .convolution(stride: stride, padding: padding) }
}

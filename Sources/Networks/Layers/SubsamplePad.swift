/// He et al.'s (2016) parameter-free "option A" shortcut of CIFAR ResNets: every `stride`-th
/// pixel, the channels padded with zeros (half in front, the rest behind) up to `out_channels`:
/// [C, H, W] → [out_channels, ⌈H/s⌉, ⌈W/s⌉]. In PyTorch
/// `F.pad(x[:, :, ::s, ::s], (0, 0, 0, 0, p, out_channels − C − p))` with p = (out_channels − C)/2.
public struct SubsamplePad: Layer {
  public static let kind = "subsample_pad"
  public static let attributeKeys = ["stride", "out_channels"]
  public var stride: Int
  public var outChannels: Int

  enum CodingKeys: String, CodingKey {
    case stride, outChannels = "out_channels"
  }

  public init(stride: Int, outChannels: Int) {
    self.stride = stride
    self.outChannels = outChannels
  }

  public func outputShape(for inputs: [[Int]]) throws(LayerError) -> [Int] {
    let x = inputs[0]
    guard x.count == 3 else { throw LayerError("needs a [channels, height, width] input, got \(x)") }
    guard stride >= 1 else { throw LayerError("stride must be at least 1, got \(stride)") }
    guard outChannels >= x[0] else {
      throw LayerError("pads \(x[0]) channels up to out_channels, which must be at least that, got \(outChannels)")
    }
    return [outChannels, (x[1] + stride - 1) / stride, (x[2] + stride - 1) / stride]
  }

  public var operation: Operation { .subsamplePad(stride: stride, outChannels: outChannels) }
}

/// The shapes of one 2-D convolution: input [N, C, H, W], filter [O, C, kH, kW], output
/// [N, O, Ho, Wo] with `Ho = (H + 2·padding − kH) / stride + 1` (likewise Wo).
public struct ConvolutionGeometry: Equatable, Sendable {
  public var batch: Int
  public var inputChannels: Int
  public var height: Int
  public var width: Int
  public var outputChannels: Int
  public var kernelSize: Int
  public var stride: Int
  public var padding: Int

  public init(
    batch: Int, inputChannels: Int, height: Int, width: Int, outputChannels: Int,
    kernelSize: Int, stride: Int, padding: Int
  ) {
    precondition(kernelSize >= 1 && stride >= 1 && padding >= 0, "ConvolutionGeometry: bad kernel")
    precondition(
      height + 2 * padding >= kernelSize && width + 2 * padding >= kernelSize,
      "ConvolutionGeometry: \(height)×\(width) input is smaller than the \(kernelSize)×\(kernelSize) kernel")
    self.batch = batch
    self.inputChannels = inputChannels
    self.height = height
    self.width = width
    self.outputChannels = outputChannels
    self.kernelSize = kernelSize
    self.stride = stride
    self.padding = padding
  }

  public var outputHeight: Int { (height + 2 * padding - kernelSize) / stride + 1 }
  public var outputWidth: Int { (width + 2 * padding - kernelSize) / stride + 1 }
  /// Rows of the im2col matrix: one per (channel, kernel row, kernel column).
  public var patchSize: Int { inputChannels * kernelSize * kernelSize }
  /// Columns of the im2col matrix: one per output pixel.
  public var outputPixels: Int { outputHeight * outputWidth }
  public var inputImageSize: Int { inputChannels * height * width }
  public var outputImageSize: Int { outputChannels * outputPixels }

  public var inputShape: [Int] { [batch, inputChannels, height, width] }
  public var filterShape: [Int] { [outputChannels, inputChannels, kernelSize, kernelSize] }
  public var outputShape: [Int] { [batch, outputChannels, outputHeight, outputWidth] }

  /// Unfolds one image [C, H, W] into `columns` [C·kH·kW, Ho·Wo]; taps that fall into the
  /// zero padding read as 0.
  @inlinable
  public func im2col<Scalar: TensorScalar>(
    _ image: UnsafePointer<Scalar>, into columns: UnsafeMutablePointer<Scalar>
  ) {
    let (oh, ow) = (outputHeight, outputWidth)
    var row = 0
    for c in 0..<inputChannels {
      let plane = image + c * height * width
      for ki in 0..<kernelSize {
        for kj in 0..<kernelSize {
          let out = columns + row * oh * ow
          for y in 0..<oh {
            let iy = y * stride - padding + ki
            let line = out + y * ow
            if iy < 0 || iy >= height {
              line.update(repeating: 0, count: ow)
              continue
            }
            let source = plane + iy * width
            for x in 0..<ow {
              let ix = x * stride - padding + kj
              line[x] = (ix >= 0 && ix < width) ? source[ix] : 0
            }
          }
          row += 1
        }
      }
    }
  }

  /// The adjoint of `im2col`: adds each column entry back onto the pixel it was read from.
  /// `image` must be zeroed (or hold a gradient to accumulate onto).
  @inlinable
  public func col2im<Scalar: TensorScalar>(
    _ columns: UnsafePointer<Scalar>, addingInto image: UnsafeMutablePointer<Scalar>
  ) {
    let (oh, ow) = (outputHeight, outputWidth)
    var row = 0
    for c in 0..<inputChannels {
      let plane = image + c * height * width
      for ki in 0..<kernelSize {
        for kj in 0..<kernelSize {
          let source = columns + row * oh * ow
          for y in 0..<oh {
            let iy = y * stride - padding + ki
            if iy < 0 || iy >= height { continue }
            let target = plane + iy * width
            let line = source + y * ow
            for x in 0..<ow {
              let ix = x * stride - padding + kj
              if ix >= 0 && ix < width { target[ix] += line[x] }
            }
          }
          row += 1
        }
      }
    }
  }
}

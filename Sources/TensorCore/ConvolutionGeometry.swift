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

  /// Floating-point operations of the forward convolution: 2 per multiply-add, O·C·k² per
  /// output pixel. The data and filter gradients each take as many.
  public var forwardFLOPs: Double { 2 * Double(outputChannels * patchSize) * Double(outputPixels * batch) }

  /// The convolution's kind in a `KernelProfile`: kernel/stride, input map and `pass`, as
  /// `convolution 3×3/1 32×32 forward`. The layer and its real-valued kernels charge the same
  /// kind; only the kernels declare FLOPs, so its GFLOP/s count the real arithmetic done.
  public func profileKind(_ pass: String) -> String {
    "convolution \(kernelSize)×\(kernelSize)/\(stride) \(height)×\(width) \(pass)"
  }

  public var inputShape: [Int] { [batch, inputChannels, height, width] }
  public var filterShape: [Int] { [outputChannels, inputChannels, kernelSize, kernelSize] }
  public var outputShape: [Int] { [batch, outputChannels, outputHeight, outputWidth] }

  /// The output columns x whose tap `ix = x·stride − padding + kj` lands inside the image:
  /// `xStart..<xEnd` (the others read zero padding). The same holds for rows.
  @inlinable
  func validRange(tap k: Int, extent: Int, outputs: Int) -> Range<Int> {
    // ix ≥ 0  ⇔  x ≥ ⌈(padding − k) / stride⌉;   ix ≤ extent − 1  ⇔  x ≤ ⌊(extent − 1 + padding − k) / stride⌋
    let low = padding - k
    let start = low <= 0 ? 0 : (low + stride - 1) / stride
    let high = extent - 1 + padding - k
    let end = high < 0 ? 0 : min(outputs, high / stride + 1)
    return start..<max(start, end)
  }

  /// Unfolds one image [C, H, W] into `columns` [C·kH·kW, Ho·Wo]; taps that fall into the
  /// zero padding read as 0. Row by row: the in-bounds span of each output row is one
  /// contiguous copy when the stride is 1.
  ///
  /// - Parameter rowStride: elements from one row of `columns` to the next (Ho·Wo by default;
  ///   more when several images are unfolded side by side into one wider matrix).
  @inlinable
  public func im2col<Scalar: TensorScalar>(
    _ image: UnsafePointer<Scalar>, into columns: UnsafeMutablePointer<Scalar>, rowStride: Int? = nil
  ) {
    let (oh, ow) = (outputHeight, outputWidth)
    let leading = rowStride ?? oh * ow
    var row = 0
    for c in 0..<inputChannels {
      let plane = image + c * height * width
      for ki in 0..<kernelSize {
        let rows = validRange(tap: ki, extent: height, outputs: oh)
        for kj in 0..<kernelSize {
          let out = columns + row * leading
          let span = validRange(tap: kj, extent: width, outputs: ow)
          if rows.lowerBound > 0 { out.update(repeating: 0, count: rows.lowerBound * ow) }
          if rows.upperBound < oh {
            (out + rows.upperBound * ow).update(repeating: 0, count: (oh - rows.upperBound) * ow)
          }
          for y in rows {
            let line = out + y * ow
            let source = plane + (y * stride - padding + ki) * width
            if span.lowerBound > 0 { line.update(repeating: 0, count: span.lowerBound) }
            if span.upperBound < ow { (line + span.upperBound).update(repeating: 0, count: ow - span.upperBound) }
            if stride == 1 {
              (line + span.lowerBound).update(from: source + span.lowerBound - padding + kj, count: span.count)
            } else {
              for x in span { line[x] = source[x * stride - padding + kj] }
            }
          }
          row += 1
        }
      }
    }
  }

  /// Unfolds `count` consecutive images side by side into one matrix [C·kH·kW, count·Ho·Wo]:
  /// image i in columns i·Ho·Wo ..< (i + 1)·Ho·Wo.
  @inlinable
  public func im2col<Scalar: TensorScalar>(
    images: UnsafePointer<Scalar>, count: Int, into columns: UnsafeMutablePointer<Scalar>
  ) {
    for i in 0..<count {
      im2col(images + i * inputImageSize, into: columns + i * outputPixels, rowStride: count * outputPixels)
    }
  }

  /// The adjoint of `im2col(images:count:into:)`: adds the columns back onto `count`
  /// consecutive images.
  @inlinable
  public func col2im<Scalar: TensorScalar>(
    _ columns: UnsafePointer<Scalar>, count: Int, addingInto images: UnsafeMutablePointer<Scalar>
  ) {
    for i in 0..<count {
      col2im(columns + i * outputPixels, addingInto: images + i * inputImageSize, rowStride: count * outputPixels)
    }
  }

  /// Pairs each output row of `count` consecutive images ([O, Ho·Wo] each) with its place in
  /// one matrix [O, count·Ho·Wo] laid out as `im2col(images:count:into:)` lays out its columns:
  /// `body(offset in the images, offset in the matrix)`, Ho·Wo elements each.
  @inlinable
  public func forEachOutputRow(count: Int, _ body: (_ imageOffset: Int, _ matrixOffset: Int) -> Void) {
    for i in 0..<count {
      for channel in 0..<outputChannels {
        body(i * outputImageSize + channel * outputPixels, channel * count * outputPixels + i * outputPixels)
      }
    }
  }

  /// The adjoint of `im2col`: adds each column entry back onto the pixel it was read from.
  /// `image` must be zeroed (or hold a gradient to accumulate onto). `rowStride` as in `im2col`.
  @inlinable
  public func col2im<Scalar: TensorScalar>(
    _ columns: UnsafePointer<Scalar>, addingInto image: UnsafeMutablePointer<Scalar>, rowStride: Int? = nil
  ) {
    let (oh, ow) = (outputHeight, outputWidth)
    let leading = rowStride ?? oh * ow
    var row = 0
    for c in 0..<inputChannels {
      let plane = image + c * height * width
      for ki in 0..<kernelSize {
        let rows = validRange(tap: ki, extent: height, outputs: oh)
        for kj in 0..<kernelSize {
          let source = columns + row * leading
          let span = validRange(tap: kj, extent: width, outputs: ow)
          for y in rows {
            let line = source + y * ow
            let target = plane + (y * stride - padding + ki) * width - padding + kj
            if stride == 1 {
              for x in span { target[x] += line[x] }
            } else {
              for x in span { target[x * stride] += line[x] }
            }
          }
          row += 1
        }
      }
    }
  }
}

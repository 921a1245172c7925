/// 2-D convolution (cross-correlation, as PyTorch's `conv2d`) by im2col and GEMM.
///
/// Per image, with `X` the im2col matrix [C·kH·kW, Ho·Wo] and `W` the filter as [O, C·kH·kW]:
///   forward          Y  = W · X (+ b broadcast over pixels)
///   filter gradient  dW = Σ_images dY · Xᵀ,   bias gradient db = Σ_images,pixels dY
///   input gradient   dX = col2im(Wᵀ · dY)
/// Images are split across worker threads; each worker owns one im2col buffer (a few hundred KB,
/// it stays in cache) and, for the filter gradient, its own accumulator, summed at the end.
/// Several small images are unfolded side by side into one wider X, so that a deep stage's
/// products are not slivers (see `imagesPerProduct`).
///
/// This is the engine for Double (the oracle) and the fallback for a geometry oneDNN refuses;
/// Float convolutions on the tape go to `OneDNNConvolution` first (`Tape.conv2d`).
public enum Convolution {
  /// The forward convolution. `bias`, when given, has `outputChannels` elements.
  @inlinable
  public static func forward<Scalar: TensorScalar>(
    _ input: Tensor<Scalar>, filter: Tensor<Scalar>, bias: Tensor<Scalar>?,
    geometry g: ConvolutionGeometry
  ) -> Tensor<Scalar> {
    precondition(input.shape == g.inputShape, "Convolution: input \(input.shape) ≠ \(g.inputShape)")
    precondition(filter.shape == g.filterShape, "Convolution: filter \(filter.shape) ≠ \(g.filterShape)")
    return KernelProfile.measure(g.profileKind("forward"), flops: realFLOPs(Scalar.self, g.forwardFLOPs)) {
      im2colForward(input, filter: filter, bias: bias, geometry: g)
    }
  }

  /// The forward convolution by im2col and GEMM.
  @inlinable
  static func im2colForward<Scalar: TensorScalar>(
    _ input: Tensor<Scalar>, filter: Tensor<Scalar>, bias: Tensor<Scalar>?, geometry g: ConvolutionGeometry
  ) -> Tensor<Scalar> {
    precondition(input.layout == .nchw, "Convolution: im2col needs an NCHW input, got \(input.layout)")
    // Every output element is written by a GEMM with beta = 0: no zero fill needed.
    var output = input.scalars.withUnsafeBufferPointer { x in
      filter.scalars.withUnsafeBufferPointer { w in
        Tensor<Scalar>(shape: g.outputShape) { y in
          let (xBase, wBase, yBase) = (x.baseAddress!, w.baseAddress!, y.baseAddress!)
          parallelChunks(g.batch) { images, _ in
            let group = imagesPerProduct(g, available: images.count)
            let columns = UnsafeMutablePointer<Scalar>.allocate(capacity: g.patchSize * group * g.outputPixels)
            let product = UnsafeMutablePointer<Scalar>.allocate(
              capacity: group > 1 ? g.outputChannels * group * g.outputPixels : 0)
            defer {
              columns.deallocate()
              product.deallocate()
            }
            for first in stride(from: images.lowerBound, to: images.upperBound, by: group) {
              let count = min(group, images.upperBound - first)
              let width = count * g.outputPixels
              g.im2col(images: xBase + first * g.inputImageSize, count: count, into: columns)
              // Y = W · X, straight into the image's output, or for a group into [O, G·P] first.
              let outputs = yBase + first * g.outputImageSize
              Scalar.gemm(
                transposeA: false, transposeB: false,
                m: g.outputChannels, n: width, k: g.patchSize,
                alpha: 1, a: wBase, lda: g.patchSize, b: columns, ldb: width,
                beta: 0, c: count == 1 ? outputs : product, ldc: width)
              guard count > 1 else { continue }
              g.forEachOutputRow(count: count) { (outputs + $0).update(from: product + $1, count: g.outputPixels) }
            }
          }
        }
      }
    }
    if let bias { addChannelBias(bias, to: &output) }
    return output
  }

  /// Gradients of the convolution: with respect to the input (when `needInput`), the filter
  /// and the bias (when `hasBias`).
  @inlinable
  public static func backward<Scalar: TensorScalar>(
    outputGradient dY: Tensor<Scalar>, input: Tensor<Scalar>, filter: Tensor<Scalar>,
    geometry g: ConvolutionGeometry, needInput: Bool, hasBias: Bool
  ) -> (input: Tensor<Scalar>?, filter: Tensor<Scalar>, bias: Tensor<Scalar>?) {
    precondition(dY.shape == g.outputShape, "Convolution.backward: gradient \(dY.shape) ≠ \(g.outputShape)")
    let flops = realFLOPs(Scalar.self, (needInput ? 2 : 1) * g.forwardFLOPs)
    return KernelProfile.measure(g.profileKind("backward"), flops: flops) {
      im2colBackward(
        outputGradient: dY, input: input, filter: filter, geometry: g, needInput: needInput, hasBias: hasBias)
    }
  }

  /// The convolution's gradients by im2col and GEMM.
  @inlinable
  static func im2colBackward<Scalar: TensorScalar>(
    outputGradient dY: Tensor<Scalar>, input: Tensor<Scalar>, filter: Tensor<Scalar>,
    geometry g: ConvolutionGeometry, needInput: Bool, hasBias: Bool
  ) -> (input: Tensor<Scalar>?, filter: Tensor<Scalar>, bias: Tensor<Scalar>?) {
    precondition(
      input.layout == .nchw && dY.layout == .nchw, "Convolution: im2col needs NCHW tensors, got \(input.layout)")
    let workers = max(1, min(ComputeThreads.count, g.batch))
    let filterCount = g.outputChannels * g.patchSize
    // One filter-gradient accumulator per worker, reduced after the parallel section.
    var partialFilter = [Scalar](repeating: 0, count: workers * filterCount)
    var dX: Tensor<Scalar>? = needInput ? Tensor(zeros: g.inputShape) : nil
    var dXScalars = dX?.scalars ?? []
    input.scalars.withUnsafeBufferPointer { x in
      filter.scalars.withUnsafeBufferPointer { w in
        dY.scalars.withUnsafeBufferPointer { dy in
          partialFilter.withUnsafeMutableBufferPointer { dw in
            dXScalars.withUnsafeMutableBufferPointer { dx in
              let (xBase, wBase, dyBase, dwBase) = (x.baseAddress!, w.baseAddress!, dy.baseAddress!, dw.baseAddress!)
              // An empty array's buffer still has a (shared, read-only) base address: test the flag.
              let dxBase = needInput ? dx.baseAddress : nil
              parallelChunks(g.batch, maximumWorkers: workers) { images, worker in
                // Small images in groups, as in `forward`: dY of a group gathered into
                // [O, G·P] beside its X [C·kH·kW, G·P], so that dW sums over G·P pixels in one
                // product and the input gradient's product is G·P wide.
                let group = imagesPerProduct(g, available: images.count)
                let capacity = group * g.outputPixels
                let columns = UnsafeMutablePointer<Scalar>.allocate(capacity: g.patchSize * capacity)
                let gathered = UnsafeMutablePointer<Scalar>.allocate(
                  capacity: group > 1 ? g.outputChannels * capacity : 0)
                defer {
                  columns.deallocate()
                  gathered.deallocate()
                }
                let dwWorker = dwBase + worker * filterCount
                for first in stride(from: images.lowerBound, to: images.upperBound, by: group) {
                  let count = min(group, images.upperBound - first)
                  let width = count * g.outputPixels
                  var dyGroup = dyBase + first * g.outputImageSize
                  if count > 1 {
                    g.forEachOutputRow(count: count) {
                      (gathered + $1).update(from: dyGroup + $0, count: g.outputPixels)
                    }
                    dyGroup = UnsafePointer(gathered)
                  }
                  // dW += dY · Xᵀ
                  g.im2col(images: xBase + first * g.inputImageSize, count: count, into: columns)
                  Scalar.gemm(
                    transposeA: false, transposeB: true,
                    m: g.outputChannels, n: g.patchSize, k: width,
                    alpha: 1, a: dyGroup, lda: width, b: columns, ldb: width,
                    beta: 1, c: dwWorker, ldc: g.patchSize)
                  guard let dxBase else { continue }
                  // dX = col2im(Wᵀ · dY)
                  Scalar.gemm(
                    transposeA: true, transposeB: false,
                    m: g.patchSize, n: width, k: g.outputChannels,
                    alpha: 1, a: wBase, lda: g.patchSize, b: dyGroup, ldb: width,
                    beta: 0, c: columns, ldc: width)
                  g.col2im(columns, count: count, addingInto: dxBase + first * g.inputImageSize)
                }
              }
            }
          }
        }
      }
    }
    var dW = Tensor<Scalar>(zeros: g.filterShape)
    dW.scalars.withUnsafeMutableBufferPointer { total in
      partialFilter.withUnsafeBufferPointer { parts in
        for worker in 0..<workers {
          for i in 0..<filterCount { total[i] += parts[worker * filterCount + i] }
        }
      }
    }
    if needInput { dX = Tensor(shape: g.inputShape, scalars: dXScalars) }
    let dB = hasBias ? sumOverBatchAndPixels(dY) : nil
    return (dX, dW, dB)
  }

  /// `flops` for a product on real numbers (Float, Double), 0 on series, whose real arithmetic
  /// a profile counts where it happens.
  @inlinable
  static func realFLOPs<Scalar: TensorScalar>(_: Scalar.Type, _ flops: Double) -> Double {
    Scalar.self == Float.self || Scalar.self == Double.self ? flops : 0
  }

  /// How many images share one matrix product: enough that a product has at least
  /// `columnsPerProduct` columns. One thin product per image of a deep stage (a 4×4 map has
  /// 16 columns) spends most of its time packing the filter, which BLAS repacks per call, and,
  /// for dual numbers and jets, splitting it into planes.
  @inlinable
  static func imagesPerProduct(_ g: ConvolutionGeometry, available: Int) -> Int {
    max(1, min(available, (columnsPerProduct + g.outputPixels - 1) / g.outputPixels))
  }

  /// See `imagesPerProduct`: 256 columns make the packing cost small against the product.
  @usableFromInline static let columnsPerProduct = 256

  /// Adds `bias[c]` to every pixel of channel `c` of an [N, C, H, W] tensor, in either layout
  /// (walked by `ChannelGroups`).
  @inlinable
  public static func addChannelBias<Scalar: TensorScalar>(
    _ bias: Tensor<Scalar>, to tensor: inout Tensor<Scalar>
  ) {
    let groups = ChannelGroups(shape: tensor.shape, layout: tensor.layout)
    bias.scalars.withUnsafeBufferPointer { b in
      tensor.scalars.withUnsafeMutableBufferPointer { y in addChannelBias(b, to: y.baseAddress!, groups: groups) }
    }
  }

  /// `addChannelBias` on storage walked by `groups` (a tensor's, or one coefficient plane's).
  @inlinable
  public static func addChannelBias<Scalar: TensorScalar>(
    _ b: UnsafeBufferPointer<Scalar>, to y: UnsafeMutablePointer<Scalar>, groups: ChannelGroups
  ) {
    precondition(b.count == groups.channels, "addChannelBias: \(b.count) biases for \(groups.channels) channels")
    parallelElements(groups.count, grain: max(1, (1 << 15) / (groups.pixels * groups.lanes))) { range in
      for group in range {
        let (base, first, lanes) = (groups.base(group), groups.firstChannel(group), groups.lanes)
        for p in 0..<groups.pixels {
          for lane in 0..<lanes { y[base + p * lanes + lane] += b[first + lane] }
        }
      }
    }
  }

  /// Σ over batch and pixels of an [N, C, H, W] tensor, per channel: the bias gradient. Each
  /// image's channel is summed over its pixels in order and the images are added in order, in
  /// either layout (walked by `ChannelGroups`), so both give the same bits.
  @inlinable
  public static func sumOverBatchAndPixels<Scalar: TensorScalar>(_ tensor: Tensor<Scalar>) -> Tensor<Scalar> {
    tensor.scalars.withUnsafeBufferPointer { y in
      sumOverBatchAndPixels(y.baseAddress!, groups: ChannelGroups(shape: tensor.shape, layout: tensor.layout))
    }
  }

  /// `sumOverBatchAndPixels` of storage walked by `groups` (a tensor's, or one coefficient
  /// plane's). The threads take disjoint channels, each still adding its images in order.
  @inlinable
  public static func sumOverBatchAndPixels<Scalar: TensorScalar>(
    _ y: UnsafePointer<Scalar>, groups: ChannelGroups
  ) -> Tensor<Scalar> {
    var sums = Tensor<Scalar>(zeros: [groups.channels])
    let perImage = groups.channels / groups.lanes
    let images = groups.count / perImage
    let workers = min(ComputeThreads.count, perImage, max(1, (groups.count * groups.pixels * groups.lanes) >> 15))
    sums.scalars.withUnsafeMutableBufferPointer { s in
      parallelChunks(perImage, maximumWorkers: workers) { channelGroups, _ in
        for image in 0..<images {
          for group in channelGroups.lazy.map({ image * perImage + $0 }) {
            let (base, first, lanes) = (groups.base(group), groups.firstChannel(group), groups.lanes)
            for lane in 0..<lanes {
              var sum: Scalar = 0
              for p in 0..<groups.pixels { sum += y[base + p * lanes + lane] }
              s[first + lane] += sum
            }
          }
        }
      }
    }
    return sums
  }
}

import CDNNL
import Foundation
import Synchronization

/// Float32 convolutions on oneDNN (Debian's libdnnl-dev): forward, backward data and backward
/// weights in oneDNN's blocked layout (`Sources/CDNNL`). Activations come and go in either
/// `TensorLayout`: an NCHW one is reordered around the call, a `.blocked16` one is used in
/// place; filters are OIHW. On these shapes oneDNN's direct convolutions run at 2-4× the im2col
/// + OpenBLAS products of `Convolution` (BENCHMARKS.md).
///
/// Chosen by the tape's convolution (`Tape.conv2d`) for `Float`, and coefficient by coefficient
/// for the dual numbers and jets of Float that H·v and Taylor mode run on (`SeriesConvolution`);
/// Double (the test oracle, `--precision double`) and a geometry oneDNN refuses use
/// `Convolution`'s im2col + GEMM. Set
/// `GRADTRACE_CONVOLUTION=im2col` to use im2col for Float too (A/B measurements, tests).
public enum OneDNNConvolution {
  /// Whether Float convolutions go to oneDNN (false when `GRADTRACE_CONVOLUTION=im2col`).
  public static let isEnabled = ProcessInfo.processInfo.environment["GRADTRACE_CONVOLUTION"] != "im2col"

  /// Whether the tape keeps convolution outputs in the blocked layout oneDNN computes them in
  /// (false when `GRADTRACE_LAYOUT=nchw`, for A/B measurements; tests override it per task).
  public static var keepsBlockedLayout: Bool { blockedLayoutOverride ?? blockedLayoutDefault }
  @TaskLocal public static var blockedLayoutOverride: Bool?
  private static let blockedLayoutDefault = ProcessInfo.processInfo.environment["GRADTRACE_LAYOUT"] != "nchw"

  struct Key: Hashable {
    var batch, inputChannels, height, width, outputChannels, kernelSize, stride, padding: Int
    var hasBias: Bool
    /// The thread count the primitives are created for (and run on).
    var threads: Int
  }

  /// Primitives per geometry, created on first use and kept for the process (a network has a
  /// handful of geometries; a DenseNet a few dozen); nil for a geometry oneDNN refused.
  private static let primitives = Mutex<[Key: OpaquePointer?]>([:])

  /// The primitives for `g`, or nil when oneDNN refuses the shape: the caller then uses im2col,
  /// and the first refusal is reported once on standard error.
  static func primitive(_ g: ConvolutionGeometry, hasBias: Bool) -> OpaquePointer? {
    let key = Key(
      batch: g.batch, inputChannels: g.inputChannels, height: g.height, width: g.width,
      outputChannels: g.outputChannels, kernelSize: g.kernelSize, stride: g.stride, padding: g.padding,
      hasBias: hasBias, threads: ComputeThreads.count)
    return primitives.withLock { cache -> OpaquePointer? in
      if let cached = cache[key] { return cached }
      var message = [CChar](repeating: 0, count: 512)
      let created = gt_convolution_create(
        Int32(g.batch), Int32(g.inputChannels), Int32(g.height), Int32(g.width), Int32(g.outputChannels),
        Int32(g.kernelSize), Int32(g.stride), Int32(g.padding), hasBias ? 1 : 0, Int32(key.threads), &message,
        message.count)
      if created == nil && !cache.values.contains(where: { $0 == nil }) {
        let text = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        FileHandle.standardError.write(Data("notice: \(text); using im2col for that convolution\n".utf8))
      }
      cache[key] = created
      return created
    }
  }

  private static func check(_ status: Int32, _ what: String) {
    precondition(status == 0, "oneDNN: the \(what) convolution failed (status \(status))")
  }

  /// y = conv(x, w) (+ b); nil when oneDNN refused the geometry.
  public static func forward(
    _ x: Tensor<Float>, filter w: Tensor<Float>, bias: Tensor<Float>?, geometry g: ConvolutionGeometry,
    preferring preferred: TensorLayout = .nchw
  )
    -> Tensor<Float>?
  {
    guard let convolution = primitive(g, hasBias: bias != nil) else { return nil }
    // The output is blocked when the caller prefers it and oneDNN computes it so (no reorder).
    let layout: TensorLayout =
      preferred == .blocked16 && gt_convolution_output_blocked(convolution) != 0 ? .blocked16 : .nchw
    return KernelProfile.measure(g.profileKind("forward"), flops: g.forwardFLOPs) {
      forward(convolution, x, w, bias, g, layout)
    }
  }

  private static func forward(
    _ convolution: OpaquePointer, _ x: Tensor<Float>, _ w: Tensor<Float>, _ bias: Tensor<Float>?,
    _ g: ConvolutionGeometry, _ layout: TensorLayout
  ) -> Tensor<Float> {
    Tensor(shape: g.outputShape, layout: layout) { y in
      x.scalars.withUnsafeBufferPointer { xs in
        let run = { (b: UnsafePointer<Float>?) in
          forward(convolution, xs.baseAddress!, x.layout, w, b, y.baseAddress!, layout)
        }
        if let bias { bias.scalars.withUnsafeBufferPointer { run($0.baseAddress) } } else { run(nil) }
      }
    }
  }

  private static func forward(
    _ convolution: OpaquePointer, _ x: UnsafePointer<Float>, _ xLayout: TensorLayout, _ w: Tensor<Float>,
    _ bias: UnsafePointer<Float>?, _ y: UnsafeMutablePointer<Float>, _ yLayout: TensorLayout
  ) {
    w.scalars.withUnsafeBufferPointer { w in
      check(
        gt_convolution_forward(
          convolution, x, code(xLayout), w.baseAddress, bias, y, code(yLayout), Int32(ComputeThreads.count)),
        "forward")
    }
  }

  /// The gradients with respect to the input (when `needInput`), the filter and the bias; nil
  /// when oneDNN refused the geometry.
  public static func backward(
    outputGradient dY: Tensor<Float>, input x: Tensor<Float>, filter w: Tensor<Float>, geometry g: ConvolutionGeometry,
    needInput: Bool, hasBias: Bool
  ) -> (input: Tensor<Float>?, filter: Tensor<Float>, bias: Tensor<Float>?)? {
    guard let (dW, dB) = backwardWeights(outputGradient: dY, input: x, geometry: g, hasBias: hasBias) else {
      return nil
    }
    guard needInput else { return (nil, dW, dB) }
    guard let dX = backwardData(outputGradient: dY, filter: w, geometry: g, hasBias: hasBias, layout: x.layout) else {
      return nil
    }
    return (dX, dW, dB)
  }

  /// dW = Σ dY ⋆ X and, when `hasBias`, dB = Σ dY; nil when oneDNN refused the geometry.
  public static func backwardWeights(
    outputGradient dY: Tensor<Float>, input x: Tensor<Float>, geometry g: ConvolutionGeometry, hasBias: Bool
  ) -> (filter: Tensor<Float>, bias: Tensor<Float>?)? {
    guard let convolution = primitive(g, hasBias: hasBias) else { return nil }
    return KernelProfile.measure(g.profileKind("backward"), flops: g.forwardFLOPs) {
      backwardWeights(convolution, dY, x, g, hasBias)
    }
  }

  private static func backwardWeights(
    _ convolution: OpaquePointer, _ dY: Tensor<Float>, _ x: Tensor<Float>, _ g: ConvolutionGeometry, _ hasBias: Bool
  ) -> (filter: Tensor<Float>, bias: Tensor<Float>?) {
    var dB: Tensor<Float>? = hasBias ? Tensor(zeros: [g.outputChannels]) : nil
    let dW = x.scalars.withUnsafeBufferPointer { xs in
      dY.scalars.withUnsafeBufferPointer { dYs in
        let run = { (db: UnsafeMutablePointer<Float>?) in
          backwardWeights(convolution, dYs.baseAddress!, dY.layout, xs.baseAddress!, x.layout, g, db)
        }
        return dB != nil ? dB!.scalars.withUnsafeMutableBufferPointer { run($0.baseAddress) } : run(nil)
      }
    }
    return (dW, dB)
  }

  private static func backwardWeights(
    _ convolution: OpaquePointer, _ dY: UnsafePointer<Float>, _ dYLayout: TensorLayout, _ x: UnsafePointer<Float>,
    _ xLayout: TensorLayout, _ g: ConvolutionGeometry, _ dB: UnsafeMutablePointer<Float>?
  ) -> Tensor<Float> {
    Tensor<Float>(shape: g.filterShape) { dW in
      check(
        gt_convolution_backward_weights(
          convolution, x, code(xLayout), dY, code(dYLayout), dW.baseAddress, dB, Int32(ComputeThreads.count)),
        "backward-weights")
    }
  }

  /// dX = conv_transpose(dY, W) in `layout` (the input's); nil when oneDNN refused the
  /// geometry. (`hasBias` only picks the cached primitives of a convolution with a bias; the
  /// data gradient does not involve it.)
  public static func backwardData(
    outputGradient dY: Tensor<Float>, filter w: Tensor<Float>, geometry g: ConvolutionGeometry, hasBias: Bool,
    layout: TensorLayout = .nchw
  ) -> Tensor<Float>? {
    guard let convolution = primitive(g, hasBias: hasBias) else { return nil }
    return KernelProfile.measure(g.profileKind("backward"), flops: g.forwardFLOPs) {
      backwardData(convolution, dY, w, g, layout)
    }
  }

  /// The C API's code for a layout (a tensor of coefficient planes is handed over plane by
  /// plane, each `.blocked16`).
  private static func code(_ layout: TensorLayout) -> Int32 {
    precondition(layout != .blockedPlanes, "OneDNNConvolution: hand a planar tensor over plane by plane")
    return layout == .blocked16 ? 1 : 0
  }

  private static func backwardData(
    _ convolution: OpaquePointer, _ dY: Tensor<Float>, _ w: Tensor<Float>, _ g: ConvolutionGeometry,
    _ layout: TensorLayout
  ) -> Tensor<Float> {
    Tensor(shape: g.inputShape, layout: layout) { dX in
      dY.scalars.withUnsafeBufferPointer { dYs in
        backwardData(convolution, dYs.baseAddress!, dY.layout, w, dX.baseAddress!, layout)
      }
    }
  }

  private static func backwardData(
    _ convolution: OpaquePointer, _ dY: UnsafePointer<Float>, _ dYLayout: TensorLayout, _ w: Tensor<Float>,
    _ dX: UnsafeMutablePointer<Float>, _ dXLayout: TensorLayout
  ) {
    w.scalars.withUnsafeBufferPointer { w in
      check(
        gt_convolution_backward_data(
          convolution, dY, code(dYLayout), w.baseAddress, dX, code(dXLayout), Int32(ComputeThreads.count)),
        "backward-data")
    }
  }
}

/// The same convolutions on activations handed over by address: one coefficient plane of a
/// series tensor kept as planes (`TensorLayout.blockedPlanes`), or several planes that lie one
/// after another and go through as one batch (`geometry.batch` counts them all). Each writes
/// its whole output; nothing is allocated for the activations.
extension OneDNNConvolution {
  /// Whether oneDNN takes this geometry (without a bias: the entry points below require it).
  public static func accepts(_ g: ConvolutionGeometry) -> Bool { primitive(g, hasBias: false) != nil }

  /// Whether oneDNN computes this geometry's output in `.blocked16` (then a caller that prefers
  /// it gets it without a reorder, as `forward(_:filter:bias:geometry:preferring:)` does).
  public static func computesBlockedOutput(_ g: ConvolutionGeometry) -> Bool {
    guard let convolution = primitive(g, hasBias: false) else { return false }
    return gt_convolution_output_blocked(convolution) != 0
  }

  /// y = conv(x, w).
  public static func forward(
    _ x: UnsafePointer<Float>, layout xLayout: TensorLayout, filter w: Tensor<Float>,
    into y: UnsafeMutablePointer<Float>, layout yLayout: TensorLayout, geometry g: ConvolutionGeometry
  ) {
    let convolution = primitive(g, hasBias: false)!
    KernelProfile.measure(g.profileKind("forward"), flops: g.forwardFLOPs) {
      forward(convolution, x, xLayout, w, nil, y, yLayout)
    }
  }

  /// dx = conv_transpose(dy, w).
  public static func backwardData(
    outputGradient dY: UnsafePointer<Float>, layout dYLayout: TensorLayout, filter w: Tensor<Float>,
    into dX: UnsafeMutablePointer<Float>, layout dXLayout: TensorLayout, geometry g: ConvolutionGeometry
  ) {
    let convolution = primitive(g, hasBias: false)!
    KernelProfile.measure(g.profileKind("backward"), flops: g.forwardFLOPs) {
      backwardData(convolution, dY, dYLayout, w, dX, dXLayout)
    }
  }

  /// dW = Σ dy ⋆ x.
  public static func backwardWeights(
    outputGradient dY: UnsafePointer<Float>, layout dYLayout: TensorLayout, input x: UnsafePointer<Float>,
    layout xLayout: TensorLayout, geometry g: ConvolutionGeometry
  ) -> Tensor<Float> {
    let convolution = primitive(g, hasBias: false)!
    return KernelProfile.measure(g.profileKind("backward"), flops: g.forwardFLOPs) {
      backwardWeights(convolution, dY, dYLayout, x, xLayout, g, nil)
    }
  }
}

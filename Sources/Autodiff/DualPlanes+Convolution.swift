import Foundation
import TensorCore

/// H·v's convolutions on dual tensors kept as coefficient planes (`TensorLayout.blockedPlanes`):
/// oneDNN reads the input's planes and writes the output's where they lie, so a chain of
/// convolutions and activations never splits or interleaves its dual numbers (the other layouts
/// go through `SeriesConvolution`, which does, once per operand). With X + Ẋε and W + Ẇε:
///
///     Y  = conv(W, X) + b              Ẏ  = conv(W, Ẋ) + conv(Ẇ, X) + ḃ
///     dX = convᵀ(dY, W)                dẊ = convᵀ(dY, Ẇ) + convᵀ(dẎ, W)
///     dW = Σ dY ⋆ X                    dẆ = Σ dY ⋆ Ẋ + Σ dẎ ⋆ X          dB = Σ dY,  dḂ = Σ dẎ
///
/// The two planes lie one after the other, so the two products with W in each direction are one
/// oneDNN call over 2N images; the third term is added onto the tangent plane. A plane that a
/// split found zero everywhere (the images' tangent) is skipped. The terms are those of
/// `SeriesConvolution`, summed in its order, so both paths give the same bits.
extension DualPlanes {
  /// Whether dual convolutions whose output would be blocked keep it as planes (false with
  /// `GRADTRACE_DUAL_PLANES=off`, for A/B measurements; tests override it per task).
  static var keepsPlanes: Bool { keepsPlanesOverride ?? keepsPlanesDefault }
  @TaskLocal public static var keepsPlanesOverride: Bool?
  private static let keepsPlanesDefault = ProcessInfo.processInfo.environment["GRADTRACE_DUAL_PLANES"] != "off"

  /// One coefficient plane handed to oneDNN: where it starts and its layout.
  private struct Plane {
    let base: UnsafePointer<Float>
    let layout: TensorLayout
  }

  /// Whether this convolution's output can be kept as planes: oneDNN takes the geometry and
  /// computes its output blocked.
  static func keepsPlanes(_ g: ConvolutionGeometry) -> Bool {
    keepsPlanes && g.outputChannels % TensorLayout.blockSize == 0 && OneDNNConvolution.computesBlockedOutput(g)
      && OneDNNConvolution.accepts(bothPlanes(g))
  }

  /// The geometry of one call over both planes: 2N images.
  private static func bothPlanes(_ g: ConvolutionGeometry) -> ConvolutionGeometry {
    var both = g
    both.batch *= 2
    return both
  }

  /// The output of the dual convolution as a `.blockedPlanes` tensor (`keepsPlanes(g)` must
  /// hold); `x` may come in any layout.
  static func convolution(
    _ x: Tensor<Dual<Float>>, filter w: Tensor<Dual<Float>>, bias: Tensor<Dual<Float>>?, geometry g: ConvolutionGeometry
  ) -> Tensor<Dual<Float>> {
    let (w0, w1) = split(w)
    let (b0, b1) = bias.map(split) ?? (nil, nil)
    let count = g.outputShape.reduce(1, *)
    return withOperandPlanes(x) { x0, x1 in
      planarTensor(shape: g.outputShape) { y0, y1 in
        func term(_ x: Plane?, _ w: Tensor<Float>?, _ geometry: ConvolutionGeometry = g) -> Term? {
          guard let x, let w else { return nil }
          return { forward(x, w, into: $0, geometry) }
        }
        fill(
          y0, y1, count: count, value: term(x0, w0), tangent: [term(x1, w0), term(x0, w1)].compactMap { $0 },
          both: x.layout == .blockedPlanes && x1 != nil ? term(x0, w0, bothPlanes(g)) : nil)  // [Y; conv(W, Ẋ)]
        let groups = ChannelGroups(shape: g.outputShape, layout: .blocked16)
        if let b0 { b0.scalars.withUnsafeBufferPointer { Convolution.addChannelBias($0, to: y0, groups: groups) } }
        if let b1 { b1.scalars.withUnsafeBufferPointer { Convolution.addChannelBias($0, to: y1, groups: groups) } }
      }
    }
  }

  /// The input gradient (when `needInput`, in the input's layout), the filter and the bias
  /// gradients, for a dY or an x kept as planes (the other may come in any layout).
  static func convolutionBackward(
    outputGradient dY: Tensor<Dual<Float>>, input x: Tensor<Dual<Float>>, filter w: Tensor<Dual<Float>>,
    geometry g: ConvolutionGeometry, needInput: Bool, hasBias: Bool
  ) -> (input: Tensor<Dual<Float>>?, filter: Tensor<Dual<Float>>, bias: Tensor<Dual<Float>>?) {
    let (w0, w1) = split(w)
    return withOperandPlanes(dY) { dy0, dy1 in
      withOperandPlanes(x) { x0, x1 in
        func weights(_ dy: Plane?, _ x: Plane?) -> Tensor<Float>? {
          guard let dy, let x else { return nil }
          return OneDNNConvolution.backwardWeights(
            outputGradient: dy.base, layout: dy.layout, input: x.base, layout: x.layout, geometry: g)
        }
        let dW = interleave(
          values: [weights(dy0, x0)].compactMap { $0 },
          tangents: [weights(dy0, x1), weights(dy1, x0)].compactMap { $0 },
          shape: g.filterShape, layout: .nchw)
        let dX =
          needInput
          ? inputGradient(dy0, dy1, planar: dY.layout == .blockedPlanes, w0, w1, geometry: g, layout: x.layout) : nil
        return (dX, dW, hasBias ? biasGradient(dY, dy0, dy1) : nil)
      }
    }
  }

  /// dX = convᵀ(dY, W), dẊ = convᵀ(dY, Ẇ) + convᵀ(dẎ, W), in `layout`.
  private static func inputGradient(
    _ dy0: Plane?, _ dy1: Plane?, planar dYIsPlanar: Bool, _ w0: Tensor<Float>?, _ w1: Tensor<Float>?,
    geometry g: ConvolutionGeometry, layout: TensorLayout
  ) -> Tensor<Dual<Float>> {
    guard layout == .blockedPlanes else {
      // x in another layout (a pooling's output, say): the terms in its layout, interleaved.
      func term(_ dy: Plane?, _ w: Tensor<Float>?) -> Tensor<Float>? {
        guard let dy, let w else { return nil }
        return Tensor<Float>(shape: g.inputShape, layout: layout) { dx in
          backwardData(dy, w, into: dx.baseAddress!, layout: layout, g)
        }
      }
      return interleave(
        values: [term(dy0, w0)].compactMap { $0 }, tangents: [term(dy0, w1), term(dy1, w0)].compactMap { $0 },
        shape: g.inputShape, layout: layout)
    }
    let count = g.inputShape.reduce(1, *)
    return planarTensor(shape: g.inputShape) { dx0, dx1 in
      func term(_ dy: Plane?, _ w: Tensor<Float>?, _ geometry: ConvolutionGeometry = g) -> Term? {
        guard let dy, let w else { return nil }
        return { backwardData(dy, w, into: $0, layout: .blocked16, geometry) }
      }
      fill(
        dx0, dx1, count: count, value: term(dy0, w0), tangent: [term(dy1, w0), term(dy0, w1)].compactMap { $0 },
        both: dYIsPlanar && dy1 != nil ? term(dy0, w0, bothPlanes(g)) : nil)  // [dX; convᵀ(dẎ, W)]
    }
  }

  /// A computation that writes one plane (or, over 2N images, both) at the address it is given.
  private typealias Term = (UnsafeMutablePointer<Float>) -> Void

  /// Fills a result's planes: the value plane with `value` (zero for none), the tangent plane
  /// with the sum of `tangent` left to right (zero for none): the first term written in place,
  /// each further one added through a scratch plane. `both`, when given, is one call over both
  /// planes (they lie one after the other) that writes the value and `tangent[0]` at once.
  private static func fill(
    _ value: UnsafeMutablePointer<Float>, _ tangent: UnsafeMutablePointer<Float>, count: Int, value valueTerm: Term?,
    tangent tangentTerms: [Term], both: Term?
  ) {
    var pending = tangentTerms[...]
    var written = false
    if let both {
      both(value)
      pending = pending.dropFirst()
      written = true
    } else if let valueTerm {
      valueTerm(value)
    } else {
      value.update(repeating: 0, count: count)
    }
    for term in pending {
      if written {
        withScratchPlane(count) { scratch in
          term(scratch)
          add(scratch, into: tangent, count: count)
        }
      } else {
        term(tangent)
        written = true
      }
    }
    if !written { tangent.update(repeating: 0, count: count) }
  }

  /// Σ dY and Σ dẎ per channel, summed as `Convolution.sumOverBatchAndPixels` sums.
  private static func biasGradient(_ dY: Tensor<Dual<Float>>, _ dy0: Plane?, _ dy1: Plane?) -> Tensor<Dual<Float>> {
    guard dY.layout == .blockedPlanes, let dy0, let dy1 else { return Convolution.sumOverBatchAndPixels(dY) }
    let groups = ChannelGroups(shape: dY.shape, layout: .blocked16)
    let (values, tangents) = (
      Convolution.sumOverBatchAndPixels(dy0.base, groups: groups),
      Convolution.sumOverBatchAndPixels(dy1.base, groups: groups)
    )
    return Tensor(
      shape: [groups.channels], scalars: zip(values.scalars, tangents.scalars).map { Dual($0, tangent: $1) })
  }

  private static func forward(
    _ x: Plane, _ w: Tensor<Float>, into y: UnsafeMutablePointer<Float>, _ g: ConvolutionGeometry
  ) {
    OneDNNConvolution.forward(x.base, layout: x.layout, filter: w, into: y, layout: .blocked16, geometry: g)
  }

  private static func backwardData(
    _ dy: Plane, _ w: Tensor<Float>, into dx: UnsafeMutablePointer<Float>, layout: TensorLayout,
    _ g: ConvolutionGeometry
  ) {
    OneDNNConvolution.backwardData(
      outputGradient: dy.base, layout: dy.layout, filter: w, into: dx, layout: layout, geometry: g)
  }

  /// Runs `body` with the value and tangent planes of `t`: in place for a `.blockedPlanes`
  /// tensor, else split (nil for a plane that is zero everywhere).
  private static func withOperandPlanes<R>(_ t: Tensor<Dual<Float>>, _ body: (Plane?, Plane?) -> R) -> R {
    if t.layout == .blockedPlanes {
      return withPlanes(t) { value, tangent in
        body(Plane(base: value, layout: .blocked16), Plane(base: tangent, layout: .blocked16))
      }
    }
    let (value, tangent) = split(t)
    return SeriesConvolution.withPlanePointers([value, tangent][...], []) { pointers in
      body(pointers[0].map { Plane(base: $0, layout: t.layout) }, pointers[1].map { Plane(base: $0, layout: t.layout) })
    }
  }

  /// Runs `body` with a scratch plane of `count` Floats.
  private static func withScratchPlane(_ count: Int, _ body: (UnsafeMutablePointer<Float>) -> Void) {
    let plane = UnsafeMutablePointer<Float>.allocate(capacity: count)
    defer { plane.deallocate() }
    body(plane)
  }

  /// sum[e] += term[e], 16 per step.
  private static func add(_ term: UnsafePointer<Float>, into sum: UnsafeMutablePointer<Float>, count: Int) {
    parallelElements(count) { range in
      var e = range.lowerBound
      while e + 16 <= range.upperBound {
        let total =
          UnsafeRawPointer(sum + e).loadUnaligned(as: Lanes.self)
          + UnsafeRawPointer(term + e).loadUnaligned(as: Lanes.self)
        UnsafeMutableRawPointer(sum + e).storeBytes(of: total, as: Lanes.self)
        e += 16
      }
      while e < range.upperBound {
        sum[e] += term[e]
        e += 1
      }
    }
  }
}

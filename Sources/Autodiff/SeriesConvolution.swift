import TensorCore

/// Convolutions of dual numbers and jets of Float (H·v and Taylor mode) on oneDNN, one real
/// convolution per pair of coefficient planes.
///
/// A convolution is bilinear, so on truncated series X = Σ Xⱼ tʲ and W = Σ Wᵢ tⁱ it is the
/// Cauchy product of the planes, truncated after t^K:
///
///     Y_k  = Σ_{i+j=k} conv(Wᵢ, Xⱼ) + b_k
///     dX_k = Σ_{i+j=k} conv_transpose(dYⱼ, Wᵢ)        (backward data)
///     dW_k = Σ_{i+j=k} Σ_images dYⱼ ⋆ Xᵢ              (backward weights),   dB_k = Σ dY_k
///
/// For a Dual (K = 1) that is Ẏ = conv(Ẇ, X) + conv(W, Ẋ), the tangent of forward-over-reverse;
/// for a Jet (K = 2) five products of the forward pass. A plane that is zero everywhere (the
/// images' tangent, a direction that leaves a layer alone) is skipped, as `Dual.gemm` skips it.
/// Every term is a Float convolution at oneDNN's speed instead of an im2col product on series.
///
/// The planes keep the series tensor's layout: a series activation is blocked where a Float
/// one would be (the tape keeps convolution outputs blocked, except before BatchNorm), so no
/// reorder runs around the calls. A dual tensor (H·v) is split in one pass and its result
/// interleaved while its terms are summed (`DualPlanes`); jets go plane by plane. (A dual
/// convolution whose output stays blocked keeps it as planes instead: `DualPlanes+Convolution`.)
enum SeriesConvolution {
  /// The output (in `preferred` layout where oneDNN computes it so), or nil when oneDNN refused
  /// the geometry (the caller uses im2col).
  static func forward<S: TruncatedSeries>(
    _ x: Tensor<S>, filter w: Tensor<S>, bias: Tensor<S>?, geometry g: ConvolutionGeometry,
    preferring preferred: TensorLayout = .nchw
  ) -> Tensor<S>? where S.Base == Float {
    let (xs, ws) = (planes(x), planes(w))
    var ys: [[Tensor<Float>]] = []
    for k in 0...S.order {
      var terms: [Tensor<Float>] = []
      for i in 0...k {
        guard let wi = ws[i], let xj = xs[k - i] else { continue }
        guard let term = OneDNNConvolution.forward(xj, filter: wi, bias: nil, geometry: g, preferring: preferred)
        else { return nil }
        terms.append(term)
      }
      ys.append(terms)
    }
    let layout = ys.lazy.compactMap { $0.first?.layout }.first ?? .nchw
    if let bias {
      for (k, b) in planes(bias).enumerated() {
        guard let b else { continue }
        var y = summed(ys[k]) ?? Tensor(zeros: g.outputShape)
        y.layout = layout  // zeros are zeros in either layout
        Convolution.addChannelBias(b, to: &y)
        ys[k] = [y]
      }
    }
    return series(summing: ys, shape: g.outputShape, layout: layout)
  }

  /// The input gradient (when `needInput`), the filter and the bias gradients, or nil when
  /// oneDNN refused the geometry. dY comes in the output's layout, dX goes out in the input's.
  static func backward<S: TruncatedSeries>(
    outputGradient dY: Tensor<S>, input x: Tensor<S>, filter w: Tensor<S>, geometry g: ConvolutionGeometry,
    needInput: Bool, hasBias: Bool
  ) -> (input: Tensor<S>?, filter: Tensor<S>, bias: Tensor<S>?)? where S.Base == Float {
    let (dys, xs, ws) = (planes(dY), planes(x), planes(w))
    var dXs: [[Tensor<Float>]] = []
    var dWs: [Tensor<Float>?] = []
    for k in 0...S.order {
      var (dX, dW): ([Tensor<Float>], Tensor<Float>?) = ([], nil)
      for j in 0...k {
        guard let dyj = dys[j] else { continue }
        if let xi = xs[k - j] {
          guard
            let term = OneDNNConvolution.backwardWeights(outputGradient: dyj, input: xi, geometry: g, hasBias: false)
          else { return nil }
          add(term.filter, to: &dW)
        }
        if needInput, let wi = ws[k - j] {
          guard
            let term = OneDNNConvolution.backwardData(
              outputGradient: dyj, filter: wi, geometry: g, hasBias: false, layout: x.layout)
          else { return nil }
          dX.append(term)
        }
      }
      dXs.append(dX)
      dWs.append(dW)
    }
    return (
      needInput ? series(summing: dXs, shape: g.inputShape, layout: x.layout) : nil, series(dWs, shape: g.filterShape),
      hasBias ? Convolution.sumOverBatchAndPixels(dY) : nil
    )
  }

  /// The coefficient planes of a series tensor, in its layout, nil for a plane that is zero
  /// everywhere (a dual tensor's two in one pass: `DualPlanes`).
  static func planes<S: TruncatedSeries>(_ t: Tensor<S>) -> [Tensor<Float>?] where S.Base == Float {
    if S.self == Dual<Float>.self {
      let (value, tangent) = DualPlanes.split(unsafeBitCast(t, to: Tensor<Dual<Float>>.self))
      return [value, tangent]
    }
    return t.scalars.withUnsafeBufferPointer { source in
      (0...S.order).map { i -> Tensor<Float>? in
        // Each worker notes whether its chunk held a non-zero: the plane is read once.
        let workers = max(1, min(ComputeThreads.count, t.count >> 15))
        var nonzero = [Bool](repeating: false, count: workers)
        let plane = nonzero.withUnsafeMutableBufferPointer { flags in
          Tensor<Float>(shape: t.shape, layout: t.layout) { p in
            parallelChunks(p.count, maximumWorkers: workers) { range, worker in
              var any = false
              for e in range {
                let c = source[e].coefficient(i)
                p[e] = c
                if c != 0 { any = true }
              }
              flags[worker] = any
            }
          }
        }
        return nonzero.contains(true) ? plane : nil
      }
    }
  }

  /// The series tensor in `layout` (its planes' own) with these coefficient planes (nil: zero),
  /// interleaved in one pass.
  static func series<S: TruncatedSeries>(
    _ planes: [Tensor<Float>?], shape: [Int], layout: TensorLayout = .nchw
  ) -> Tensor<S> where S.Base == Float {
    precondition(planes.allSatisfy { $0 == nil || $0!.layout == layout }, "SeriesConvolution: planes not in \(layout)")
    let count = shape.reduce(1, *)
    return withPlanePointers(planes[...], []) { pointers in
      pointers.withUnsafeBufferPointer { p in
        Tensor(shape: shape, layout: layout) { out in
          parallelElements(count) { range in
            for e in range { out[e] = S(coefficients: { i in p[i].map { $0[e] } ?? 0 }) }
          }
        }
      }
    }
  }

  /// The series tensor whose coefficient k is the sum of `terms[k]` (left to right, as `+=`
  /// would; none: zero), in `layout`: a dual tensor summed while interleaving (`DualPlanes`).
  static func series<S: TruncatedSeries>(
    summing terms: [[Tensor<Float>]], shape: [Int], layout: TensorLayout
  ) -> Tensor<S> where S.Base == Float {
    if S.self == Dual<Float>.self {
      let dual = DualPlanes.interleave(values: terms[0], tangents: terms[1], shape: shape, layout: layout)
      return unsafeBitCast(dual, to: Tensor<S>.self)
    }
    return series(terms.map(summed), shape: shape, layout: layout)
  }

  /// Σ terms left to right, nil for none.
  private static func summed(_ terms: [Tensor<Float>]) -> Tensor<Float>? {
    var sum: Tensor<Float>?
    for term in terms { add(term, to: &sum) }
    return sum
  }

  /// Runs `body` with the planes' element pointers (nil for a missing plane), valid inside it.
  static func withPlanePointers<R>(
    _ planes: ArraySlice<Tensor<Float>?>, _ collected: [UnsafePointer<Float>?], _ body: ([UnsafePointer<Float>?]) -> R
  ) -> R {
    guard let first = planes.first else { return body(collected) }
    guard let plane = first else { return withPlanePointers(planes.dropFirst(), collected + [nil], body) }
    return plane.scalars.withUnsafeBufferPointer {
      withPlanePointers(planes.dropFirst(), collected + [$0.baseAddress], body)
    }
  }

  /// sum += term (sum = term when there is none yet).
  private static func add(_ term: Tensor<Float>, to sum: inout Tensor<Float>?) {
    if sum != nil { sum! += term } else { sum = term }
  }
}

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
/// one would be (the tape keeps convolution outputs blocked for every scalar), so no reorder
/// runs around the calls. Splitting a series tensor into its planes is one pass; the terms of
/// each coefficient are added while the result is interleaved, in the same pass.
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
    let layout = ys.joined().first?.layout ?? .nchw
    if let bias {
      for (k, b) in planes(bias).enumerated() {
        guard let b else { continue }
        var y = ys[k].popLast() ?? Tensor(zeros: g.outputShape)
        y.layout = layout  // zeros are zeros in either layout
        Convolution.addChannelBias(b, to: &y)
        ys[k].append(y)
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
    var dWs: [[Tensor<Float>]] = []
    for k in 0...S.order {
      var (dX, dW): ([Tensor<Float>], [Tensor<Float>]) = ([], [])
      for j in 0...k {
        guard let dyj = dys[j] else { continue }
        if let xi = xs[k - j] {
          guard
            let term = OneDNNConvolution.backwardWeights(outputGradient: dyj, input: xi, geometry: g, hasBias: false)
          else { return nil }
          dW.append(term.filter)
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
      needInput ? series(summing: dXs, shape: g.inputShape, layout: x.layout) : nil,
      series(summing: dWs, shape: g.filterShape), hasBias ? Convolution.sumOverBatchAndPixels(dY) : nil
    )
  }

  /// The coefficient planes of a series tensor, in its layout, nil for a plane that is zero
  /// everywhere: one pass over the series tensor writes every plane.
  static func planes<S: TruncatedSeries>(_ t: Tensor<S>) -> [Tensor<Float>?] where S.Base == Float {
    let order = S.order
    checkInterleaved(S.self)
    // Bit i of nonzero[chunk]: plane i holds a non-zero value in that chunk.
    let chunks = (t.count + chunkSize - 1) / chunkSize
    var nonzero = [UInt8](repeating: 0, count: chunks)
    let planes = t.scalars.withUnsafeBytes { raw in
      let source = raw.bindMemory(to: Float.self).baseAddress!
      return nonzero.withUnsafeMutableBufferPointer { flags in
        makePlanes(order + 1, shape: t.shape, layout: t.layout) { plane in
          parallelElements(chunks, grain: 8) { range in
            for chunk in range {
              let elements = chunk * chunkSize..<min(t.count, (chunk + 1) * chunkSize)
              var bits: UInt8 = 0
              // Coefficient by coefficient within an L1-sized chunk: a strided read, a
              // contiguous write, and the magnitude bits or-ed (no branch in the loop).
              for i in 0...order {
                let destination = plane[i]
                var magnitude: UInt32 = 0
                for e in elements {
                  let c = source[e * (order + 1) + i]
                  destination[e] = c
                  magnitude |= c.bitPattern & 0x7fff_ffff
                }
                if magnitude != 0 { bits |= 1 << i }
              }
              flags[chunk] = bits
            }
          }
        }
      }
    }
    let written = nonzero.reduce(0, |)
    return planes.enumerated().map { i, plane in written & (1 << i) != 0 ? plane : nil }
  }

  /// The series tensor in `layout` (its terms' own) whose coefficient k is the sum of the
  /// tensors `terms[k]` (none: zero), added and interleaved in one pass.
  static func series<S: TruncatedSeries>(
    summing terms: [[Tensor<Float>]], shape: [Int], layout: TensorLayout = .nchw
  ) -> Tensor<S> where S.Base == Float {
    let order = S.order
    checkInterleaved(S.self)
    precondition(terms.count == order + 1, "SeriesConvolution: \(terms.count) coefficients for order \(order)")
    precondition(
      terms.joined().allSatisfy { $0.layout == layout && $0.shape == shape },
      "SeriesConvolution: terms not of shape \(shape) in \(layout)")
    let count = shape.reduce(1, *)
    let flat = terms.enumerated().flatMap { k, list in list.map { (k, $0) } }
    // members[k]: the indices in `flat` of coefficient k's terms.
    let members = (0...order).map { k in flat.indices.filter { flat[$0].0 == k } }
    return withPointers(flat.map(\.1)[...], []) { pointers in
      Tensor<S>(shape: shape, layout: layout) { out in
        let destination = UnsafeMutableRawPointer(out.baseAddress!).bindMemory(
          to: Float.self, capacity: count * (order + 1))
        parallelElements((count + chunkSize - 1) / chunkSize, grain: 8) { range in
          for chunk in range {
            let elements = chunk * chunkSize..<min(count, (chunk + 1) * chunkSize)
            for k in 0...order {
              let mine = members[k]
              switch mine.count {
              case 0:
                for e in elements { destination[e * (order + 1) + k] = 0 }
              case 1:
                let a = pointers[mine[0]]
                for e in elements { destination[e * (order + 1) + k] = a[e] }
              case 2:
                let (a, b) = (pointers[mine[0]], pointers[mine[1]])
                for e in elements { destination[e * (order + 1) + k] = a[e] + b[e] }
              default:
                for e in elements {
                  var sum: Float = 0
                  for t in mine { sum += pointers[t][e] }
                  destination[e * (order + 1) + k] = sum
                }
              }
            }
          }
        }
      }
    }
  }

  /// Values per chunk of the split and the interleave: a chunk's planes and series values
  /// (4 KB per plane) stay in the L1 cache while it is walked coefficient by coefficient.
  private static let chunkSize = 1024

  /// A series of Float is its K + 1 coefficients side by side (the split and the interleave
  /// read and write it as Floats).
  private static func checkInterleaved<S: TruncatedSeries>(_: S.Type) {
    precondition(
      MemoryLayout<S>.stride == (S.order + 1) * MemoryLayout<Float>.stride,
      "SeriesConvolution: \(S.self) is not \(S.order + 1) Floats side by side")
  }

  /// Runs `body` with the tensors' element pointers, valid inside it.
  private static func withPointers<R>(
    _ tensors: ArraySlice<Tensor<Float>>, _ collected: [UnsafePointer<Float>],
    _ body: ([UnsafePointer<Float>]) -> R
  ) -> R {
    guard let first = tensors.first else { return body(collected) }
    return first.scalars.withUnsafeBufferPointer {
      withPointers(tensors.dropFirst(), collected + [$0.baseAddress!], body)
    }
  }

  /// `count` tensors of `shape` in `layout` whose every element `fill` writes, given their
  /// element pointers (valid inside it).
  private static func makePlanes(
    _ count: Int, shape: [Int], layout: TensorLayout, _ fill: ([UnsafeMutablePointer<Float>]) -> Void
  ) -> [Tensor<Float>] {
    func make(_ pointers: [UnsafeMutablePointer<Float>]) -> [Tensor<Float>] {
      guard pointers.count < count else {
        fill(pointers)
        return []
      }
      var rest: [Tensor<Float>] = []
      let plane = Tensor<Float>(shape: shape, layout: layout) { p in rest = make(pointers + [p.baseAddress!]) }
      return [plane] + rest
    }
    return make([])
  }
}

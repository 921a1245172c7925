import TensorCore

/// Average pooling (window k, stride k) and its gradient on dual tensors kept as coefficient
/// planes (`.blockedPlanes`), so that the convolution after a reduction block's pooling reads
/// planes too. Each plane is `.blocked16`: a pixel's 16 channels are one `SIMD16<Float>`. They
/// compute what `Pooling.averagePool` computes on `Dual<Float>`, bit for bit: the window summed
/// from +0 in the same order, then times the constant c = 1/k² + 0ε, which is
/// (s·c) + (ṡ·c + s·0)ε (the 0·s makes NaN of an infinite s, as the dual product does).
extension DualPlanes {
  static func averagePool(_ x: Tensor<Dual<Float>>, window k: Int) -> Tensor<Dual<Float>> {
    precondition(x.layout == .blockedPlanes, "DualPlanes.averagePool: expects .blockedPlanes, got \(x.layout)")
    let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let (oh, ow) = (h / k, w / k)
    precondition(oh >= 1 && ow >= 1, "averagePool: \(h)×\(w) is smaller than the \(k)×\(k) window")
    let b = TensorLayout.blockSize
    let scale = 1 / Float(k * k)
    return withPlanes(x) { xv, xt in
      planarTensor(shape: [n, c, oh, ow]) { yv, yt in
        parallelElements(n * c / b, grain: max(1, (1 << 15) / (h * w * b))) { blocks in
          for block in blocks {
            let (source, target) = (block * h * w * b, block * oh * ow * b)
            for i in 0..<oh {
              for j in 0..<ow {
                var (v, t) = (Lanes(), Lanes())
                for a in 0..<k {
                  for d in 0..<k {
                    let e = source + ((i * k + a) * w + j * k + d) * b
                    v += load(xv, e)
                    t += load(xt, e)
                  }
                }
                let e = target + (i * ow + j) * b
                store(v * scale, yv, e)
                store(t * scale + v * 0, yt, e)
              }
            }
          }
        }
      }
    }
  }

  /// The input gradient of `averagePool` for an input of `inputShape`: each output's gradient
  /// times c, spread over its window.
  static func averagePoolBackward(_ dY: Tensor<Dual<Float>>, inputShape: [Int], window k: Int) -> Tensor<Dual<Float>> {
    precondition(
      dY.layout == .blockedPlanes, "DualPlanes.averagePoolBackward: expects .blockedPlanes, got \(dY.layout)")
    let (n, c, h, w) = (inputShape[0], inputShape[1], inputShape[2], inputShape[3])
    let (oh, ow) = (h / k, w / k)
    let b = TensorLayout.blockSize
    let scale = 1 / Float(k * k)
    return withPlanes(dY) { gv, gt in
      planarTensor(shape: inputShape) { dv, dt in
        // Rows and columns past the last whole window (floor) get no gradient.
        if h % k != 0 || w % k != 0 {
          dv.update(repeating: 0, count: n * c * h * w)
          dt.update(repeating: 0, count: n * c * h * w)
        }
        parallelElements(n * c / b, grain: max(1, (1 << 15) / (h * w * b))) { blocks in
          for block in blocks {
            let (source, target) = (block * oh * ow * b, block * h * w * b)
            for i in 0..<oh {
              for j in 0..<ow {
                let (v, t) = (load(gv, source + (i * ow + j) * b), load(gt, source + (i * ow + j) * b))
                let (value, tangent) = (v * scale, t * scale + v * 0)
                for a in 0..<k {
                  for d in 0..<k {
                    let e = target + ((i * k + a) * w + j * k + d) * b
                    store(value, dv, e)
                    store(tangent, dt, e)
                  }
                }
              }
            }
          }
        }
      }
    }
  }
}

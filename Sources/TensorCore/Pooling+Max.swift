/// Max pooling over non-overlapping square windows (kernel = stride, no padding).
///
/// Each output is the largest element of its window; the gradient flows to that one element
/// (dx[argmax] = dy). With ties the first maximum in row-major window order is taken, as
/// PyTorch's CPU kernel does, so the gradient of a constant window goes to its top-left element.
extension Pooling {
  /// [N, C, H, W] → ([N, C, H/k, W/k], the flat input index of each output's maximum).
  @inlinable
  public static func maxPool<Scalar: TensorScalar>(_ x: Tensor<Scalar>, window k: Int) -> (
    output: Tensor<Scalar>, argmax: [Int]
  ) {
    let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let (oh, ow) = (h / k, w / k)
    precondition(oh >= 1 && ow >= 1, "maxPool: \(h)×\(w) is smaller than the \(k)×\(k) window")
    var argmax = [Int](repeating: 0, count: n * c * oh * ow)
    let y = x.scalars.withUnsafeBufferPointer { xs in
      Tensor<Scalar>(shape: [n, c, oh, ow]) { ys in
        for plane in 0..<(n * c) {
          let src = plane * h * w
          let dst = plane * oh * ow
          for i in 0..<oh {
            for j in 0..<ow {
              var best = src + i * k * w + j * k
              for a in 0..<k {
                for b in 0..<k {
                  let index = src + (i * k + a) * w + j * k + b
                  // Strictly greater: the first of equal maxima stays. NaN wins, as in PyTorch.
                  if xs[index] > xs[best] || (xs[index] != xs[index] && xs[best] == xs[best]) { best = index }
                }
              }
              ys[dst + i * ow + j] = xs[best]
              argmax[dst + i * ow + j] = best
            }
          }
        }
      }
    }
    return (y, argmax)
  }

  /// The input gradient of `maxPool`: each output gradient lands on its window's maximum.
  @inlinable
  public static func maxPoolBackward<Scalar: TensorScalar>(
    _ dy: Tensor<Scalar>, argmax: [Int], inputShape: [Int]
  ) -> Tensor<Scalar> {
    var dx = Tensor<Scalar>(zeros: inputShape)
    dy.scalars.withUnsafeBufferPointer { g in
      dx.scalars.withUnsafeMutableBufferPointer { d in
        for (output, input) in argmax.enumerated() { d[input] += g[output] }
      }
    }
    return dx
  }
}

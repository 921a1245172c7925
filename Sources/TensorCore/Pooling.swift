/// Average pooling over non-overlapping square windows (kernel = stride, no padding, as the
/// paper's 2×2 stride-2 reduction), and global average pooling.
///
/// Average pooling is linear: y = P·x with each output the mean of its window, so the input
/// gradient spreads each output gradient evenly over its window: dx = Pᵀ·dy.
public enum Pooling {
  /// [N, C, H, W] → [N, C, H/k, W/k] (floor, as PyTorch: trailing rows and columns are dropped),
  /// in the input's layout: a `.blocked16` plane holds 16 channels side by side, pooled lane by
  /// lane with the same sums.
  @inlinable
  public static func averagePool<Scalar: TensorScalar>(_ x: Tensor<Scalar>, window k: Int) -> Tensor<Scalar> {
    let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let (oh, ow) = (h / k, w / k)
    precondition(oh >= 1 && ow >= 1, "averagePool: \(h)×\(w) is smaller than the \(k)×\(k) window")
    let lanes = x.layout.channelLanes
    var y = Tensor<Scalar>(zeros: [n, c, oh, ow])
    y.layout = x.layout
    let scale = 1 / Scalar(k * k)
    x.scalars.withUnsafeBufferPointer { xs in
      y.scalars.withUnsafeMutableBufferPointer { ys in
        parallelElements(n * c / lanes, grain: planeGrain(h * w * lanes)) { planes in
          for plane in planes {
            let src = plane * h * w * lanes
            let dst = plane * oh * ow * lanes
            for i in 0..<oh {
              for j in 0..<ow {
                for lane in 0..<lanes {
                  var sum: Scalar = 0
                  for a in 0..<k {
                    for b in 0..<k { sum += xs[src + ((i * k + a) * w + j * k + b) * lanes + lane] }
                  }
                  ys[dst + (i * ow + j) * lanes + lane] = sum * scale
                }
              }
            }
          }
        }
      }
    }
    return y
  }

  /// The input gradient of `averagePool`, for an input of shape `inputShape`, in the layout of
  /// `dy` (the output's, which is the input's).
  @inlinable
  public static func averagePoolBackward<Scalar: TensorScalar>(
    _ dy: Tensor<Scalar>, inputShape: [Int], window k: Int
  ) -> Tensor<Scalar> {
    let (n, c, h, w) = (inputShape[0], inputShape[1], inputShape[2], inputShape[3])
    let (oh, ow) = (h / k, w / k)
    let lanes = dy.layout.channelLanes
    var dx = Tensor<Scalar>(zeros: inputShape)
    dx.layout = dy.layout
    let scale = 1 / Scalar(k * k)
    dy.scalars.withUnsafeBufferPointer { g in
      dx.scalars.withUnsafeMutableBufferPointer { d in
        parallelElements(n * c / lanes, grain: planeGrain(h * w * lanes)) { planes in
          for plane in planes {
            let src = plane * oh * ow * lanes
            let dst = plane * h * w * lanes
            for i in 0..<oh {
              for j in 0..<ow {
                for lane in 0..<lanes {
                  let value = g[src + (i * ow + j) * lanes + lane] * scale
                  for a in 0..<k {
                    for b in 0..<k { d[dst + ((i * k + a) * w + j * k + b) * lanes + lane] = value }
                  }
                }
              }
            }
          }
        }
      }
    }
    return dx
  }

  /// How many planes of `pixels` elements make a chunk worth a thread.
  @inlinable
  static func planeGrain(_ pixels: Int) -> Int { max(1, (1 << 15) / max(1, pixels)) }

  /// [N, C, H, W] → [N, C]: the mean over each channel's pixels.
  @inlinable
  public static func globalAveragePool<Scalar: TensorScalar>(_ x: Tensor<Scalar>) -> Tensor<Scalar> {
    let (n, c) = (x.shape[0], x.shape[1])
    let pixels = x.count / (n * c)
    var y = Tensor<Scalar>(zeros: [n, c])
    let scale = 1 / Scalar(pixels)
    x.scalars.withUnsafeBufferPointer { xs in
      y.scalars.withUnsafeMutableBufferPointer { ys in
        for plane in 0..<(n * c) {
          var sum: Scalar = 0
          for i in 0..<pixels { sum += xs[plane * pixels + i] }
          ys[plane] = sum * scale
        }
      }
    }
    return y
  }

  /// The input gradient of `globalAveragePool`: each pixel gets its channel's gradient / pixels.
  @inlinable
  public static func globalAveragePoolBackward<Scalar: TensorScalar>(
    _ dy: Tensor<Scalar>, inputShape: [Int]
  ) -> Tensor<Scalar> {
    let (n, c) = (inputShape[0], inputShape[1])
    let pixels = inputShape.reduce(1, *) / (n * c)
    var dx = Tensor<Scalar>(zeros: inputShape)
    let scale = 1 / Scalar(pixels)
    dy.scalars.withUnsafeBufferPointer { g in
      dx.scalars.withUnsafeMutableBufferPointer { d in
        for plane in 0..<(n * c) {
          let value = g[plane] * scale
          for i in 0..<pixels { d[plane * pixels + i] = value }
        }
      }
    }
    return dx
  }
}

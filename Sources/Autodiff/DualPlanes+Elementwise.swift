import TensorCore

/// The leaky ReLU and its gradient on dual tensors kept as coefficient planes
/// (`.blockedPlanes`), so that the activations between two planar convolutions stay planes.
/// They compute what the element-wise kernels compute on `Dual<Float>`, bit for bit: the mask
/// comes from the value (a dual number compares by its value), and a·(v + tε) with the constant
/// a = a + 0ε is a·v + (0·v + a·t)ε, whose 0·v only decides the sign of a zero (or makes NaN of
/// an infinite v) and is kept for that.
extension DualPlanes {
  /// z = leaky(x + r) for planar x and r (r nil: z = leaky(x)), slope a.
  static func leakyReLU(_ x: Tensor<Dual<Float>>, plus r: Tensor<Dual<Float>>? = nil, slope a: Float) -> Tensor<
    Dual<Float>
  > {
    precondition(x.layout == .blockedPlanes && (r == nil || r!.layout == .blockedPlanes && r!.shape == x.shape))
    return withPlanes(x) { xv, xt in
      withOptionalPlanes(r) { rv, rt in
        planarTensor(shape: x.shape) { zv, zt in
          forEach16(x.count) { e in
            var (v, t) = (load(xv, e), load(xt, e))
            if let rv, let rt { (v, t) = (v + load(rv, e), t + load(rt, e)) }
            let (value, tangent) = leaky(v, t, mask: v, slope: a)
            store(value, zv, e)
            store(tangent, zt, e)
          } tail: { e in
            var (v, t) = (xv[e], xt[e])
            if let rv, let rt { (v, t) = (v + rv[e], t + rt[e]) }
            (zv[e], zt[e]) = v > 0 ? (v, t) : (a * v, 0 * v + a * t)
          }
        }
      }
    }
  }

  /// dx = dy where `reference` > 0, a·dy elsewhere (both planar), as `Tape.leakyReLUGradient`.
  static func leakyReLUGradient(
    _ dY: Tensor<Dual<Float>>, where reference: Tensor<Dual<Float>>, slope a: Float
  ) -> Tensor<Dual<Float>> {
    precondition(dY.layout == .blockedPlanes && reference.layout == .blockedPlanes && dY.shape == reference.shape)
    return withPlanes(reference) { mask, _ in
      withPlanes(dY) { gv, gt in
        planarTensor(shape: dY.shape) { dv, dt in
          forEach16(dY.count) { e in
            let (value, tangent) = leaky(load(gv, e), load(gt, e), mask: load(mask, e), slope: a)
            store(value, dv, e)
            store(tangent, dt, e)
          } tail: { e in
            let (v, t) = (gv[e], gt[e])
            (dv[e], dt[e]) = mask[e] > 0 ? (v, t) : (a * v, 0 * v + a * t)
          }
        }
      }
    }
  }

  /// (v, t) where mask > 0, else a·(v + tε) = a·v + (0·v + a·t)ε, 16 lanes at once.
  @inline(__always)
  private static func leaky(_ v: Lanes, _ t: Lanes, mask: Lanes, slope a: Float) -> (Lanes, Lanes) {
    let positive = mask .> 0
    return ((a * v).replacing(with: v, where: positive), (0 * v + a * t).replacing(with: t, where: positive))
  }

  /// Runs `body` on 0..<count in steps of 16 and `tail` on the elements left over, on every
  /// thread (chunks start at multiples of 16).
  @inline(__always)
  private static func forEach16(_ count: Int, _ body: (Int) -> Void, tail: (Int) -> Void) {
    parallelElements(count / 16, grain: (1 << 15) / 16) { range in
      for block in range { body(block * 16) }
    }
    for e in count / 16 * 16..<count { tail(e) }
  }

  @inline(__always)
  static func load(_ p: UnsafePointer<Float>, _ e: Int) -> Lanes {
    UnsafeRawPointer(p + e).loadUnaligned(as: Lanes.self)
  }

  @inline(__always)
  static func store(_ lanes: Lanes, _ p: UnsafeMutablePointer<Float>, _ e: Int) {
    UnsafeMutableRawPointer(p + e).storeBytes(of: lanes, as: Lanes.self)
  }

  /// `withPlanes` for an optional tensor (nil planes for none).
  private static func withOptionalPlanes<R>(
    _ t: Tensor<Dual<Float>>?, _ body: (UnsafePointer<Float>?, UnsafePointer<Float>?) -> R
  ) -> R {
    guard let t else { return body(nil, nil) }
    return withPlanes(t) { body($0, $1) }
  }
}

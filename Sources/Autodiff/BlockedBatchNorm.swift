import TensorCore

/// BatchNorm's four passes over a Float [N, C, H, W] tensor held in oneDNN's `.blocked16`
/// layout (what a convolution leaves behind): a block is one image's 16 channels side by side,
/// pixel by pixel, so each pass reads and writes 16 lanes at a time (`SIMD16`), blocks split
/// over threads.
///
/// Every lane does exactly the arithmetic of `Tape.batchNorm`'s NCHW loops, in the same order:
/// the same Float operations per element, and wide sums in four chains by pixel (pixel p into
/// chain p mod 4, the last H·W mod 4 pixels into chain 0, combined (s₀ + s₁) + (s₂ + s₃)). So a
/// network gives the same bits whichever layout its activations are in.
enum BlockedBatchNorm {
  typealias Lanes = SIMD16<Float>
  typealias WideLanes = SIMD16<Double>

  /// Per slice (image n, channel c, at n·C + c): the mean and the sum of squared deviations
  /// from it, accumulated in Double.
  static func sliceMoments(_ x: Tensor<Float>) -> (means: [Double], squares: [Double]) {
    let (n, c, pixels) = (x.shape[0], x.shape[1], x.shape[2] * x.shape[3])
    var means = [Double](repeating: 0, count: n * c)
    var squares = [Double](repeating: 0, count: n * c)
    x.scalars.withUnsafeBufferPointer { xs in
      means.withUnsafeMutableBufferPointer { means in
        squares.withUnsafeMutableBufferPointer { squares in
          forEachBlock(x.shape) { block, slice in
            let rows = UnsafeRawPointer(xs.baseAddress! + block * pixels * 16)
            let mean = chainSum(pixels) { p in WideLanes(load(rows, p)) } / Double(pixels)
            let spread = chainSum(pixels) { p in
              let d = WideLanes(load(rows, p)) - mean
              return d * d
            }
            store(mean, into: means.baseAddress! + slice)
            store(spread, into: squares.baseAddress! + slice)
          }
        }
      }
    }
    return (means, squares)
  }

  /// A leaky ReLU fused behind BatchNorm: its slope, and the γ and β that recompute y from x.
  typealias Activation = (gamma: [Float], beta: [Float], slope: Float)

  /// y = γ (x − μ) r + β per channel, in the blocked layout; with a `leakyReLUSlope` a, the
  /// leaky ReLU of y (y where y > 0, a·y elsewhere) instead.
  static func normalize(
    _ x: Tensor<Float>, mean: [Float], inverseStd: [Float], gamma: [Float], beta: [Float], leakyReLUSlope: Float?
  ) -> Tensor<Float> {
    let pixels = x.shape[2] * x.shape[3]
    return x.scalars.withUnsafeBufferPointer { xs in
      Tensor(shape: x.shape, layout: .blocked16) { ys in
        forEachBlock(x.shape) { block, _ in
          let first = block % (x.shape[1] / 16) * 16
          let (mu, r, g, b) = (lanes(mean, first), lanes(inverseStd, first), lanes(gamma, first), lanes(beta, first))
          let rows = UnsafeRawPointer(xs.baseAddress! + block * pixels * 16)
          let out = UnsafeMutableRawPointer(ys.baseAddress! + block * pixels * 16)
          if let a = leakyReLUSlope {
            for p in 0..<pixels {
              let y = g * ((load(rows, p) - mu) * r) + b
              out.storeBytes(of: leaky(y, y, a), toByteOffset: p * 64, as: Lanes.self)
            }
          } else {
            for p in 0..<pixels {
              out.storeBytes(of: g * ((load(rows, p) - mu) * r) + b, toByteOffset: p * 64, as: Lanes.self)
            }
          }
        }
      }
    }
  }

  /// Per slice: Σ dy and Σ dy·x̂ with x̂ = (x − μ) r, accumulated in Double. Behind a fused
  /// `activation`, `dY` is the activation's output gradient dz and dy its input gradient
  /// (`leaky(y, dz, a)`, y recomputed from x).
  static func sliceSums(
    dY: Tensor<Float>, x: Tensor<Float>, mean: [Float], inverseStd: [Float], activation: Activation?
  ) -> (dy: [Double], dyXhat: [Double]) {
    let (n, c, pixels) = (x.shape[0], x.shape[1], x.shape[2] * x.shape[3])
    var sumDy = [Double](repeating: 0, count: n * c)
    var sumDyXhat = [Double](repeating: 0, count: n * c)
    x.scalars.withUnsafeBufferPointer { xs in
      dY.scalars.withUnsafeBufferPointer { dys in
        sumDy.withUnsafeMutableBufferPointer { sumDy in
          sumDyXhat.withUnsafeMutableBufferPointer { sumDyXhat in
            forEachBlock(x.shape) { block, slice in
              let first = block % (c / 16) * 16
              let (mu, r) = (lanes(mean, first), lanes(inverseStd, first))
              let xRows = UnsafeRawPointer(xs.baseAddress! + block * pixels * 16)
              let dyRows = UnsafeRawPointer(dys.baseAddress! + block * pixels * 16)
              // dy and x̂ are read (or, behind an activation, recomputed) once per pixel for
              // both sums.
              let sums: (WideLanes, WideLanes)
              if let activation {
                let (g, b, a) = (lanes(activation.gamma, first), lanes(activation.beta, first), activation.slope)
                sums = chainSums(pixels) { p in
                  let xhat = (load(xRows, p) - mu) * r
                  let dy = leaky(g * xhat + b, load(dyRows, p), a)
                  return (WideLanes(dy), WideLanes(dy * xhat))
                }
              } else {
                sums = chainSums(pixels) { p in
                  let dy = load(dyRows, p)
                  return (WideLanes(dy), WideLanes(dy * ((load(xRows, p) - mu) * r)))
                }
              }
              store(sums.0, into: sumDy.baseAddress! + slice)
              store(sums.1, into: sumDyXhat.baseAddress! + slice)
            }
          }
        }
      }
    }
    return (sumDy, sumDyXhat)
  }

  /// dx = s (dy − mean dy − x̂ · mean(dy x̂)) per channel (training mode), or s·dy
  /// (evaluation), with s = γ r; `terms` holds s, mean dy and mean dy x̂ per channel. Behind a
  /// fused `activation`, dy is taken from `dY` = dz as in `sliceSums`.
  static func inputGradient(
    dY: Tensor<Float>, x: Tensor<Float>, mean: [Float], inverseStd: [Float], scale: [Float], meanDy: [Float],
    meanDyXhat: [Float], isTraining: Bool, activation: Activation?
  ) -> Tensor<Float> {
    let pixels = x.shape[2] * x.shape[3]
    return x.scalars.withUnsafeBufferPointer { xs in
      dY.scalars.withUnsafeBufferPointer { dys in
        Tensor(shape: x.shape, layout: .blocked16) { dxs in
          forEachBlock(x.shape) { block, _ in
            let first = block % (x.shape[1] / 16) * 16
            let (mu, r, s) = (lanes(mean, first), lanes(inverseStd, first), lanes(scale, first))
            let (mDy, mDyXhat) = (lanes(meanDy, first), lanes(meanDyXhat, first))
            let xRows = UnsafeRawPointer(xs.baseAddress! + block * pixels * 16)
            let dyRows = UnsafeRawPointer(dys.baseAddress! + block * pixels * 16)
            let out = UnsafeMutableRawPointer(dxs.baseAddress! + block * pixels * 16)
            let fused = activation != nil
            let (g, b, a): (Lanes, Lanes, Float) =
              activation.map { (lanes($0.gamma, first), lanes($0.beta, first), $0.slope) } ?? (Lanes(), Lanes(), 0)
            for p in 0..<pixels {
              let xhat = (load(xRows, p) - mu) * r
              var dy = load(dyRows, p)
              if fused { dy = leaky(g * xhat + b, dy, a) }
              let dx = isTraining ? s * (dy - mDy - xhat * mDyXhat) : s * dy
              out.storeBytes(of: dx, toByteOffset: p * 64, as: Lanes.self)
            }
          }
        }
      }
    }
  }

  /// Runs `body(block, slice)` for every block (image n, channels 16b..<16b+16, at n·C/16 + b)
  /// with `slice` = n·C + 16b, the first of its slices; blocks split over threads.
  private static func forEachBlock(_ shape: [Int], _ body: (_ block: Int, _ slice: Int) -> Void) {
    let (n, c, pixels) = (shape[0], shape[1], shape[2] * shape[3])
    precondition(c % 16 == 0, "BlockedBatchNorm: \(c) channels are not a multiple of 16")
    parallelElements(n * c / 16, grain: max(1, (1 << 15) / (pixels * 16))) { blocks in
      for block in blocks { body(block, block / (c / 16) * c + block % (c / 16) * 16) }
    }
  }

  /// Two `chainSum`s over one walk: `term(p)` gives both sums' terms for p.
  @inline(__always)
  private static func chainSums(_ count: Int, _ term: (Int) -> (WideLanes, WideLanes)) -> (WideLanes, WideLanes) {
    var (s0, s1, s2, s3) = (WideLanes(), WideLanes(), WideLanes(), WideLanes())
    var (t0, t1, t2, t3) = (WideLanes(), WideLanes(), WideLanes(), WideLanes())
    @inline(__always) func add(_ terms: (WideLanes, WideLanes), _ s: inout WideLanes, _ t: inout WideLanes) {
      s += terms.0
      t += terms.1
    }
    var p = 0
    while p + 4 <= count {
      add(term(p), &s0, &t0)
      add(term(p + 1), &s1, &t1)
      add(term(p + 2), &s2, &t2)
      add(term(p + 3), &s3, &t3)
      p += 4
    }
    while p < count {
      add(term(p), &s0, &t0)
      p += 1
    }
    return ((s0 + s1) + (s2 + s3), (t0 + t1) + (t2 + t3))
  }

  /// Σ term(p) over p in 0..<count in four chains by p mod 4 (the tail into chain 0), combined
  /// (s₀ + s₁) + (s₂ + s₃): per lane the order of `Tape.wideSum`.
  @inline(__always)
  private static func chainSum(_ count: Int, _ term: (Int) -> WideLanes) -> WideLanes {
    var (s0, s1, s2, s3) = (WideLanes(), WideLanes(), WideLanes(), WideLanes())
    var p = 0
    while p + 4 <= count {
      s0 += term(p)
      s1 += term(p + 1)
      s2 += term(p + 2)
      s3 += term(p + 3)
      p += 4
    }
    while p < count {
      s0 += term(p)
      p += 1
    }
    return (s0 + s1) + (s2 + s3)
  }

  /// Per lane: `value` where y > 0, a·value elsewhere (`Tape.leakyReLU`'s branch: the output
  /// for value = y, the input gradient for value = dz).
  @inline(__always)
  private static func leaky(_ y: Lanes, _ value: Lanes, _ a: Float) -> Lanes {
    (a * value).replacing(with: value, where: y .> 0)
  }

  @inline(__always)
  private static func load(_ rows: UnsafeRawPointer, _ p: Int) -> Lanes {
    rows.loadUnaligned(fromByteOffset: p * 64, as: Lanes.self)
  }

  @inline(__always)
  private static func lanes(_ values: [Float], _ first: Int) -> Lanes {
    Lanes((0..<16).map { values[first + $0] })
  }

  @inline(__always)
  private static func store(_ lanes: WideLanes, into slices: UnsafeMutablePointer<Double>) {
    for lane in 0..<16 { slices[lane] = lanes[lane] }
  }
}

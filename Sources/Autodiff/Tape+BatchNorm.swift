import TensorCore

/// Which statistics BatchNorm normalises with.
public enum BatchNormStatistics<Scalar: TensorScalar> {
  /// Training mode: the mean and (biased) variance of the batch itself, per channel. They are
  /// part of the function being differentiated.
  case batch
  /// Evaluation mode: fixed running statistics, constants of the function.
  case running(mean: Tensor<Scalar>, variance: Tensor<Scalar>)
}

extension Tape {
  /// Batch normalisation over an NCHW tensor, per channel c, over the M = N·H·W values x_i:
  ///
  ///     μ = (1/M) Σ x_i,   σ² = (1/M) Σ (x_i − μ)²,   s = √(σ² + ε)
  ///     x̂_i = (x_i − μ) / s,   y_i = γ x̂_i + β
  ///
  /// Pullback (training mode, μ and σ² depend on x): with Σ over the channel's M values,
  ///
  ///     dβ = Σ dy_i,   dγ = Σ dy_i x̂_i,
  ///     dx_i = (γ / s) · (dy_i − dβ/M − x̂_i · dγ/M)
  ///
  /// (from dx̂ = γ dy, ds/dx_i = x̂_i/M and dμ/dx_i = 1/M: the two subtracted terms are the
  /// gradient through the mean and through the variance.) In evaluation mode μ and s are
  /// constants and dx_i = (γ / s) dy_i.
  ///
  /// Synchronised BatchNorm: when a `BatchShard` with a collective is bound (a data-parallel run, each
  /// rank holding a shard of the batch), M counts every rank's values and the channel sums
  /// (of μ and of the squared deviations in the forward, of dy and dy x̂ in the pullback) are
  /// summed over the ranks, so each rank normalises with the global batch's statistics and
  /// back-propagates through them exactly. On derivative-carrying scalars (`Dual`, `Jet`) the
  /// same sums carry the tangents and jet coefficients. The parameter gradients dγ, dβ stay
  /// this rank's share (the caller sums the gradient over ranks once).
  ///
  /// With a `leakyReLUSlope` a, the leaky ReLU that reads the output runs in the same pass
  /// (z_i = y_i for y_i > 0, a·y_i otherwise; ReLU is a = 0): y is never stored, and the
  /// pullback recomputes it from x to take dy_i = dz_i or a·dz_i, then goes on as above. Every
  /// operation is the one the two primitives do apart, so the fused chain gives the same bits.
  ///
  /// - Returns: the output and, in training mode, the batch mean and biased variance per channel
  ///   (the caller folds them into its running averages) and the values M per channel they are
  ///   over (every rank's, when synchronised).
  public func batchNorm(
    _ input: Variable, scale gamma: Variable, shift beta: Variable,
    statistics: BatchNormStatistics<Scalar>, epsilon: Double = 1e-5, leakyReLUSlope: Double? = nil
  ) -> (output: Variable, mean: Tensor<Scalar>?, variance: Tensor<Scalar>?, count: Int) {
    var x = storedValue(input)
    precondition(x.rank == 4, "batchNorm: expects [N, C, H, W], got \(x.shape)")
    // Dual numbers and jets come blocked from a convolution too; their BatchNorm runs on the
    // NCHW loops (one reorder here and one of the input gradient: per-channel sums walked 16
    // lanes apart cost twice as much, measured on ResNet-20's and VGG38's H·v).
    if Scalar.self != Float.self { x = x.inLayout(.nchw) }
    let blocked = x.layout == .blocked16
    let (n, c) = (x.shape[0], x.shape[1])
    let pixels = x.shape[2] * x.shape[3]
    let collective = BatchShard.batchNormCollective
    var m = n * pixels
    let g = value(gamma)
    let b = value(beta)
    precondition(g.shape == [c] && b.shape == [c], "batchNorm: γ \(g.shape), β \(b.shape) for \(c) channels")

    var mean = [Scalar](repeating: 0, count: c)
    var variance = [Scalar](repeating: 0, count: c)
    let isTraining: Bool
    switch statistics {
    case .batch:
      isTraining = true
      let moments = Self.batchMoments(x, channels: c, over: collective)
      (mean, variance, m) = (moments.mean, moments.variance, moments.count * pixels)
    case .running(let runningMean, let runningVariance):
      isTraining = false
      mean = runningMean.scalars
      variance = runningVariance.scalars
    }
    let eps = Scalar(epsilon)
    let inverseStd = variance.map { 1 / Scalar.sqrt($0 + eps) }
    let (gs, bs) = (g.scalars, b.scalars)
    let slope = leakyReLUSlope.map { Scalar($0) }

    // y = γ (x − μ) r + β (then the leaky ReLU, if fused), one slice (an image's channel) at a
    // time, slices split over threads (a convolution's blocked output: `BlockedBatchNorm`, the
    // same arithmetic). x̂ and y are not stored: the pullback recomputes them from x, which the
    // tape keeps anyway.
    let y =
      blocked
      ? Self.fromFloat(
        BlockedBatchNorm.normalize(
          Self.toFloat(x), mean: Self.toFloat(mean), inverseStd: Self.toFloat(inverseStd), gamma: Self.toFloat(gs),
          beta: Self.toFloat(bs), leakyReLUSlope: leakyReLUSlope.map { Float($0) }))
      : x.scalars.withUnsafeBufferPointer { xs in
        Tensor<Scalar>(shape: x.shape) { ys in
          parallelChunks(n * c) { slices, _ in
            for slice in slices {
              let ch = slice % c
              let base = slice * pixels
              let (mu, r, gc, bc) = (mean[ch], inverseStd[ch], gs[ch], bs[ch])
              if let a = slope {
                for i in base..<base + pixels {
                  let v = gc * ((xs[i] - mu) * r) + bc
                  ys[i] = v > 0 ? v : a * v
                }
              } else {
                for i in base..<base + pixels { ys[i] = gc * ((xs[i] - mu) * r) + bc }
              }
            }
          }
        }
      }

    let output = record(y, inputs: [input, gamma, beta], layoutAware: true) { dZ, tape in
      // Through a fused leaky ReLU: dy = dz where y > 0, a·dz elsewhere, y recomputed from x
      // (the blocked kernels do it on the fly in each of their passes).
      let dY =
        blocked || slope == nil
        ? dZ
        : Self.leakyReLUGradientBehindBatchNorm(
          dZ, x: x, mean: mean, inverseStd: inverseStd, gamma: gs, beta: bs, slope: slope!)
      let activation =
        blocked ? leakyReLUSlope.map { (gamma: Self.toFloat(gs), beta: Self.toFloat(bs), slope: Float($0)) } : nil
      // dβ = Σ dy and dγ = Σ dy x̂ are sums over N·H·W terms that largely cancel: each slice's
      // partial sums are accumulated wide (four independent chains) and added in image order,
      // so the result does not depend on the thread count.
      typealias Wide = Scalar.Accumulator
      var sliceSums = [(dy: Wide, dyXhat: Wide)](repeating: (0, 0), count: n * c)
      if blocked {
        let sums = BlockedBatchNorm.sliceSums(
          dY: Self.toFloat(dY), x: Self.toFloat(x), mean: Self.toFloat(mean), inverseStd: Self.toFloat(inverseStd),
          activation: activation)
        for slice in 0..<n * c { sliceSums[slice] = (Self.wide(sums.dy[slice]), Self.wide(sums.dyXhat[slice])) }
      } else {
        dY.scalars.withUnsafeBufferPointer { dys in
          x.scalars.withUnsafeBufferPointer { xs in
            sliceSums.withUnsafeMutableBufferPointer { sums in
              parallelChunks(n * c) { slices, _ in
                for slice in slices {
                  let ch = slice % c
                  let (mu, r) = (mean[ch], inverseStd[ch])
                  let base = slice * pixels
                  sums[slice] = (
                    Self.wideSum(pixels) { dys[base + $0] },
                    Self.wideSum(pixels) { dys[base + $0] * ((xs[base + $0] - mu) * r) }
                  )
                }
              }
            }
          }
        }
      }
      var wideBeta = [Wide](repeating: 0, count: c)
      var wideGamma = [Wide](repeating: 0, count: c)
      for slice in 0..<n * c {
        wideBeta[slice % c] += sliceSums[slice].dy
        wideGamma[slice % c] += sliceSums[slice].dyXhat
      }
      let dGamma = wideGamma.map { Scalar(accumulator: $0) }
      let dBeta = wideBeta.map { Scalar(accumulator: $0) }
      // The input gradient needs the sums over the global batch (synchronised BatchNorm).
      var (globalGamma, globalBeta) = (dGamma, dBeta)
      if isTraining, let collective {
        var sums = wideGamma + wideBeta
        collective.sum(components: &sums)
        globalGamma = sums[..<c].map { Scalar(accumulator: $0) }
        globalBeta = sums[c...].map { Scalar(accumulator: $0) }
      }
      if tape.requiresGradient(input) {
        let inverseM = 1 / Scalar(m)
        let dX =
          blocked
          ? Self.fromFloat(
            BlockedBatchNorm.inputGradient(
              dY: Self.toFloat(dY), x: Self.toFloat(x), mean: Self.toFloat(mean),
              inverseStd: Self.toFloat(inverseStd), scale: Self.toFloat((0..<c).map { gs[$0] * inverseStd[$0] }),
              meanDy: Self.toFloat(globalBeta.map { $0 * inverseM }),
              meanDyXhat: Self.toFloat(globalGamma.map { $0 * inverseM }),
              isTraining: isTraining, activation: activation))
          : dY.scalars.withUnsafeBufferPointer { dys in
            x.scalars.withUnsafeBufferPointer { xs in
              Tensor<Scalar>(shape: x.shape) { dxs in
                parallelChunks(n * c) { slices, _ in
                  for slice in slices {
                    let ch = slice % c
                    let base = slice * pixels
                    let scale = gs[ch] * inverseStd[ch]
                    if isTraining {
                      let (mu, r) = (mean[ch], inverseStd[ch])
                      let meanDy = globalBeta[ch] * inverseM
                      let meanDyXhat = globalGamma[ch] * inverseM
                      for i in base..<base + pixels {
                        dxs[i] = scale * (dys[i] - meanDy - ((xs[i] - mu) * r) * meanDyXhat)
                      }
                    } else {
                      for i in base..<base + pixels { dxs[i] = scale * dys[i] }
                    }
                  }
                }
              }
            }
          }
        tape.accumulate(dX, into: input)
      }
      tape.accumulate(Tensor(shape: [c], scalars: dGamma), into: gamma)
      tape.accumulate(Tensor(shape: [c], scalars: dBeta), into: beta)
    }
    guard isTraining else { return (output, nil, nil, m) }
    return (output, Tensor(shape: [c], scalars: mean), Tensor(shape: [c], scalars: variance), m)
  }
}

extension Tape {
  /// dy = dz where y > 0 and a·dz elsewhere, y = γ (x − μ) r + β recomputed per NCHW slice
  /// with BatchNorm's own arithmetic: the gradient through a leaky ReLU fused behind it.
  static func leakyReLUGradientBehindBatchNorm(
    _ dZ: Tensor<Scalar>, x: Tensor<Scalar>, mean: [Scalar], inverseStd: [Scalar], gamma: [Scalar], beta: [Scalar],
    slope a: Scalar
  ) -> Tensor<Scalar> {
    let (c, pixels) = (x.shape[1], x.shape[2] * x.shape[3])
    return dZ.scalars.withUnsafeBufferPointer { dzs in
      x.scalars.withUnsafeBufferPointer { xs in
        Tensor<Scalar>(shape: x.shape) { dys in
          parallelChunks(x.shape[0] * c) { slices, _ in
            for slice in slices {
              let ch = slice % c
              let (mu, r, gc, bc) = (mean[ch], inverseStd[ch], gamma[ch], beta[ch])
              for i in slice * pixels..<(slice + 1) * pixels {
                dys[i] = gc * ((xs[i] - mu) * r) + bc > 0 ? dzs[i] : a * dzs[i]
              }
            }
          }
        }
      }
    }
  }

  /// The per-channel mean and biased variance of an NCHW batch, accumulated wide.
  ///
  /// Each slice (one image's channel, H·W values, in cache) gets its mean μ_s and squared
  /// deviation sum M2_s by two passes over it; the P-value slices of a channel then combine
  /// exactly: μ = (1/N) Σ μ_s and M2 = Σ M2_s + P Σ (μ_s − μ)², so σ² = M2 / (N·P). This is the
  /// two-pass algorithm's accuracy with one pass over memory, and the slices are split over
  /// threads while the combination runs in image order (the result does not depend on the
  /// thread count).
  ///
  /// Over a `collective` (each rank holding a shard of the batch) the same two sums are taken
  /// over every rank's slices: Σ μ_s and the image count first, then, around the global μ,
  /// Σ M2_s + P Σ (μ_s − μ)²: two sums over the ranks of C + 1 and C values.
  /// - Returns: the statistics and the number of images they are over (every rank's).
  static func batchMoments(
    _ x: Tensor<Scalar>, channels c: Int, over collective: (any Collective)? = nil
  ) -> (mean: [Scalar], variance: [Scalar], count: Int) {
    typealias Wide = Scalar.Accumulator
    let (n, pixels) = (x.shape[0], x.count / (x.shape[0] * c))
    var slices = [(mean: Wide, squares: Wide)](repeating: (0, 0), count: n * c)
    if x.layout == .blocked16 {
      let moments = BlockedBatchNorm.sliceMoments(toFloat(x))
      for slice in 0..<n * c { slices[slice] = (wide(moments.means[slice]), wide(moments.squares[slice])) }
    } else {
      x.scalars.withUnsafeBufferPointer { xs in
        slices.withUnsafeMutableBufferPointer { moments in
          parallelChunks(n * c) { range, _ in
            for slice in range {
              let base = slice * pixels
              let mu = wideSum(pixels) { xs[base + $0] } / Wide(pixels)
              let squares = wideSum(pixels) { i -> Scalar.Accumulator in
                let d = xs[base + i].accumulator - mu
                return d * d
              }
              moments[slice] = (mu, squares)
            }
          }
        }
      }
    }
    var totals = (0..<c).map { ch in
      var total: Wide = 0
      for image in 0..<n { total += slices[image * c + ch].mean }
      return total
    }
    var count = n
    if let collective {
      totals.append(Wide(n))
      collective.sum(components: &totals)
      count = Int(Scalar(accumulator: totals.removeLast()).doubleValue.rounded())
    }
    let means = totals.map { $0 / Wide(count) }
    var deviations = (0..<c).map { ch in
      var squares: Wide = 0
      var spread: Wide = 0
      for image in 0..<n {
        let slice = slices[image * c + ch]
        squares += slice.squares
        let d = slice.mean - means[ch]
        spread += d * d
      }
      return squares + Wide(pixels) * spread
    }
    collective?.sum(components: &deviations)
    let mean = means.map { Scalar(accumulator: $0) }
    let variance = deviations.map { Scalar(accumulator: $0 / Wide(count * pixels)) }
    return (mean, variance, count)
  }

  /// Σ term(i) for i in 0..<count, accumulated wide in four independent chains (a single chain
  /// is bound by the add latency, four keep the adder busy).
  @inline(__always)
  static func wideSum(_ count: Int, _ term: (Int) -> Scalar) -> Scalar.Accumulator {
    wideSum(count) { term($0).accumulator }
  }

  @inline(__always)
  static func wideSum(_ count: Int, _ term: (Int) -> Scalar.Accumulator) -> Scalar.Accumulator {
    typealias Wide = Scalar.Accumulator
    var (s0, s1, s2, s3): (Wide, Wide, Wide, Wide) = (0, 0, 0, 0)
    var i = 0
    while i + 4 <= count {
      s0 += term(i)
      s1 += term(i + 1)
      s2 += term(i + 2)
      s3 += term(i + 3)
      i += 4
    }
    while i < count {
      s0 += term(i)
      i += 1
    }
    return (s0 + s1) + (s2 + s3)
  }

  /// A blocked tensor as the Float tensor it is (only Float activations reach BatchNorm blocked).
  static func toFloat(_ t: Tensor<Scalar>) -> Tensor<Float> {
    precondition(Scalar.self == Float.self, "batchNorm: a blocked \(Scalar.self) tensor")
    return unsafeBitCast(t, to: Tensor<Float>.self)
  }

  static func toFloat(_ values: [Scalar]) -> [Float] {
    precondition(Scalar.self == Float.self, "batchNorm: blocked \(Scalar.self) values")
    return unsafeBitCast(values, to: [Float].self)
  }

  static func fromFloat(_ t: Tensor<Float>) -> Tensor<Scalar> { unsafeBitCast(t, to: Tensor<Scalar>.self) }

  /// A Double sum of Float values as the accumulator type (Double for Float).
  static func wide(_ value: Double) -> Scalar.Accumulator { Scalar.Accumulator(value) }
}

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
  /// - Returns: the output and, in training mode, the batch mean and biased variance per channel
  ///   (the caller folds them into its running averages).
  public func batchNorm(
    _ input: Variable, scale gamma: Variable, shift beta: Variable,
    statistics: BatchNormStatistics<Scalar>, epsilon: Double = 1e-5
  ) -> (output: Variable, mean: Tensor<Scalar>?, variance: Tensor<Scalar>?) {
    let x = value(input)
    precondition(x.rank == 4, "batchNorm: expects NCHW, got \(x.shape)")
    let (n, c) = (x.shape[0], x.shape[1])
    let pixels = x.shape[2] * x.shape[3]
    let m = n * pixels
    let g = value(gamma)
    let b = value(beta)
    precondition(g.shape == [c] && b.shape == [c], "batchNorm: γ \(g.shape), β \(b.shape) for \(c) channels")

    var mean = [Scalar](repeating: 0, count: c)
    var variance = [Scalar](repeating: 0, count: c)
    let isTraining: Bool
    switch statistics {
    case .batch:
      isTraining = true
      x.scalars.withUnsafeBufferPointer { xs in
        for ch in 0..<c {
          // Two passes (mean, then squared deviations), accumulated in the wider type: a
          // channel holds N·H·W values, and deep BN networks amplify any rounding here.
          typealias Wide = Scalar.Accumulator
          var total: Wide = 0
          for image in 0..<n {
            let base = (image * c + ch) * pixels
            for i in 0..<pixels { total += xs[base + i].accumulator }
          }
          let mu = total / Wide(m)
          var squares: Wide = 0
          for image in 0..<n {
            let base = (image * c + ch) * pixels
            for i in 0..<pixels {
              let d = xs[base + i].accumulator - mu
              squares += d * d
            }
          }
          mean[ch] = Scalar(accumulator: mu)
          variance[ch] = Scalar(accumulator: squares / Wide(m))
        }
      }
    case .running(let runningMean, let runningVariance):
      isTraining = false
      mean = runningMean.scalars
      variance = runningVariance.scalars
    }
    let eps = Scalar(epsilon)
    let inverseStd = variance.map { 1 / Scalar.sqrt($0 + eps) }

    // x̂ is kept for the pullback; y = γ x̂ + β is the output. One pass writes both, or only
    // y when nothing will be differentiated (a forward-only pass).
    let keepsNormalized = requiresGradient(input) || requiresGradient(gamma) || requiresGradient(beta)
    var normalized = Tensor<Scalar>(zeros: [0])
    let y = x.scalars.withUnsafeBufferPointer { xs in
      Tensor<Scalar>(shape: x.shape) { ys in
        let write = { (xh: UnsafeMutableBufferPointer<Scalar>?) in
          for image in 0..<n {
            for ch in 0..<c {
              let base = (image * c + ch) * pixels
              let (mu, r, gc, bc) = (mean[ch], inverseStd[ch], g.scalars[ch], b.scalars[ch])
              if let xh {
                for i in 0..<pixels {
                  let v = (xs[base + i] - mu) * r
                  xh[base + i] = v
                  ys[base + i] = gc * v + bc
                }
              } else {
                for i in 0..<pixels { ys[base + i] = gc * ((xs[base + i] - mu) * r) + bc }
              }
            }
          }
        }
        if keepsNormalized {
          normalized = Tensor<Scalar>(shape: x.shape) { write($0) }
        } else {
          write(nil)
        }
      }
    }

    let output = record(y, inputs: [input, gamma, beta]) { dY, tape in
      // dβ and dγ are sums over N·H·W terms that largely cancel: accumulate them wide.
      var wideGamma = [Scalar.Accumulator](repeating: 0, count: c)
      var wideBeta = [Scalar.Accumulator](repeating: 0, count: c)
      dY.scalars.withUnsafeBufferPointer { dys in
        normalized.scalars.withUnsafeBufferPointer { xh in
          for image in 0..<n {
            for ch in 0..<c {
              let base = (image * c + ch) * pixels
              var sumDy: Scalar.Accumulator = 0
              var sumDyXhat: Scalar.Accumulator = 0
              for i in 0..<pixels {
                let dy = dys[base + i].accumulator
                sumDy += dy
                sumDyXhat += dy * xh[base + i].accumulator
              }
              wideBeta[ch] += sumDy
              wideGamma[ch] += sumDyXhat
            }
          }
        }
      }
      let dGamma = wideGamma.map { Scalar(accumulator: $0) }
      let dBeta = wideBeta.map { Scalar(accumulator: $0) }
      if tape.requiresGradient(input) {
        let inverseM = 1 / Scalar(m)
        let dX = dY.scalars.withUnsafeBufferPointer { dys in
          normalized.scalars.withUnsafeBufferPointer { xh in
            Tensor<Scalar>(shape: x.shape) { dxs in
              for image in 0..<n {
                for ch in 0..<c {
                  let base = (image * c + ch) * pixels
                  let scale = g.scalars[ch] * inverseStd[ch]
                  if isTraining {
                    let meanDy = dBeta[ch] * inverseM
                    let meanDyXhat = dGamma[ch] * inverseM
                    for i in 0..<pixels {
                      dxs[base + i] = scale * (dys[base + i] - meanDy - xh[base + i] * meanDyXhat)
                    }
                  } else {
                    for i in 0..<pixels { dxs[base + i] = scale * dys[base + i] }
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
    guard isTraining else { return (output, nil, nil) }
    return (output, Tensor(shape: [c], scalars: mean), Tensor(shape: [c], scalars: variance))
  }
}

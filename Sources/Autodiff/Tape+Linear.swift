import TensorCore

extension Tape {
  /// A fully connected layer: `input` [N, in], `weight` [out, in] (PyTorch's layout), `bias` [out].
  ///
  /// Forward Y = X·Wᵀ + b; pullback dX = dY·W, dW = dYᵀ·X, db = Σ_n dY.
  public func linear(_ input: Variable, weight: Variable, bias: Variable?) -> Variable {
    let x = value(input)
    let w = value(weight)
    precondition(
      x.rank == 2 && w.rank == 2 && x.shape[1] == w.shape[1],
      "linear: input \(x.shape) does not match weight \(w.shape)")
    let (n, inFeatures, outFeatures) = (x.shape[0], x.shape[1], w.shape[0])
    var y = Tensor<Scalar>(zeros: [n, outFeatures])
    x.scalars.withUnsafeBufferPointer { xs in
      w.scalars.withUnsafeBufferPointer { ws in
        y.scalars.withUnsafeMutableBufferPointer { ys in
          Scalar.gemm(
            transposeA: false, transposeB: true, m: n, n: outFeatures, k: inFeatures,
            alpha: 1, a: xs.baseAddress!, lda: inFeatures, b: ws.baseAddress!, ldb: inFeatures,
            beta: 0, c: ys.baseAddress!, ldc: outFeatures)
        }
      }
    }
    if let bias {
      let b = value(bias)
      precondition(b.shape == [outFeatures], "linear: bias \(b.shape) for \(outFeatures) outputs")
      for row in 0..<n {
        for j in 0..<outFeatures { y.scalars[row * outFeatures + j] += b.scalars[j] }
      }
    }
    let inputs = [input, weight] + (bias.map { [$0] } ?? [])
    return record(y, inputs: inputs) { dY, tape in
      dY.scalars.withUnsafeBufferPointer { dys in
        if tape.requiresGradient(input) {
          var dX = Tensor<Scalar>(zeros: [n, inFeatures])
          w.scalars.withUnsafeBufferPointer { ws in
            dX.scalars.withUnsafeMutableBufferPointer { dxs in
              Scalar.gemm(
                transposeA: false, transposeB: false, m: n, n: inFeatures, k: outFeatures,
                alpha: 1, a: dys.baseAddress!, lda: outFeatures, b: ws.baseAddress!, ldb: inFeatures,
                beta: 0, c: dxs.baseAddress!, ldc: inFeatures)
            }
          }
          tape.accumulate(dX, into: input)
        }
        var dW = Tensor<Scalar>(zeros: [outFeatures, inFeatures])
        x.scalars.withUnsafeBufferPointer { xs in
          dW.scalars.withUnsafeMutableBufferPointer { dws in
            Scalar.gemm(
              transposeA: true, transposeB: false, m: outFeatures, n: inFeatures, k: n,
              alpha: 1, a: dys.baseAddress!, lda: outFeatures, b: xs.baseAddress!, ldb: inFeatures,
              beta: 0, c: dws.baseAddress!, ldc: inFeatures)
          }
        }
        tape.accumulate(dW, into: weight)
      }
      if let bias {
        var dB = Tensor<Scalar>(zeros: [outFeatures])
        for row in 0..<n {
          for j in 0..<outFeatures { dB.scalars[j] += dY.scalars[row * outFeatures + j] }
        }
        tape.accumulate(dB, into: bias)
      }
    }
  }
}

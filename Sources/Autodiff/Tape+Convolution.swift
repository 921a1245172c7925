import TensorCore

extension Tape {
  /// 2-D convolution of `input` [N, C, H, W] with `filter` [O, C, k, k] and an optional `bias` [O].
  ///
  /// Forward Y = W ⋆ X + b; pullback dX = Wᵀ ⋆ dY (col2im), dW = Σ dY·Xᵀ, db = Σ dY
  /// (the kernels and their derivation are in `Convolution`).
  public func conv2d(
    _ input: Variable, filter: Variable, bias: Variable? = nil, stride: Int = 1, padding: Int = 0
  ) -> Variable {
    let x = value(input)
    let w = value(filter)
    precondition(
      x.rank == 4 && w.rank == 4 && x.shape[1] == w.shape[1],
      "conv2d: input \(x.shape) does not match filter \(w.shape)")
    precondition(w.shape[2] == w.shape[3], "conv2d: square kernels only, got \(w.shape)")
    let geometry = ConvolutionGeometry(
      batch: x.shape[0], inputChannels: x.shape[1], height: x.shape[2], width: x.shape[3],
      outputChannels: w.shape[0], kernelSize: w.shape[2], stride: stride, padding: padding)
    let y = Convolution.forward(x, filter: w, bias: bias.map(value), geometry: geometry)
    let inputs = [input, filter] + (bias.map { [$0] } ?? [])
    return record(y, inputs: inputs) { dY, tape in
      let grads = Convolution.backward(
        outputGradient: dY, input: x, filter: w, geometry: geometry,
        needInput: tape.requiresGradient(input), hasBias: bias != nil)
      if let dX = grads.input { tape.accumulate(dX, into: input) }
      tape.accumulate(grads.filter, into: filter)
      if let bias, let dB = grads.bias { tape.accumulate(dB, into: bias) }
    }
  }
}

import TensorCore

extension Tape {
  /// 2-D convolution of `input` [N, C, H, W] with `filter` [O, C, k, k] and an optional `bias` [O].
  ///
  /// Forward Y = W ⋆ X + b; pullback dX = Wᵀ ⋆ dY (col2im), dW = Σ dY·Xᵀ, db = Σ dY
  /// (the kernels and their derivation are in `Convolution`). On oneDNN the input may come
  /// blocked and the output stays blocked (`TensorLayout`); for dual numbers and jets only when
  /// `blockedSeriesOutput` (false where BatchNorm reads the output next: theirs runs in NCHW,
  /// and oneDNN's reorder of the planes is cheaper than reordering the series tensor).
  public func conv2d(
    _ input: Variable, filter: Variable, bias: Variable? = nil, stride: Int = 1, padding: Int = 0,
    blockedSeriesOutput: Bool = true
  ) -> Variable {
    let x = storedValue(input, keepingPlanes: true)
    let w = value(filter)
    precondition(
      x.rank == 4 && w.rank == 4 && x.shape[1] == w.shape[1],
      "conv2d: input \(x.shape) does not match filter \(w.shape)")
    precondition(w.shape[2] == w.shape[3], "conv2d: square kernels only, got \(w.shape)")
    let geometry = ConvolutionGeometry(
      batch: x.shape[0], inputChannels: x.shape[1], height: x.shape[2], width: x.shape[3],
      outputChannels: w.shape[0], kernelSize: w.shape[2], stride: stride, padding: padding)
    let y = KernelProfile.measure(geometry.profileKind("forward")) {
      Self.convolutionForward(
        x, filter: w, bias: bias.map(value), geometry: geometry, blockedSeriesOutput: blockedSeriesOutput)
    }
    let inputs = [input, filter] + (bias.map { [$0] } ?? [])
    return record(y, inputs: inputs, layoutAware: true) { dY, tape in
      let needInput = tape.requiresGradient(input)
      let grads = KernelProfile.measure(geometry.profileKind("backward")) {
        Self.convolutionBackward(
          outputGradient: dY, input: x, filter: w, geometry: geometry, needInput: needInput, hasBias: bias != nil)
      }
      if let dX = grads.input { tape.accumulate(dX, into: input) }
      tape.accumulate(grads.filter, into: filter)
      if let bias, let dB = grads.bias { tape.accumulate(dB, into: bias) }
    }
  }

  /// The forward convolution on the fastest path for the scalar: oneDNN for Float, oneDNN
  /// plane by plane for the dual numbers and jets of Float (`SeriesConvolution`), their output
  /// left in oneDNN's blocked layout when `keepsBlockedLayout` (a dual one as coefficient
  /// planes: `DualPlanes+Convolution`); im2col + GEMM for the rest (Double, the oracle), which
  /// is never blocked.
  static func convolutionForward(
    _ x: Tensor<Scalar>, filter w: Tensor<Scalar>, bias: Tensor<Scalar>?, geometry g: ConvolutionGeometry,
    blockedSeriesOutput: Bool
  ) -> Tensor<Scalar> {
    if OneDNNConvolution.isEnabled {
      let preferred: TensorLayout = OneDNNConvolution.keepsBlockedLayout ? .blocked16 : .nchw
      let seriesPreferred: TensorLayout = blockedSeriesOutput ? preferred : .nchw
      if Scalar.self == Float.self,
        let y = OneDNNConvolution.forward(
          cast(x, to: Float.self), filter: cast(w, to: Float.self), bias: bias.map { cast($0, to: Float.self) },
          geometry: g, preferring: preferred)
      {
        return cast(y, to: Scalar.self)
      }
      if Scalar.self == Dual<Float>.self {
        let (x, w, b) = (
          cast(x, to: Dual<Float>.self), cast(w, to: Dual<Float>.self), bias.map { cast($0, to: Dual<Float>.self) }
        )
        if seriesPreferred == .blocked16 && DualPlanes.keepsPlanes(g) {
          return cast(DualPlanes.convolution(x, filter: w, bias: b, geometry: g), to: Scalar.self)
        }
        let interleaved = x.layout == .blockedPlanes ? DualPlanes.interleaved(x) : x
        if let y = SeriesConvolution.forward(interleaved, filter: w, bias: b, geometry: g, preferring: seriesPreferred)
        {
          return cast(y, to: Scalar.self)
        }
      }
      if Scalar.self == Jet<Float>.self,
        let y = SeriesConvolution.forward(
          cast(x, to: Jet<Float>.self), filter: cast(w, to: Jet<Float>.self),
          bias: bias.map { cast($0, to: Jet<Float>.self) }, geometry: g, preferring: seriesPreferred)
      {
        return cast(y, to: Scalar.self)
      }
    }
    return Convolution.forward(converted(x, to: .nchw), filter: w, bias: bias, geometry: g)
  }

  /// The convolution's gradients, on the same paths as `convolutionForward`.
  static func convolutionBackward(
    outputGradient dY: Tensor<Scalar>, input x: Tensor<Scalar>, filter w: Tensor<Scalar>,
    geometry g: ConvolutionGeometry,
    needInput: Bool, hasBias: Bool
  ) -> (input: Tensor<Scalar>?, filter: Tensor<Scalar>, bias: Tensor<Scalar>?) {
    func onSeries<S: TruncatedSeries>(_: S.Type) -> (
      input: Tensor<Scalar>?, filter: Tensor<Scalar>, bias: Tensor<Scalar>?
    )?
    where S.Base == Float {
      guard
        let (dX, dW, dB) = SeriesConvolution.backward(
          outputGradient: cast(dY, to: S.self), input: cast(x, to: S.self), filter: cast(w, to: S.self), geometry: g,
          needInput: needInput, hasBias: hasBias)
      else { return nil }
      return (dX.map { cast($0, to: Scalar.self) }, cast(dW, to: Scalar.self), dB.map { cast($0, to: Scalar.self) })
    }
    let planar = dY.layout == .blockedPlanes || x.layout == .blockedPlanes
    if OneDNNConvolution.isEnabled && planar && Scalar.self == Dual<Float>.self && OneDNNConvolution.accepts(g) {
      let grads = DualPlanes.convolutionBackward(
        outputGradient: cast(dY, to: Dual<Float>.self), input: cast(x, to: Dual<Float>.self),
        filter: cast(w, to: Dual<Float>.self), geometry: g, needInput: needInput, hasBias: hasBias)
      return (
        grads.input.map { cast($0, to: Scalar.self) }, cast(grads.filter, to: Scalar.self),
        grads.bias.map { cast($0, to: Scalar.self) }
      )
    }
    if planar {
      // oneDNN refused this geometry: the planes interleaved for the paths below.
      let interleaved = { (t: Tensor<Scalar>) in t.layout == .blockedPlanes ? converted(t, to: .blocked16) : t }
      return convolutionBackward(
        outputGradient: interleaved(dY), input: interleaved(x), filter: w, geometry: g, needInput: needInput,
        hasBias: hasBias)
    }
    if OneDNNConvolution.isEnabled {
      // dY comes in the output's layout; dX goes out in the input's.
      if Scalar.self == Float.self,
        let grads = OneDNNConvolution.backward(
          outputGradient: cast(dY, to: Float.self), input: cast(x, to: Float.self), filter: cast(w, to: Float.self),
          geometry: g, needInput: needInput, hasBias: hasBias)
      {
        return (
          grads.input.map { cast($0, to: Scalar.self) }, cast(grads.filter, to: Scalar.self),
          grads.bias.map { cast($0, to: Scalar.self) }
        )
      }
      if Scalar.self == Dual<Float>.self, let grads = onSeries(Dual<Float>.self) { return grads }
      if Scalar.self == Jet<Float>.self, let grads = onSeries(Jet<Float>.self) { return grads }
    }
    return Convolution.backward(
      outputGradient: converted(dY, to: .nchw), input: converted(x, to: .nchw), filter: w, geometry: g,
      needInput: needInput,
      hasBias: hasBias)
  }
}

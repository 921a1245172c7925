import TensorCore
import Testing

/// oneDNN's float32 convolutions against the exact result (the im2col engine in Double on the
/// same float32 values), within the worst-case bound of a float32 sum of K products in any
/// order: |ŷ − y| ≤ γ_K · Σ|wᵢ xᵢ|, γ_K = K·u / (1 − K·u), u = 2⁻²⁴ (Higham, Accuracy and
/// Stability of Numerical Algorithms, §3.1). K is each output's number of products: C·k² for
/// the forward pass, O·k² for the input gradient, N·Ho·Wo for the filter gradient. The bound
/// follows from the computation, not from one machine's rounding, so it holds for any kernel.
@Suite("oneDNN convolutions against exact arithmetic")
struct OneDNNConvolutionTests {
  struct Shape: Sendable, CustomTestStringConvertible {
    var geometry: ConvolutionGeometry
    var bias: Bool
    var testDescription: String {
      let g = geometry
      return
        "[\(g.batch), \(g.inputChannels), \(g.height), \(g.width)] ⋆ \(g.kernelSize)×\(g.kernelSize) → \(g.outputChannels), stride \(g.stride), padding \(g.padding)\(bias ? ", bias" : "")"
    }
  }

  static let shapes = [
    Shape(
      geometry: ConvolutionGeometry(
        batch: 4, inputChannels: 32, height: 16, width: 16, outputChannels: 32, kernelSize: 3, stride: 1, padding: 1),
      bias: false),
    Shape(
      geometry: ConvolutionGeometry(
        batch: 3, inputChannels: 1, height: 12, width: 12, outputChannels: 16, kernelSize: 3, stride: 1, padding: 1),
      bias: true),
    Shape(
      geometry: ConvolutionGeometry(
        batch: 2, inputChannels: 24, height: 8, width: 8, outputChannels: 48, kernelSize: 1, stride: 1, padding: 0),
      bias: false),
    Shape(
      geometry: ConvolutionGeometry(
        batch: 2, inputChannels: 16, height: 9, width: 9, outputChannels: 32, kernelSize: 3, stride: 2, padding: 1),
      bias: true),
    Shape(
      geometry: ConvolutionGeometry(
        batch: 2, inputChannels: 20, height: 8, width: 8, outputChannels: 20, kernelSize: 1, stride: 2, padding: 0),
      bias: false),
  ]

  /// Each element of `ours` within γ_K · `magnitude` of `exact`.
  static func expectWithin(
    _ ours: Tensor<Float>, _ exact: Tensor<Double>, magnitude: Tensor<Double>, products: Int, _ what: String
  ) {
    let u = 0x1p-24
    let gamma = Double(products) * u / (1 - Double(products) * u)
    var worst = 0.0
    for i in 0..<exact.count {
      let error = abs(Double(ours.scalars[i]) - exact.scalars[i])
      let bound = gamma * magnitude.scalars[i]
      if bound > 0 { worst = max(worst, error / bound) } else if error > 0 { worst = .infinity }
    }
    #expect(worst <= 1, "\(what): worst error is \(worst) of the γ_\(products) bound")
  }

  @Test(arguments: shapes)
  func matchesExactArithmetic(_ shape: Shape) throws {
    let g = shape.geometry
    // Float values, held exactly in Double too.
    let x = ConvolutionTests.random(g.inputShape, seed: 1).converted(to: Float.self)
    let w = ConvolutionTests.random(g.filterShape, seed: 2).converted(to: Float.self)
    let b = shape.bias ? ConvolutionTests.random([g.outputChannels], seed: 3).converted(to: Float.self) : nil
    let dY = ConvolutionTests.random(g.outputShape, seed: 4).converted(to: Float.self)
    let (xD, wD, bD, dYD) = (
      x.converted(to: Double.self), w.converted(to: Double.self), b?.converted(to: Double.self),
      dY.converted(to: Double.self)
    )
    func absolute(_ t: Tensor<Double>) -> Tensor<Double> { t.mapped { abs($0) } }

    let y = try #require(OneDNNConvolution.forward(x, filter: w, bias: b, geometry: g))
    let exactY = Convolution.forward(xD, filter: wD, bias: bD, geometry: g)
    let magnitudeY = Convolution.forward(absolute(xD), filter: absolute(wD), bias: bD.map(absolute), geometry: g)
    Self.expectWithin(y, exactY, magnitude: magnitudeY, products: g.patchSize + 1, "forward")

    let grads = try #require(
      OneDNNConvolution.backward(
        outputGradient: dY, input: x, filter: w, geometry: g, needInput: true, hasBias: shape.bias))
    let exact = Convolution.backward(
      outputGradient: dYD, input: xD, filter: wD, geometry: g, needInput: true, hasBias: shape.bias)
    let magnitude = Convolution.backward(
      outputGradient: absolute(dYD), input: absolute(xD), filter: absolute(wD), geometry: g, needInput: true,
      hasBias: shape.bias)
    Self.expectWithin(
      grads.input!, exact.input!, magnitude: magnitude.input!,
      products: g.outputChannels * g.kernelSize * g.kernelSize, "input gradient")
    Self.expectWithin(
      grads.filter, exact.filter, magnitude: magnitude.filter, products: g.batch * g.outputPixels, "filter gradient")
    if shape.bias {
      Self.expectWithin(
        grads.bias!, exact.bias!, magnitude: magnitude.bias!, products: g.batch * g.outputPixels, "bias")
    }
  }
}

import Autodiff
import TensorCore
import Testing

/// Convolutions of dual numbers and jets of Float (H·v and Taylor mode, on oneDNN plane by
/// plane) against the same convolutions on series of Double (im2col, exact for these Float
/// inputs up to Double rounding), through the tape: the output and, from a loss Σ y·R, the
/// input, filter and bias gradients, every coefficient.
///
/// Bound: each coefficient is a sum of n products of Float values, whatever the order in which
/// oneDNN and the plane sums add them, so |ours − exact| ≤ γ_n · (the same sum of |products|)
/// with γ_n = n·u / (1 − n·u), u = 2⁻²⁴ (Higham §3.1). For coefficient k, n ≤ (k+1)·K + 1 with
/// K the products of one real convolution (C·k² forward, O·k² input gradient, N·Ho·Wo filter
/// gradient); the magnitudes are the same series convolutions of coefficient-wise |·|.
@Suite("Dual and jet convolutions on oneDNN against exact arithmetic")
struct SeriesConvolutionTests {
  static let geometries = [
    ConvolutionGeometry(
      batch: 3, inputChannels: 16, height: 10, width: 10, outputChannels: 32, kernelSize: 3, stride: 1, padding: 1),
    ConvolutionGeometry(
      batch: 2, inputChannels: 16, height: 8, width: 8, outputChannels: 32, kernelSize: 1, stride: 2, padding: 0),
    ConvolutionGeometry(
      batch: 2, inputChannels: 3, height: 9, width: 9, outputChannels: 16, kernelSize: 3, stride: 2, padding: 1),
    // Large enough for the planes to be split and interleaved on two threads, with an input
    // (67,950 numbers) whose halves are not whole 16-number vectors: `DualPlanes`' tails.
    ConvolutionGeometry(
      batch: 1, inputChannels: 3, height: 150, width: 151, outputChannels: 16, kernelSize: 3, stride: 1, padding: 1),
  ]

  @Test(arguments: geometries) func dual(_ g: ConvolutionGeometry) throws {
    try Self.check(Dual<Float>.self, against: Dual<Double>.self, g)
  }

  @Test(arguments: geometries) func jet(_ g: ConvolutionGeometry) throws {
    try Self.check(Jet<Float>.self, against: Jet<Double>.self, g)
  }

  /// The input's tangent plane zero (the images of an H·v): the skipped terms change nothing.
  @Test func zeroPlanesAreSkippedExactly() throws {
    try Self.check(Dual<Float>.self, against: Dual<Double>.self, Self.geometries[0], inputOrder: 0)
  }

  /// Coefficient planes of random Float values (coefficients above `highest` zero).
  static func planes(_ shape: [Int], seed: UInt64, order: Int, highest: Int? = nil) -> [Tensor<Double>] {
    (0...order).map { i in
      i > (highest ?? order)
        ? Tensor(zeros: shape)
        : randomTensor(shape, seed: seed * 10 + UInt64(i)).converted(to: Float.self).converted(to: Double.self)
    }
  }

  static func tensor<S: TruncatedSeries>(_ planes: [Tensor<Double>], as _: S.Type, absolute: Bool = false) -> Tensor<S>
  {
    Tensor(
      shape: planes[0].shape,
      scalars: (0..<planes[0].count).map { e in
        S(coefficients: { i in S.Base(absolute ? abs(planes[i].scalars[e]) : planes[i].scalars[e]) })
      })
  }

  /// y = conv(X, W) + b and the gradients of Σ y·R on a tape of `S`.
  static func run<S: TruncatedSeries>(
    _: S.Type, _ g: ConvolutionGeometry, x: [Tensor<Double>], w: [Tensor<Double>], b: [Tensor<Double>],
    r: [Tensor<Double>], absolute: Bool = false
  ) -> [[Tensor<Double>]] {
    let tape = Tape<S>()
    let input = tape.parameter(tensor(x, as: S.self, absolute: absolute))
    let filter = tape.parameter(tensor(w, as: S.self, absolute: absolute))
    let bias = tape.parameter(tensor(b, as: S.self, absolute: absolute))
    let y = tape.conv2d(input, filter: filter, bias: bias, stride: g.stride, padding: g.padding)
    let weights = tape.input(tensor(r, as: S.self, absolute: absolute))
    tape.backward(from: tape.sum(tape.multiply(y, weights)))
    return [tape.value(y), tape.gradient(input)!, tape.gradient(filter)!, tape.gradient(bias)!].map { t in
      (0...S.order).map { i in Tensor(shape: t.shape, scalars: t.scalars.map { $0.coefficient(i).doubleValue }) }
    }
  }

  static func check<F: TruncatedSeries, D: TruncatedSeries>(
    _: F.Type, against _: D.Type, _ g: ConvolutionGeometry, inputOrder: Int? = nil
  ) throws where F.Base == Float, D.Base == Double {
    let order = F.order
    let x = planes(g.inputShape, seed: 1, order: order, highest: inputOrder)
    let w = planes(g.filterShape, seed: 2, order: order)
    let b = planes([g.outputChannels], seed: 3, order: order)
    let r = planes(g.outputShape, seed: 4, order: order)
    let profile = KernelProfile()
    let ours = KernelProfile.$active.withValue(profile) { run(F.self, g, x: x, w: w, b: b, r: r) }
    let exact = run(D.self, g, x: x, w: w, b: b, r: r)
    let magnitude = run(D.self, g, x: x, w: w, b: b, r: r, absolute: true)
    // Real FLOPs are declared only by real-valued kernels: the series ran on oneDNN.
    #expect(profile.entries.values.contains { $0.flops > 0 }, "the \(F.self) convolution did not reach oneDNN")

    let u = 0x1p-24
    let products = [
      g.patchSize, g.outputChannels * g.kernelSize * g.kernelSize, g.batch * g.outputPixels, g.batch * g.outputPixels,
    ]
    for (index, what) in ["output", "input gradient", "filter gradient", "bias gradient"].enumerated() {
      for k in 0...order {
        let n = Double((k + 1) * products[index] + 1)
        let gamma = n * u / (1 - n * u)
        var worst = 0.0
        for e in 0..<exact[index][k].count {
          let error = abs(ours[index][k].scalars[e] - exact[index][k].scalars[e])
          let bound = gamma * magnitude[index][k].scalars[e]
          worst = max(worst, bound > 0 ? error / bound : (error > 0 ? .infinity : 0))
        }
        #expect(worst <= 1, "\(F.self) \(what), coefficient \(k): worst error \(worst) of the γ_\(Int(n)) bound")
      }
    }
  }
}

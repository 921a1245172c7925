import TensorCore
import Testing

/// The im2col + GEMM convolution against the definition, a direct sum, in Double.
@Suite("Convolution kernels")
struct ConvolutionTests {
  static func random(_ shape: [Int], seed: UInt64) -> Tensor<Double> {
    var generator = SeededGenerator(seed: seed)
    return Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in generator.nextUniform(-1, 1) })
  }

  /// y[n, o, i, j] = b[o] + Σ_c Σ_p Σ_q w[o, c, p, q] · x[n, c, i·s − pad + p, j·s − pad + q]
  static func direct(_ x: Tensor<Double>, _ w: Tensor<Double>, _ b: Tensor<Double>?, _ g: ConvolutionGeometry)
    -> Tensor<Double>
  {
    var y = Tensor<Double>(zeros: g.outputShape)
    for n in 0..<g.batch {
      for o in 0..<g.outputChannels {
        for i in 0..<g.outputHeight {
          for j in 0..<g.outputWidth {
            var sum = b?.scalars[o] ?? 0
            for c in 0..<g.inputChannels {
              for p in 0..<g.kernelSize {
                for q in 0..<g.kernelSize {
                  let (r, s) = (i * g.stride - g.padding + p, j * g.stride - g.padding + q)
                  guard r >= 0, r < g.height, s >= 0, s < g.width else { continue }
                  sum +=
                    w.scalars[((o * g.inputChannels + c) * g.kernelSize + p) * g.kernelSize + q]
                    * x.scalars[((n * g.inputChannels + c) * g.height + r) * g.width + s]
                }
              }
            }
            y.scalars[((n * g.outputChannels + o) * g.outputHeight + i) * g.outputWidth + j] = sum
          }
        }
      }
    }
    return y
  }

  @Test(arguments: [(3, 1, 1), (1, 2, 0), (3, 2, 1), (3, 1, 0)])
  func forwardMatchesTheDefinition(kernel: Int, stride: Int, padding: Int) {
    let g = ConvolutionGeometry(
      batch: 3, inputChannels: 2, height: 7, width: 6, outputChannels: 4,
      kernelSize: kernel, stride: stride, padding: padding)
    let x = Self.random(g.inputShape, seed: 1)
    let w = Self.random(g.filterShape, seed: 2)
    let b = Self.random([4], seed: 3)
    let ours = Convolution.forward(x, filter: w, bias: b, geometry: g)
    let reference = Self.direct(x, w, b, g)
    #expect(ours.shape == reference.shape)
    #expect(zip(ours.scalars, reference.scalars).allSatisfy { abs($0 - $1) < 1e-12 })
  }

  /// ⟨im2col(x), c⟩ = ⟨x, col2im(c)⟩: col2im is the adjoint the input gradient relies on.
  @Test func col2imIsTheAdjointOfIm2col() {
    let g = ConvolutionGeometry(
      batch: 1, inputChannels: 3, height: 5, width: 4, outputChannels: 1,
      kernelSize: 3, stride: 2, padding: 1)
    let x = Self.random([g.inputImageSize], seed: 4).scalars
    let c = Self.random([g.patchSize * g.outputPixels], seed: 5).scalars
    var columns = [Double](repeating: 0, count: c.count)
    var image = [Double](repeating: 0, count: x.count)
    x.withUnsafeBufferPointer { xs in
      columns.withUnsafeMutableBufferPointer { g.im2col(xs.baseAddress!, into: $0.baseAddress!) }
    }
    c.withUnsafeBufferPointer { cs in
      image.withUnsafeMutableBufferPointer { g.col2im(cs.baseAddress!, addingInto: $0.baseAddress!) }
    }
    let lhs = zip(columns, c).reduce(0) { $0 + $1.0 * $1.1 }
    let rhs = zip(x, image).reduce(0) { $0 + $1.0 * $1.1 }
    #expect(abs(lhs - rhs) < 1e-12)
  }

  /// Splitting the batch across threads changes nothing but the order of the filter-gradient
  /// partial sums.
  @Test func threadsGiveTheSameResult() {
    let g = ConvolutionGeometry(
      batch: 5, inputChannels: 3, height: 8, width: 8, outputChannels: 4,
      kernelSize: 3, stride: 1, padding: 1)
    let x = Self.random(g.inputShape, seed: 6)
    let w = Self.random(g.filterShape, seed: 7)
    let dy = Self.random(g.outputShape, seed: 8)
    let (y1, b1) = ComputeThreads.$override.withValue(1) {
      (
        Convolution.forward(x, filter: w, bias: nil, geometry: g),
        Convolution.backward(outputGradient: dy, input: x, filter: w, geometry: g, needInput: true, hasBias: true)
      )
    }
    let (y3, b3) = ComputeThreads.$override.withValue(3) {
      (
        Convolution.forward(x, filter: w, bias: nil, geometry: g),
        Convolution.backward(outputGradient: dy, input: x, filter: w, geometry: g, needInput: true, hasBias: true)
      )
    }
    #expect(y1.scalars == y3.scalars)
    #expect(b1.input!.scalars == b3.input!.scalars)
    #expect(zip(b1.filter.scalars, b3.filter.scalars).allSatisfy { abs($0 - $1) < 1e-12 })
    #expect(b1.bias!.scalars == b3.bias!.scalars)
  }
}

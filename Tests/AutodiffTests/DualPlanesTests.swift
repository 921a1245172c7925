import Autodiff
import TensorCore
import Testing

/// Dual tensors kept as coefficient planes (`TensorLayout.blockedPlanes`) between convolutions,
/// leaky ReLUs and residual adds compute what the interleaved dual tensors compute, bit for bit
/// (`SeriesConvolutionTests` holds that path to exact arithmetic): a chain whose convolutions
/// read planes, write planes, and hand planes to a pooling that reads interleaved numbers.
@Suite("Dual coefficient planes change no bit")
struct DualPlanesTests {
  /// x → conv 3×3 (bias) → leaky → conv 3×3 → add x' → ReLU → average pool → conv 1×1/2
  /// (bias) → ReLU → Σ·R, where x' = the first leaky's output: every planar primitive, the
  /// batched calls over both planes and the conversion at the edges. Returns the output, every
  /// gradient, and the layouts the chain's values were kept in.
  static func chain(batch: Int, planes: Bool) -> (results: [[Float]], layouts: [TensorLayout]) {
    DualPlanes.$keepsPlanesOverride.withValue(planes) {
      let tape = Tape<Dual<Float>>()
      func dual(_ shape: [Int], _ seed: UInt64) -> Tensor<Dual<Float>> {
        let (v, t) = (randomTensor(shape, seed: seed), randomTensor(shape, seed: seed + 50))
        return Tensor(shape: shape, scalars: zip(v.scalars, t.scalars).map { Dual(Float($0), tangent: Float($1)) })
      }
      let x = tape.parameter(dual([batch, 16, 11, 11], 1))  // pooled with a row and a column left over
      let w1 = tape.parameter(dual([32, 16, 3, 3], 2))
      let b1 = tape.parameter(dual([32], 3))
      let w2 = tape.parameter(dual([32, 32, 3, 3], 4))
      let w3 = tape.parameter(dual([48, 32, 1, 1], 5))
      let b3 = tape.parameter(dual([48], 6))
      let a1 = tape.leakyReLU(tape.conv2d(x, filter: w1, bias: b1, padding: 1), slope: 0.1)
      let c2 = tape.conv2d(a1, filter: w2, padding: 1)
      let a2 = tape.addLeakyReLU(c2, a1, slope: 0)  // ReLU, as in ResNet
      let pooled = tape.averagePool(a2, window: 2)
      let c3 = tape.conv2d(pooled, filter: w3, bias: b3, stride: 2)
      let a3 = tape.leakyReLU(c3, slope: 0)  // ReLU: −0 tangents, whose signs must match too
      let r = tape.input(dual(tape.shape(a3), 7))
      let loss = tape.sum(tape.multiply(a3, r))
      tape.backward(from: loss)
      let values = [loss, a1, c2, a2, pooled, c3, a3].map { tape.value($0) }
      let gradients = [x, w1, b1, w2, w3, b3].map { tape.gradient($0)! }
      let results = (values + gradients).map { t in t.scalars.flatMap { [$0.value, $0.tangent] } }
      let layouts = [a1, c2, a2, pooled, c3, a3].map { tape.storedValue($0, keepingPlanes: true).layout }
      return (results, layouts)
    }
  }

  /// Batches of 2 and 30: the latter large enough for two threads and a 2N batch of 60.
  @Test(arguments: [2, 30]) func sameBitsAsInterleaved(batch: Int) {
    let interleaved = Self.chain(batch: batch, planes: false)
    let planar = Self.chain(batch: batch, planes: true)
    #expect(interleaved.layouts.allSatisfy { $0 == .blocked16 })
    #expect(planar.layouts.allSatisfy { $0 == .blockedPlanes }, "\(planar.layouts)")
    let differing = zip(planar.results, interleaved.results).enumerated().filter { $0.element.0 != $0.element.1 }
      .map(\.offset)
    #expect(differing.isEmpty, "results differ (0 loss, 1-6 values, 7-12 gradients of x, w1, b1, w2, w3, b3)")
  }

  /// The tape converts planes at its edges: a planar value read as NCHW, and back.
  @Test func planesConvertBothWays() {
    DualPlanes.$keepsPlanesOverride.withValue(true) {
      let tape = Tape<Dual<Float>>()
      let shape = [3, 16, 5, 5]
      let x = tape.input(
        Tensor(
          shape: shape, scalars: (0..<(3 * 16 * 25)).map { Dual(Float($0), tangent: -Float($0) / 2) }))
      let w = tape.input(
        Tensor(shape: [16, 16, 1, 1], scalars: (0..<256).map { Dual($0 % 17 == 0 ? 1 : 0, tangent: 0) }))
      let y = tape.conv2d(x, filter: w)  // the identity: y = x
      #expect(tape.storedValue(y, keepingPlanes: true).layout == .blockedPlanes)
      #expect(tape.storedValue(y).layout == .blocked16)
      #expect(tape.value(y).scalars == tape.value(x).scalars)
    }
  }
}

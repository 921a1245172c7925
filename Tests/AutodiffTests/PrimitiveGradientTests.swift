import Autodiff
import TensorCore
import Testing

/// One row per primitive (and per interesting configuration of it): its inputs and how to
/// record it. Adding a primitive adds a row.
struct PrimitiveCase: CustomTestStringConvertible, Sendable {
  let name: String
  let inputs: @Sendable () -> [Tensor<Double>]
  let build: @Sendable (Tape<Double>, [Variable]) -> Variable
  var testDescription: String { name }
}

let primitiveCases: [PrimitiveCase] = [
  PrimitiveCase(
    name: "conv2d 3×3 stride 1 pad 1, bias",
    inputs: {
      [randomTensor([2, 3, 5, 5], seed: 1), randomTensor([4, 3, 3, 3], seed: 2), randomTensor([4], seed: 3)]
    }, build: { t, v in t.conv2d(v[0], filter: v[1], bias: v[2], stride: 1, padding: 1) }),
  PrimitiveCase(
    name: "conv2d 3×3 no bias",
    inputs: {
      [randomTensor([2, 2, 4, 6], seed: 4), randomTensor([3, 2, 3, 3], seed: 5)]
    }, build: { t, v in t.conv2d(v[0], filter: v[1], stride: 1, padding: 1) }),
  PrimitiveCase(
    name: "conv2d 1×1 stride 2 (shortcut)",
    inputs: {
      [randomTensor([2, 3, 6, 6], seed: 6), randomTensor([4, 3, 1, 1], seed: 7)]
    }, build: { t, v in t.conv2d(v[0], filter: v[1], stride: 2, padding: 0) }),
  PrimitiveCase(
    name: "conv2d 3×3 stride 2 pad 1, odd size",
    inputs: {
      [randomTensor([1, 2, 7, 5], seed: 8), randomTensor([2, 2, 3, 3], seed: 9), randomTensor([2], seed: 10)]
    }, build: { t, v in t.conv2d(v[0], filter: v[1], bias: v[2], stride: 2, padding: 1) }),
  PrimitiveCase(
    name: "linear",
    inputs: {
      [randomTensor([3, 5], seed: 11), randomTensor([4, 5], seed: 12), randomTensor([4], seed: 13)]
    }, build: { t, v in t.linear(v[0], weight: v[1], bias: v[2]) }),
  PrimitiveCase(
    name: "leaky ReLU", inputs: { [awayFromZero([2, 3, 4, 4], seed: 14)] },
    build: { t, v in t.leakyReLU(v[0], slope: 0.01) }),
  PrimitiveCase(
    name: "leaky ReLU slope 0.3", inputs: { [awayFromZero([30], seed: 15)] },
    build: { t, v in t.leakyReLU(v[0], slope: 0.3) }),
  PrimitiveCase(
    name: "sigmoid", inputs: { [randomTensor([2, 3, 4, 4], seed: 16, in: -6...6)] },
    build: { t, v in t.sigmoid(v[0]) }),
  PrimitiveCase(
    name: "BatchNorm training (batch statistics)",
    inputs: {
      [
        randomTensor([3, 2, 3, 3], seed: 17, in: -2...3), randomTensor([2], seed: 18, in: 0.5...1.5),
        randomTensor([2], seed: 19),
      ]
    }, build: { t, v in t.batchNorm(v[0], scale: v[1], shift: v[2], statistics: .batch).output }),
  PrimitiveCase(
    name: "BatchNorm evaluation (running statistics)",
    inputs: {
      [randomTensor([2, 3, 2, 2], seed: 20), randomTensor([3], seed: 21, in: 0.5...1.5), randomTensor([3], seed: 22)]
    },
    build: { t, v in
      t.batchNorm(
        v[0], scale: v[1], shift: v[2],
        statistics: .running(mean: randomTensor([3], seed: 23), variance: randomTensor([3], seed: 24, in: 0.5...2))
      ).output
    }),
  PrimitiveCase(
    name: "BatchNorm → leaky ReLU, fused (training)",
    inputs: {
      [
        // β moves the kink off x̂ = 0, on either side.
        randomTensor([3, 2, 3, 3], seed: 50, in: -2...3), randomTensor([2], seed: 51, in: 0.5...1.5),
        Tensor(shape: [2], scalars: [0.6, -0.4]),
      ]
    },
    build: { t, v in t.batchNorm(v[0], scale: v[1], shift: v[2], statistics: .batch, leakyReLUSlope: 0.1).output }),
  PrimitiveCase(
    name: "BatchNorm → ReLU, fused (evaluation)",
    inputs: {
      [randomTensor([2, 3, 2, 2], seed: 53), randomTensor([3], seed: 54, in: 0.5...1.5), randomTensor([3], seed: 55)]
    },
    build: { t, v in
      t.batchNorm(
        v[0], scale: v[1], shift: v[2],
        statistics: .running(mean: randomTensor([3], seed: 56), variance: randomTensor([3], seed: 57, in: 0.5...2)),
        leakyReLUSlope: 0
      ).output
    }),
  PrimitiveCase(
    name: "add → leaky ReLU, fused",
    inputs: { [awayFromZero([2, 3, 4, 4], seed: 58), randomTensor([2, 3, 4, 4], seed: 59, in: -0.02...0.02)] },
    build: { t, v in t.addLeakyReLU(v[0], v[1], slope: 0.2) }),
  PrimitiveCase(
    name: "add → ReLU, fused, fan-out (x, x)", inputs: { [awayFromZero([2, 3, 4], seed: 60)] },
    build: { t, v in t.addLeakyReLU(v[0], v[0], slope: 0) }),
  PrimitiveCase(
    name: "average pool 2×2", inputs: { [randomTensor([2, 3, 4, 6], seed: 25)] },
    build: { t, v in t.averagePool(v[0], window: 2) }),
  PrimitiveCase(
    name: "average pool 2×2, odd size (floor)", inputs: { [randomTensor([1, 2, 5, 7], seed: 26)] },
    build: { t, v in t.averagePool(v[0], window: 2) }),
  PrimitiveCase(
    name: "global average pool", inputs: { [randomTensor([2, 3, 4, 4], seed: 27)] },
    build: { t, v in t.globalAveragePool(v[0]) }),
  PrimitiveCase(
    name: "add", inputs: { [randomTensor([2, 3], seed: 28), randomTensor([2, 3], seed: 29)] },
    build: { t, v in t.add(v[0], v[1]) }),
  PrimitiveCase(
    name: "fan-out: add(x, x)", inputs: { [randomTensor([2, 3], seed: 30)] },
    build: { t, v in t.add(v[0], v[0]) }),
  PrimitiveCase(
    name: "fan-out: multiply(x, x)", inputs: { [randomTensor([2, 3], seed: 31)] },
    build: { t, v in t.multiply(v[0], v[0]) }),
  PrimitiveCase(
    name: "sum", inputs: { [randomTensor([4, 2], seed: 32)] },
    build: { t, v in t.sum(v[0]) }),
  PrimitiveCase(
    name: "softmax cross-entropy (mean)", inputs: { [randomTensor([4, 5], seed: 33, in: -3...3)] },
    build: { t, v in t.softmaxCrossEntropy(logits: v[0], labels: [0, 4, 2, 2]).loss }),
  PrimitiveCase(
    name: "cross-entropy of a group of rows (gradient noise)",
    inputs: { [randomTensor([5, 4], seed: 34, in: -3...3)] },
    build: { t, v in t.groupCrossEntropy(logits: v[0], labels: [0, 3, 2, 2, 1], rows: 1..<4) }),
  PrimitiveCase(
    name: "ReLU (leaky ReLU, slope 0)", inputs: { [awayFromZero([2, 3, 4, 4], seed: 38)] },
    build: { t, v in t.leakyReLU(v[0], slope: 0) }),
  PrimitiveCase(
    name: "tanh", inputs: { [randomTensor([2, 3, 4, 4], seed: 39, in: -4...4)] },
    build: { t, v in t.tanh(v[0]) }),
  PrimitiveCase(
    name: "max pool 2×2 (distinct values)", inputs: { [randomTensor([2, 3, 4, 6], seed: 40)] },
    build: { t, v in t.maxPool(v[0], window: 2) }),
  PrimitiveCase(
    name: "max pool 3×3, odd size (floor)", inputs: { [randomTensor([1, 2, 7, 8], seed: 41)] },
    build: { t, v in t.maxPool(v[0], window: 3) }),
  PrimitiveCase(
    name: "concatenate channels (3 inputs)",
    inputs: {
      [
        randomTensor([2, 1, 3, 3], seed: 42), randomTensor([2, 3, 3, 3], seed: 43),
        randomTensor([2, 2, 3, 3], seed: 44),
      ]
    },
    build: { t, v in t.concatenateChannels([v[0], v[1], v[2]]) }),
  PrimitiveCase(
    name: "reshape (flatten)", inputs: { [randomTensor([2, 3, 2, 2], seed: 45)] },
    build: { t, v in t.reshape(v[0], to: [2, 12]) }),
  PrimitiveCase(
    name: "dropout: x ⊙ fixed mask", inputs: { [randomTensor([2, 3, 4], seed: 46)] },
    build: { t, v in
      t.multiply(v[0], t.input(Tensor(shape: [2, 3, 4], scalars: (0..<24).map { $0 % 3 == 0 ? 0 : 1.5 })))
    }),
  PrimitiveCase(
    name: "subsample stride 2 + pad channels (1 before, 2 after), odd size",
    inputs: { [randomTensor([2, 3, 5, 4], seed: 49)] },
    build: { t, v in t.tanh(t.subsampleAndPadChannels(v[0], stride: 2, before: 1, after: 2)) }),
  PrimitiveCase(
    name: "dense connection: concat(x, tanh(conv(x))), fan-out",
    inputs: { [randomTensor([2, 2, 4, 4], seed: 47), randomTensor([3, 2, 3, 3], seed: 48)] },
    build: { t, v in t.concatenateChannels([v[0], t.tanh(t.conv2d(v[0], filter: v[1], padding: 1))]) }),
  PrimitiveCase(
    name: "residual block: act(BN(conv(x)) + x), BN in training mode",
    inputs: {
      [
        awayFromZero([2, 2, 4, 4], seed: 34), randomTensor([2, 2, 3, 3], seed: 35),
        randomTensor([2], seed: 36, in: 0.5...1.5), randomTensor([2], seed: 37),
      ]
    },
    build: { t, v in
      let y = t.batchNorm(t.conv2d(v[0], filter: v[1], padding: 1), scale: v[2], shift: v[3], statistics: .batch).output
      return t.sigmoid(t.add(y, v[0]))
    }),
]

@Suite("Primitive gradients against central differences (Double)")
struct PrimitiveGradientTests {
  @Test(arguments: primitiveCases)
  func matchesCentralDifferences(_ primitive: PrimitiveCase) {
    checkGradients(primitive.inputs(), primitive.build)
  }

  /// Max pooling is not differentiable where a window's maximum is tied; like PyTorch, the
  /// whole gradient goes to the first maximum in row-major order (on Dual and Jet too).
  @Test func maxPoolWithTiesSendsTheGradientToTheFirstMaximum() {
    let tape = Tape<Double>()
    // Window 1 ties at 5 (positions 1 and 2 of the window), window 2 all equal.
    let x = tape.input(Tensor(shape: [1, 1, 2, 4], scalars: [1, 5, 7, 7, 5, 2, 7, 7]), requiresGradient: true)
    let y = tape.maxPool(x, window: 2)
    #expect(tape.value(y).scalars == [5, 7])
    tape.backward(from: tape.sum(tape.multiply(y, tape.input(Tensor(shape: [1, 1, 1, 2], scalars: [2, 3])))))
    #expect(tape.gradient(x)!.scalars == [0, 2, 3, 0, 0, 0, 0, 0])
  }

}

import Autodiff
import TensorCore
import Testing

/// Compares reverse-mode gradients with central differences, both in Double.
///
/// The checked function is `f(inputs) = Σ_i r_i · y_i` for a fixed random `r`, where `y` is
/// what `build` records: every output element then carries a distinct weight, so a wrong
/// derivative of any element shows. For each input, up to `samples` elements are perturbed
/// by ±h and `(f(x + h) − f(x − h)) / 2h` is compared with the tape's gradient.
func checkGradients(
  _ inputs: [Tensor<Double>], step h: Double = 1e-5, tolerance: Double = 1e-6, samples: Int = 40,
  seed: UInt64 = 7, sourceLocation: SourceLocation = #_sourceLocation,
  _ build: (Tape<Double>, [Variable]) -> Variable
) {
  var generator = SeededGenerator(seed: seed)
  // Fix the output weights r from one evaluation's output shape.
  let probeTape = Tape<Double>()
  let probeOutput = probeTape.value(build(probeTape, inputs.map { probeTape.input($0) }))
  let weights = Tensor<Double>(
    shape: probeOutput.shape, scalars: (0..<probeOutput.count).map { _ in generator.nextUniform(-1, 1) })

  func loss(_ values: [Tensor<Double>], _ tape: Tape<Double>) -> (Variable, [Variable]) {
    let variables = values.map { tape.input($0, requiresGradient: true) }
    let y = build(tape, variables)
    let weighted = tape.sum(tape.multiply(y, tape.input(weights)))
    return (weighted, variables)
  }

  let tape = Tape<Double>()
  let (root, variables) = loss(inputs, tape)
  tape.backward(from: root)

  for (index, input) in inputs.enumerated() {
    let analytic = tape.gradient(variables[index]) ?? Tensor(zeros: input.shape)
    let scale = max(analytic.scalars.map(abs).max() ?? 0, 1e-3)
    var positions = Array(0..<input.count)
    if positions.count > samples { positions = (0..<samples).map { _ in Int(generator.next() % UInt64(input.count)) } }
    var worst = 0.0
    var worstPosition = 0
    for position in positions {
      var plus = inputs
      var minus = inputs
      plus[index].scalars[position] += h
      minus[index].scalars[position] -= h
      let tapePlus = Tape<Double>()
      let fPlus = tapePlus.value(loss(plus, tapePlus).0).scalars[0]
      let tapeMinus = Tape<Double>()
      let fMinus = tapeMinus.value(loss(minus, tapeMinus).0).scalars[0]
      let numeric = (fPlus - fMinus) / (2 * h)
      let error = abs(numeric - analytic.scalars[position]) / scale
      if error > worst { (worst, worstPosition) = (error, position) }
    }
    #expect(
      worst <= tolerance,
      "input \(index) \(input.shape): element \(worstPosition) analytic \(analytic.scalars[worstPosition]), relative error \(worst)",
      sourceLocation: sourceLocation)
  }
}

/// A tensor of uniform values in [lower, upper).
func randomTensor(_ shape: [Int], seed: UInt64, in range: ClosedRange<Double> = -1...1) -> Tensor<Double> {
  var generator = SeededGenerator(seed: seed)
  return Tensor(
    shape: shape,
    scalars: (0..<shape.reduce(1, *)).map { _ in generator.nextUniform(range.lowerBound, range.upperBound) })
}

/// Values bounded away from zero (|x| ≥ 0.05), so leaky ReLU's kink is never inside ±h.
func awayFromZero(_ shape: [Int], seed: UInt64) -> Tensor<Double> {
  randomTensor(shape, seed: seed).mapped { $0 >= 0 ? $0 + 0.05 : $0 - 0.05 }
}

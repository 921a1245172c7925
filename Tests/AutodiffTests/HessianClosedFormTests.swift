import Autodiff
import TensorCore
import Testing

/// Forward-over-reverse on a loss whose Hessian is known in closed form: softmax
/// cross-entropy of a linear model, f(W) = (1/N) Σ_n CE(W x_n, y_n), for which
///
///     ∂²f / ∂W_ai ∂W_bj = (1/N) Σ_n (p_na [a = b] − p_na p_nb) x_ni x_nj.
@Suite("Hessian-vector products: closed form")
struct HessianClosedFormTests {
  @Test func softmaxLinearModel() {
    let (n, inputs, classes) = (4, 3, 5)
    let x = randomTensor([n, inputs], seed: 1)
    let w = randomTensor([classes, inputs], seed: 2)
    let v = randomTensor([classes, inputs], seed: 3)
    let labels = [0, 3, 4, 1]

    // H v by dual numbers through the tape's gradient.
    let tape = Tape<Dual<Double>>()
    let weights = tape.parameter(
      Tensor(shape: w.shape, scalars: zip(w.scalars, v.scalars).map { Dual($0, tangent: $1) }))
    let inputsVariable = tape.input(Tensor(shape: x.shape, scalars: x.scalars.map { Dual($0, tangent: 0) }))
    let logits = tape.linear(inputsVariable, weight: weights, bias: nil)
    let loss = tape.softmaxCrossEntropy(logits: logits, labels: labels).loss
    tape.backward(from: loss)
    let hv = tape.gradient(weights)!.scalars.map(\.tangent)

    // The closed form.
    var expected = [Double](repeating: 0, count: classes * inputs)
    for sample in 0..<n {
      let z = (0..<classes).map { a in
        (0..<inputs).reduce(0.0) { $0 + w.scalars[a * inputs + $1] * x.scalars[sample * inputs + $1] }
      }
      let maximum = z.max()!
      let e = z.map { Double.exp($0 - maximum) }
      let p = e.map { $0 / e.reduce(0, +) }
      for a in 0..<classes {
        for i in 0..<inputs {
          var sum = 0.0
          for b in 0..<classes {
            for j in 0..<inputs {
              let h =
                ((a == b ? p[a] : 0) - p[a] * p[b]) * x.scalars[sample * inputs + i] * x.scalars[sample * inputs + j]
              sum += h * v.scalars[b * inputs + j]
            }
          }
          expected[a * inputs + i] += sum / Double(n)
        }
      }
    }
    for (ours, reference) in zip(hv, expected) {
      #expect(abs(ours - reference) < 1e-13, "\(ours) vs \(reference)")
    }
  }

  /// A function with a fan-out and a known Hessian: f(x) = Σ x³ ⇒ H = diag(6x), H v = 6 x ⊙ v.
  @Test func cubeHasDiagonalHessian() {
    let x = randomTensor([7], seed: 4)
    let v = randomTensor([7], seed: 5)
    let tape = Tape<Dual<Double>>()
    let variable = tape.parameter(Tensor(shape: [7], scalars: zip(x.scalars, v.scalars).map { Dual($0, tangent: $1) }))
    tape.backward(from: tape.sum(tape.multiply(tape.multiply(variable, variable), variable)))
    let hv = tape.gradient(variable)!.scalars.map(\.tangent)
    for i in 0..<7 { #expect(abs(hv[i] - 6 * x.scalars[i] * v.scalars[i]) < 1e-13) }
  }
}

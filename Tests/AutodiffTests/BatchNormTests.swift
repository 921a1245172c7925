import Autodiff
import TensorCore
import Testing

/// BatchNorm's batch statistics and gradients split over threads: the same numbers on any
/// thread count, and statistics as accurate as Float can hold them.
@Suite("BatchNorm on every thread")
struct BatchNormTests {
  /// Output, statistics and the gradients of Σ y·R, on a tape of Float at `threads` threads.
  static func run(threads: Int, x: Tensor<Float>, r: Tensor<Float>) -> [[Float]] {
    ComputeThreads.$override.withValue(threads) {
      let c = x.shape[1]
      let tape = Tape<Float>()
      let input = tape.parameter(x)
      let gamma = tape.parameter(randomTensor([c], seed: 7).converted(to: Float.self))
      let beta = tape.parameter(randomTensor([c], seed: 8).converted(to: Float.self))
      let (y, mean, variance, _) = tape.batchNorm(input, scale: gamma, shift: beta, statistics: .batch)
      tape.backward(from: tape.sum(tape.multiply(y, tape.input(r))))
      return [
        tape.value(y).scalars, mean!.scalars, variance!.scalars, tape.gradient(input)!.scalars,
        tape.gradient(gamma)!.scalars, tape.gradient(beta)!.scalars,
      ]
    }
  }

  @Test func sameNumbersOnAnyThreadCount() {
    let shape = [6, 5, 7, 9]
    let x = randomTensor(shape, seed: 1).converted(to: Float.self)
    let r = randomTensor(shape, seed: 2).converted(to: Float.self)
    let one = Self.run(threads: 1, x: x, r: r)
    for threads in [2, 3, 8] {
      #expect(Self.run(threads: threads, x: x, r: r) == one, "\(threads) threads differ from 1")
    }
  }

  /// A large common offset (mean 1000, spread 1) is where a one-pass E[x²] − μ² loses every
  /// digit; the slice-wise two-pass combination keeps the variance to Float's rounding of the
  /// exact value.
  @Test func statisticsAreExactToFloatRounding() {
    let shape = [4, 3, 6, 6]
    let (n, c, pixels) = (shape[0], shape[1], shape[2] * shape[3])
    let x = randomTensor(shape, seed: 3).mapped { 1000 + $0 }.converted(to: Float.self)
    let tape = Tape<Float>()
    let (_, mean, variance, _) = tape.batchNorm(
      tape.parameter(x), scale: tape.parameter(Tensor(repeating: 1, shape: [c])),
      shift: tape.parameter(Tensor(zeros: [c])), statistics: .batch)
    for ch in 0..<c {
      // The exact moments of the Float values, by two passes in Double (rounding ~1e-11 here).
      let values = (0..<n).flatMap { image in
        (0..<pixels).map { Double(x.scalars[(image * c + ch) * pixels + $0]) }
      }
      let mu = values.reduce(0, +) / Double(values.count)
      let sigma2 = values.reduce(0) { $0 + ($1 - mu) * ($1 - mu) } / Double(values.count)
      let allowed = 0x1p-24 + 1e-9
      #expect(abs(Double(mean!.scalars[ch]) - mu) <= allowed * mu, "mean of channel \(ch)")
      #expect(abs(Double(variance!.scalars[ch]) - sigma2) <= allowed * sigma2, "variance of channel \(ch)")
    }
  }
}

import Autodiff
import Networks
import TensorCore
import Testing
import _NumericalTestSupport

/// Whole small networks of every variant, in Double: parameter and input gradients against
/// central differences of the loss (BatchNorm in training mode).
@Suite("Model gradients against central differences (Double)")
struct ModelGradientTests {
  struct Variant: Sendable, CustomTestStringConvertible {
    let batchNorm: Bool
    let residual: Bool
    let activation: Activation
    var testDescription: String {
      "\(batchNorm ? "BN " : "")\(residual ? "residual " : "")\(activation.rawValue)"
    }
  }

  static let variants = [
    Variant(batchNorm: false, residual: false, activation: .leaky),
    Variant(batchNorm: true, residual: false, activation: .leaky),
    Variant(batchNorm: false, residual: true, activation: .leaky),
    Variant(batchNorm: true, residual: true, activation: .leaky),
    Variant(batchNorm: true, residual: false, activation: .sigmoid),
    Variant(batchNorm: false, residual: true, activation: .sigmoid),
  ]

  /// 4 filters, 2 stages of 1 processing block + reduction, 2×8×8 input, 5 classes.
  static func smallNetwork(_ variant: Variant) throws -> Network<Double> {
    let configuration = VGGConfiguration(
      numFilters: 4, numStages: 2, blocksPerStage: 1, inputChannels: 2, inputHeight: 8,
      inputWidth: 8, classes: 5, batchNorm: variant.batchNorm, residual: variant.residual,
      activation: variant.activation)
    // He initialisation keeps the signal (and so every gradient) well above rounding here.
    return try Network<Double>(configuration, initialization: .he, seed: 3)
  }

  @Test(arguments: variants)
  func parameterAndInputGradients(_ variant: Variant) throws {
    let network = try Self.smallNetwork(variant)
    let images = randomTensor([3, 2, 8, 8], seed: 11)
    let labels = [0, 3, 4]

    let tape = Tape<Double>()
    let result = network.loss(
      images: images, labels: labels, on: tape, mode: .training,
      updateRunningStatistics: false, inputRequiresGradient: true)
    tape.backward(from: result.loss)

    func loss() -> Double {
      let tape = Tape<Double>()
      let result = network.loss(
        images: images, labels: labels, on: tape, mode: .training, updateRunningStatistics: false)
      return tape.value(result.loss).scalars[0]
    }
    let h = 1e-5
    var generator = SeededGenerator(seed: 5)
    var worst = (error: 0.0, where: "")
    for name in network.parameters.names {
      let analytic = tape.gradient(result.forward.parameters[name]!)!
      let scale = max(analytic.scalars.map(abs).max()!, 1e-4)
      for _ in 0..<4 {
        let i = Int(generator.next() % UInt64(analytic.count))
        let original = network.parameters[name]!
        var perturbed = original
        perturbed.scalars[i] = original.scalars[i] + h
        network.parameters[name] = perturbed
        let plus = loss()
        perturbed.scalars[i] = original.scalars[i] - h
        network.parameters[name] = perturbed
        let minus = loss()
        network.parameters[name] = original
        let error = abs((plus - minus) / (2 * h) - analytic.scalars[i]) / scale
        if error > worst.error { worst = (error, "\(name)[\(i)]") }
      }
    }
    #expect(worst.error < 1e-5, "worst parameter gradient \(worst.where): relative error \(worst.error)")

    // Input gradient.
    let inputGradient = tape.gradient(result.images)!
    let inputScale = max(inputGradient.scalars.map(abs).max()!, 1e-4)
    var worstInput = 0.0
    for _ in 0..<12 {
      let i = Int(generator.next() % UInt64(images.count))
      var plus = images
      var minus = images
      plus.scalars[i] += h
      minus.scalars[i] -= h
      let tapePlus = Tape<Double>()
      let fPlus = tapePlus.value(
        network.loss(images: plus, labels: labels, on: tapePlus, mode: .training, updateRunningStatistics: false).loss
      ).scalars[0]
      let tapeMinus = Tape<Double>()
      let fMinus = tapeMinus.value(
        network.loss(images: minus, labels: labels, on: tapeMinus, mode: .training, updateRunningStatistics: false).loss
      ).scalars[0]
      worstInput = max(worstInput, abs((fPlus - fMinus) / (2 * h) - inputGradient.scalars[i]) / inputScale)
    }
    #expect(worstInput < 1e-5, "input gradient relative error \(worstInput)")
  }

  /// The Float engine agrees with the Double one on the same weights: Float is only rounding,
  /// held to its measured size on this machine (`FloatRoundingBound`).
  @Test func floatMatchesDouble() throws {
    let variant = Variant(batchNorm: true, residual: true, activation: .leaky)
    let configuration = try Self.smallNetwork(variant).configuration
    let float = try Network<Float>(configuration, initialization: .he, seed: 3)
    let images: Tensor<Float> = randomTensor([3, 2, 8, 8], seed: 11).converted()
    let names = float.parameters.names
    func gradient<Scalar: TensorScalar>(_ w: NamedTensors<Scalar>, _ x: Tensor<Scalar>, _ y: [Int]) -> [[Double]] {
      let network = try! Network<Scalar>(
        configuration, parameters: w, buffers: float.buffers.converted(to: Scalar.self))
      let g = network.gradients(images: x, labels: y, updateRunningStatistics: false).gradients
      return names.map { g[$0]!.scalars.map(\.doubleValue) }
    }
    // A conv bias followed by BatchNorm has an exactly zero gradient (BN subtracts the mean),
    // which both engines leave as rounding noise: it is measured against the whole gradient.
    let exact = gradient(float.parameters.converted(to: Double.self), images.converted(), [0, 3, 4])
    let total = exact.reduce(0) { $0 + FloatRoundingBound.norm($1).squared }.squareRoot()
    let scales = zip(names, exact).map { name, g in
      name.contains("reduction_block") && name.contains("conv") && name.hasSuffix(".bias")
        ? total : FloatRoundingBound.norm(g)
    }
    let checks = FloatRoundingBound.check(
      names: names, scales: scales, weights: float.parameters, images: images, labels: [0, 3, 4],
      exact: gradient, float32: gradient)
    for check in checks { #expect(check.holds, "\(check)") }
  }
}

extension Double {
  fileprivate var squared: Double { self * self }
}

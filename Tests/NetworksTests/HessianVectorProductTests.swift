import Autodiff
import Networks
import TensorCore
import Testing

/// Exact H·v (forward-over-reverse) on small networks of every variant, against central
/// differences of the gradient in Double, (g(w + h v) − g(w − h v)) / 2h, and symmetry.
@Suite("Hessian-vector products on networks")
struct HessianVectorProductTests {
  static func direction(like parameters: NamedTensors<Double>, seed: UInt64) -> NamedTensors<Double> {
    var generator = SeededGenerator(seed: seed)
    var v = NamedTensors<Double>()
    for (name, tensor) in parameters.entries {
      v.append(Tensor(shape: tensor.shape, scalars: tensor.scalars.map { _ in generator.nextNormal() }), named: name)
    }
    return v
  }

  static func dot(_ a: NamedTensors<Double>, _ b: NamedTensors<Double>) -> Double {
    a.entries.reduce(0) { total, entry in
      total + zip(entry.tensor.scalars, b[entry.name]!.scalars).reduce(0) { $0 + $1.0 * $1.1 }
    }
  }

  /// The gradient at w + scale·v on the batch; the network keeps its weights w.
  static func gradient(
    _ network: Network<Double>, at scale: Double, along v: NamedTensors<Double>, images: Tensor<Double>, labels: [Int]
  ) -> NamedTensors<Double> {
    let original = network.parameters
    network.parameters.updateEach { name, w in w = original[name]!.zipped(with: v[name]!) { $0 + scale * $1 } }
    defer { network.parameters = original }
    return network.gradients(images: images, labels: labels, updateRunningStatistics: false).gradients
  }

  @Test(arguments: ModelGradientTests.variants)
  func matchesCentralDifferencesOfTheGradient(_ variant: ModelGradientTests.Variant) throws {
    let network = try ModelGradientTests.smallNetwork(variant)
    let images = randomTensor([3, 2, 8, 8], seed: 11)
    let labels = [0, 3, 4]
    let v = Self.direction(like: network.parameters, seed: 21)
    let (loss, gradient, hv) = network.hessianVectorProduct(images: images, labels: labels, direction: v)

    let plain = network.gradients(images: images, labels: labels, updateRunningStatistics: false)
    #expect(abs(loss - plain.loss) < 1e-14, "the dual pass's value part is the ordinary loss")
    #expect(Self.dot(gradient, plain.gradients) > 0)

    // Small h: leaky ReLU's kink makes the gradient jump, and BatchNorm puts many
    // pre-activations near 0; a step that crosses one ruins the difference quotient.
    let h = 1e-7
    let plus = Self.gradient(network, at: h, along: v, images: images, labels: labels)
    let minus = Self.gradient(network, at: -h, along: v, images: images, labels: labels)
    var differenceNorm = 0.0
    var referenceNorm = 0.0
    for name in network.parameters.names {
      for i in 0..<hv[name]!.count {
        let numeric = (plus[name]!.scalars[i] - minus[name]!.scalars[i]) / (2 * h)
        differenceNorm += (numeric - hv[name]!.scalars[i]) * (numeric - hv[name]!.scalars[i])
        referenceNorm += numeric * numeric
      }
    }
    let error = (differenceNorm / referenceNorm).squareRoot()
    #expect(error < 1e-6, "‖Hv − finite differences‖ / ‖Hv‖ = \(error)")
  }

  @Test(arguments: ModelGradientTests.variants)
  func isSymmetric(_ variant: ModelGradientTests.Variant) throws {
    let network = try ModelGradientTests.smallNetwork(variant)
    let images = randomTensor([3, 2, 8, 8], seed: 12)
    let labels = [1, 2, 4]
    let u = Self.direction(like: network.parameters, seed: 31)
    let v = Self.direction(like: network.parameters, seed: 32)
    let hu = network.hessianVectorProduct(images: images, labels: labels, direction: u).product
    let hv = network.hessianVectorProduct(images: images, labels: labels, direction: v).product
    let uHv = Self.dot(u, hv)
    let vHu = Self.dot(v, hu)
    #expect(abs(uHv - vHu) <= 1e-10 * max(abs(uHv), 1), "uᵀHv = \(uHv), vᵀHu = \(vHu)")
  }
}

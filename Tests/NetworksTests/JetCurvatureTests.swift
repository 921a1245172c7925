import Autodiff
import Networks
import TensorCore
import Testing

/// vᵀHv by one forward pass on second-order jets (Taylor mode) against vᵀ(Hv) from
/// forward-over-reverse and against central differences of the slope vᵀg, on small networks of
/// every variant, in Double.
@Suite("Curvature along a direction by Taylor mode")
struct JetCurvatureTests {
  @Test(arguments: ModelGradientTests.variants)
  func matchesTheHessianVectorProduct(_ variant: ModelGradientTests.Variant) throws {
    let network = try ModelGradientTests.smallNetwork(variant)
    let images = randomTensor([3, 2, 8, 8], seed: 13)
    let labels = [2, 0, 4]
    let v = HessianVectorProductTests.direction(like: network.parameters, seed: 41)
    let (loss, gradient, hv) = network.hessianVectorProduct(images: images, labels: labels, direction: v)
    let along = network.curvature(images: images, labels: labels, along: v)

    #expect(abs(along.loss - loss) <= 1e-14 * abs(loss), "the jets' value is the ordinary loss")
    let gTv = HessianVectorProductTests.dot(gradient, v)
    #expect(abs(along.slope - gTv) <= 1e-10 * max(abs(gTv), 1), "gᵀv: jets \(along.slope), gradient \(gTv)")
    let vHv = HessianVectorProductTests.dot(v, hv)
    #expect(abs(along.curvature - vHv) <= 1e-10 * max(abs(vHv), 1), "vᵀHv: jets \(along.curvature), HVP \(vHv)")

    // An oracle independent of both: vᵀ(g(w + hv) − g(w − hv)) / 2h, with h small enough that
    // no leaky ReLU kink is crossed (as in HessianVectorProductTests).
    let h = 1e-7
    func slopeAt(_ scale: Double) -> Double {
      HessianVectorProductTests.dot(
        HessianVectorProductTests.gradient(network, at: scale, along: v, images: images, labels: labels), v)
    }
    let numeric = (slopeAt(h) - slopeAt(-h)) / (2 * h)
    #expect(abs(numeric - along.curvature) <= 1e-6 * max(abs(along.curvature), 1), "differences \(numeric)")
  }
}

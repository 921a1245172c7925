import Curvature
import Datasets
import Foundation
import Networks
import TensorCore
import Testing

/// The probe on vgg08 at initialisation with real Fashion-MNIST (the Debian package that
/// `make test` installs): the second-order prediction is within 1% of the real change at
/// 0.01·ε*, and breaks down by 2·ε*; the eigenvalue agrees with a ten times tighter run.
@Suite("Probe on vgg08 with Fashion-MNIST")
struct FashionMNISTProbeTests {
  static func probe() throws -> CurvatureProbe<Float> {
    let (images, labels) = try FashionMNIST.load(split: .train, limit: 32)
    let network = try Network<Float>(.preset(.vgg08, inputChannels: 1, classes: 10), seed: 0)
    return CurvatureProbe(network: network, images: images, labels: labels)
  }

  @Test func taylorTableTracksTheLossThenBreaksDown() throws {
    let probe = try Self.probe()
    let (_, _, g) = probe.gradient()
    let along = probe.alongGradient(g)
    let epsilonStar = try #require(along.epsilonStar, "vgg08 at initialisation has positive curvature along −g")
    let rows = probe.taylorTable(
      gradient: g, along: along, loss: probe.loss().loss,
      steps: [0.01, 2].map { TaylorStep(epsilon: $0 * epsilonStar, multipleOfEpsilonStar: $0) })
    #expect(rows[0].relativeError < 0.01, "at 0.01 ε*: \(rows[0].relativeError)")
    #expect(rows[1].relativeError > 0.5, "at 2 ε* the quadratic model predicts no change; the loss does change")
  }

  @Test func eigenvalueIsStableUnderATighterTolerance() throws {
    let probe = try Self.probe()
    let loose = probe.dominantEigenvalue(tolerance: 1e-3, maximumProducts: 200, seed: 1)
    let tight = probe.dominantEigenvalue(tolerance: 1e-4, maximumProducts: 400, seed: 1)
    #expect(loose.converged && tight.converged)
    #expect(
      abs(loose.eigenvalue - tight.eigenvalue) <= 1e-2 * abs(tight.eigenvalue),
      "\(loose.eigenvalue) vs \(tight.eigenvalue)")
  }
}

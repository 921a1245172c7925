import Curvature
import Foundation
import Networks
import TensorCore
import Testing
import TraceIO

/// The gradient-noise estimators (per-layer |G_l|², tr(Σ_l), B_simple,l, the model's, and the
/// curvature side tr(HΣ), GᵀHG, B_noise, ε_max, ε_opt) against an independent computation in
/// PyTorch float64 on the same weights, batch, 4 groups and BatchNorm in training mode
/// (scripts/torch_noise_golden.py, McCandlish et al.'s two-batch-size form of the estimators).
@Suite("Gradient noise against PyTorch float64")
struct TorchNoiseGoldenTests {
  @Test(arguments: [
    ("vgg08-bn", VGGConfiguration.preset(.vgg08, batchNorm: true)),
    ("vgg38-bn-res", VGGConfiguration.preset(.vgg38, batchNorm: true, residual: true)),
  ])
  func matchesPyTorch(variant: String, configuration: VGGConfiguration) throws {
    let batch = try TorchCurvatureGoldenTests.golden("batch")
    let (pixels, shape) = try batch.read(Float.self, from: "/images")
    let labels = try batch.read(Int64.self, from: "/labels").values.map { Int($0) }
    let golden = try TorchCurvatureGoldenTests.golden("noise-\(variant)")
    let initial = try Network<Float>(configuration, seed: UInt64(try golden.attribute("seed", as: Int64.self)))
    let network = try Network<Double>(
      .vgg(configuration), parameters: initial.parameters.converted(to: Double.self),
      buffers: initial.buffers.converted(to: Double.self))
    let images = Tensor<Double>(shape: shape, scalars: pixels.map(Double.init))
    let groups = Int(try golden.attribute("groups", as: Int64.self))

    let measured = network.model.groupGradients(
      parameters: network.parameters, buffers: network.buffers, images: images, labels: labels, groups: groups)
    let probe = CurvatureProbe(network: network, images: images, labels: labels, exactLoss: false)
    let noise = GradientNoise(
      gradient: measured.gradient, groups: measured.groups,
      sizes: LossGroups(batch: labels.count, count: groups).sizes, layers: probe.layers)
    let gHg = probe.curvature(along: measured.gradient).curvature
    let curvature = probe.noiseCurvature(noise, gradient: measured.gradient, groups: measured.groups, gHg: gHg)

    #expect(probe.layers.groups.map(\.label).joined(separator: ",") == (try golden.stringAttribute("layers")))
    func compare(_ name: String, _ ours: [Double], _ theirs: [Double]) {
      let scale = theirs.map(abs).max() ?? 0
      // NaN (ε_max without positive curvature along G) must be NaN on both sides.
      let worst =
        zip(ours, theirs).map { $0.isNaN && $1.isNaN ? 0 : abs($0 - $1) / max(abs($1), 1e-300) }.max() ?? .infinity
      #expect(ours.count == theirs.count && worst <= 1e-7, "\(variant) \(name): relative error \(worst)")
      print("noise golden \(variant) \(name): worst relative error \(worst) (largest value \(scale))")
    }
    compare(
      "|G_l|²", noise.layerGradientNormSquared,
      try golden.read(Double.self, from: "/layer_gradient_norm_squared").values)
    compare("tr(Σ_l)", noise.layerCovarianceTrace, try golden.read(Double.self, from: "/layer_covariance_trace").values)
    compare("B_simple,l", noise.layerSimpleNoiseScale, try golden.read(Double.self, from: "/layer_b_simple").values)
    let model: [(String, Double, String)] = [
      ("gᵀHg", gHg, "gHg"), ("|G|²", noise.gradientNormSquared, "gradient_norm_squared"),
      ("tr(Σ)", noise.covarianceTrace, "covariance_trace"), ("B_simple", noise.simpleNoiseScale, "b_simple"),
      ("tr(HΣ)", curvature.hessianCovarianceTrace, "hessian_covariance_trace"),
      ("GᵀHG", curvature.expectedCurvature, "expected_curvature"), ("B_noise", curvature.noiseScale, "b_noise"),
      ("ε_max", curvature.epsilonMax, "epsilon_max"), ("ε_opt", curvature.epsilonOptimal, "epsilon_opt"),
    ]
    for (name, ours, attribute) in model {
      let theirs = try golden.attribute(attribute, as: Double.self)
      compare(name, [ours], [theirs])
    }
  }
}

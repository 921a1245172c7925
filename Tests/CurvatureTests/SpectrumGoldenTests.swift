import Curvature
import Foundation
import Networks
import TensorCore
import Testing
import TraceIO

/// Lanczos on gradtrace's exact H·v against PyTorch 2.13's full Hessian in float64 (assembled by
/// double backward, decomposed by numpy: scripts/torch_spectrum_golden.py) on a 2,462-parameter
/// DenseNet-BC with BatchNorm in training mode: the five largest and five smallest eigenvalues.
@Suite("Hessian spectrum against PyTorch float64")
struct SpectrumGoldenTests {
  @Test func extremeEigenvaluesMatchPyTorch() throws {
    let url = try #require(Bundle.module.url(forResource: "Golden/spectrum-densenet", withExtension: "h5"))
    let golden = try HDF5File(reading: url.path)
    let model = try NetworkConfiguration.denseNet(
      DenseNetConfiguration(
        depth: 10, growthRate: 4, batchNorm: true, inputChannels: 1, inputHeight: 8, inputWidth: 8, classes: 4)
    ).model()
    // `gradtrace init`'s weights: drawn in Float, as the checkpoint PyTorch loaded holds them.
    let weights = model.initialParameters(
      .pytorchDefault, seed: UInt64(try golden.attribute("seed", as: Int64.self)), as: Float.self
    ).converted(to: Double.self)
    let (pixels, shape) = try golden.read(Double.self, from: "/images")
    let labels = try golden.read(Int64.self, from: "/labels").values.map { Int($0) }
    let probe = CurvatureProbe(
      model: model, weights: weights, buffers: model.initialBuffers(), images: Tensor(shape: shape, scalars: pixels),
      labels: labels)
    #expect(abs(probe.loss().loss - (try golden.attribute("loss", as: Double.self))) <= 1e-10)
    let exact = try golden.read(Double.self, from: "/eigenvalues").values
    let spectrum = probe.spectrum(steps: Self.steps, topK: 5, seed: 5)
    let scale = exact.map(abs).max()!
    let pairs = Array(zip(spectrum.top, exact.reversed())) + Array(zip(spectrum.bottom, exact))
    for (ours, theirs) in pairs {
      #expect(abs(ours - theirs) <= 1e-7 * scale, "Lanczos \(ours), PyTorch \(theirs)")
    }
    print("spectrum golden: top \(spectrum.top), bottom \(spectrum.bottom) after \(spectrum.steps) steps")
  }

  /// Enough steps for the five extreme eigenvalues at each end to converge to 1e-7.
  static let steps = 400
}

import Foundation
import Networks
import TensorCore
import Testing
import TraceIO

/// The families past the paper's VGGs and a model file, against PyTorch 2.13 in float64 on the
/// weights `gradtrace init` writes, BatchNorm in training mode: loss, every parameter gradient
/// and gᵀHg (Taylor mode here, double backward there) within 1e-7 relative. Golden values come
/// from scripts/torch_family_golden.py (stored in float64, with their batch); the PyTorch side
/// builds the same graph from the checkpoint and draws dropout masks as gradtrace does.
@Suite("Families against PyTorch float64")
struct FamilyGoldenTests {
  struct Variant: Sendable, CustomTestStringConvertible {
    let file: String
    let configuration: @Sendable () throws -> NetworkConfiguration
    var testDescription: String { file }
  }

  static let variants = [
    Variant(file: "densenet40-bn") {
      .denseNet(DenseNetConfiguration(depth: 40, batchNorm: true, inputChannels: 1, classes: 10))
    },
    Variant(file: "resnet20-bn-res") {
      .resNet(ResNetConfiguration(depth: 20, batchNorm: true, residual: true, inputChannels: 1, classes: 10))
    },
    Variant(file: "small-cnn") {
      let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
        "../../examples/models/small-cnn.json")
      return .graph(try JSONDecoder().decode(ModelGraph.self, from: Data(contentsOf: url)))
    },
  ]

  static let tolerance = 1e-7

  @Test(arguments: variants)
  func doubleEngineMatchesPyTorch(_ variant: Variant) throws {
    let url = try #require(Bundle.module.url(forResource: "Golden/families/\(variant.file)", withExtension: "h5"))
    let golden = try HDF5File(reading: url.path)
    let model = try variant.configuration().model()
    // `gradtrace init`'s weights: drawn in Float, as the checkpoint PyTorch loaded holds them.
    let parameters = model.initialParameters(
      .pytorchDefault, seed: UInt64(try golden.attribute("seed", as: Int64.self)), as: Float.self
    ).converted(to: Double.self)
    for name in parameters.names {
      let norm = try golden.read(Double.self, from: "/weight_norms/\(name)").values[0]
      let ours = parameters[name]!.squaredNorm.squareRoot()
      #expect(abs(ours - norm) <= 1e-6 * norm, "\(name): weights differ from the golden run; rerun the script")
    }
    let buffers: NamedTensors<Double> = model.initialBuffers()
    let (pixels, shape) = try golden.read(Double.self, from: "/images")
    let images = Tensor(shape: shape, scalars: pixels)
    let labels = try golden.read(Int64.self, from: "/labels").values.map { Int($0) }

    let result = model.gradient(parameters: parameters, buffers: buffers, images: images, labels: labels)
    let goldenLoss = try golden.attribute("loss", as: Double.self)
    #expect(abs(result.loss - goldenLoss) <= Self.tolerance * abs(goldenLoss), "loss \(result.loss) vs \(goldenLoss)")
    var worst = (error: 0.0, name: "")
    for name in parameters.names {
      let (values, shape) = try golden.read(Double.self, from: "/gradients/\(name)")
      let expected = Tensor(shape: shape, scalars: values)
      let error =
        result.gradient[name]!.zipped(with: expected, -).squaredNorm.squareRoot()
        / expected.squaredNorm.squareRoot()
      if error > worst.error { worst = (error, name) }
    }
    #expect(worst.error <= Self.tolerance, "\(worst.name): relative gradient error \(worst.error)")

    let curvature = model.curvature(
      parameters: parameters, buffers: buffers, images: images, labels: labels, along: result.gradient
    ).curvature
    let goldenCurvature = try golden.attribute("gHg", as: Double.self)
    let curvatureError = abs(curvature - goldenCurvature) / abs(goldenCurvature)
    #expect(curvatureError <= Self.tolerance, "gᵀHg \(curvature) vs PyTorch \(goldenCurvature)")
    print(
      "golden \(variant.file): worst gradient error \(worst.error) (\(worst.name)), gᵀHg error \(curvatureError)")
  }
}

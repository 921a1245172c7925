import Foundation
import Networks
import TensorCore
import Testing
import TraceIO
import _NumericalTestSupport

/// The engine against PyTorch 2.13 (float64) on identical weights and batch, and the Float
/// engine against the Double engine. Golden values come from scripts/torch_reference.py
/// (`make golden`); CI does not need PyTorch.
///
/// In Double every parameter gradient must agree with PyTorch's float64 one within 1e-6
/// relative error, ‖g − g_torch‖ / ‖g_torch‖ (measured: ≤ 4e-8 on every variant). The one
/// exception is a gradient that is zero in exact arithmetic: the bias of a convolution followed by
/// BatchNorm in training mode (BN subtracts the batch mean, so the bias cancels). There both
/// sides hold rounding noise, so we require ‖g‖ ≤ 1e-6 · ‖whole gradient‖ instead. Gradients
/// that are tiny but real (plain VGG38's stem at ~1e-18) are compared relatively.
///
/// In Float no fixed bound is portable: deep BatchNorm networks amplify float32 rounding (PyTorch's
/// own float32 gradients of vgg38-bn differ from its float64 ones by 8%), and how much depends on
/// the CPU's BLAS kernel. The Float engine is held to its measured rounding sensitivity on this
/// machine instead (`FloatRoundingBound`), against the Double engine that PyTorch pins.
@Suite("Cross-check against PyTorch golden values")
struct TorchGoldenTests {
  struct Variant: Sendable, CustomTestStringConvertible {
    let file: String
    let vgg: VGGConfiguration
    var configuration: NetworkConfiguration { .vgg(vgg) }
    var testDescription: String { file }
  }

  static let variants = [
    Variant(file: "vgg08", vgg: .preset(.vgg08)),
    Variant(file: "vgg38", vgg: .preset(.vgg38)),
    Variant(file: "vgg38-bn", vgg: .preset(.vgg38, batchNorm: true)),
    Variant(file: "vgg38-bn-res", vgg: .preset(.vgg38, batchNorm: true, residual: true)),
    Variant(file: "vgg38-bn-sigmoid", vgg: .preset(.vgg38, batchNorm: true, activation: .sigmoid)),
  ]

  static func goldenPath(_ name: String) throws -> String {
    let url = try #require(Bundle.module.url(forResource: "Golden/\(name)", withExtension: "h5"))
    return url.path
  }

  /// The variant's network in Float with the golden run's weights, and the golden batch.
  static func setUp(_ variant: Variant) throws -> (network: Network<Float>, images: Tensor<Float>, labels: [Int]) {
    let batch = try HDF5File(reading: try goldenPath("batch"))
    let (pixels, imageShape) = try batch.read(Float.self, from: "/images")
    let labels = try batch.read(Int64.self, from: "/labels").values.map { Int($0) }
    let golden = try HDF5File(reading: try goldenPath(variant.file))
    // Initialised exactly as `gradtrace init` does.
    let network = try Network<Float>(variant.configuration, seed: UInt64(try golden.attribute("seed", as: Int64.self)))
    // The weights must be those PyTorch loaded: a changed initialiser needs `make golden`.
    for name in network.parameters.names {
      let norm = try golden.read(Double.self, from: "/weight_norms/\(name)").values[0]
      let ours = network.parameters[name]!.squaredNorm.squareRoot()
      #expect(abs(ours - norm) <= 1e-5 * norm, "\(name): weights differ from the golden run; rerun `make golden`")
    }
    return (network, Tensor(shape: imageShape, scalars: pixels), labels)
  }

  /// The engine in Double against PyTorch in float64: the same code as training, without
  /// float32 rounding, so any disagreement is a wrong derivative.
  @Test(arguments: variants)
  func doubleEngineMatchesPyTorch(_ variant: Variant) throws {
    let (initial, images, labels) = try Self.setUp(variant)
    let network = try Network<Double>(
      variant.configuration, parameters: initial.parameters.converted(to: Double.self),
      buffers: initial.buffers.converted(to: Double.self))
    let result = network.gradients(images: images.converted(), labels: labels, mode: .training)
    let golden = try HDF5File(reading: try Self.goldenPath(variant.file))
    let goldenLoss = try golden.attribute("loss", as: Double.self)
    #expect(abs(result.loss - goldenLoss) <= 1e-9 * abs(goldenLoss), "loss \(result.loss) vs PyTorch \(goldenLoss)")

    var reference: [String: Tensor<Double>] = [:]
    for name in network.parameters.names {
      let (values, shape) = try golden.read(Double.self, from: "/gradients/\(name)")
      reference[name] = Tensor(shape: shape, scalars: values)
    }
    let total = reference.values.reduce(0) { $0 + $1.squaredNorm }.squareRoot()
    var worst = (error: 0.0, name: "")
    for name in network.parameters.names {
      let expected = reference[name]!
      let ours = result.gradients[name]!
      if Self.isZeroInExactArithmetic(name, variant.configuration) {
        #expect(ours.squaredNorm.squareRoot() <= 1e-6 * total, "\(name) should be zero up to rounding")
        continue
      }
      let error = ours.zipped(with: expected, -).squaredNorm.squareRoot() / expected.squaredNorm.squareRoot()
      if error > worst.error { worst = (error, name) }
    }
    #expect(worst.error <= 1e-6, "\(worst.name): relative error \(worst.error)")
    print("golden \(variant.file) Double: worst relative gradient error \(worst.error) (\(worst.name))")
  }

  /// The engine in Float, as it trains, against the engine in Double on the same weights and
  /// batch: each parameter's gradient within 4× its measured float32 rounding spread (the Double
  /// engine is the one PyTorch pins above).
  @Test(arguments: variants)
  func floatEngineMatchesDoubleWithinItsRounding(_ variant: Variant) throws {
    let (network, images, labels) = try Self.setUp(variant)
    let names = network.parameters.names
    let exact = try Network<Double>(
      variant.configuration, parameters: network.parameters.converted(to: Double.self),
      buffers: network.buffers.converted(to: Double.self)
    ).gradients(images: images.converted(), labels: labels, mode: .training).gradients
    let scales = names.map {
      Self.isZeroInExactArithmetic($0, variant.configuration) ? exact.norm : exact[$0]!.squaredNorm.squareRoot()
    }
    let checks = FloatRoundingBound.check(
      names: names, scales: scales, weights: network.parameters, images: images, labels: labels,
      exact: { Self.gradient(variant, network.buffers.converted(to: Double.self), $0, $1, $2, names) },
      float32: { Self.gradient(variant, network.buffers, $0, $1, $2, names) })
    for check in checks { #expect(check.holds, "\(variant.file) Float: \(check)") }
    let worst = checks.max { $0.error < $1.error }!
    let tightest = checks.max { $0.error / $0.bound < $1.error / $1.bound }!
    let golden = try HDF5File(reading: try Self.goldenPath(variant.file))
    let torchFloat32 = try golden.attribute("torch_float32_worst_error", as: Double.self)
    print(
      "golden \(variant.file) Float: worst \(worst); tightest \(tightest); PyTorch float32 worst \(torchFloat32)")
  }

  /// The gradient of the variant at these weights and batch, one component per parameter.
  static func gradient<Scalar: TensorScalar>(
    _ variant: Variant, _ buffers: NamedTensors<Scalar>, _ weights: NamedTensors<Scalar>, _ images: Tensor<Scalar>,
    _ labels: [Int], _ names: [String]
  ) -> [[Double]] {
    let network = try! Network<Scalar>(variant.configuration, parameters: weights, buffers: buffers)
    let g = network.gradients(images: images, labels: labels, mode: .training, updateRunningStatistics: false)
    return names.map { g.gradients[$0]!.scalars.map(\.doubleValue) }
  }

  /// A convolution bias feeding a training-mode BatchNorm.
  static func isZeroInExactArithmetic(_ name: String, _ configuration: NetworkConfiguration) -> Bool {
    configuration.batchNorm && name.hasPrefix("reduction_block_") && name.hasSuffix(".bias") && name.contains(".conv_")
  }
}

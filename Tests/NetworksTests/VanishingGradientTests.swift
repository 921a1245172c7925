import Networks
import TensorCore
import Testing

/// The paper's central observation at initialisation: in a plain VGG38 the gradient reaching
/// the stem is many orders of magnitude below the head's; BatchNorm with residual connections
/// keeps it within a couple of orders.
@Suite("Vanishing gradients at initialisation")
struct VanishingGradientTests {
  /// mean |∂f/∂W| of the stem convolution over that of the linear layer, on one random batch.
  static func stemToHeadRatio(_ configuration: VGGConfiguration) throws -> Double {
    let network = try Network<Float>(configuration, seed: 0)
    var generator = SeededGenerator(seed: 99)
    let images = Tensor<Float>(
      shape: [16, 3, 32, 32], scalars: (0..<(16 * 3 * 32 * 32)).map { _ in Float(generator.nextNormal()) })
    let labels = (0..<16).map { $0 % configuration.classes }
    let gradients = network.gradients(images: images, labels: labels).gradients
    let stem = gradients["input_conv.conv_0.weight"]!.meanAbsolute
    let head = gradients["logit_linear_layer.weight"]!.meanAbsolute
    return stem / head
  }

  @Test func plainVGG38Vanishes() throws {
    let ratio = try Self.stemToHeadRatio(.preset(.vgg38))
    // The paper's setup: stem ~1e-18 against the linear layer's ~1e-4.
    #expect(ratio < 1e-8, "stem/head mean |g| ratio \(ratio)")
    #expect(ratio > 0, "the stem gradient is tiny but not zero")
  }

  @Test func batchNormResidualVGG38DoesNot() throws {
    let ratio = try Self.stemToHeadRatio(.preset(.vgg38, batchNorm: true, residual: true))
    #expect(ratio > 1e-2, "stem/head mean |g| ratio \(ratio)")
  }

  @Test func vgg08DoesNot() throws {
    let ratio = try Self.stemToHeadRatio(.preset(.vgg08))
    #expect(ratio > 1e-4, "stem/head mean |g| ratio \(ratio)")
  }
}

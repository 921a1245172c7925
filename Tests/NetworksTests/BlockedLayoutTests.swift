import Networks
import TensorCore
import Testing

/// Convolution outputs kept in oneDNN's blocked layout through BatchNorm, activations and
/// residual adds compute exactly what the NCHW engine computes: the same loss, accuracy and
/// gradient bits, and the same BatchNorm running statistics, on every family.
@Suite("Blocked activations change no bit")
struct BlockedLayoutTests {
  static let configurations: [NetworkConfiguration] = [
    .vgg(
      VGGConfiguration(
        numFilters: 32, numStages: 2, blocksPerStage: 2, inputChannels: 1, inputHeight: 16, inputWidth: 16,
        classes: 10, batchNorm: true, residual: true, activation: .leaky)),
    .resNet(ResNetConfiguration(depth: 8, inputChannels: 3, inputHeight: 16, inputWidth: 16, classes: 10)),
    .denseNet(
      DenseNetConfiguration(depth: 10, growthRate: 16, inputChannels: 3, inputHeight: 16, inputWidth: 16, classes: 10)),
  ]

  @Test(arguments: configurations)
  func sameBitsAsNCHW(_ configuration: NetworkConfiguration) throws {
    let shape = [6] + configuration.inputShape
    let images = randomTensor(shape, seed: 4).converted(to: Float.self)
    let labels = (0..<6).map { $0 % configuration.classes }
    func step(blocked: Bool) throws -> (Float, [[Float]], [[Float]]) {
      try OneDNNConvolution.$blockedLayoutOverride.withValue(blocked) {
        let network = try Network<Float>(configuration, initialization: .he, seed: 1)
        let result = network.gradients(images: images, labels: labels)
        return (
          result.loss, result.gradients.entries.map(\.tensor.scalars), network.buffers.entries.map(\.tensor.scalars)
        )
      }
    }
    let (plainLoss, plainGradients, plainBuffers) = try step(blocked: false)
    let (blockedLoss, blockedGradients, blockedBuffers) = try step(blocked: true)
    #expect(blockedLoss == plainLoss)
    let (sameGradients, sameBuffers) = (blockedGradients == plainGradients, blockedBuffers == plainBuffers)
    #expect(sameGradients, "gradients differ")
    #expect(sameBuffers, "running statistics differ")
  }
}

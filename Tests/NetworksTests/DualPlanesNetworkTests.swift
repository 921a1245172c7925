import Autodiff
import Networks
import TensorCore
import Testing

/// H·v with its dual activations kept as coefficient planes between convolutions (the
/// networks without BatchNorm after their convolutions: plain VGG and ResNet, with and without
/// residual connections) gives the same product and gradient bits as with them interleaved.
@Suite("H·v on dual coefficient planes")
struct DualPlanesNetworkTests {
  static let configurations: [NetworkConfiguration] = [
    .vgg(
      VGGConfiguration(
        numFilters: 32, numStages: 2, blocksPerStage: 1, inputChannels: 1, inputHeight: 16, inputWidth: 16,
        classes: 10, batchNorm: false, residual: false, activation: .leaky)),
    .vgg(
      VGGConfiguration(
        numFilters: 32, numStages: 2, blocksPerStage: 1, inputChannels: 1, inputHeight: 16, inputWidth: 16,
        classes: 10, batchNorm: false, residual: true, activation: .leaky)),
    .resNet(
      ResNetConfiguration(
        depth: 8, batchNorm: false, residual: false, inputChannels: 3, inputHeight: 16, inputWidth: 16, classes: 10)),
    .resNet(
      ResNetConfiguration(
        depth: 8, batchNorm: false, residual: true, inputChannels: 3, inputHeight: 16, inputWidth: 16, classes: 10)),
  ]

  @Test(arguments: configurations)
  func sameBitsAsInterleaved(_ configuration: NetworkConfiguration) throws {
    let shape = [6] + configuration.inputShape
    let images = randomTensor(shape, seed: 4).converted(to: Float.self)
    let labels = (0..<6).map { $0 % configuration.classes }
    func product(planes: Bool) throws -> [[Float]] {
      try DualPlanes.$keepsPlanesOverride.withValue(planes) {
        let network = try BlockedLayoutTests.network(configuration)
        var direction = NamedTensors<Float>()
        for (index, (name, tensor)) in network.parameters.entries.enumerated() {
          direction.append(randomTensor(tensor.shape, seed: 9 + UInt64(index)).converted(to: Float.self), named: name)
        }
        let hvp = network.hessianVectorProduct(images: images, labels: labels, direction: direction)
        return hvp.product.entries.map(\.tensor.scalars) + hvp.gradient.entries.map(\.tensor.scalars)
      }
    }
    let interleaved = try product(planes: false)
    let planar = try product(planes: true)
    let differing = zip(planar, interleaved).enumerated().filter { $0.element.0 != $0.element.1 }.map(\.offset)
    #expect(differing.isEmpty, "H·v and gradient tensors \(differing) differ")
  }
}

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

  /// A network whose every parameter is moved off its initial value (BatchNorm's γ = 1 and
  /// β = 0 would hide channels mixed up inside a block).
  static func network(_ configuration: NetworkConfiguration) throws -> Network<Float> {
    let network = try Network<Float>(configuration, initialization: .he, seed: 1)
    for (index, (name, tensor)) in network.parameters.entries.enumerated() {
      let noise = randomTensor(tensor.shape, seed: 100 + UInt64(index)).converted(to: Float.self)
      network.parameters[name] = tensor.zipped(with: noise) { $0 + 0.3 * $1 }
    }
    return network
  }

  @Test(arguments: configurations)
  func sameBitsAsNCHW(_ configuration: NetworkConfiguration) throws {
    let shape = [6] + configuration.inputShape
    let images = randomTensor(shape, seed: 4).converted(to: Float.self)
    let labels = (0..<6).map { $0 % configuration.classes }
    func step(blocked: Bool) throws -> (Float, [[Float]], [[Float]]) {
      try OneDNNConvolution.$blockedLayoutOverride.withValue(blocked) {
        let network = try Self.network(configuration)
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

  /// H·v (dual numbers, forward-over-reverse) and vᵀHv (jets, Taylor mode) keep their series
  /// activations blocked the same way: BatchNorm walks a blocked slice in NCHW's order and the
  /// convolutions see the same values, so the products are the same bits.
  @Test(arguments: configurations)
  func sameCurvatureBitsAsNCHW(_ configuration: NetworkConfiguration) throws {
    let shape = [6] + configuration.inputShape
    let images = randomTensor(shape, seed: 4).converted(to: Float.self)
    let labels = (0..<6).map { $0 % configuration.classes }
    func products(blocked: Bool) throws -> (hv: [[Float]], gradient: [[Float]], curvature: [Float]) {
      try OneDNNConvolution.$blockedLayoutOverride.withValue(blocked) {
        let network = try Self.network(configuration)
        var direction = NamedTensors<Float>()
        for (index, (name, tensor)) in network.parameters.entries.enumerated() {
          direction.append(randomTensor(tensor.shape, seed: 9 + UInt64(index)).converted(to: Float.self), named: name)
        }
        let hvp = network.hessianVectorProduct(images: images, labels: labels, direction: direction)
        let taylor = network.curvature(images: images, labels: labels, along: direction)
        return (
          hvp.product.entries.map(\.tensor.scalars), hvp.gradient.entries.map(\.tensor.scalars),
          [taylor.loss, taylor.slope, taylor.curvature]
        )
      }
    }
    let plain = try products(blocked: false)
    let blocked = try products(blocked: true)
    let (sameProduct, sameGradient) = (blocked.hv == plain.hv, blocked.gradient == plain.gradient)
    #expect(sameProduct, "H·v differs")
    #expect(sameGradient, "the gradient beside H·v differs")
    #expect(blocked.curvature == plain.curvature, "loss, gᵀv or vᵀHv by Taylor mode differ")
  }
}

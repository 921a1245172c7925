import Networks
import TensorCore
import Testing

/// BatchNorm → leaky ReLU and add → leaky ReLU run as one pass (`ElementwiseFusion`): which
/// chains are fused, and that fusing them changes no bit of anything a network computes.
@Suite("Fused element-wise chains")
struct ElementwiseFusionTests {
  /// The fused layers of `model`, as "head → activation" by name.
  static func fusedChains(_ model: Model) -> [String] {
    model.fusion.indices.compactMap { q in
      guard model.fusion[q] == .applied else { return nil }
      let p = model.inputIndices[q][0]
      return "\(model.graph.nodes[p].name) → \(model.graph.nodes[q].name)"
    }
  }

  @Test func fusesEachBatchNormOrAddThatOnlyALeakyReLUReads() throws {
    let model = try ModelGraphTests.residualModel()
    // block.bn_1 is read by the add, down.add by nothing but ends a block, down.tanh is no
    // leaky ReLU.
    #expect(
      Self.fusedChains(model) == ["stem.bn → stem.relu", "block.bn_0 → block.relu_0", "block.add → block.relu_1"])
    let slopes = model.fusion.compactMap { step -> Double? in
      guard case .withLeakyReLU(let slope) = step else { return nil }
      return slope
    }
    #expect(slopes == [0, 0, 0])
  }

  /// A BatchNorm whose output a trace records (a block end) or a second layer reads is kept.
  @Test func keepsAnIntermediateSomeoneElseReads() throws {
    var graph = ModelGraphBuilder(name: "kept", input: [2, 4, 4])
    graph.add("conv", Conv2d(outChannels: 4, kernel: 3, padding: 1))
    graph.add("recorded.bn", BatchNorm(), block: "recorded")
    graph.add("recorded.relu", LeakyReLU(slope: 0.1))
    let shared = graph.add("shared.bn", BatchNorm())
    let activated = graph.add("shared.relu", LeakyReLU(slope: 0.1))
    graph.add("shared.add", Add(), inputs: [activated, shared])
    graph.add("negative.bn", BatchNorm())
    graph.add("negative.act", LeakyReLU(slope: -0.5))
    graph.add("pool", GlobalAveragePool())
    graph.add("fc", Linear(outFeatures: 3))
    let model = try Model(graph.graph)
    #expect(Self.fusedChains(model).isEmpty)
    #expect(model.fusion.allSatisfy { $0 == .alone })
  }

  /// Loss, gradient, running statistics, H·v with the gradient beside it and Taylor mode's
  /// loss, gᵀv and vᵀHv, fused and apart, with activations blocked and in NCHW, on VGG
  /// BN+residual (BatchNorm → leaky ReLU, add → leaky ReLU), ResNet (the same with ReLU) and
  /// DenseNet (BatchNorm → ReLU), every parameter moved off its initial value.
  @Test(arguments: BlockedLayoutTests.configurations, [true, false])
  func sameBitsFusedAndApart(_ configuration: NetworkConfiguration, blocked: Bool) throws {
    let shape = [6] + configuration.inputShape
    let images = randomTensor(shape, seed: 4).converted(to: Float.self)
    let labels = (0..<6).map { $0 % configuration.classes }
    func everything(fused: Bool) throws -> [[Float]] {
      try ElementwiseFusion.$override.withValue(fused) {
        try OneDNNConvolution.$blockedLayoutOverride.withValue(blocked) {
          let network = try BlockedLayoutTests.network(configuration)
          #expect(network.model.fusion.contains(.applied), "\(configuration) has no fused chain")
          var direction = NamedTensors<Float>()
          for (index, (name, tensor)) in network.parameters.entries.enumerated() {
            direction.append(randomTensor(tensor.shape, seed: 9 + UInt64(index)).converted(to: Float.self), named: name)
          }
          let step = network.gradients(images: images, labels: labels)
          let hvp = network.hessianVectorProduct(images: images, labels: labels, direction: direction)
          let taylor = network.curvature(images: images, labels: labels, along: direction)
          return [[step.loss], [taylor.loss, taylor.slope, taylor.curvature]]
            + step.gradients.entries.map(\.tensor.scalars) + network.buffers.entries.map(\.tensor.scalars)
            + hvp.product.entries.map(\.tensor.scalars) + hvp.gradient.entries.map(\.tensor.scalars)
        }
      }
    }
    let apart = try everything(fused: false)
    let fused = try everything(fused: true)
    #expect(fused.count == apart.count)
    let differing = zip(fused, apart).enumerated().filter { $0.element.0 != $0.element.1 }.map(\.offset)
    #expect(differing.isEmpty, "results \(differing) differ (0: loss, 1: Taylor mode, then gradients, buffers, H·v)")
  }
}

import Networks
import Testing

/// He et al.'s (2016) CIFAR ResNets as model descriptions: parameter counts as published (the
/// option-A shortcut has no parameters), the plain network the same graph minus its shortcuts.
@Suite("CIFAR ResNets")
struct ResNetTests {
  /// The parameter count from the architecture's arithmetic: per basic block two 3×3
  /// convolutions (and two BatchNorms), no shortcut parameters.
  static func expectedParameters(_ c: ResNetConfiguration) -> Int {
    let bn = c.batchNorm ? 2 : 0
    var channels = 16
    var total = c.inputChannels * 16 * 9 + bn * 16
    for width in ResNetConfiguration.stageWidths {
      for _ in 0..<c.blocksPerStage {
        total += channels * width * 9 + width * width * 9 + 2 * bn * width
        channels = width
      }
    }
    return total + 64 * c.classes + c.classes
  }

  @Test(arguments: [
    (20, 269_722), (32, 464_154), (56, 853_018),
  ])
  func publishedSizes(depth: Int, parameters: Int) throws {
    // 3×32×32 CIFAR-10: 0.27M, 0.46M and 0.85M as in He et al.'s Table 6.
    let configuration = ResNetConfiguration(depth: depth, classes: 10)
    let model = try Model(configuration.graph)
    #expect(model.parameterCount == parameters)
    #expect(model.parameterCount == Self.expectedParameters(configuration))
    #expect(model.blocks.count == 1 + 3 * configuration.blocksPerStage)
  }

  @Test func plainAndUnnormalisedVariantsDropOnlyTheirLayers() throws {
    let full = try Model(ResNetConfiguration(depth: 20).graph)
    let plain = try Model(ResNetConfiguration(depth: 20, residual: false).graph)
    let bare = ResNetConfiguration(depth: 20, batchNorm: false, residual: false, inputChannels: 1, classes: 10)
    #expect(plain.parameterCount == full.parameterCount, "option-A shortcuts have no parameters")
    #expect(full.graph.nodes.filter { $0.layer is Add }.count == 9)
    #expect(full.graph.nodes.filter { $0.layer is SubsamplePad }.count == 2, "where the stage changes width")
    #expect(!plain.graph.nodes.contains { $0.layer is Add || $0.layer is SubsamplePad })
    #expect(try Model(bare.graph).parameterCount == Self.expectedParameters(bare))
    // Stages halve the map twice: 32 → 16 → 8 before global pooling.
    #expect(full.shapes[full.shapes.count - 3] == [64, 8, 8])
  }

  @Test func badDepthAndSizeAreRefused() {
    #expect(throws: ConfigurationError.self) { try ResNetConfiguration(depth: 21).validate() }
    #expect(throws: ConfigurationError.self) { try ResNetConfiguration(inputHeight: 30).validate() }
  }
}

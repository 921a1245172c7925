import Networks
import Testing

/// DenseNet-BC (Huang et al. 2017) as a model description: the parameter count follows the
/// paper's layer arithmetic, the graph connects, and without BatchNorm only the BN layers go.
@Suite("DenseNet-BC")
struct DenseNetTests {
  /// The parameter count from the architecture's arithmetic, independent of the builder.
  static func expectedParameters(_ c: DenseNetConfiguration) -> Int {
    let k = c.growthRate
    let bn = c.batchNorm ? 2 : 0
    var channels = 2 * k
    var total = c.inputChannels * channels * 9
    for block in 0..<3 {
      for _ in 0..<c.layersPerBlock {
        total += bn * channels + channels * 4 * k + bn * 4 * k + 4 * k * k * 9
        channels += k
      }
      if block < 2 {
        let kept = Int((c.compression * Double(channels)).rounded(.down))
        total += bn * channels + channels * kept
        channels = kept
      }
    }
    return total + bn * channels + channels * c.classes + c.classes
  }

  @Test(arguments: [
    DenseNetConfiguration(), DenseNetConfiguration(batchNorm: false),
    DenseNetConfiguration(depth: 100, inputChannels: 3, classes: 10),
    DenseNetConfiguration(depth: 22, growthRate: 8, inputChannels: 1, classes: 10),
  ])
  func parameterCountFollowsTheArchitecture(_ configuration: DenseNetConfiguration) throws {
    try configuration.validate()
    let model = try Model(configuration.graph)
    #expect(model.parameterCount == Self.expectedParameters(configuration))
    #expect(model.classes == configuration.classes)
    // Three blocks of (L − 4)/6 layers and two transitions are the recorded blocks.
    #expect(model.blocks.count == 3 * configuration.layersPerBlock + 2)
    let batchNorms = model.graph.nodes.filter { $0.layer is BatchNorm }.count
    #expect(batchNorms == (configuration.batchNorm ? 2 * 3 * configuration.layersPerBlock + 3 : 0))
  }

  /// The published CIFAR DenseNet-BC with L = 100, k = 12 has 0.8M parameters.
  @Test func depth100IsThePublishedSize() throws {
    let model = try Model(DenseNetConfiguration(depth: 100, classes: 10).graph)
    #expect((750_000...820_000).contains(model.parameterCount), "\(model.parameterCount)")
  }

  @Test func badDepthIsRefused() {
    #expect(throws: ConfigurationError.self) { try DenseNetConfiguration(depth: 41).validate() }
  }
}

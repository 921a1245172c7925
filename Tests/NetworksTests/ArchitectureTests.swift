import Networks
import Testing

@Suite("VGG family architecture")
struct ArchitectureTests {
  struct CountCase: Sendable, CustomTestStringConvertible {
    let preset: VGGConfiguration.Preset
    let batchNorm: Bool
    let residual: Bool
    let parameters: Int
    var testDescription: String { "\(preset)\(batchNorm ? " BN" : "")\(residual ? " res" : "") = \(parameters)" }
  }

  /// The paper's parameter counts for 3×32×32 input and 100 classes.
  @Test(arguments: [
    CountCase(preset: .vgg08, batchNorm: false, residual: false, parameters: 59_716),
    CountCase(preset: .vgg38, batchNorm: false, residual: false, parameters: 336_196),
    CountCase(preset: .vgg38, batchNorm: true, residual: false, parameters: 338_500),
    CountCase(preset: .vgg38, batchNorm: true, residual: true, parameters: 341_572),
    CountCase(preset: .vgg08, batchNorm: true, residual: true, parameters: 63_172),
  ])
  func parameterCountMatchesThePaper(_ c: CountCase) throws {
    let network = try Network<Float>(.preset(c.preset, batchNorm: c.batchNorm, residual: c.residual))
    #expect(network.parameterCount == c.parameters)
    #expect(ModelDescription(network: network).parameterCount == c.parameters)
  }

  @Test func vgg08WeightTensorLabels() throws {
    let network = try Network<Float>(.preset(.vgg08))
    #expect(
      network.weightTensors.map(\.label) == [
        "input_conv_conv_0", "input_conv_bn_0",
        "reduction_block_0_conv_0", "reduction_block_0_conv_1",
        "reduction_block_1_conv_0", "reduction_block_1_conv_1",
        "reduction_block_2_conv_0", "reduction_block_2_conv_1",
        "logit_linear_layer",
      ])
  }

  @Test func vgg38WeightTensorLabels() throws {
    let labels = try Network<Float>(.preset(.vgg38)).weightTensors.map(\.label)
    var expected = ["input_conv_conv_0", "input_conv_bn_0"]
    for stage in 0..<3 {
      for block in 0..<5 { expected += ["block_\(stage)_\(block)_conv_0", "block_\(stage)_\(block)_conv_1"] }
      expected += ["reduction_block_\(stage)_conv_0", "reduction_block_\(stage)_conv_1"]
    }
    expected.append("logit_linear_layer")
    #expect(labels.count == 39)
    #expect(labels == expected)
  }

  @Test func parameterNamesFollowTheDesign() throws {
    let names = try Network<Float>(.preset(.vgg38, batchNorm: true, residual: true)).parameters.names
    #expect(names.first == "input_conv.conv_0.weight")
    #expect(names.contains("block_1_4.bn_1.bias"))
    #expect(names.contains("reduction_block_2.conv_1.bias"))
    #expect(names.contains("reduction_block_0.shortcut.weight"))
    #expect(!names.contains("block_0_0.conv_0.bias"), "processing convolutions have no bias")
    #expect(names.suffix(2) == ["logit_linear_layer.weight", "logit_linear_layer.bias"])
  }

  @Test func residualOn28x28IsRejectedWithAClearMessage() {
    let configuration = VGGConfiguration.preset(
      .vgg08, residual: true, inputChannels: 1, inputHeight: 28, inputWidth: 28, classes: 10)
    #expect {
      try configuration.validate()
    } throws: { error in
      let message = "\(error)"
      return message.contains("reduction_block_2") && message.contains("3×3") && message.contains("4×4")
    }
    // Without residual connections 28×28 is fine (7 → 3 by pooling only).
    #expect(throws: Never.self) {
      try VGGConfiguration.preset(.vgg08, inputChannels: 1, inputHeight: 28, inputWidth: 28, classes: 10).validate()
    }
  }

  @Test func layerTableCoversEveryParameter() throws {
    let network = try Network<Float>(.preset(.vgg38, batchNorm: true, residual: true, inputChannels: 1, classes: 10))
    let layers = network.layers()
    #expect(layers.last?.name == "logit_linear_layer")
    #expect(layers.last?.outputShape == [1, 10])
    #expect(layers.first { $0.name == "reduction_block_2.pool" }?.outputShape == [1, 32, 4, 4])
    #expect(layers.first { $0.name == "reduction_block_0.shortcut" }?.outputShape == [1, 32, 16, 16])
    #expect(layers.reduce(0) { $0 + $1.parameters } == network.parameterCount)
  }
}

// The wiring of the VGG family (Pricope 2021, and the coursework framework it ran in), as a
// model description: the stem, per stage its processing blocks and its reduction block, then
// global average pooling and the linear head.

extension VGGConfiguration {
  /// The network as a model description; parameter names, order and wiring are the paper's
  /// framework's (PyTorch module names).
  public var graph: ModelGraph {
    let f = numFilters
    var graph = ModelGraphBuilder(name: shortName, input: [inputChannels, inputHeight, inputWidth])
    func activation(_ name: String, block: String? = nil) {
      switch self.activation {
      case .leaky: graph.add(name, LeakyReLU(slope: Activation.leakySlope), block: block)
      case .sigmoid: graph.add(name, Sigmoid(), block: block)
      }
    }
    func convolution(_ name: String, bias: Bool, batchNorm: Bool, index: Int) {
      graph.add("\(name).conv_\(index)", Conv2d(outChannels: f, kernel: 3, padding: 1, bias: bias))
      if batchNorm { graph.add("\(name).bn_\(index)", BatchNorm()) }
    }
    // Stem: conv (no bias) → BatchNorm (always, even without --batchnorm) → activation.
    convolution("input_conv", bias: false, batchNorm: true, index: 0)
    activation("input_conv.activation_0", block: "input_conv")
    for stage in 0..<numStages {
      // Processing block: conv_0 → [bn_0] → act → conv_1 → [bn_1] → (+ x) → act.
      for index in 0..<blocksPerStage {
        let name = "block_\(stage)_\(index)"
        let input = graph.last
        convolution(name, bias: false, batchNorm: batchNorm, index: 0)
        activation("\(name).activation_0")
        convolution(name, bias: false, batchNorm: batchNorm, index: 1)
        if residual { graph.add("\(name).residual_add", Add(), inputs: [graph.last, input]) }
        activation("\(name).activation_1", block: name)
      }
      // Reduction block: conv_0 (bias) → [bn_0] → act → avgpool 2×2 → conv_1 (bias) → [bn_1]
      // → (+ 1×1 stride-2 projection of x) → act.
      let name = "reduction_block_\(stage)"
      let input = graph.last
      convolution(name, bias: true, batchNorm: batchNorm, index: 0)
      activation("\(name).activation_0")
      graph.add("\(name).pool", AveragePool(window: 2))
      convolution(name, bias: true, batchNorm: batchNorm, index: 1)
      if residual {
        let main = graph.last
        let shortcut = graph.add(
          "\(name).shortcut", Conv2d(outChannels: f, kernel: 1, stride: 2, bias: false), inputs: [input])
        graph.add("\(name).residual_add", Add(), inputs: [main, shortcut])
      }
      activation("\(name).activation_1", block: name)
    }
    graph.add("global_pool", GlobalAveragePool())
    graph.add("logit_linear_layer", Linear(outFeatures: classes))
    return graph.graph
  }
}

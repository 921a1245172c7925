// DenseNet-BC for CIFAR: G. Huang, Z. Liu, L. van der Maaten, K. Q. Weinberger, "Densely
// Connected Convolutional Networks" (CVPR 2017). The third fix for vanishing gradients that
// Pricope (2021) describes (§3.3) but does not test: each layer's output is concatenated to its
// input instead of added, so every layer reads every earlier feature map of its block.

/// Everything that fixes a DenseNet-BC.
public struct DenseNetConfiguration: Codable, Equatable, Sendable {
  /// Total depth L: three dense blocks of (L − 4)/6 bottleneck layers (40 gives 6 each).
  public var depth = 40
  /// Channels each bottleneck layer adds (k).
  public var growthRate = 12
  /// Transitions keep ⌊θ·c⌋ of c channels (θ = 0.5: the "C" of BC).
  public var compression = 0.5
  /// BatchNorm before every convolution (pre-activation); without it the same graph minus BN.
  public var batchNorm = true
  public var inputChannels = 3
  public var inputHeight = 32
  public var inputWidth = 32
  public var classes = 100

  public init(
    depth: Int = 40, growthRate: Int = 12, compression: Double = 0.5, batchNorm: Bool = true, inputChannels: Int = 3,
    inputHeight: Int = 32, inputWidth: Int = 32, classes: Int = 100
  ) {
    self.depth = depth
    self.growthRate = growthRate
    self.compression = compression
    self.batchNorm = batchNorm
    self.inputChannels = inputChannels
    self.inputHeight = inputHeight
    self.inputWidth = inputWidth
    self.classes = classes
  }

  /// Bottleneck layers per dense block.
  public var layersPerBlock: Int { (depth - 4) / 6 }

  /// A short name such as `densenet40-bn` or `densenet40` (no BatchNorm).
  public var shortName: String {
    "densenet\(depth)\(growthRate == 12 ? "" : "-k\(growthRate)")\(batchNorm ? "-bn" : "")"
  }

  /// - Throws: `ConfigurationError` when the depth is not 6n + 4 with n ≥ 1, or the input is too
  ///   small for two 2×2 transitions.
  public func validate() throws(ConfigurationError) {
    guard depth >= 10, (depth - 4) % 6 == 0 else {
      throw ConfigurationError(
        message: "DenseNet-BC depth must be 6n + 4 with n ≥ 1 (10, 16, 22, 40, 100, …), got \(depth)")
    }
    guard growthRate >= 1 else {
      throw ConfigurationError(message: "growth rate must be at least 1, got \(growthRate)")
    }
    guard compression > 0, compression <= 1 else {
      throw ConfigurationError(message: "compression must be in (0, 1], got \(compression)")
    }
    guard inputHeight >= 4, inputWidth >= 4 else {
      throw ConfigurationError(message: "input \(inputHeight)×\(inputWidth) is too small for two 2×2 transitions")
    }
  }

  /// The network as a model description (Huang et al.'s CIFAR DenseNet-BC): a 3×3 convolution
  /// to 2k channels; three dense blocks whose bottleneck layers are BN → ReLU → 1×1 conv (4k) →
  /// BN → ReLU → 3×3 conv (k), concatenated to their input; between blocks a transition BN →
  /// ReLU → 1×1 conv (⌊θ·c⌋) → 2×2 average pool; then BN → ReLU → global pool → linear.
  public var graph: ModelGraph {
    let k = growthRate
    var graph = ModelGraphBuilder(name: shortName, input: [inputChannels, inputHeight, inputWidth])
    var channels = 2 * k
    var features = graph.add("input_conv", Conv2d(outChannels: channels, kernel: 3, padding: 1, bias: false))
    func normalised(_ name: String, reading input: String) {
      if batchNorm {
        graph.add("\(name).bn", BatchNorm(), inputs: [input])
        graph.add("\(name).relu", ReLU())
      } else {
        graph.add("\(name).relu", ReLU(), inputs: [input])
      }
    }
    for block in 0..<3 {
      for layer in 0..<layersPerBlock {
        let name = "dense_block_\(block).layer_\(layer)"
        normalised("\(name).norm_0", reading: features)
        graph.add("\(name).conv_0", Conv2d(outChannels: 4 * k, kernel: 1, bias: false))
        normalised("\(name).norm_1", reading: graph.last)
        let new = graph.add("\(name).conv_1", Conv2d(outChannels: k, kernel: 3, padding: 1, bias: false))
        features = graph.add("\(name).concat", Concat(), inputs: [features, new], block: name)
        channels += k
      }
      guard block < 2 else { break }
      let name = "transition_\(block)"
      channels = Int((compression * Double(channels)).rounded(.down))
      normalised("\(name).norm", reading: features)
      graph.add("\(name).conv", Conv2d(outChannels: channels, kernel: 1, bias: false))
      features = graph.add("\(name).pool", AveragePool(window: 2), block: name)
    }
    normalised("final", reading: features)
    graph.add("global_pool", GlobalAveragePool())
    graph.add("classifier", Linear(outFeatures: classes))
    return graph.graph
  }
}

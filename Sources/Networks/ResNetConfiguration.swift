// The CIFAR ResNets of K. He, X. Zhang, S. Ren, J. Sun, "Deep Residual Learning for Image
// Recognition" (CVPR 2016, §4.2): a 3×3 convolution to 16 channels, three stages of n basic
// blocks at 16, 32 and 64 channels (depth 6n + 2: ResNet-20, -32, -56), global average pooling
// and a linear layer. Without residual connections, the plain network of the same depth (their
// plain-vs-residual comparison, Fig. 6).

/// Everything that fixes a CIFAR ResNet (or its plain counterpart).
public struct ResNetConfiguration: Codable, Equatable, Sendable {
  /// Total depth 6n + 2 (20, 32, 56, …): n basic blocks of two convolutions per stage.
  public var depth = 20
  /// BatchNorm after every convolution; without it the same graph minus BN.
  public var batchNorm = true
  /// Identity shortcuts (He et al.'s option A where the shape changes: every other pixel,
  /// channels zero-padded); without them the plain network.
  public var residual = true
  public var inputChannels = 3
  public var inputHeight = 32
  public var inputWidth = 32
  public var classes = 100

  public init(
    depth: Int = 20, batchNorm: Bool = true, residual: Bool = true, inputChannels: Int = 3, inputHeight: Int = 32,
    inputWidth: Int = 32, classes: Int = 100
  ) {
    self.depth = depth
    self.batchNorm = batchNorm
    self.residual = residual
    self.inputChannels = inputChannels
    self.inputHeight = inputHeight
    self.inputWidth = inputWidth
    self.classes = classes
  }

  /// Basic blocks per stage.
  public var blocksPerStage: Int { (depth - 2) / 6 }
  /// Channels of the three stages.
  public static let stageWidths = [16, 32, 64]

  /// A short name such as `resnet20-bn-res` or `resnet56` (plain, no BatchNorm).
  public var shortName: String { "resnet\(depth)\(batchNorm ? "-bn" : "")\(residual ? "-res" : "")" }

  /// - Throws: `ConfigurationError` when the depth is not 6n + 2 with n ≥ 1, or the input is
  ///   too small (or odd-sized where a stride-2 stage needs it even).
  public func validate() throws(ConfigurationError) {
    guard depth >= 8, (depth - 2) % 6 == 0 else {
      throw ConfigurationError(
        message: "CIFAR ResNet depth must be 6n + 2 with n ≥ 1 (8, 20, 32, 44, 56, 110, …), got \(depth)")
    }
    guard inputHeight % 4 == 0, inputWidth % 4 == 0, inputHeight >= 4, inputWidth >= 4 else {
      throw ConfigurationError(
        message:
          "input \(inputHeight)×\(inputWidth): a ResNet halves the size twice, so height and width must be multiples of 4 (for Fashion-MNIST keep the default 32×32 padding)"
      )
    }
  }

  /// The network as a model description, named as the usual PyTorch CIFAR ResNet's modules
  /// (`conv1`, `bn1`, `layer1.0.conv1`, …, `linear`): per basic block conv 3×3 (stride 2 at the
  /// start of stages 2 and 3) → [BN] → ReLU → conv 3×3 → [BN] → (+ shortcut) → ReLU.
  public var graph: ModelGraph {
    var graph = ModelGraphBuilder(name: shortName, input: [inputChannels, inputHeight, inputWidth])
    func convolution(_ name: String, channels: Int, stride: Int, norm: String) {
      graph.add(name, Conv2d(outChannels: channels, kernel: 3, stride: stride, padding: 1, bias: false))
      if batchNorm { graph.add(norm, BatchNorm()) }
    }
    convolution("conv1", channels: Self.stageWidths[0], stride: 1, norm: "bn1")
    graph.add("relu", ReLU(), block: "stem")
    var channels = Self.stageWidths[0]
    for (stage, width) in Self.stageWidths.enumerated() {
      for index in 0..<blocksPerStage {
        let name = "layer\(stage + 1).\(index)"
        let stride = stage > 0 && index == 0 ? 2 : 1
        let input = graph.last
        convolution("\(name).conv1", channels: width, stride: stride, norm: "\(name).bn1")
        graph.add("\(name).relu1", ReLU())
        convolution("\(name).conv2", channels: width, stride: 1, norm: "\(name).bn2")
        if residual {
          let main = graph.last
          var shortcut = input
          if stride != 1 || channels != width {
            shortcut = graph.add("\(name).shortcut", SubsamplePad(stride: stride, outChannels: width), inputs: [input])
          }
          graph.add("\(name).add", Add(), inputs: [main, shortcut])
        }
        graph.add("\(name).relu2", ReLU(), block: name)
        channels = width
      }
    }
    graph.add("global_pool", GlobalAveragePool())
    graph.add("linear", Linear(outFeatures: classes))
    return graph.graph
  }
}

// The VGG family of T.-V. Pricope, "An analysis on very deep convolutional neural networks:
// problems and solutions" (Studia Universitatis Babeș-Bolyai Informatica, 2021): a stem, stages of processing blocks each closed by a
// reduction block, and a linear head, with optional BatchNorm and residual connections.

/// The non-linearity applied after every convolution (and BatchNorm) of the network.
public enum Activation: String, Codable, Sendable, CaseIterable {
  /// Leaky ReLU with negative slope 0.01, the paper's default.
  case leaky
  /// The logistic sigmoid.
  case sigmoid

  /// The negative slope of leaky ReLU.
  public static let leakySlope = 0.01
}

/// Everything that fixes the architecture of a VGG-family network.
public struct VGGConfiguration: Codable, Equatable, Sendable {
  /// Filters of every convolution (32 in the paper).
  public var numFilters = 32
  /// Stages, each ending in a reduction block that halves the resolution (3 in the paper).
  public var numStages = 3
  /// Processing blocks per stage (0 gives VGG08, 5 gives VGG38).
  public var blocksPerStage = 0
  public var inputChannels = 3
  public var inputHeight = 32
  public var inputWidth = 32
  public var classes = 100
  /// BatchNorm after every convolution of every block (the stem always has one).
  public var batchNorm = false
  /// Identity shortcuts in processing blocks, 1×1 stride-2 projections in reduction blocks.
  public var residual = false
  public var activation = Activation.leaky

  public init(
    numFilters: Int = 32, numStages: Int = 3, blocksPerStage: Int = 0, inputChannels: Int = 3,
    inputHeight: Int = 32, inputWidth: Int = 32, classes: Int = 100, batchNorm: Bool = false,
    residual: Bool = false, activation: Activation = .leaky
  ) {
    self.numFilters = numFilters
    self.numStages = numStages
    self.blocksPerStage = blocksPerStage
    self.inputChannels = inputChannels
    self.inputHeight = inputHeight
    self.inputWidth = inputWidth
    self.classes = classes
    self.batchNorm = batchNorm
    self.residual = residual
    self.activation = activation
  }

  /// The named presets of the paper.
  public enum Preset: String, CaseIterable, Sendable {
    case vgg08, vgg38

    /// Processing blocks per stage: VGG08 has 7 convolutions + linear, VGG38 37 + linear.
    public var blocksPerStage: Int {
      switch self {
      case .vgg08: 0
      case .vgg38: 5
      }
    }
  }

  /// A preset with the paper's widths (32 filters, 3 stages) and the given options.
  public static func preset(
    _ preset: Preset, batchNorm: Bool = false, residual: Bool = false,
    activation: Activation = .leaky, inputChannels: Int = 3, inputHeight: Int = 32,
    inputWidth: Int = 32, classes: Int = 100
  ) -> VGGConfiguration {
    VGGConfiguration(
      blocksPerStage: preset.blocksPerStage, inputChannels: inputChannels,
      inputHeight: inputHeight, inputWidth: inputWidth, classes: classes, batchNorm: batchNorm,
      residual: residual, activation: activation)
  }

  /// A short name such as `vgg38-bn-res` or `vgg08-sigmoid`.
  public var shortName: String {
    var name = "vgg\(String(format2: 1 + 2 * numStages + 2 * numStages * blocksPerStage + 1))"
    if batchNorm { name += "-bn" }
    if residual { name += "-res" }
    if activation == .sigmoid { name += "-sigmoid" }
    return name
  }

  /// The input shape as `CxHxW` (`1x32x32`), as `--input` takes it.
  public var inputShapeDescription: String { "\(inputChannels)x\(inputHeight)x\(inputWidth)" }

  /// Checks that the network can be built; throws a message naming the problem.
  public func validate() throws(ConfigurationError) {
    func require(_ condition: Bool, _ message: String) throws(ConfigurationError) {
      if !condition { throw ConfigurationError(message: message) }
    }
    try require(numFilters >= 1, "num_filters must be at least 1, got \(numFilters)")
    try require(numStages >= 0, "num_stages must be at least 0, got \(numStages)")
    try require(blocksPerStage >= 0, "blocks_per_stage must be at least 0, got \(blocksPerStage)")
    try require(inputChannels >= 1, "input channels must be at least 1, got \(inputChannels)")
    try require(classes >= 2, "classes must be at least 2, got \(classes)")
    var (height, width) = (inputHeight, inputWidth)
    try require(height >= 1 && width >= 1, "input size must be positive, got \(height)×\(width)")
    for stage in 0..<numStages {
      try require(
        height >= 2 && width >= 2,
        "input \(inputHeight)×\(inputWidth) is too small for \(numStages) reductions: "
          + "reduction_block_\(stage) gets \(height)×\(width), and 2×2 pooling needs at least 2×2")
      // Pooling floors (h / 2); the 1×1 stride-2 shortcut gives ceil(h / 2).
      let pooled = (height / 2, width / 2)
      let strided = ((height + 1) / 2, (width + 1) / 2)
      try require(
        !residual || pooled == strided,
        "input \(inputHeight)×\(inputWidth) cannot take residual connections: reduction_block_\(stage) "
          + "pools \(height)×\(width) to \(pooled.0)×\(pooled.1) but its 1×1 stride-2 shortcut gives "
          + "\(strided.0)×\(strided.1); use an input size divisible by \(1 << numStages) "
          + "(for Fashion-MNIST keep the default 32×32 padding)")
      (height, width) = pooled
    }
  }
}

/// A configuration that cannot be built, with a message for the user.
public struct ConfigurationError: Error, CustomStringConvertible, Sendable {
  public var message: String
  public var description: String { message }
}

extension String {
  /// Two-digit zero-padded decimal (vgg08, vgg38).
  fileprivate init(format2 value: Int) {
    self = value < 10 ? "0\(value)" : "\(value)"
  }
}

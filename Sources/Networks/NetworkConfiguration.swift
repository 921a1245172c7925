import Foundation

/// Which network a run trains: one of the built-in families with its options, or a model
/// description read from a file. Every family is compiled the same way, from its `graph`.
///
/// Stored in checkpoints, traces and `config.json`. A VGG configuration is written exactly as
/// before families existed (its fields only), so files written since the first release read
/// unchanged; the others add `"family"`: `densenet`, `resnet` (their fields beside it) or `graph`
/// (the description under `"graph"`).
public enum NetworkConfiguration: Equatable, Sendable {
  case vgg(VGGConfiguration)
  case denseNet(DenseNetConfiguration)
  case resNet(ResNetConfiguration)
  /// A description given as data (a model file, or one built in Swift).
  case graph(ModelGraph)

  /// The network as a model description.
  public var graph: ModelGraph {
    switch self {
    case .vgg(let configuration): configuration.graph
    case .denseNet(let configuration): configuration.graph
    case .resNet(let configuration): configuration.graph
    case .graph(let graph): graph
    }
  }

  /// A short name (`vgg38-bn-res`, `densenet40-bn`, `resnet20-bn-res`, a file's `name`).
  public var shortName: String {
    switch self {
    case .vgg(let configuration): configuration.shortName
    case .denseNet(let configuration): configuration.shortName
    case .resNet(let configuration): configuration.shortName
    case .graph(let graph): graph.name
    }
  }

  /// The family's name as `--model` spells it (`graph` for a description from a file).
  public var family: String {
    switch self {
    case .vgg: "vgg"
    case .denseNet: "densenet"
    case .resNet: "resnet"
    case .graph: "graph"
    }
  }

  /// [channels, height, width] of one example.
  public var inputShape: [Int] {
    switch self {
    case .vgg(let c): [c.inputChannels, c.inputHeight, c.inputWidth]
    case .denseNet(let c): [c.inputChannels, c.inputHeight, c.inputWidth]
    case .resNet(let c): [c.inputChannels, c.inputHeight, c.inputWidth]
    case .graph(let graph): graph.input
    }
  }

  /// The number of classes: the family's, or a description's last layer's output (0 when the
  /// description does not compile: building it says why).
  public var classes: Int {
    switch self {
    case .vgg(let c): c.classes
    case .denseNet(let c): c.classes
    case .resNet(let c): c.classes
    case .graph(let graph): (try? Model(graph))?.classes ?? 0
    }
  }

  /// The same network for another input shape [channels, height, width] and class count. A
  /// description is fixed: it is returned unchanged (the caller compares the shapes).
  public func adapted(toInput input: [Int], classes: Int) -> NetworkConfiguration {
    precondition(input.count == 3, "adapted(toInput:): [channels, height, width], got \(input)")
    switch self {
    case .vgg(var c):
      (c.inputChannels, c.inputHeight, c.inputWidth, c.classes) = (input[0], input[1], input[2], classes)
      return .vgg(c)
    case .denseNet(var c):
      (c.inputChannels, c.inputHeight, c.inputWidth, c.classes) = (input[0], input[1], input[2], classes)
      return .denseNet(c)
    case .resNet(var c):
      (c.inputChannels, c.inputHeight, c.inputWidth, c.classes) = (input[0], input[1], input[2], classes)
      return .resNet(c)
    case .graph: return self
    }
  }

  /// The input shape as `CxHxW` (`1x32x32`), as `--input` takes it.
  public var inputShapeDescription: String { inputShape.map(String.init).joined(separator: "x") }

  /// Whether the network normalises with BatchNorm (`--batchnorm`), where the family has the
  /// option; a description from a file: whether it has a BatchNorm layer.
  public var batchNorm: Bool {
    switch self {
    case .vgg(let c): c.batchNorm
    case .denseNet(let c): c.batchNorm
    case .resNet(let c): c.batchNorm
    case .graph(let graph): graph.nodes.contains { $0.layer is BatchNorm }
    }
  }

  /// Whether the network has residual connections (`--residual`); DenseNets concatenate instead.
  public var residual: Bool {
    switch self {
    case .vgg(let c): c.residual
    case .denseNet: false
    case .resNet(let c): c.residual
    case .graph(let graph): graph.nodes.contains { $0.layer is Add }
    }
  }

  /// Checks that the network can be built, and compiles it.
  /// - Throws: `ConfigurationError` naming the problem (for a description, the layer).
  public func model() throws(ConfigurationError) -> Model {
    switch self {
    case .vgg(let c): try c.validate()
    case .denseNet(let c): try c.validate()
    case .resNet(let c): try c.validate()
    case .graph: break
    }
    do {
      return try Model(graph)
    } catch {
      throw ConfigurationError(message: error.message)
    }
  }

  /// Compact, key-sorted JSON (as stored in checkpoints and traces).
  public var json: String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    // Plain structs of strings, numbers and booleans: encoding cannot fail.
    return String(decoding: try! encoder.encode(self), as: UTF8.self)
  }
}

extension NetworkConfiguration: Codable {
  enum CodingKeys: String, CodingKey { case family, graph }

  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    let family = try container.decodeIfPresent(String.self, forKey: .family) ?? "vgg"
    switch family {
    case "vgg": self = .vgg(try VGGConfiguration(from: decoder))
    case "densenet": self = .denseNet(try DenseNetConfiguration(from: decoder))
    case "resnet": self = .resNet(try ResNetConfiguration(from: decoder))
    case "graph": self = .graph(try container.decode(ModelGraph.self, forKey: .graph))
    default:
      throw DecodingError.dataCorruptedError(
        forKey: .family, in: container,
        debugDescription: "unknown network family '\(family)' (known: vgg, densenet, resnet, graph)")
    }
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    switch self {
    case .vgg(let configuration): try configuration.encode(to: encoder)
    case .denseNet(let configuration):
      try container.encode(family, forKey: .family)
      try configuration.encode(to: encoder)
    case .resNet(let configuration):
      try container.encode(family, forKey: .family)
      try configuration.encode(to: encoder)
    case .graph(let graph):
      try container.encode(family, forKey: .family)
      try container.encode(graph, forKey: .graph)
    }
  }
}

import Foundation

/// A network as data: its input shape and its layers in the order they are applied, each named
/// as a PyTorch module tree would name it (`block_0_0.conv_0`), each reading the outputs of
/// earlier layers. Parameters (names, shapes, order, initialisation), the forward wiring, the
/// blocks whose activations are recorded and `describe`'s table all derive from it (`Model`).
///
/// It is also the model-file format (docs/model-format.md): JSON with `name`, `input`
/// ([channels, height, width]) and `layers`, each layer an object with `name`, `kind`, the
/// kind's attributes, optional `inputs` (default: the previous layer; the first layer reads the
/// network's input, called `input`) and optional `block` (its output is that block's output).
public struct ModelGraph: Sendable {
  /// One layer of the graph.
  public struct Node: Sendable {
    public var name: String
    public var layer: any Layer
    /// Names of earlier layers (or `input`) it reads; empty: the layer before it.
    public var inputs: [String]
    /// The block this layer's output ends, if any: block outputs are what traces record.
    public var block: String?

    public init(name: String, layer: any Layer, inputs: [String] = [], block: String? = nil) {
      self.name = name
      self.layer = layer
      self.inputs = inputs
      self.block = block
    }
  }

  /// The name of the network's input in `inputs`.
  public static let inputName = "input"

  public var name: String
  /// [channels, height, width] of one example.
  public var input: [Int]
  public var nodes: [Node]

  public init(name: String, input: [Int], nodes: [Node]) {
    self.name = name
    self.input = input
    self.nodes = nodes
  }

  /// Compact, key-sorted JSON (the form stored in checkpoints and traces).
  public var json: String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    // Strings, integers, doubles and booleans: encoding cannot fail.
    return String(decoding: try! encoder.encode(self), as: UTF8.self)
  }
}

extension ModelGraph: Equatable {
  /// Two graphs are equal when they describe the same network (the same JSON).
  public static func == (lhs: ModelGraph, rhs: ModelGraph) -> Bool { lhs.json == rhs.json }
}

extension ModelGraph: Codable {
  enum CodingKeys: String, CodingKey { case name, input, layers }

  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    name = try container.decode(String.self, forKey: .name)
    input = try container.decode([Int].self, forKey: .input)
    nodes = try container.decode([Node].self, forKey: .layers)
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(name, forKey: .name)
    try container.encode(input, forKey: .input)
    try container.encode(nodes, forKey: .layers)
  }
}

extension ModelGraph.Node: Codable {
  struct Key: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ string: String) { stringValue = string }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
  }
  static let commonKeys = ["name", "kind", "inputs", "block"]

  public init(from decoder: any Decoder) throws {
    self = try Self.read(from: decoder)
  }

  /// Reads one layer entry, naming the layer in every error.
  private static func read(from decoder: any Decoder) throws -> Self {
    let container = try decoder.container(keyedBy: Key.self)
    let name = (try? container.decode(String.self, forKey: Key("name"))) ?? "?"
    func fail(_ message: String) -> DecodingError {
      .dataCorrupted(.init(codingPath: container.codingPath, debugDescription: "layer '\(name)': \(message)"))
    }
    guard container.contains(Key("name")) else { throw fail("has no name") }
    guard let kind = try? container.decode(String.self, forKey: Key("kind")) else { throw fail("has no kind") }
    guard let kindType = LayerKinds.byName[kind] else {
      throw fail("unknown kind '\(kind)' (known: \(LayerKinds.names))")
    }
    let known = Set(commonKeys + kindType.attributeKeys)
    if let unknown = container.allKeys.map(\.stringValue).filter({ !known.contains($0) }).sorted().first {
      let takes = kindType.attributeKeys.isEmpty ? "none" : kindType.attributeKeys.joined(separator: ", ")
      throw fail("unknown attribute '\(unknown)' for \(kind) (it takes: \(takes))")
    }
    let layer = try decodeLayer(kindType, from: decoder, failing: fail)
    let inputs = try container.decodeIfPresent([String].self, forKey: Key("inputs")) ?? []
    let block = try container.decodeIfPresent(String.self, forKey: Key("block"))
    return Self(name: name, layer: layer, inputs: inputs, block: block)
  }

  /// The layer's own attributes, as its kind reads them.
  private static func decodeLayer(
    _ kind: any Layer.Type, from decoder: any Decoder, failing fail: (String) -> DecodingError
  ) throws -> any Layer {
    do {
      return try kind.decoded(from: decoder)
    } catch DecodingError.keyNotFound(let key, _) {
      throw fail("\(kind.kind) needs the attribute '\(key.stringValue)'")
    } catch DecodingError.typeMismatch(_, let context) {
      throw fail("attribute '\(context.codingPath.last?.stringValue ?? "?")' has the wrong type")
    }
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: Key.self)
    try container.encode(name, forKey: Key("name"))
    try container.encode(type(of: layer).kind, forKey: Key("kind"))
    if !inputs.isEmpty { try container.encode(inputs, forKey: Key("inputs")) }
    if let block { try container.encode(block, forKey: Key("block")) }
    try layer.encode(to: encoder)
  }
}

/// Builds a graph layer by layer, as family builders do: each `add` reads the previous layer
/// unless told otherwise and returns the new layer's name.
public struct ModelGraphBuilder {
  public private(set) var graph: ModelGraph
  /// The name of the last layer added (`input` before the first).
  public var last: String { graph.nodes.last?.name ?? ModelGraph.inputName }

  public init(name: String, input: [Int]) { graph = ModelGraph(name: name, input: input, nodes: []) }

  @discardableResult
  public mutating func add(_ name: String, _ layer: any Layer, inputs: [String]? = nil, block: String? = nil)
    -> String
  {
    let reads = inputs ?? [last]
    // The default (the previous layer) is left implicit, so files stay short.
    let implicit = reads == [last]
    graph.nodes.append(ModelGraph.Node(name: name, layer: layer, inputs: implicit ? [] : reads, block: block))
    return name
  }
}

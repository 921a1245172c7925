import Foundation

/// A self-contained JSON description of a network: its configuration, its description as a
/// graph (what `scripts/gradtrace_torch.py` builds the PyTorch module from) and its parameter
/// tensors in application order. Stored as the `model` attribute of checkpoints and traces.
public struct ModelDescription: Codable, Equatable, Sendable {
  public struct Parameter: Codable, Equatable, Sendable {
    public var name: String
    public var shape: [Int]
    public var kind: String
    /// The gradient-flow label, for weight tensors (conv, BatchNorm γ, linear); nil otherwise.
    public var label: String?
  }

  public var name: String
  public var configuration: NetworkConfiguration
  /// The layers (absent from files written before networks were descriptions: the
  /// configuration rebuilds it).
  public var graph: ModelGraph?
  public var parameterCount: Int
  public var parameters: [Parameter]

  enum CodingKeys: String, CodingKey {
    case name, configuration, graph
    case parameterCount = "parameter_count"
    case parameters
  }

  /// The description of a compiled model built from `configuration`.
  public init(configuration: NetworkConfiguration, model: Model) {
    name = configuration.shortName
    self.configuration = configuration
    graph = model.graph
    parameterCount = model.parameterCount
    parameters = model.specifications.map {
      Parameter(
        name: $0.name, shape: $0.shape, kind: $0.role.rawValue,
        label: $0.role.isWeightTensor ? $0.label : nil)
    }
  }

  /// The description of a network.
  public init<Scalar>(network: Network<Scalar>) {
    self.init(configuration: network.configuration, model: network.model)
  }

  /// Compact, key-sorted JSON.
  public var json: String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    // Encoding plain structs of strings and integers cannot fail.
    return String(decoding: try! encoder.encode(self), as: UTF8.self)
  }
}

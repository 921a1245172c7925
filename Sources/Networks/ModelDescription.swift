import Foundation

/// A self-contained JSON description of a network: its configuration and its parameter
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
  public var configuration: VGGConfiguration
  public var parameterCount: Int
  public var parameters: [Parameter]

  enum CodingKeys: String, CodingKey {
    case name, configuration
    case parameterCount = "parameter_count"
    case parameters
  }

  public init(configuration: VGGConfiguration) {
    let specifications = VGG<Float>.parameterSpecifications(configuration)
    name = configuration.shortName
    self.configuration = configuration
    parameterCount = specifications.reduce(0) { $0 + $1.elementCount }
    parameters = specifications.map {
      Parameter(
        name: $0.name, shape: $0.shape, kind: $0.role.rawValue,
        label: $0.role.isWeightTensor ? $0.label : nil)
    }
  }

  /// Compact, key-sorted JSON.
  public var json: String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    // Encoding plain structs of strings and integers cannot fail.
    return String(decoding: try! encoder.encode(self), as: UTF8.self)
  }
}

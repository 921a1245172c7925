import Datasets
import Foundation
import Networks

/// Configurations written by an older gradtrace decode with the defaults of the fields added
/// since: the stored JSON is laid over the encoding of a default configuration (object by
/// object), then decoded. Synthesized `Codable` alone would refuse a file that lacks a field,
/// and every checkpoint, summary and trace written before the field existed lacks it.
public enum ConfigurationDecoding {
  /// `stored` over `defaults`: every key of `stored` wins; objects present in both merge
  /// recursively; a key only `defaults` has is added.
  static func merge(_ stored: [String: Any], over defaults: [String: Any]) -> [String: Any] {
    var merged = defaults
    for (key, value) in stored {
      if let inner = value as? [String: Any], let base = defaults[key] as? [String: Any] {
        merged[key] = merge(inner, over: base)
      } else {
        merged[key] = value
      }
    }
    return merged
  }

  static func object<T: Encodable>(_ value: T) -> [String: Any] {
    // Plain structs of strings, numbers and booleans: encoding cannot fail.
    let data = try! JSONEncoder().encode(value)
    return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
  }

  /// A stored network configuration over its family's defaults.
  static func withDefaults(_ network: [String: Any]) -> [String: Any] {
    merge(network, over: networkDefaults(family: network["family"] as? String))
  }

  /// The network configuration of a stored model description (the `model` attribute of
  /// checkpoints and traces), fields added since taking their defaults.
  public static func network(inModelDescription json: String) throws -> NetworkConfiguration {
    guard let description = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any],
      let network = description["configuration"] as? [String: Any]
    else {
      throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "no \"configuration\" object"))
    }
    return try JSONDecoder().decode(
      NetworkConfiguration.self, from: try JSONSerialization.data(withJSONObject: withDefaults(network)))
  }

  /// The defaults of a network family (what a field added to it later takes when missing).
  static func networkDefaults(family: String?) -> [String: Any] {
    switch family {
    case "densenet": object(NetworkConfiguration.denseNet(DenseNetConfiguration()))
    case "resnet": object(NetworkConfiguration.resNet(ResNetConfiguration()))
    case "graph": [:]
    default: object(NetworkConfiguration.vgg(.preset(.vgg08)))
    }
  }
}

extension TrainingConfiguration {
  /// Decodes a stored configuration; fields added after it was written take their defaults
  /// (those of its dataset and network family).
  /// - Throws: `DecodingError` for JSON that is not a configuration (no model, wrong types).
  public static func decoding(_ json: String) throws -> TrainingConfiguration {
    let data = Data(json.utf8)
    guard var stored = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
      throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "not a JSON object"))
    }
    guard let model = stored["model"] as? [String: Any] else {
      throw DecodingError.dataCorrupted(
        .init(codingPath: [], debugDescription: "no \"model\": a training configuration needs its model"))
    }
    stored["model"] = ConfigurationDecoding.withDefaults(model)
    let dataset = (stored["dataset"] as? String).flatMap(DatasetName.init(rawValue:)) ?? .fashionMNIST
    var defaults = ConfigurationDecoding.object(
      TrainingConfiguration(model: .vgg(.preset(.vgg08)), dataset: dataset))
    defaults["model"] = nil
    if stored["recording"] != nil { defaults["recording"] = ConfigurationDecoding.object(RecordingOptions()) }
    let merged = ConfigurationDecoding.merge(stored, over: defaults)
    return try JSONDecoder().decode(
      TrainingConfiguration.self, from: try JSONSerialization.data(withJSONObject: merged))
  }
}

import Foundation
import TraceIO

/// Who a trace is: the model and the training settings the paper's Table 1 lists, read from
/// the root attributes `model` and `config` (JSON). Fields a trace does not state (a trace
/// written by a user's own loop may hold any config) are nil and print as "-".
public struct RunInfo: Codable, Sendable, Equatable {
  /// How tables and legends name the run: the `name` its configuration holds (`train
  /// --name`), else its directory and file without `.h5` (`vgg08-run/trace`), so that
  /// `compare runs/*/trace.h5` tells the runs apart.
  public var name: String
  /// The model's short name (`vgg38-bn-res`), or "unknown".
  public var model: String
  public var dataset: String?
  public var batchSize: Int?
  public var learningRate: Double?
  public var weightDecay: Double?
  public var optimizer: String?
  public var plannedEpochs: Int?
  public var seed: Int?

  public init(path: String, configuration: String, model: String) {
    let config = Self.object(configuration)
    let url = URL(fileURLWithPath: path).deletingPathExtension()
    name = config["name"] as? String ?? "\(url.deletingLastPathComponent().lastPathComponent)/\(url.lastPathComponent)"
    self.model = Self.object(model)["name"] as? String ?? "unknown"
    dataset = config["dataset"] as? String
    batchSize = (config["batchSize"] as? NSNumber)?.intValue
    learningRate = (config["learningRate"] as? NSNumber)?.doubleValue
    weightDecay = (config["weightDecay"] as? NSNumber)?.doubleValue
    optimizer = config["optimizer"] as? String
    plannedEpochs = (config["epochs"] as? NSNumber)?.intValue
    seed = (config["seed"] as? NSNumber)?.intValue
  }

  public init(reader: TraceReader) {
    self.init(path: reader.file.path, configuration: reader.configuration, model: reader.model)
  }

  private static func object(_ json: String) -> [String: Any] {
    (try? JSONSerialization.jsonObject(with: Data(json.utf8))) as? [String: Any] ?? [:]
  }
}

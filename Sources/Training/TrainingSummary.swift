import Foundation

/// The end of a run: `summary.json` in its directory (snake_case keys, NaN as "NaN").
public struct TrainingSummary: Codable, Sendable {
  /// 1: the first versioned summary (files without the key were written before, and read the same).
  public static let currentFormatVersion = 1

  public var formatVersion: Int? = TrainingSummary.currentFormatVersion
  public var model: String
  public var epochs: [EpochRecord]
  public var bestEpoch: Int
  public var testLoss: Double
  public var testAccuracy: Double
  public var trainingSeconds: Double

  public init(
    model: String, epochs: [EpochRecord], bestEpoch: Int, testLoss: Double, testAccuracy: Double,
    trainingSeconds: Double
  ) {
    self.model = model
    self.epochs = epochs
    self.bestEpoch = bestEpoch
    self.testLoss = testLoss
    self.testAccuracy = testAccuracy
    self.trainingSeconds = trainingSeconds
  }

  public func write(to path: String) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    encoder.keyEncodingStrategy = .convertToSnakeCase
    encoder.nonConformingFloatEncodingStrategy = .convertToString(
      positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
    try encoder.encode(self).write(to: URL(fileURLWithPath: path))
  }

  /// Reads a summary.json.
  /// - Throws: `SummaryError.newer` for a file from a newer gradtrace (both versions named);
  ///   `SummaryError.unreadable` for one that is not a summary.
  public static func read(from path: String) throws(SummaryError) -> TrainingSummary {
    guard let data = FileManager.default.contents(atPath: path) else {
      throw .unreadable(file: path, reason: "cannot be read")
    }
    let version = ((try? JSONSerialization.jsonObject(with: data)) as? [String: Any])?["format_version"] as? Int ?? 0
    guard version <= currentFormatVersion else {
      throw .newer(file: path, version: version, supported: currentFormatVersion)
    }
    let decoder = JSONDecoder()
    decoder.keyDecodingStrategy = .convertFromSnakeCase
    decoder.nonConformingFloatDecodingStrategy = .convertFromString(
      positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
    do {
      return try decoder.decode(TrainingSummary.self, from: data)
    } catch {
      throw .unreadable(file: path, reason: "is not a gradtrace run summary (\(error))")
    }
  }
}

public enum SummaryError: Error, CustomStringConvertible {
  case newer(file: String, version: Int, supported: Int)
  case unreadable(file: String, reason: String)

  public var description: String {
    switch self {
    case .newer(let file, let version, let supported):
      "\(file): format_version \(version) is newer than this gradtrace reads (\(supported)); update gradtrace"
    case .unreadable(let file, let reason): "\(file) \(reason)"
    }
  }
}

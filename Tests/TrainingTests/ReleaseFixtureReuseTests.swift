import Foundation
import Testing
import TraceIO
import Training

/// `reproduce` reuses a run that release 0.1.0 finished (Tests/Fixtures/release-0.1.0): its
/// checkpoint's configuration and summary still decode and match the plan, so nothing is moved
/// aside or trained again.
@Suite("Reproduction reuses release 0.1.0's runs")
struct ReleaseFixtureReuseTests {
  @Test func theSmokeRunIsReused() throws {
    let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .appendingPathComponent("Fixtures/release-0.1.0/reproduce-smoke").path
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("reuse-\(UUID().uuidString)").path
    try FileManager.default.copyItem(atPath: fixture, toPath: directory)
    let run = try #require(ReproductionPlan.runs(scale: .smoke).first)
    var runner = ReproductionRunner(directory: directory)
    nonisolated(unsafe) var notices: [String] = []
    runner.notice = { notices.append($0) }
    let result = try runner.execute(run)
    #expect(result.outcome == .reused)
    #expect(notices.isEmpty, "\(notices)")
    #expect(result.summary.testAccuracy == 0.227)
    #expect(result.summary.epochs.count == 2)
  }
}

/// Configurations and summaries carry what they need to be read by later versions.
@Suite("Versioned configurations")
struct VersionedConfigurationTests {
  static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures/release-0.1.0").path

  /// A configuration written before fields existed (here: release 0.1.0's, with fields removed
  /// as if they had been added later) decodes with their defaults.
  @Test func aConfigurationMissingLaterFieldsDecodes() throws {
    let trace = try TraceReader(path: "\(Self.fixture)/trace-sparse-curvature.h5")
    var json = try #require(
      try JSONSerialization.jsonObject(with: Data(trace.configuration.utf8)) as? [String: Any])
    let full = try TrainingConfiguration.decoding(trace.configuration)
    for key in ["splitSeed", "minimumLearningRate", "syntheticCount", "momentum", "pad"] { json[key] = nil }
    var recording = try #require(json["recording"] as? [String: Any])
    recording["traceProbes"] = nil
    json["recording"] = recording
    var model = try #require(json["model"] as? [String: Any])
    model["activation"] = nil
    json["model"] = model
    let older = String(decoding: try JSONSerialization.data(withJSONObject: json), as: UTF8.self)
    #expect(throws: (any Error).self, "synthesized Codable alone refuses it") {
      try JSONDecoder().decode(TrainingConfiguration.self, from: Data(older.utf8))
    }
    let decoded = try TrainingConfiguration.decoding(older)
    #expect(decoded == full, "the removed fields took the values the release wrote (its defaults)")
    #expect(decoded.recording?.traceProbes == RecordingOptions().traceProbes)
    #expect(throws: (any Error).self) { try TrainingConfiguration.decoding(#"{"epochs": 2}"#) }
  }

  /// The model description stored in a checkpoint decodes without fields added to its family
  /// since (here release 0.1.0's vgg38 BN+residual without `activation`).
  @Test func aModelDescriptionMissingLaterFieldsDecodes() throws {
    let file = try HDF5File(reading: "\(Self.fixture)/init-vgg38-bn-res.h5")
    let stored = try file.stringAttribute("model")
    var description = try #require(try JSONSerialization.jsonObject(with: Data(stored.utf8)) as? [String: Any])
    var configuration = try #require(description["configuration"] as? [String: Any])
    configuration["activation"] = nil
    description["configuration"] = configuration
    let older = String(decoding: try JSONSerialization.data(withJSONObject: description), as: UTF8.self)
    #expect(
      try ConfigurationDecoding.network(inModelDescription: older)
        == ConfigurationDecoding.network(inModelDescription: stored))
  }

  @Test func aSummaryFromANewerVersionIsRefusedWithBothVersions() throws {
    let path = "\(Self.fixture)/reproduce-smoke/runs/vgg08-b100-lr0.001/summary.json"
    let summary = try TrainingSummary.read(from: path)
    #expect(summary.formatVersion == nil && summary.testAccuracy == 0.227, "0.1.0 wrote no version")
    let newer = FileManager.default.temporaryDirectory.appendingPathComponent("summary-\(UUID().uuidString).json")
    var json = try #require(
      try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
    json["format_version"] = TrainingSummary.currentFormatVersion + 1
    try JSONSerialization.data(withJSONObject: json).write(to: newer)
    #expect {
      try TrainingSummary.read(from: newer.path)
    } throws: {
      "\($0)".contains("format_version \(TrainingSummary.currentFormatVersion + 1) is newer")
        && "\($0)".contains("(\(TrainingSummary.currentFormatVersion))")
    }
  }
}

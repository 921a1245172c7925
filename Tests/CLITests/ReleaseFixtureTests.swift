import Foundation
import Testing
import TraceIO

/// Files written by release 0.1.0 (trace schema v1, checkpoint format 2; Tests/Fixtures/
/// release-0.1.0/README.md says how) stay usable by every command: read, analysed to the same
/// verdict and figures, evaluated to the same loss, probed, resumed, exported, plotted.
@Suite("Files of release 0.1.0")
struct ReleaseFixtureTests {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures/release-0.1.0")
  static let sparseTrace = "trace-sparse-curvature.h5"
  static let smokeTrace = "reproduce-smoke/traces/vgg08-b100-lr0.001.h5"
  static let smokeRun = "reproduce-smoke/runs/vgg08-b100-lr0.001"

  static func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }

  /// A copy in a new temporary directory: the committed files are never written.
  static func copy(_ relative: String) throws -> String {
    let destination = temporaryPath(URL(fileURLWithPath: relative).lastPathComponent)
    try FileManager.default.copyItem(atPath: path(relative), toPath: destination)
    return destination
  }

  static func json(_ text: String) throws -> Any { try JSONSerialization.jsonObject(with: Data(text.utf8)) }

  @Test(arguments: [sparseTrace, smokeTrace])
  func analyzeGivesTheReleasesVerdictAndFigures(trace: String) throws {
    let run = try GradTraceRun(["analyze", Self.path(trace), "--json"])
    #expect(run.status == 0, "\(run.standardError)")
    let name =
      trace == Self.sparseTrace
      ? "expected/analyze-trace-sparse-curvature.json" : "expected/analyze-reproduce-smoke-vgg08.json"
    let expected = try String(contentsOfFile: Self.path(name), encoding: .utf8)
    // The file's path is not a figure: the release was run on it from another directory.
    var release = try #require(try Self.json(expected) as? [String: Any])
    release["trace"] = nil
    var differences: [String] = []
    JSONComparison.compare(release, try Self.json(run.standardOutput), at: "", into: &differences)
    #expect(differences.isEmpty, "\(trace): \(differences.prefix(10))")
  }

  @Test func evaluateGivesTheReleasesLoss() throws {
    let cases = try #require(
      try Self.json(String(contentsOfFile: Self.path("expected/evaluate.json"), encoding: .utf8)) as? [[String: Any]])
    for expected in cases {
      let checkpoint = expected["checkpoint"] as! String
      let run = try GradTraceRun([
        "evaluate", "--checkpoint", Self.path(checkpoint), "--dataset", "fashion-mnist", "--split", "test",
        "--examples", "\(expected["examples"] as! Int)", "--mode", expected["mode"] as! String, "--threads", "1",
        "--json",
      ])
      #expect(run.status == 0, "\(checkpoint): \(run.standardError)")
      let result = try #require(try Self.json(run.standardOutput) as? [String: Any])
      let loss = try #require(result["loss"] as? Double)
      // The release's loss to 1e-6: a float32 forward pass whose rounding (~1e-7 of a loss of
      // ~2 on any BLAS kernel tried: Haswell, Sandybridge) is far inside it.
      #expect(abs(loss - (expected["loss"] as! Double)) <= 1e-6, "\(checkpoint): \(loss) vs \(expected["loss"]!)")
      #expect(result["accuracy"] as? Double == expected["accuracy"] as? Double, "\(checkpoint)")
    }
  }

  @Test func inspectProbeCompareExportPlotAndReportReadThem() throws {
    for trace in [Self.sparseTrace, Self.smokeTrace] {
      let inspect = try GradTraceRun(["inspect", Self.path(trace)])
      #expect(inspect.status == 0 && inspect.standardOutput.contains("status: finished"), "\(inspect.standardError)")
      for table in ["summary", "gradients", "curvature", "epochs", "steps"] {
        let export = try GradTraceRun(["export", Self.path(trace), "--table", table, "--format", "csv"])
        #expect(export.status == 0, "\(trace) \(table): \(export.standardError)")
        #expect(export.standardOutput.split(separator: "\n").count >= 2, "\(trace) \(table): \(export.standardOutput)")
      }
      for figure in ["gradient-flow", "loss", "taylor", "curvature"] {
        let svg = temporaryPath("\(figure).svg")
        let plot = try GradTraceRun(["plot", Self.path(trace), "--figure", figure, "-o", svg])
        #expect(plot.status == 0 && FileManager.default.fileExists(atPath: svg), "\(figure): \(plot.standardError)")
      }
    }
    let both = [Self.path(Self.sparseTrace), Self.path(Self.smokeTrace)]
    let compare = try GradTraceRun(["compare"] + both)
    #expect(compare.status == 0 && compare.standardOutput.contains("vgg08"), "\(compare.standardError)")
    let report = try GradTraceRun(["report"] + both + ["-o", temporaryPath("report.html")])
    #expect(report.status == 0, "\(report.standardError)")
    for checkpoint in ["init-vgg38-bn-res.h5", "\(Self.smokeRun)/best.h5"] {
      let probe = try GradTraceRun([
        "probe", "--checkpoint", Self.path(checkpoint), "--dataset", "fashion-mnist", "--examples", "20", "--probes",
        "1", "--max-eigen-products", "2", "--json",
      ])
      #expect(probe.status == 0, "\(checkpoint): \(probe.standardError)")
      #expect((try? Self.json(probe.standardOutput)) as? [String: Any] != nil, "\(checkpoint): \(probe.standardOutput)")
    }
  }

  /// The smoke run (20 steps per epoch, two epochs) resumed for a third epoch continues its
  /// release-0.1.0 trace: the 40 old steps and 4 curvature rows kept, 20 steps and 2 rows added.
  @Test func resumeContinuesTheRunAndItsTrace() throws {
    let directory = try Self.copy(Self.smokeRun)
    let trace = try Self.copy(Self.smokeTrace)
    let resumed = try GradTraceRun([
      "train", "--resume", directory, "--epochs", "3", "--schedule-epochs", "3", "--trace", trace,
      // `reproduce` keeps its recording options out of the run's configuration: given again here.
      "--record", "gradients,activations,curvature", "--curvature-every", "10", "--quiet",
    ])
    #expect(resumed.status == 0, "\(resumed.standardError)")
    let reader = try TraceReader(path: trace)
    #expect(reader.status == "finished")
    #expect(try reader.stepCount() == 60)
    #expect(try reader.epochCount() == 3)
    let old = try TraceReader(path: Self.path(Self.smokeTrace))
    let losses = try reader.file.read(Float.self, from: "/steps/loss").values
    #expect(Array(losses.prefix(40)) == (try old.file.read(Float.self, from: "/steps/loss").values))
  }
}

/// Compares decoded JSON: every key of the expected object must be present (new keys may be
/// added), strings and booleans equal, numbers equal to 1e-9 relative.
enum JSONComparison {
  static func compare(_ expected: Any, _ actual: Any, at path: String, into differences: inout [String]) {
    switch (expected, actual) {
    case (let e as [String: Any], let a as [String: Any]):
      for (key, value) in e {
        guard let other = a[key] else {
          differences.append("\(path)/\(key): missing")
          continue
        }
        compare(value, other, at: "\(path)/\(key)", into: &differences)
      }
    case (let e as [Any], let a as [Any]):
      guard e.count == a.count else {
        differences.append("\(path): \(e.count) elements, got \(a.count)")
        return
      }
      for (index, (x, y)) in zip(e, a).enumerated() { compare(x, y, at: "\(path)[\(index)]", into: &differences) }
    case (let e as String, let a as String):
      if e != a { differences.append("\(path): \"\(e)\", got \"\(a)\"") }
    case (let e as NSNumber, let a as NSNumber):
      let (x, y) = (e.doubleValue, a.doubleValue)
      if !(x == y || abs(x - y) <= 1e-9 * max(abs(x), abs(y)) || (x.isNaN && y.isNaN)) {
        differences.append("\(path): \(x), got \(y)")
      }
    case (is NSNull, is NSNull): break
    default: differences.append("\(path): \(expected), got \(actual)")
    }
  }
}

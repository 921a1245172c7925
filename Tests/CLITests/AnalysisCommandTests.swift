import Foundation
import FoundationXML
import Testing

/// compare, export, plot and report on traces of real (tiny) runs, and the bad-input corpus.
@Suite("gradtrace compare, export, plot, report and bad input", .serialized)
struct AnalysisCommandTests {
  /// One traced tiny run with curvature, shared by the tests of this suite.
  static let trace: String = {
    let directory = temporaryPath("corpus-run")
    let trace = directory + ".h5"
    let run = try? GradTraceRun(
      ["train"] + TrainCommandTests.tiny + [
        "--subset", "300", "--epochs", "2", "--output", directory, "--trace", trace, "--record",
        "gradients,activations,curvature", "--curvature-every", "3", "--quiet",
      ])
    precondition(run?.status == 0, "training the corpus run failed: \(run?.standardError ?? "")")
    return trace
  }()

  /// One row per step and layer (block) with every per-layer (per-block) statistic of the
  /// schema; the per-layer curvature where it was measured (step 0: the first of every 10th
  /// measurement), NaN elsewhere.
  @Test func layerAndActivationTables() throws {
    let layers = try GradTraceRun(["export", Self.trace, "--table", "layers", "--format", "csv"])
    #expect(layers.status == 0, "\(layers.standardError)")
    let rows = layers.standardOutput.split(separator: "\n").map {
      $0.split(separator: ",", omittingEmptySubsequences: false)
    }
    let header = rows[0].map(String.init)
    #expect(Array(header.prefix(5)) == ["run", "step", "epoch", "layer_index", "layer"])
    #expect(header.contains("update_gradient_cosine") && header.contains("layer_gHg"))
    #expect(rows.count == 1 + 24 * 9, "24 steps × 9 layers of vgg08")
    let cosine = header.firstIndex(of: "update_gradient_cosine")!
    let split = header.firstIndex(of: "layer_gHg")!
    for row in rows.dropFirst() {
      let value = Double(row[cosine]) ?? .nan
      #expect(value >= -1 && value <= 1, "cos(g, d) of \(row[4]) at step \(row[1]): \(row[cosine])")
      #expect((row[split] != "nan") == (row[1] == "0"), "layer_gHg at step \(row[1]): \(row[split])")
    }
    let blocks = try GradTraceRun(["export", Self.trace, "--table", "activations", "--format", "csv"])
    #expect(blocks.status == 0 && blocks.standardOutput.split(separator: "\n").count == 1 + 24 * 4)
  }

  @Test func compareExportPlotAndReportARun() throws {
    let compare = try GradTraceRun(["compare", Self.trace, Self.trace, "--sort", "test_accuracy", "--descending"])
    #expect(compare.status == 0, "\(compare.standardError)")
    let lines = compare.standardOutput.split(separator: "\n")
    #expect(
      lines.count == 4 && lines[0].hasPrefix("run ") && lines[0].contains(" model ") && lines[2].contains("vgg08"))
    let csv = try GradTraceRun(["export", Self.trace, "--table", "steps", "--format", "csv"])
    // 300 synthetic images in batches of 25: 12 steps per epoch, 2 epochs.
    #expect(csv.standardOutput.split(separator: "\n").count == 1 + 24)
    let output = temporaryPath("curvature.json")
    let json = try GradTraceRun(["export", Self.trace, "--table", "curvature", "--format", "json", "-o", output])
    #expect(json.status == 0 && json.standardOutput.isEmpty)
    let rows =
      try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: output))) as? [[String: Any]]
    #expect(rows?.map { $0["step"] as? Int } == [0, 3, 6, 9, 12, 15, 18, 21])
    for figure in ["gradient-flow", "loss", "accuracy", "taylor", "curvature"] {
      let svg = temporaryPath("\(figure).svg")
      let plot = try GradTraceRun(["plot", Self.trace, "--figure", figure, "-o", svg])
      #expect(plot.status == 0, "\(plot.standardError)")
      #expect(XMLParser(contentsOf: URL(fileURLWithPath: svg))?.parse() == true, "\(figure) is valid XML")
    }
    let html = temporaryPath("report.html")
    let report = try GradTraceRun(["report", Self.trace, "-o", html])
    #expect(report.status == 0)
    #expect(try String(contentsOfFile: html, encoding: .utf8).contains("verdict: HEALTHY"))
  }

  @Test func exitStatusesAreDocumentedAndKept() throws {
    let text = temporaryPath("notes.h5")
    try "not a trace".write(toFile: text, atomically: true, encoding: .utf8)
    let partial = try GradTraceRun(["compare", Self.trace, text, "--format", "csv"])
    #expect(partial.status == 2, "some read, some not")
    #expect(partial.standardOutput.split(separator: "\n").count == 2)
    #expect(partial.standardError.contains("\(text): not an HDF5 file"))
    let none = try GradTraceRun(["export", text, "/no/such.h5"])
    #expect(none.status == 1 && none.standardError.contains("/no/such.h5: no such file"))
    let usage = try GradTraceRun(["compare", Self.trace, "--sort", "colour"])
    #expect(usage.status == 64 && usage.standardError.contains("Unknown column 'colour'"))
    let paper = try GradTraceRun(["reproduce", "--scale", "paper"])
    #expect(paper.status == 64 && paper.standardError.contains("--data-dir"))
    let help = try GradTraceRun(["report", "--help"])
    #expect(help.standardOutput.contains("Exit status: 0 when every trace was read"))
    let html = temporaryPath("partial.html")
    let report = try GradTraceRun(["report", Self.trace, text, "-o", html])
    #expect(report.status == 2)
    #expect(try String(contentsOfFile: html, encoding: .utf8).contains("Not included"))
  }

  /// 200 randomly damaged copies of a real trace (bytes flipped, truncated, zeroed, random
  /// blocks): every command exits 0 (partial analysis) or 1 with a message naming the file,
  /// never a crash or a hang.
  @Test func corruptedCopiesNeverCrash() throws {
    let original = try Data(contentsOf: URL(fileURLWithPath: Self.trace))
    var generator = SplitMix(seed: 2026)
    var statuses: [Int32: Int] = [:]
    for index in 0..<200 {
      var bytes = [UInt8](original)
      let position = Int(generator.next() % UInt64(bytes.count))
      switch index % 4 {
      case 0:
        for _ in 0..<(1 + generator.next() % 20) {
          bytes[Int(generator.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: generator.next())
        }
      case 1: bytes.removeSubrange(position...)
      case 2:
        let end = min(bytes.count, position + 1 + Int(generator.next() % 4096))
        for i in position..<end { bytes[i] = 0 }
      default:
        let end = min(bytes.count, position + 8 + Int(generator.next() % 512))
        for i in position..<end { bytes[i] = UInt8(truncatingIfNeeded: generator.next()) }
      }
      let copy = temporaryPath("corrupt-\(index).h5")
      try Data(bytes).write(to: URL(fileURLWithPath: copy))
      let command = [
        ["analyze", copy], ["export", copy, "--table", "curvature"], ["report", copy, "-o", copy + ".html"],
      ][
        index % 3]
      let run = try GradTraceRun(command, timeout: 20)
      statuses[run.status, default: 0] += 1
      #expect(
        !run.signalled && (run.status == 0 || run.status == 1),
        "\(command): \(run.signalled ? "killed by signal" : "status") \(run.status), \(run.standardError)")
      if run.status == 1 { #expect(run.standardError.contains(copy), "the message names the file") }
      try? FileManager.default.removeItem(atPath: copy)
    }
    #expect(statuses[1, default: 0] >= 50, "most damage is detected: \(statuses)")
  }
}

/// A small seeded generator for the damaged-file corpora (SplitMix64).
struct SplitMix {
  var state: UInt64
  init(seed: UInt64) { state = seed }
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}

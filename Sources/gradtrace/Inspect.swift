import ArgumentParser
import Foundation
import TraceIO

struct Inspect: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "What a trace holds: schema, configuration, groups, steps, status.",
    discussion: "Example: gradtrace inspect run.h5")

  @Argument(help: "The trace file.") var trace: String?
  @Flag(help: "Print the schema (every dataset a trace can hold, as docs/trace-format.md lists them) instead.")
  var schema = false

  func validate() throws {
    if trace == nil && !schema { throw ValidationError("Give a trace file (or --schema).") }
  }

  func run() throws {
    if schema {
      print(TraceSchema.markdownTable, terminator: "")
      return
    }
    let trace = trace!
    let reader: TraceReader
    do {
      reader = try TraceReader(path: trace)
    } catch {
      throw CommandError("\(error)")
    }
    let steps = try reader.stepCount()
    let stepIndex = try reader.steps(.steps)
    print("trace \(trace)")
    print(
      "  format_version \(reader.formatVersion), written by gradtrace \(reader.toolVersion), created \(reader.created)")
    print(
      "  status: \(reader.status)\(reader.status == "running" ? " (or interrupted: a killed run leaves \"running\")" : "")"
    )
    let activations = try reader.activationNames()
    print("  model: \(Self.field("name", in: reader.model) ?? "?"), \(try reader.layerNames().count) layers")
    print(
      "  steps recorded: \(steps)\(steps > 0 ? " (steps \(stepIndex.first!) to \(stepIndex.last!))" : "")"
    )
    // The opt-in quantities, each with its row count.
    let optional: [(String, TraceIndex)] = [
      ("curvature", .curvature), ("spectra", .spectrum), ("histograms", .histograms), ("gradient noise", .noise),
    ]
    var extras = try optional.filter { reader.holds($0.1) }.map { "\($0.0) (\(try reader.rowCount($0.1)) rows)" }
    if let merges = try reader.merges() { extras.insert("add/concat inputs (\(merges.count))", at: 0) }
    print(
      "  recorded: gradients, updates, weights\(activations.map { ", activations (\($0.count) blocks)" } ?? "")"
        + extras.map { ", \($0)" }.joined())
    if reader.recordsCurvature { print("  curvature: \(try Self.curvatureSchedule(reader))") }
    print("  epochs: \(try reader.epochCount())")
    for name in ["test_accuracy", "test_loss"] {
      if let value = reader.summaryValue(name), !value.isNaN { print("  \(name): \(value)") }
    }
    for name in ["best_epoch", "nonfinite_count", "first_nonfinite_step"] {
      if let value = reader.summaryValue(name), value >= 0 { print("  \(name): \(Int(value))") }
    }
    print("  config: \(reader.configuration)")
  }

  /// How many measurements of each sparser curvature quantity the trace holds.
  static func curvatureSchedule(_ reader: TraceReader) throws -> String {
    let perLayer = try reader.rowCount(.layerCurvature)
    let trace = try reader.rowCount(.hessianTrace)
    let eigenvalue = try reader.rowCount(.eigenvalue)
    return
      "gᵀHg, dᵀHd and the actual change at every measurement; per-layer gᵀHg at \(perLayer), Hessian trace at \(trace), top eigenvalue at \(eigenvalue)"
  }

  static func field(_ name: String, in json: String) -> String? {
    (try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])?[name] as? String
  }
}

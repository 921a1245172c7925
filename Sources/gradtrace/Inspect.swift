import ArgumentParser
import Foundation
import TraceIO

struct Inspect: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "What a trace holds: schema, configuration, groups, steps, status.",
    discussion: "Example: gradtrace inspect run.h5")

  @Argument(help: "The trace file.") var trace: String

  func run() throws {
    let reader: TraceReader
    do {
      reader = try TraceReader(path: trace)
    } catch {
      throw CommandError("\(error)")
    }
    let steps = try reader.stepCount()
    let stepIndex = steps > 0 ? try reader.column(TraceSchema.step) : []
    print("trace \(trace)")
    print(
      "  format_version \(reader.formatVersion), written by gradtrace \(reader.toolVersion), created \(reader.created)")
    print(
      "  status: \(reader.status)\(reader.status == "running" ? " (or interrupted: a killed run leaves \"running\")" : "")"
    )
    let activations = try reader.activationNames()
    print("  model: \(Self.field("name", in: reader.model) ?? "?"), \(try reader.layerNames().count) layers")
    print(
      "  steps recorded: \(steps)\(steps > 0 ? String(format: " (steps %.0f to %.0f)", stepIndex.first!, stepIndex.last!) : "")"
    )
    print(
      "  recorded: gradients, updates, weights\(activations.map { ", activations (\($0.count) blocks)" } ?? "")\(reader.recordsCurvature ? ", curvature (\(try reader.curvatureCount()) measurements)" : "")"
    )
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

  /// How many measurements hold each of the sparser curvature quantities (the rest are NaN).
  static func curvatureSchedule(_ reader: TraceReader) throws -> String {
    let perLayer = try reader.matrix(TraceSchema.curvatureLayerGHg).filter { $0.contains { !$0.isNaN } }.count
    let trace = try reader.column("/curvature/hessian_trace").filter { !$0.isNaN }.count
    let eigenvalue = try reader.column("/curvature/hessian_top_eigenvalue").filter { !$0.isNaN }.count
    return
      "gᵀHg, dᵀHd and the actual change at every measurement; per-layer gᵀHg at \(perLayer), Hessian trace at \(trace), top eigenvalue at \(eigenvalue)"
  }

  static func field(_ name: String, in json: String) -> String? {
    (try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])?[name] as? String
  }
}

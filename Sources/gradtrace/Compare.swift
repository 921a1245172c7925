import Analysis
import ArgumentParser

struct Compare: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "One row per run, as in the paper's Table 1, with gradient health.",
    discussion: """
      Columns: run, model, dataset, batch_size, learning_rate, weight_decay, epochs,
      test_accuracy, train_accuracy (last epoch), best_valid_accuracy, test_loss,
      status, verdict, first_last_ratio, vanishing_depth, nonfinite_steps,
      taylor_correlation, median_step_ratio (ε/ε*). `gradtrace export --help`
      describes each.

      \(TraceExit.help)

      Examples:
        gradtrace compare runs/*/trace.h5
        gradtrace compare a.h5 b.h5 --sort test_accuracy --descending \\
          --format markdown
      """)

  @Argument(help: "Trace files.") var traces: [String]
  @Option(help: "Sort rows by this column (missing values last).") var sort: String?
  @Flag(help: "Sort from the largest value down.") var descending = false
  @Option(help: "Output: text, csv, markdown, latex or json.") var format = TableFormat.text
  @Option(parsing: .unconditional, help: "Vanishing when the first/last layer flow ratio is below this.")
  var vanishingRatio = 1e-4

  func validate() throws {
    if traces.isEmpty { throw ValidationError("Give at least one trace file.") }
    if let sort, !TraceTable.summary.columns.contains(where: { $0.name == sort }) {
      throw ValidationError(
        "Unknown column '\(sort)' for --sort; columns: \(TraceTable.summary.columns.map(\.name).joined(separator: ", "))."
      )
    }
  }

  func run() throws {
    var thresholds = VerdictThresholds()
    thresholds.vanishingRatio = vanishingRatio
    var inputs = TraceInputs(traces)
    let rows = inputs.map { TraceTable.summaryRow(try TraceAnalysis.analyze(path: $0, thresholds: thresholds)) }
    var table = Table(columns: TraceTable.summary.columns, rows: rows)
    if let sort { table = table.sorted(by: sort, descending: descending) ?? table }
    if !rows.isEmpty { print(table.rendered(format), terminator: "") }
    try inputs.finish()
  }
}

extension TableFormat: ExpressibleByArgument {}

import Analysis
import ArgumentParser
import Foundation

struct Export: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Write a table of one or more traces as CSV, Markdown, LaTeX or JSON.",
    discussion: """
      Tables and their columns (stable: scripts may key on them):
      \(TraceTable.columnHelp)

      Per-step tables stream: memory stays bounded however long the run. CSV loads
      with pandas.read_csv; JSON is an array of objects (NaN and missing values are
      null).

      \(TraceExit.help)

      Examples:
        gradtrace export run.h5 --table curvature --format csv -o curvature.csv
        gradtrace export runs/*.h5 --table summary --format latex
        gradtrace export run.h5 --table layers -o layers.csv
      """)

  @Argument(help: "Trace files.") var traces: [String]
  @Option(help: "Table: summary, gradients, curvature, epochs, steps, layers or activations.")
  var table = TraceTable.summary
  /// The formats a file can hold (`compare` also prints text for people).
  enum Format: String, ExpressibleByArgument, CaseIterable {
    case csv, markdown, latex, json
    var table: TableFormat { TableFormat(rawValue: rawValue)! }
  }

  @Option(help: "Output: csv, markdown, latex or json.") var format = Format.csv
  @Option(name: .shortAndLong, help: "Write to this file instead of standard output.") var output: String?

  func validate() throws {
    if traces.isEmpty { throw ValidationError("Give at least one trace file.") }
  }

  func run() throws {
    var sink = try OutputSink(path: output)
    var writer = TableWriter(columns: table.columns, format: format.table) { sink.write($0) }
    var inputs = TraceInputs(traces)
    _ = inputs.map { path in
      try table.appendRows(of: try TraceAnalysis.analyze(path: path), path: path, to: &writer)
    }
    writer.finish()
    try sink.close()
    try inputs.finish()
  }
}

extension TraceTable: ExpressibleByArgument {}

/// Standard output or a file, written in pieces.
struct OutputSink {
  private let handle: FileHandle
  private let path: String?
  private var buffer = ""

  init(path: String?) throws {
    self.path = path
    guard let path else {
      handle = .standardOutput
      return
    }
    guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path)
    else { throw CommandError("cannot write \(path)") }
    self.handle = handle
  }

  mutating func write(_ text: String) {
    buffer += text
    if buffer.utf8.count > 1 << 16 { flushBuffer() }
  }

  private mutating func flushBuffer() {
    handle.write(Data(buffer.utf8))
    buffer = ""
  }

  mutating func close() throws {
    flushBuffer()
    if path != nil { try handle.close() }
  }
}

import Analysis
import ArgumentParser
import Foundation
import TensorBoard
import TraceIO

struct Export: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Tables of traces (CSV, Markdown, LaTeX, JSON), or TensorBoard files.",
    discussion: """
      Tables and their columns (stable: scripts may key on them):
      \(TraceTable.columnHelp)

      Per-step tables stream: memory stays bounded however long the run. CSV loads
      with pandas.read_csv; JSON is an array of objects (NaN and missing values are
      null).

      --format tensorboard -o DIR writes TensorBoard event files instead (also read
      by W&B and Aim), one run per trace in DIR/<run name>/: every dataset of the
      trace as scalars tagged by its path, per-layer and per-block ones as
      <group>/<layer>/<name> (gradients/input_conv_conv_0/mean_abs), at their steps
      (epochs/* at the epoch); the configuration and model as text. Then:
      tensorboard --logdir DIR. `train --tensorboard DIR` writes the same live.

      \(TraceExit.help)

      Examples:
        gradtrace export run.h5 --table curvature --format csv -o curvature.csv
        gradtrace export runs/*.h5 --table summary --format latex
        gradtrace export run.h5 --table layers -o layers.csv
        gradtrace export runs/*.h5 --format tensorboard -o tensorboard/
      """)

  @Argument(help: "Trace files.") var traces: [String]
  @Option(help: "Table: summary, gradients, curvature, epochs, steps, layers, activations, spectrum or noise.")
  var table = TraceTable.summary
  /// The formats a file can hold (`compare` also prints text for people).
  enum Format: String, ExpressibleByArgument, CaseIterable {
    case csv, markdown, latex, json, tensorboard
    var table: TableFormat { TableFormat(rawValue: rawValue)! }
  }

  @Option(help: "Output: csv, markdown, latex, json, or tensorboard (event files in the -o directory).")
  var format = Format.csv
  @Option(
    name: .shortAndLong, help: "Write to this file instead of standard output (tensorboard: this directory).")
  var output: String?

  func validate() throws {
    if traces.isEmpty { throw ValidationError("Give at least one trace file.") }
    if format == .tensorboard && output == nil {
      throw ValidationError("--format tensorboard writes a directory of event files: give it with -o DIR.")
    }
  }

  func run() throws {
    if format == .tensorboard {
      var inputs = TraceInputs(traces)
      _ = inputs.map { path in
        let reader = try TraceReader(path: path)
        let run = try TensorBoardRun.export(reader, to: "\(output!)/\(RunInfo(reader: reader).name)")
        print("\(path) -> \(run.path)")
      }
      try inputs.finish()
      return
    }
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

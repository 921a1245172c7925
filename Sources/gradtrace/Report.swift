import Analysis
import ArgumentParser
import Foundation

struct Report: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "One self-contained HTML page: the tables and figures of some traces.",
    discussion: """
      The page holds the comparison table (as `gradtrace compare`), each run's
      verdict with its evidence and hint and its gradient-flow figure, the loss and
      accuracy curves of all runs and, for traces that recorded curvature, the
      Taylor and curvature figures. CSS and SVG are inline: the file can be mailed
      or archived on its own. A trace that cannot be read is named at the top of the
      page and on stderr (exit status 2).

      \(TraceExit.help)

      Example: gradtrace report runs/*.h5 -o report.html
      """)

  @Argument(help: "Trace files.") var traces: [String]
  @Option(name: .shortAndLong, help: "The HTML file to write.") var output: String
  @Option(help: "The page's title.") var title = "gradtrace report"
  @Flag(help: "Linear instead of logarithmic gradient-flow axes.") var linear = false

  func validate() throws {
    if traces.isEmpty { throw ValidationError("Give at least one trace file.") }
  }

  func run() throws {
    var inputs = TraceInputs(traces)
    let runs = inputs.map { try FigureData(path: $0) }
    if !runs.isEmpty {
      var report = HTMLReport(runs: runs)
      report.title = title
      report.unreadable = inputs.failures
      report.logarithmic = !linear
      do {
        try report.html.write(toFile: output, atomically: true, encoding: .utf8)
      } catch {
        throw CommandError("cannot write \(output): \(error.localizedDescription)")
      }
      print("wrote \(output) (\(runs.count) trace\(runs.count == 1 ? "" : "s"))")
    }
    try inputs.finish()
  }
}

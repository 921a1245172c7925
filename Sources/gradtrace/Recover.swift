import ArgumentParser
import TraceIO

struct Recover: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Make a trace left by a killed run open everywhere again.",
    discussion: """
      A run killed with SIGKILL (or lost with its machine) leaves its trace marked as
      open for writing: gradtrace reads it, plain h5py and h5dump refuse it. recover
      clears that mark (as `h5clear -s` does), keeps every flushed row, and sets the
      status "running" to "killed after step N". A kill inside a flush can leave
      that flush half written: its rows are cut where some datasets lack them, and
      a last chunk torn mid-write (it fails its Fletcher-32 checksum) is rewritten
      from the flushed rows it holds. A trace closed normally is left as it is;
      `train --resume` recovers its trace by itself.

      Example: gradtrace recover runs/vgg08/trace.h5
      """)

  @Argument(help: "Trace files.") var traces: [String]

  func validate() throws {
    if traces.isEmpty { throw ValidationError("give at least one trace file") }
  }

  func run() throws {
    for trace in traces {
      let outcome: TraceRecovery.Outcome
      do {
        outcome = try TraceRecovery.recover(trace)
      } catch {
        throw CommandError("\(error)")
      }
      let kept = "\(outcome.steps) step rows kept\(outcome.lastStep.map { " (up to step \($0))" } ?? "")"
      for (index, rows) in outcome.rowsCut.sorted(by: { $0.key < $1.key }) {
        print("\(trace): cut \(rows) row(s) of the interrupted flush from the datasets that follow \(index)")
      }
      for dataset in outcome.repairedDatasets {
        print("\(trace): \(dataset): last chunk was torn by the kill; rewritten from its flushed rows")
      }
      if outcome.previousStatus == outcome.status {
        print("\(trace): \(kept); status \"\(outcome.status)\" left as it was")
      } else {
        print("\(trace): writer mark cleared, \(kept); status \"\(outcome.previousStatus)\" → \"\(outcome.status)\"")
      }
    }
  }
}

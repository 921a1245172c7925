import ArgumentParser
import Foundation
import TraceIO

struct Tail: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Follow a trace while its run writes it, step by step as flushed.",
    discussion: """
      Prints step, epoch, loss, accuracy and the gradient flow at the first and last
      layer for every new row, until the run's status leaves "running" (or --timeout
      seconds pass).

      Example: gradtrace tail run.h5
      """)

  @Argument(help: "The trace file.") var trace: String
  @Option(help: "Seconds between polls.") var interval = 1.0
  @Option(help: "Stop after this many seconds (0: follow until the run ends).") var timeout = 0.0

  func run() throws {
    var printed = 0
    let start = Date()
    print("step   epoch  loss       accuracy  mean|g| first layer  mean|g| last layer")
    while true {
      let reader: TraceReader
      do {
        reader = try TraceReader(path: trace)
      } catch {
        throw CommandError("\(error)")
      }
      let count = try reader.stepCount()
      if count > printed {
        let steps = try reader.column(TraceSchema.step)
        let epochs = try reader.column(TraceSchema.epoch)
        let losses = try reader.column(TraceSchema.loss)
        let accuracies = try reader.column(TraceSchema.accuracy)
        let flow = try reader.matrix(TraceSchema.gradientMeanAbs)
        for row in printed..<min(count, steps.count, flow.count) {
          print(
            String(
              format: "%-6.0f %-6.0f %-10.5g %-9.4f %-20.4g %.4g", steps[row], epochs[row], losses[row],
              accuracies[row], flow[row].first ?? .nan, flow[row].last ?? .nan))
        }
        printed = min(count, steps.count, flow.count)
        fflush(nil)
      }
      let status = reader.status
      if status != "running" {
        print("status: \(status)")
        return
      }
      if timeout > 0 && Date().timeIntervalSince(start) > timeout {
        print("status: running (stopped following after \(timeout) s)")
        return
      }
      Thread.sleep(forTimeInterval: interval)
    }
  }
}

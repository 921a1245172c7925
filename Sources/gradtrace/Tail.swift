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
        let new = count - printed
        let steps = try reader.values(.step, start: printed, count: new)
        let epochs = try reader.values(.epoch, start: printed, count: new)
        let losses = try reader.values(.loss, start: printed, count: new)
        let accuracies = try reader.values(.accuracy, start: printed, count: new)
        let flow = try reader.values(.gradientMeanAbs, start: printed, count: new)
        let layers = flow.count / new
        for row in 0..<new {
          print(
            String(
              format: "%-6.0f %-6.0f %-10.5g %-9.4f %-20.4g %.4g", steps[row], epochs[row], losses[row],
              accuracies[row], flow[row * layers], flow[(row + 1) * layers - 1]))
        }
        printed = count
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

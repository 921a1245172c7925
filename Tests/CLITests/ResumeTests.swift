import Foundation
import Testing
import TraceIO

/// `--resume DIR` continues what the run did: its trace, its recording options, its schedule,
/// from its newest usable checkpoint.
@Suite("Resume continues the run")
struct ResumeTests {
  static let tiny = [
    "--model", "vgg08", "--classes", "4", "--input", "1x16x16", "--dataset", "synthetic", "--batch-size", "25",
    "--validation", "50", "--subset", "200", "--quiet",
  ]

  /// A one-epoch run (200 training images: 8 steps of 25) with a trace that records curvature
  /// every 3 steps.
  static func firstEpoch() throws -> (directory: String, trace: String) {
    let directory = temporaryPath("run")
    let trace = temporaryPath("run.h5")
    let first = try GradTraceRun(
      ["train"] + tiny + [
        "--epochs", "1", "--output", directory, "--trace", trace, "--record", "gradients,curvature",
        "--curvature-every", "3",
      ])
    #expect(first.status == 0, "\(first.standardError)")
    return (directory, trace)
  }

  @Test func resumeAloneContinuesTheTraceWithItsOwnRecording() throws {
    let (directory, trace) = try Self.firstEpoch()
    let resumed = try GradTraceRun(["train", "--resume", directory, "--epochs", "2", "--schedule-epochs", "2"])
    #expect(resumed.status == 0, "\(resumed.standardError)")
    #expect(resumed.standardOutput.contains("trace \(trace)"), "\(resumed.standardOutput)")
    let file = try HDF5File(reading: trace)
    #expect(try file.stringAttribute("status", on: "/summary") == "finished")
    let steps = try file.read(Int64.self, from: "/steps/step").values
    #expect(steps == Array(0..<16), "two epochs of 8 steps: \(steps)")
    #expect(try file.read(Int64.self, from: "/curvature/step").values == [0, 3, 6, 9, 12, 15])
  }

  @Test func contradictionsAndAnEndedScheduleAreUsageErrors() throws {
    let (directory, trace) = try Self.firstEpoch()
    let before = FileManager.default.contents(atPath: trace)
    let cases: [([String], String)] = [
      (["--epochs", "1", "--record", "gradients"], "contradict the run's own"),
      (["--epochs", "1", "--trace", temporaryPath("other.h5")], "contradicts the run's own trace"),
      (["--epochs", "2"], "--schedule-epochs"),
      (["--epochs", "3", "--schedule-epochs", "2"], "ends before --epochs 3"),
    ]
    for (arguments, message) in cases {
      let run = try GradTraceRun(["train", "--resume", directory] + arguments)
      #expect(run.status == 64, "\(arguments): exit \(run.status) \(run.standardError)")
      #expect(run.standardError.contains(message), "\(arguments): \(run.standardError)")
    }
    #expect(FileManager.default.contents(atPath: trace) == before, "the trace is untouched")
    #expect(!FileManager.default.fileExists(atPath: trace + ".interrupted"))
    let extended = try GradTraceRun(["train", "--resume", directory, "--epochs", "2", "--extend-schedule"])
    #expect(extended.status == 0, "\(extended.standardError)")
  }

  /// A damaged last.h5 is passed over for requested.h5, with a message.
  @Test func aDamagedNewestCheckpointFallsBack() throws {
    let (directory, _) = try Self.firstEpoch()
    let last = "\(directory)/last.h5"
    try FileManager.default.copyItem(atPath: last, toPath: "\(directory)/requested.h5")
    var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: last)))
    bytes[bytes.count / 2] ^= 0xFF
    try Data(bytes).write(to: URL(fileURLWithPath: last))
    let run = try GradTraceRun(["train", "--resume", directory, "--epochs", "2", "--schedule-epochs", "2"])
    #expect(run.status == 0, "\(run.standardError)")
    #expect(run.standardError.contains("\(last): does not match its checksum"), "\(run.standardError)")
    #expect(run.standardError.contains("resuming from \(directory)/requested.h5"))
  }
}

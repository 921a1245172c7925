import Foundation
import Testing
import TraceIO

/// Ctrl-C is a graceful stop: the step finishes, last.h5 holds the run mid-epoch, the trace is
/// closed as interrupted (plain h5py and h5dump open it), and --resume continues bit for bit.
@Suite("Interrupting and resuming a run")
struct InterruptTests {
  static func arguments(_ directory: String, trace: String) -> [String] {
    [
      "train", "--dataset", "synthetic", "--input", "1x32x32", "--classes", "4", "--batch-size", "25",
      "--validation", "50", "--subset", "2000", "--epochs", "2", "--threads", "1", "--output", directory,
      "--trace", trace, "--record", "gradients,curvature", "--curvature-every", "7", "--flush-every", "5", "--quiet",
    ]
  }

  static func run(_ executable: String, _ arguments: [String]) throws -> Int32 {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    process.waitUntilExit()
    return process.terminationStatus
  }

  @Test func sigintStopsGracefullyAndResumeIsBitIdentical() throws {
    let straight = (directory: temporaryPath("straight"), trace: temporaryPath("straight.h5"))
    #expect(try GradTraceRun(Self.arguments(straight.directory, trace: straight.trace)).status == 0)

    let stopped = (directory: temporaryPath("stopped"), trace: temporaryPath("stopped.h5"))
    let process = Process()
    process.executableURL = GradTraceRun.executable
    process.arguments = Self.arguments(stopped.directory, trace: stopped.trace)
    let output = Pipe()
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    try process.run()
    // Once the run has taken a few steps (the lock names its pid, data is loaded), stop it.
    let deadline = Date().addingTimeInterval(20)
    while (try? String(contentsOfFile: "\(stopped.directory)/.lock", encoding: .utf8))?.contains(
      "\(process.processIdentifier)") != true && Date() < deadline
    {
      usleep(20_000)
    }
    usleep(1_500_000)
    kill(process.processIdentifier, SIGINT)
    let printed = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    try #require(process.terminationStatus == 130, "exit \(process.terminationStatus): \(printed)")
    #expect(printed.contains("gradtrace train --resume \(stopped.directory)"), "\(printed)")

    // The trace is closed: plain h5py (no SWMR) and h5dump open it, and it says why it ended.
    let status = try HDF5File(reading: stopped.trace).stringAttribute("status", on: "/summary")
    #expect(status.hasPrefix("interrupted at step "), "\(status)")
    #expect(
      try Self.run(
        "/usr/bin/env", ["python3", "-c", "import h5py, sys; h5py.File(sys.argv[1], 'r').close()", stopped.trace])
        == 0)
    #expect(try Self.run("/usr/bin/h5dump", ["-H", stopped.trace]) == 0)

    let resumed = try GradTraceRun([
      "train", "--resume", stopped.directory, "--trace", stopped.trace, "--record", "gradients,curvature",
      "--curvature-every", "7", "--flush-every", "5", "--quiet",
    ])
    #expect(resumed.status == 0, "\(resumed.standardError)")

    let a = try HDF5File(reading: "\(straight.directory)/last.h5")
    let b = try HDF5File(reading: "\(stopped.directory)/last.h5")
    for name in try a.children(of: "/parameters") {
      #expect(
        try a.read(Float.self, from: "/parameters/\(name)").values
          == b.read(Float.self, from: "/parameters/\(name)").values, "\(name)")
    }
    let ta = try HDF5File(reading: straight.trace)
    let tb = try HDF5File(reading: stopped.trace)
    for path in ["/steps/step", "/steps/loss", "/gradients/mean_abs", "/curvature/gHg", "/curvature/actual_delta"] {
      let (x, y) = (try ta.read(Float.self, from: path).values, try tb.read(Float.self, from: path).values)
      #expect(x.count == y.count && zip(x, y).allSatisfy { $0 == $1 || ($0.isNaN && $1.isNaN) }, "\(path)")
    }
    #expect(try tb.stringAttribute("status", on: "/summary") == "finished")
  }

  /// After SIGKILL the trace is marked open for writing; `gradtrace recover` makes it open in
  /// plain h5py and h5dump again, with every flushed row and the status "killed after step N".
  @Test func recoverClearsAKilledWritersMark() throws {
    let directory = temporaryPath("killed")
    let trace = temporaryPath("killed.h5")
    let process = Process()
    process.executableURL = GradTraceRun.executable
    process.arguments = Self.arguments(directory, trace: trace)
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    usleep(3_000_000)
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
    let openPlainly = ["python3", "-c", "import h5py, sys; h5py.File(sys.argv[1], 'r').close()", trace]
    try #require(try Self.run("/usr/bin/env", openPlainly) != 0, "a killed writer leaves its mark")
    let flushed = try HDF5File(trace, access: .readWhileWriting).read(Int64.self, from: "/steps/step").values

    let recovered = try GradTraceRun(["recover", trace])
    #expect(recovered.status == 0, "\(recovered.standardError)")
    #expect(recovered.standardOutput.contains("writer mark cleared"), "\(recovered.standardOutput)")
    #expect(try Self.run("/usr/bin/env", openPlainly) == 0)
    #expect(try Self.run("/usr/bin/h5dump", ["-H", trace]) == 0)
    let file = try HDF5File(reading: trace)
    #expect(try file.read(Int64.self, from: "/steps/step").values == flushed, "every flushed row stays")
    #expect(try file.stringAttribute("status", on: "/summary") == "killed after step \(flushed.last ?? -1)")
    let again = try GradTraceRun(["recover", trace])
    #expect(again.status == 0 && again.standardOutput.contains("left as it was"))
    #expect(try GradTraceRun(["recover", "/no/such.h5"]).status == 1)
  }
}

import Foundation
import Testing

/// TensorBoard's own reader reads what `export --format tensorboard` and `train --tensorboard`
/// write, and every scalar equals the trace's (scripts/check_tensorboard.py, `make
/// tensorboard-check`; `make test` installs tensorboard with pip).
@Suite("TensorBoard event files")
struct TensorBoardTests {
  @Test func tensorBoardReadsBackEveryScalarOfFinishedAndLiveRuns() throws {
    let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent().appendingPathComponent("scripts/check_tensorboard.py").path
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", script, "--gradtrace", GradTraceRun.executable.path]
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    #expect(process.terminationStatus == 0, "\(output.suffix(3000))")
    #expect(output.contains("live run: read") && output.hasSuffix("ok\n"), "\(output.suffix(3000))")
  }

  @Test func usageErrors() throws {
    let noDirectory = try GradTraceRun(["export", "x.h5", "--format", "tensorboard"])
    #expect(noDirectory.status == 64 && noDirectory.standardError.contains("-o DIR"), "\(noDirectory.standardError)")
    let noTrace = try GradTraceRun(["train", "--output", temporaryPath("x"), "--tensorboard", temporaryPath("tb")])
    #expect(noTrace.status == 64 && noTrace.standardError.contains("--trace"), "\(noTrace.standardError)")
  }
}

import Foundation
import Testing

/// Nothing a user made is replaced without being asked, and one process writes a run or trace.
@Suite("Runs are never silently replaced; one writer each")
struct RunSafetyTests {
  static func tinyRun(_ directory: String, trace: String, images: Int = 100, epochs: Int = 1) -> [String] {
    [
      "train", "--dataset", "synthetic", "--input", "1x16x16", "--classes", "4", "--batch-size", "25",
      "--validation", "50", "--subset", "\(images)", "--epochs", "\(epochs)", "--output", directory, "--trace", trace,
      "--quiet",
    ]
  }

  /// Every file under `paths` and its bytes (the lock file, which names its last holder's pid,
  /// is gradtrace's bookkeeping rather than the run's).
  static func snapshot(_ paths: [String]) throws -> [String: Data] {
    var files: [String: Data] = [:]
    for path in paths {
      var isDirectory: ObjCBool = false
      guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { continue }
      if isDirectory.boolValue {
        for name in try FileManager.default.contentsOfDirectory(atPath: path) where !name.hasSuffix(".lock") {
          files["\(path)/\(name)"] = FileManager.default.contents(atPath: "\(path)/\(name)")
        }
      } else {
        files[path] = FileManager.default.contents(atPath: path)
      }
    }
    return files
  }

  @Test func anExistingRunOrTraceIsRefusedWithoutOverwrite() throws {
    let directory = temporaryPath("run")
    let trace = temporaryPath("trace.h5")
    #expect(try GradTraceRun(Self.tinyRun(directory, trace: trace)).status == 0)
    let before = try Self.snapshot([directory, trace])
    #expect(before.keys.contains("\(directory)/best.h5"))

    let again = try GradTraceRun(Self.tinyRun(directory, trace: trace))
    #expect(again.status == 1)
    #expect(again.standardError.contains(directory) && again.standardError.contains("--overwrite"))
    #expect(again.standardError.contains("--resume"))
    let traceOnly = try GradTraceRun(Self.tinyRun(temporaryPath("other"), trace: trace))
    #expect(traceOnly.status == 1 && traceOnly.standardError.contains(trace), "\(traceOnly.standardError)")
    #expect(try Self.snapshot([directory, trace]) == before, "nothing changed on disk")

    let replaced = try GradTraceRun(Self.tinyRun(directory, trace: trace) + ["--overwrite"])
    #expect(replaced.status == 0, "\(replaced.standardError)")
    #expect(replaced.standardError.contains("--overwrite: replacing the run in \(directory)"))
    #expect(replaced.standardError.contains("--overwrite: replacing the trace \(trace)"))
  }

  /// A second writer of the same trace, or of the same run directory, exits 1 at once naming the
  /// holder; the first finishes and its trace passes scripts/check_trace.py.
  @Test(arguments: ["trace", "output"])
  func aSecondWriterIsRefusedAtOnce(shared: String) throws {
    let directory = temporaryPath("first")
    let trace = temporaryPath("shared.h5")
    let first = Process()
    first.executableURL = GradTraceRun.executable
    first.arguments = Self.tinyRun(directory, trace: trace, images: 2000, epochs: 2)
    first.standardOutput = FileHandle.nullDevice
    first.standardError = FileHandle.nullDevice
    try first.run()
    // Wait until the first run holds its locks (the lock file names its pid).
    let lock = shared == "trace" ? "\(trace).lock" : "\(directory)/.lock"
    let deadline = Date().addingTimeInterval(20)
    while (try? String(contentsOfFile: lock, encoding: .utf8))?.contains("\(first.processIdentifier)") != true,
      Date() < deadline
    {
      usleep(20_000)
    }
    let started = Date()
    let second = try GradTraceRun(
      shared == "trace"
        ? Self.tinyRun(temporaryPath("second"), trace: trace)
        : Self.tinyRun(directory, trace: temporaryPath("second.h5")))
    let seconds = Date().timeIntervalSince(started)
    #expect(second.status == 1)
    #expect(second.standardError.contains("in use by pid \(first.processIdentifier)"), "\(second.standardError)")
    #expect(seconds < 1, "refused after \(seconds) s")
    first.waitUntilExit()
    #expect(first.terminationStatus == 0)
    let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent().appendingPathComponent("scripts/check_trace.py").path
    let check = Process()
    check.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    check.arguments = ["python3", script, trace]
    check.standardOutput = FileHandle.nullDevice
    try check.run()
    check.waitUntilExit()
    #expect(check.terminationStatus == 0, "the first run's trace passes check_trace.py")
  }
}

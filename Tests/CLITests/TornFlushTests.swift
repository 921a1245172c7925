import Foundation
import Testing

/// A SIGKILL inside a trace flush can tear the chunk being rewritten: its earlier rows intact,
/// its checksum no longer matching. These tests tear chunks the way a kill does (bytes past the
/// flushed rows changed, checksum left as it was) and check what readers, `recover` and
/// `--resume` make of it.
@Suite("Traces torn by a kill inside a flush")
struct TornFlushTests {
  static let run = [
    "train", "--model", "vgg08", "--classes", "4", "--input", "1x16x16", "--dataset", "synthetic",
    "--batch-size", "25", "--validation", "50", "--subset", "300", "--epochs", "2", "--schedule", "constant",
    "--threads", "1", "--quiet",
    "--record", "gradients,activations,curvature", "--curvature-every", "1", "--flush-every", "5",
  ]

  /// Marks `trace` as a killed writer's ("running") and overwrites row `row` of `dataset` in the
  /// file's bytes, past the dataset's extent when the row is: what a torn flush leaves.
  static func tear(_ trace: String, _ dataset: String, row: Int, sourceLocation: SourceLocation = #_sourceLocation)
    throws
  {
    let script = """
      import h5py, sys
      path, name, row = sys.argv[1], sys.argv[2], int(sys.argv[3])
      with h5py.File(path, "r+") as f:
          f["summary"].attrs["status"] = "running"
      with h5py.File(path, "r") as f:
          d = f[name]
          row_bytes = d.dtype.itemsize * (d.shape[1] if d.ndim == 2 else 1)
          first = row // d.chunks[0] * d.chunks[0]
          info = d.id.get_chunk_info_by_coord((first,) + (0,) * (d.ndim - 1))
          offset = info.byte_offset + (row - first) * row_bytes
      with open(path, "r+b") as raw:
          raw.seek(offset)
          raw.write(b"\\x5a" * row_bytes)
      """
    let status = try InterruptTests.run("/usr/bin/env", ["python3", "-c", script, trace, dataset, "\(row)"])
    try #require(status == 0, "tearing \(dataset) row \(row) of \(trace)", sourceLocation: sourceLocation)
  }

  /// Whether every dataset of `a` equals `b`'s (NaN equal to NaN), through plain h5py.
  static func sameDatasets(_ a: String, _ b: String) throws -> Bool {
    let script = """
      import h5py, numpy as np, sys
      a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
      names = []
      a.visititems(lambda n, v: names.append(n) if isinstance(v, h5py.Dataset) else None)
      same = all(np.array_equal(a[n][:], b[n][:], equal_nan=a[n].dtype.kind == "f") for n in names)
      sys.exit(0 if same and names else 1)
      """
    return try InterruptTests.run("/usr/bin/env", ["python3", "-c", script, a, b]) == 0
  }

  @Test(arguments: ["/steps/step", "/gradients/mean_abs", "/activations/std", "/curvature/gHg", "/epochs/valid_loss"])
  func recoverRewritesATornLastChunk(dataset: String) throws {
    let directory = temporaryPath("torn-run")
    let original = temporaryPath("original.h5")
    #expect(try GradTraceRun(Self.run + ["--output", directory, "--trace", original]).status == 0)
    let torn = temporaryPath("torn.h5")
    try FileManager.default.copyItem(atPath: original, toPath: torn)
    // 24 steps, 24 curvature rows, 2 epochs: the row after the last is in the last chunk.
    try Self.tear(torn, dataset, row: dataset.hasPrefix("/epochs") ? 2 : 24)

    let before = try GradTraceRun(["inspect", torn])
    if dataset == "/steps/step" {
      #expect(before.status == 1, "the step index is read by inspect")
      #expect(before.standardError.contains("gradtrace recover"), "\(before.standardError)")
    }
    let recovered = try GradTraceRun(["recover", torn])
    #expect(recovered.status == 0, "\(recovered.standardError)")
    #expect(recovered.standardOutput.contains("\(dataset): last chunk was torn"), "\(recovered.standardOutput)")
    #expect(recovered.standardOutput.contains("killed after step 23"), "\(recovered.standardOutput)")
    // Every row the completed flushes wrote is there, bit for bit; plain h5py reads it all.
    #expect(try Self.sameDatasets(original, torn))
    #expect(try GradTraceRun(["analyze", torn]).status == 0)
  }

  @Test func resumeRecoversATornTraceAndFinishes() throws {
    let straight = (directory: temporaryPath("straight"), trace: temporaryPath("straight.h5"))
    #expect(try GradTraceRun(Self.run + ["--output", straight.directory, "--trace", straight.trace]).status == 0)
    // A run that stopped after its first epoch, its trace then torn in the step index's chunk.
    let killed = (directory: temporaryPath("killed"), trace: temporaryPath("killed.h5"))
    let oneEpoch = Self.run.map { $0 == "2" ? "1" : $0 }
    #expect(try GradTraceRun(oneEpoch + ["--output", killed.directory, "--trace", killed.trace]).status == 0)
    try Self.tear(killed.trace, "/steps/step", row: 12)
    let resumed = try GradTraceRun(["train", "--resume", killed.directory, "--epochs", "2", "--quiet"])
    #expect(resumed.status == 0, "\(resumed.standardError)")
    let inspect = try GradTraceRun(["inspect", killed.trace])
    #expect(inspect.standardOutput.contains("steps recorded: 24 (steps 0 to 23)"), "\(inspect.standardOutput)")
    #expect(inspect.standardOutput.contains("status: finished"), "\(inspect.standardOutput)")
  }

  /// Only a killed writer's last chunk can be torn by a flush: a failing chunk before it, or in
  /// a trace that was closed normally, is damage: reported, never rewritten.
  @Test func damageOutsideATornLastChunkIsReportedNotRewritten() throws {
    let directory = temporaryPath("damaged-run")
    let trace = temporaryPath("damaged.h5")
    let sixEpochs = Self.run.map { $0 == "2" ? "6" : $0 }
    #expect(try GradTraceRun(sixEpochs + ["--output", directory, "--trace", trace]).status == 0)
    // 72 step rows of per-layer values in chunks of 64: row 3 is in the first chunk, not the last.
    let killed = temporaryPath("killed-damaged.h5")
    try FileManager.default.copyItem(atPath: trace, toPath: killed)
    try Self.tear(killed, "/gradients/mean_abs", row: 3)
    let refused = try GradTraceRun(["recover", killed])
    #expect(refused.status == 1, "\(refused.standardOutput)")
    #expect(refused.standardError.contains("/gradients/mean_abs"), "\(refused.standardError)")
    #expect(refused.standardError.contains("damage, not an interrupted append"), "\(refused.standardError)")

    // A finished trace whose step index fails its checksum: recover leaves it, readers say so.
    try Self.tear(trace, "/steps/step", row: 3)
    let script = "import h5py, sys\nwith h5py.File(sys.argv[1], 'r+') as f: f['summary'].attrs['status'] = 'finished'"
    #expect(try InterruptTests.run("/usr/bin/env", ["python3", "-c", script, trace]) == 0)
    let bytes = FileManager.default.contents(atPath: trace)
    let left = try GradTraceRun(["recover", trace])
    #expect(left.status == 0 && left.standardOutput.contains("left as it was"), "\(left.standardOutput)")
    #expect(FileManager.default.contents(atPath: trace) == bytes, "a closed trace is not rewritten")
    let inspect = try GradTraceRun(["inspect", trace])
    #expect(inspect.status == 1 && inspect.standardError.contains("Fletcher32"), "\(inspect.standardError)")
  }
}

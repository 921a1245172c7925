import Foundation
import Testing
import TraceIO

/// Checkpoints are verified: a damaged copy is refused naming the file, never read as wrong
/// numbers, never a crash; a checkpoint written before checksums still loads, with a notice.
@Suite("Damaged checkpoints")
struct CheckpointDamageTests {
  /// A small finished run (vgg08 on 16×16 synthetic images) and a batch file that fits it.
  static func makeRun() throws -> (directory: String, batch: String) {
    let directory = temporaryPath("run")
    let run = try GradTraceRun([
      "train", "--dataset", "synthetic", "--input", "1x16x16", "--classes", "4", "--batch-size", "25",
      "--validation", "50", "--subset", "100", "--epochs", "1", "--output", directory, "--quiet",
    ])
    #expect(run.status == 0, "\(run.standardError)")
    let batch = temporaryPath("batch.h5")
    let file = try HDF5File(creating: batch)
    var generator = SplitMix(seed: 7)
    try file.write((0..<(8 * 256)).map { _ in Float(generator.unit() * 2 - 1) }, shape: [8, 1, 16, 16], to: "/images")
    try file.write((0..<8).map { Int64($0 % 4) }, shape: [8], to: "/labels")
    try file.close()
    return (directory, batch)
  }

  /// `count` bytes of a copy of `source` replaced by random values at random offsets.
  static func damagedCopy(of source: String, seed: UInt64, count: Int) throws -> String {
    var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: source)))
    var generator = SplitMix(seed: seed)
    for _ in 0..<count {
      let offset = Int(generator.next() % UInt64(bytes.count))
      bytes[offset] ^= UInt8(1 + generator.next() % 255)
    }
    let path = temporaryPath("damaged-\(seed).h5")
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    return path
  }

  @Test func damagedCopiesAreRefusedNeverMisread() throws {
    let (directory, batch) = try Self.makeRun()
    let best = "\(directory)/best.h5"
    let evaluate = { (checkpoint: String) in
      try GradTraceRun(["evaluate", "--checkpoint", checkpoint, "--batch", batch, "--json"], timeout: 60)
    }
    let probe = { (checkpoint: String) in
      try GradTraceRun(
        [
          "probe", "--checkpoint", checkpoint, "--batch", batch, "--probes", "1", "--max-eigen-products", "2",
          "--multiples", "0.5", "--json",
        ], timeout: 60)
    }
    let reference = try evaluate(best)
    let referenceProbe = try probe(best)
    #expect(reference.status == 0 && referenceProbe.status == 0, "\(reference.standardError)")
    var refused = 0
    for seed in 0..<200 {
      let copy = try Self.damagedCopy(of: best, seed: UInt64(seed), count: 1 + seed % 4)
      var runs = [(try evaluate(copy), reference)]
      if seed % 10 == 0 { runs.append((try probe(copy), referenceProbe)) }
      for (run, expected) in runs {
        #expect(!run.signalled, "seed \(seed): crashed or hung")
        #expect(run.status == 0 || run.status == 1, "seed \(seed): exit \(run.status)")
        if run.status == 0 {
          #expect(run.standardOutput == expected.standardOutput, "seed \(seed): read as other numbers")
        } else {
          refused += 1
          #expect(run.standardError.contains(copy), "seed \(seed): \(run.standardError)")
        }
      }
    }
    print("damaged checkpoints: \(refused) of 220 runs refused, the rest read the same numbers")
    #expect(refused > 150, "most damage lands in checksummed data: \(refused) refused")
  }

  @Test func resumeRefusesADamagedLastCheckpoint() throws {
    let (directory, _) = try Self.makeRun()
    var refused = 0
    for seed in 0..<20 {
      let copyDirectory = temporaryPath("copy-\(seed)")
      try FileManager.default.createDirectory(atPath: copyDirectory, withIntermediateDirectories: true)
      let damaged = try Self.damagedCopy(of: "\(directory)/last.h5", seed: UInt64(1000 + seed), count: 2)
      try FileManager.default.moveItem(atPath: damaged, toPath: "\(copyDirectory)/last.h5")
      let run = try GradTraceRun(
        ["train", "--resume", copyDirectory, "--epochs", "2", "--extend-schedule", "--quiet"], timeout: 120)
      #expect(!run.signalled && (run.status == 0 || run.status == 1), "seed \(seed): exit \(run.status)")
      if run.status == 1 {
        refused += 1
        #expect(run.standardError.contains("\(copyDirectory)/last.h5"), "seed \(seed): \(run.standardError)")
      }
    }
    print("damaged last.h5: \(refused) of 20 resumes refused")
    #expect(refused > 10, "\(refused) of 20 refused")
  }

  /// A version-1 checkpoint (no checksums, as the first release wrote: here the same file with
  /// its version set back and its checksums removed) loads with a notice.
  @Test func checkpointsWithoutChecksumsStillLoad() throws {
    let (directory, batch) = try Self.makeRun()
    let legacy = temporaryPath("legacy.h5")
    try FileManager.default.copyItem(atPath: "\(directory)/best.h5", toPath: legacy)
    let python = Process()
    python.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    python.arguments = [
      "python3", "-c",
      "import h5py, sys; f = h5py.File(sys.argv[1], 'r+'); f.attrs['format_version'] = 1; "
        + "del f.attrs['attributes_checksum']; f.close(); "
        + "g = open(sys.argv[1], 'r+b'); g.write(bytes(512)); g.close()", legacy,
    ]
    try python.run()
    python.waitUntilExit()
    #expect(python.terminationStatus == 0)
    let run = try GradTraceRun(["evaluate", "--checkpoint", legacy, "--batch", batch, "--json"])
    #expect(run.status == 0, "\(run.standardError)")
    #expect(run.standardError.contains("cannot be verified"), "\(run.standardError)")
    let current = try GradTraceRun(["evaluate", "--checkpoint", "\(directory)/best.h5", "--batch", batch, "--json"])
    #expect(run.standardOutput == current.standardOutput)
    #expect(!current.standardError.contains("cannot be verified"))
  }
}

extension SplitMix {
  /// Uniform in [0, 1).
  mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
}

import Foundation
import Testing
import TraceIO

/// Commands work on their defaults: the input shape and class count come from the data, and an
/// option that would do nothing or contradicts the data is refused, not ignored.
@Suite("Defaults from the data, and options that say what the user means")
struct DefaultsAndFlagsTests {
  /// CIFAR-10 in its official binary format: five training files of `perFile` records and a
  /// test file of `test` records (1 label byte + 3072 pixel bytes each).
  static func writeCIFAR10(_ directory: String, perFile: Int, test: Int) throws {
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    var generator = SystemRandomNumberGenerator()
    func records(_ count: Int) -> Data {
      var bytes = [UInt8]()
      bytes.reserveCapacity(count * 3073)
      for index in 0..<count {
        bytes.append(UInt8(index % 10))
        for _ in 0..<3072 { bytes.append(UInt8.random(in: 0...255, using: &generator)) }
      }
      return Data(bytes)
    }
    for file in 1...5 {
      try records(perFile).write(to: URL(fileURLWithPath: "\(directory)/data_batch_\(file).bin"))
    }
    try records(test).write(to: URL(fileURLWithPath: "\(directory)/test_batch.bin"))
  }

  @Test func trainTakesTheShapeFromFashionMNIST() throws {
    let directory = temporaryPath("vgg08")
    let run = try GradTraceRun([
      "train", "--model", "vgg08", "--dataset", "fashion-mnist", "--subset", "500", "--epochs", "1", "--output",
      directory, "--test-examples", "300",
    ])
    #expect(run.status == 0, "\(run.standardError)")
    #expect(run.standardOutput.contains("300 test images"), "\(run.standardOutput)")
    let summary = try String(contentsOfFile: "\(directory)/summary.json", encoding: .utf8)
    #expect(summary.contains("\"best_epoch\" : 0"), "epochs from 0: \(summary)")
  }

  @Test func trainTakesTheShapeFromCIFAR10() throws {
    // 2,600 training images (the default validation holds out 2,500) and 100 test images.
    let data = temporaryPath("cifar10")
    try Self.writeCIFAR10(data, perFile: 520, test: 100)
    let run = try GradTraceRun([
      "train", "--model", "vgg38", "--batchnorm", "--residual", "--dataset", "cifar10", "--data-dir", data,
      "--epochs", "1", "--output", temporaryPath("vgg38-bn-res"), "--quiet",
    ])
    #expect(run.status == 0, "\(run.standardError)")
    let contradiction = try GradTraceRun([
      "train", "--dataset", "cifar10", "--data-dir", data, "--classes", "100", "--output", temporaryPath("x"),
    ])
    #expect(contradiction.status == 64)
    #expect(contradiction.standardError.contains("--classes 100") && contradiction.standardError.contains("cifar10"))
    let input = try GradTraceRun([
      "train", "--dataset", "cifar10", "--data-dir", data, "--input", "1x32x32", "--output", temporaryPath("x"),
    ])
    #expect(input.status == 64 && input.standardError.contains("3x32x32"), "\(input.standardError)")
  }

  @Test func initThenProbeWorkOnDefaults() throws {
    let checkpoint = temporaryPath("init.h5")
    let initialised = try GradTraceRun(["init", "--model", "vgg08", "-o", checkpoint])
    #expect(initialised.status == 0 && initialised.standardOutput.contains("1x32x32"), "\(initialised.standardOutput)")
    let probe = try GradTraceRun([
      "probe", "--checkpoint", checkpoint, "--dataset", "fashion-mnist", "--examples", "8", "--probes", "1",
      "--max-eigen-products", "2",
    ])
    #expect(probe.status == 0, "\(probe.standardError)")
    let cifar = try GradTraceRun(["init", "--dataset", "cifar100", "--classes", "10", "-o", temporaryPath("x.h5")])
    #expect(cifar.status == 64, "contradicts CIFAR-100's 100 classes")
  }

  @Test func describeSaysWhichShapeAndWhetherThePaperHasTheModel() throws {
    let paper = try GradTraceRun(["describe", "--model", "vgg38", "--batchnorm", "--residual"])
    #expect(paper.standardOutput.contains("3×32×32 input, 100 classes"))
    #expect(paper.standardOutput.contains("CIFAR-100's (the paper's)"))
    #expect(paper.standardOutput.contains("the paper's VGG38 BN + Resnet"))
    let other = try GradTraceRun(["describe", "--model", "vgg08", "--residual"])
    #expect(other.status == 0 && other.standardOutput.contains("not one of the paper's models"))
    let fashion = try GradTraceRun(["describe", "--model", "vgg08", "--dataset", "fashion-mnist", "--json"])
    #expect(fashion.standardOutput.contains("\"classes\" : 10"), "\(fashion.standardOutput)")
  }

  @Test func optionsThatWouldDoNothingAreRefused() throws {
    let output = temporaryPath("x")
    let cases: [([String], String)] = [
      (["--record", "gradients,curvature"], "without --trace"),
      (["--trace", temporaryPath("t.h5"), "--curvature-every", "5"], "unless --record includes curvature"),
      (["--trace", temporaryPath("t.h5"), "--eigen-every", "1"], "unless --record includes curvature"),
      (["--flush-every", "10"], "without --trace"),
      (["--threads", "-1"], "got -1"),
      (["--weight-decay", "-0.1"], "got -0.1"),
      (["--subset", "-5"], "got -5"),
      (["--test-examples", "0"], "got 0"),
      (["--augment", "rotate"], "--augment"),
    ]
    for (arguments, message) in cases {
      let run = try GradTraceRun(["train", "--output", output] + arguments)
      #expect(run.status == 64, "\(arguments): exit \(run.status)")
      #expect(run.standardError.contains(message), "\(arguments): \(run.standardError)")
      #expect(!run.standardError.contains("Missing value"), "\(arguments): a value, not a missing one")
    }
    #expect(!FileManager.default.fileExists(atPath: output), "nothing written")
  }

  @Test func negativeValuesAreNamedInEveryCommand() throws {
    let cases: [([String], String)] = [
      (["probe", "--checkpoint", "c.h5", "--dataset", "fashion-mnist", "--probes", "-2"], "got -2"),
      (["evaluate", "--checkpoint", "c.h5", "--dataset", "fashion-mnist", "--threads", "-1"], "got -1"),
      (["analyze", "t.h5", "--vanishing-ratio", "-1"], "got -1"),
      (["reproduce", "--threads", "-3"], "got -3"),
      (["bench", "--repeats", "-4"], "got -4"),
      (["init", "--seed", "-1", "-o", "x.h5"], "'-1'"),
    ]
    for (arguments, message) in cases {
      let run = try GradTraceRun(arguments)
      #expect(run.status == 64, "\(arguments): exit \(run.status)")
      #expect(run.standardError.contains(message), "\(arguments): \(run.standardError)")
      #expect(!run.standardError.contains("Missing value"), "\(arguments)")
    }
  }

  @Test func aSubsetAboveTheDataIsANotice() throws {
    let run = try GradTraceRun([
      "train", "--dataset", "synthetic", "--input", "1x16x16", "--classes", "4", "--batch-size", "25",
      "--validation", "50", "--subset", "100000", "--epochs", "1", "--augment", "none", "--output",
      temporaryPath("s"), "--quiet",
    ])
    #expect(run.status == 0, "\(run.standardError)")
    #expect(run.standardError.contains("notice: --subset 100000 is more than the 1950 training images"))
  }

  @Test func aNameGivenToTrainNamesTheRunInCompare() throws {
    var traces: [String] = []
    for (index, name) in [nil, "baseline"].enumerated() {
      let directory = temporaryPath("run\(index)")
      try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
      let trace = "\(directory)/trace.h5"
      traces.append(trace)
      let run = try GradTraceRun(
        [
          "train", "--dataset", "synthetic", "--input", "1x16x16", "--classes", "4", "--batch-size", "25",
          "--validation", "50", "--subset", "100", "--epochs", "1", "--output", directory, "--trace", trace, "--quiet",
        ] + (name.map { ["--name", $0] } ?? []))
      #expect(run.status == 0, "\(run.standardError)")
    }
    let compare = try GradTraceRun(["compare"] + traces + ["--format", "csv"])
    #expect(compare.status == 0, "\(compare.standardError)")
    let unnamed = URL(fileURLWithPath: traces[0]).deletingLastPathComponent().lastPathComponent + "/trace"
    #expect(compare.standardOutput.contains(unnamed), "directory and file: \(compare.standardOutput)")
    #expect(compare.standardOutput.contains("baseline"))
  }

  @Test func versionBenchAndUnknownSubcommands() throws {
    let version = try GradTraceRun(["--version"])
    #expect(version.status == 0 && !version.standardOutput.isEmpty)
    #expect(try GradTraceRun(["frobnicate"]).status == 64)
    let bench = try GradTraceRun([
      "bench", "--model", "vgg08", "--batch-size", "8", "--repeats", "2", "--threads", "1", "--json",
    ])
    #expect(bench.status == 0, "\(bench.standardError)")
    let json = try #require(try JSONSerialization.jsonObject(with: Data(bench.standardOutput.utf8)) as? [String: Any])
    for key in ["images_per_second", "median_ms", "min_ms", "max_ms", "gflops"] {
      #expect(json[key] is Double, "\(key) in \(bench.standardOutput)")
    }
    let median = try #require(json["median_ms"] as? Double)
    #expect(try #require(json["min_ms"] as? Double) <= median && median <= (json["max_ms"] as? Double ?? 0))
    let hvp = try GradTraceRun(["bench", "--model", "vgg08", "--pass", "hvp", "--batch-size", "4", "--repeats", "1"])
    #expect(hvp.status == 0 && hvp.standardOutput.contains("hvp"), "\(hvp.standardError)")
    let spectrum = try GradTraceRun([
      "bench", "--model", "vgg08", "--input", "1x8x8", "--classes", "3", "--pass", "spectrum", "--batch-size", "2",
      "--repeats", "1", "--json",
    ])
    #expect(spectrum.status == 0, "\(spectrum.standardError)")
    let timed = try #require(
      try JSONSerialization.jsonObject(with: Data(spectrum.standardOutput.utf8)) as? [String: Any])
    #expect(timed["pass"] as? String == "spectrum" && (timed["median_ms"] as? Double ?? 0) > 0)
  }

  /// `bench --profile`: the kinds' own times add up to the pass, convolutions carry GFLOP/s,
  /// fused chains are one kind (vgg08 BN: every BatchNorm feeds only its leaky ReLU), and the
  /// text names every group.
  @Test func benchProfile() throws {
    let arguments = ["bench", "--model", "vgg08", "--batchnorm", "--batch-size", "8", "--repeats", "2", "--profile"]
    let run = try GradTraceRun(arguments + ["--json"])
    #expect(run.status == 0, "\(run.standardError)")
    let json = try #require(try JSONSerialization.jsonObject(with: Data(run.standardOutput.utf8)) as? [String: Any])
    let rows = try #require(json["profile"] as? [[String: Any]], "\(run.standardOutput)")
    let kinds = rows.compactMap { $0["kind"] as? String }
    for kind in [
      "convolution 3×3/1 32×32 forward", "convolution 3×3/1 32×32 backward", "BatchNorm+activation forward",
      "BatchNorm+activation backward", "optimizer", "other",
    ] {
      #expect(kinds.contains(kind), "\(kind) in \(kinds)")
    }
    #expect(!kinds.contains("activation forward") && !kinds.contains("BatchNorm forward"), "\(kinds)")
    let shares = rows.compactMap { $0["share"] as? Double }
    #expect(shares.count == rows.count && abs(shares.reduce(0, +) - 1) < 1e-6, "shares \(shares)")
    let convolution = try #require(rows.first { $0["kind"] as? String == "convolution 3×3/1 32×32 forward" })
    #expect((convolution["gflops"] as? Double ?? 0) > 0 && (convolution["calls"] as? Double) == 2)
    let text = try GradTraceRun(arguments)
    #expect(text.status == 0 && text.standardOutput.contains("by group: convolution"), "\(text.standardOutput)")
  }

  /// A missing file is named once; a directory or a place where no file can be made gets one
  /// plain sentence, not HDF5's argument dump.
  @Test func fileSystemErrorsAreOnePlainSentence() throws {
    let missing = try GradTraceRun(["probe", "--checkpoint", "/no/such.h5", "--dataset", "fashion-mnist"])
    #expect(missing.status == 1)
    #expect(missing.standardError.components(separatedBy: "/no/such.h5").count == 2, "\(missing.standardError)")
    let directory = FileManager.default.temporaryDirectory.path
    for arguments in [["analyze", directory], ["evaluate", "--checkpoint", directory, "--dataset", "fashion-mnist"]] {
      let run = try GradTraceRun(arguments)
      #expect(run.status == 1 && run.standardError.contains("is a directory"), "\(arguments): \(run.standardError)")
    }
    let nowhere = try GradTraceRun(["init", "-o", "/proc/gradtrace-cannot-be-here.h5"])
    #expect(nowhere.status == 1)
    #expect(nowhere.standardError.split(separator: "\n").count == 1, "one line: \(nowhere.standardError)")
    #expect(!nowhere.standardError.contains("H5FD") && !nowhere.standardError.contains("errno"))
    let intoDirectory = try GradTraceRun(["init", "-o", directory])
    #expect(intoDirectory.status == 1 && intoDirectory.standardError.contains("give a file name inside it"))
  }

  /// Every --help reads right at 80 columns: the overview and discussion are written in lines
  /// of at most 80 (ArgumentParser would otherwise re-wrap them raggedly, examples mid-line).
  /// Gradient-noise options are refused where they cannot work or would do nothing.
  @Test func noiseOptionsAreChecked() throws {
    let base = [
      "train", "--dataset", "synthetic", "--input", "1x16x16", "--classes", "4", "--batch-size", "25", "--output",
      temporaryPath("noise-flags"), "--trace", temporaryPath("noise-flags.h5"),
    ]
    for (extra, message) in [
      (["--record", "gradients,noise", "--noise-groups", "1"], "--noise-groups must be from 2"),
      (["--record", "gradients,noise", "--noise-groups", "26"], "to the batch size (25)"),
      (["--noise-every", "3"], "unless --record includes noise"),
      (["--record", "gradients,noise", "--noise-every", "0"], "--noise-every must be at least 1"),
    ] {
      let run = try GradTraceRun(base + extra)
      #expect(run.status == 64 && run.standardError.contains(message), "\(extra): \(run.standardError)")
    }
  }

  /// Shown on a very wide terminal, so that nothing is re-wrapped, no such line is longer.
  @Test func helpFitsEightyColumns() throws {
    for command in [
      [], ["describe"], ["init"], ["train"], ["evaluate"], ["probe"], ["inspect"], ["tail"], ["analyze"],
      ["compare"], ["export"], ["plot"], ["report"], ["reproduce"], ["bench"],
    ] {
      let run = try GradTraceRun(command + ["--help"], environment: ["COLUMNS": "1000"])
      #expect(run.status == 0)
      let discussion = run.standardOutput.components(separatedBy: "\nUSAGE:")[0]
      for line in discussion.split(separator: "\n") where line.count > 80 {
        Issue.record("gradtrace \(command.joined()) --help: \(line.count) columns: \(line)")
      }
    }
  }
}

/// docs/trace-format.md lists every dataset a trace holds, no more and no fewer.
@Suite("The trace format document")
struct TraceFormatDocumentTests {
  @Test func listsExactlyWhatARecordedTraceHolds() throws {
    let document = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent().appendingPathComponent("docs/trace-format.md")
    let text = try String(contentsOf: document, encoding: .utf8)
    let documented = Set(
      text.split(separator: "\n").compactMap { line -> String? in
        guard line.hasPrefix("| `/") else { return nil }
        return String(line.dropFirst(3).prefix { $0 != "`" })
      })
    let trace = temporaryPath("everything.h5")
    let run = try GradTraceRun([
      "train", "--dataset", "synthetic", "--input", "1x16x16", "--classes", "4", "--batch-size", "25", "--residual",
      "--validation", "50", "--subset", "100", "--epochs", "1", "--output", temporaryPath("run"), "--trace", trace,
      "--record", "gradients,activations,curvature,noise", "--curvature-every", "2", "--quiet", "--spectrum-every",
      "3", "--spectrum-steps", "4", "--spectrum-probes", "1", "--spectrum-top-k", "2", "--histogram-every", "2",
      "--noise-every", "2",
    ])
    #expect(run.status == 0, "\(run.standardError)")
    let analysis = try GradTraceRun(["analyze", trace])
    #expect(analysis.status == 0 && analysis.standardOutput.contains("Gradient noise: 2 measurements"))
    #expect(analysis.standardOutput.contains("residual adds ‖F(x)‖/‖x‖ (3)"), "\(analysis.standardOutput)")
    let signal = temporaryPath("signal.svg")
    #expect(try GradTraceRun(["plot", trace, "--figure", "signal", "-o", signal]).status == 0)
    let figure = try String(contentsOfFile: signal, encoding: .utf8)
    #expect(figure.contains("q = mean squared output") && figure.contains(">reduction_block_2.residual_add<"))
    let inspect = try GradTraceRun(["inspect", trace])
    #expect(
      inspect.standardOutput.contains(
        "add/concat inputs (6), curvature (2 rows), spectra (2 rows), histograms (2 rows), gradient noise (2 rows)"),
      "\(inspect.standardOutput)")
    let noise = try GradTraceRun(["export", trace, "--table", "noise", "--format", "csv"])
    let lines = noise.standardOutput.split(separator: "\n")
    #expect(noise.status == 0 && lines.count == 3 && lines[0].contains("noise_snr,noise_step_taken"), "\(lines)")
    // h5ls -r lists every object: "/path   Dataset {…}" or "/path   Group".
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/h5ls")
    process.arguments = ["-r", trace]
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let listing = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    let recorded = Set(
      listing.split(separator: "\n").compactMap { line -> String? in
        let parts = line.split(separator: " ", omittingEmptySubsequences: true)
        return parts.count >= 2 && parts[1] == "Dataset" ? String(parts[0]) : nil
      })
    #expect(!recorded.isEmpty, "h5ls listed nothing: \(listing)")
    #expect(recorded.subtracting(documented).isEmpty, "recorded, not documented: \(recorded.subtracting(documented))")
    #expect(documented.subtracting(recorded).isEmpty, "documented, not recorded: \(documented.subtracting(recorded))")
    #expect(listing.contains("/summary") && text.contains("`/summary` is a group"))
  }
}

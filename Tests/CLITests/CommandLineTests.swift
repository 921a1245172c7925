import Foundation
import _NumericalTestSupport
import Testing
import TraceIO

/// Runs the built `gradtrace` executable (beside the test bundle) and captures its output.
struct GradTraceRun {
  var status: Int32
  var standardOutput: String
  var standardError: String

  static var executable: URL {
    let testBinary = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
    // .build/<triple>/<configuration>/gradtracePackageTests.xctest → …/<configuration>/gradtrace
    return testBinary.deletingLastPathComponent().appendingPathComponent("gradtrace")
  }

  /// Open MPI's launcher (`make` installs openmpi-bin).
  static let mpirun = "/usr/bin/mpirun"

  /// R ranks on this machine whatever its core count; as root (CI) Open MPI asks to be told.
  static func mpirunOptions(ranks: Int) -> [String] {
    ["--oversubscribe", "-np", "\(ranks)"] + (getuid() == 0 ? ["--allow-run-as-root"] : [])
  }

  /// Ended by a signal (a crash, or the timeout's SIGKILL) rather than an exit status.
  var signalled = false

  /// Runs `gradtrace arguments` (on `ranks` ranks: `mpirun -np ranks gradtrace arguments`);
  /// after `timeout` seconds (if given) the process is killed.
  init(_ arguments: [String], ranks: Int = 1, timeout: Double? = nil, environment: [String: String] = [:]) throws {
    let process = Process()
    if ranks > 1 {
      process.executableURL = URL(fileURLWithPath: Self.mpirun)
      process.arguments = Self.mpirunOptions(ranks: ranks) + [Self.executable.path] + arguments
    } else {
      process.executableURL = Self.executable
      process.arguments = arguments
    }
    if !environment.isEmpty {
      process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    }
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    if let timeout {
      DispatchQueue.global().asyncAfter(deadline: .now() + timeout) {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
      }
    }
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    status = process.terminationStatus
    signalled = process.terminationReason == .uncaughtSignal
    standardOutput = String(decoding: outData, as: UTF8.self)
    standardError = String(decoding: errData, as: UTF8.self)
  }
}

/// `name` in a new directory of the test process's scratch directory.
func temporaryPath(_ name: String) -> String {
  let directory = ScratchDirectory.path("cli")
  try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
  return (directory as NSString).appendingPathComponent(name)
}

@Suite("gradtrace describe and init")
struct CommandLineTests {
  @Test(arguments: [
    (["--model", "vgg08"], 59_716, 9),
    (["--model", "vgg38"], 336_196, 39),
    (["--model", "vgg38", "--batchnorm"], 338_500, 75),
    (["--model", "vgg38", "--batchnorm", "--residual"], 341_572, 78),
    (["--model", "vgg08", "--batchnorm", "--residual"], 63_172, 18),
  ])
  func describeJSON(arguments: [String], parameters: Int, weightTensors: Int) throws {
    let run = try GradTraceRun(["describe"] + arguments + ["--json"])
    #expect(run.status == 0, "\(run.standardError)")
    let json = try #require(try JSONSerialization.jsonObject(with: Data(run.standardOutput.utf8)) as? [String: Any])
    #expect(json["parameter_count"] as? Int == parameters)
    #expect((json["weight_tensors"] as? [String])?.count == weightTensors)
    let layers = try #require(json["layers"] as? [[String: Any]])
    #expect(layers.reduce(0) { $0 + ($1["parameters"] as? Int ?? 0) } == parameters)
  }

  @Test func describeTextShowsTheTotal() throws {
    let run = try GradTraceRun(["describe", "--model", "vgg38", "--batchnorm", "--residual"])
    #expect(run.status == 0)
    #expect(run.standardOutput.contains("total parameters: 341,572"))
    #expect(run.standardOutput.contains("reduction_block_2.shortcut"))
  }

  @Test func initWritesTheDesignLayout() throws {
    let path = temporaryPath("init.h5")
    let run = try GradTraceRun([
      "init", "--model", "vgg08", "--batchnorm", "--dataset", "cifar100", "--seed", "3", "-o", path,
    ])
    #expect(run.status == 0, "\(run.standardError)")
    #expect(FileManager.default.fileExists(atPath: path))
    let same = temporaryPath("again.h5")
    _ = try GradTraceRun([
      "init", "--model", "vgg08", "--batchnorm", "--dataset", "cifar100", "--seed", "3", "-o", same,
    ])
    let other = temporaryPath("other.h5")
    _ = try GradTraceRun([
      "init", "--model", "vgg08", "--batchnorm", "--dataset", "cifar100", "--seed", "4", "-o", other,
    ])
    // h5dump shows the same data for the same seed, different data for another seed.
    func dump(_ file: String) throws -> String {
      let process = Process()
      process.executableURL = URL(fileURLWithPath: "/usr/bin/h5dump")
      process.arguments = ["-d", "/parameters/input_conv.conv_0.weight", file]
      let pipe = Pipe()
      process.standardOutput = pipe
      try process.run()
      let data = pipe.fileHandleForReading.readDataToEndOfFile()
      process.waitUntilExit()
      return String(decoding: data, as: UTF8.self).replacingOccurrences(of: file, with: "")
    }
    let first = try dump(path)
    #expect(first.contains("DATASPACE  SIMPLE { ( 32, 3, 3, 3 ) / ( 32, 3, 3, 3 ) }"))
    #expect(try dump(same) == first)
    #expect(try dump(other) != first)
  }

  @Test func unwritableOutputFailsWithTheFileName() throws {
    let run = try GradTraceRun(["init", "--model", "vgg08", "-o", "/nonexistent-dir/x.h5"])
    #expect(run.status != 0)
    #expect(run.standardError.contains("/nonexistent-dir/x.h5"))
  }

  @Test func residualOn28x28IsAUsageError() throws {
    let run = try GradTraceRun(["describe", "--model", "vgg08", "--residual", "--input", "1x28x28"])
    #expect(run.status == 64)
    #expect(run.standardError.contains("cannot take residual connections"))
  }

  @Test func badArgumentsAreRejected() throws {
    #expect(try GradTraceRun(["describe", "--model", "vgg99"]).status == 64)
    #expect(try GradTraceRun(["describe", "--input", "3x32"]).status == 64)
    #expect(try GradTraceRun(["describe", "--classes", "1"]).status == 64)
  }
}

@Suite("gradtrace probe")
struct ProbeCommandTests {
  @Test func jsonReportOnABatchFile() throws {
    let checkpoint = temporaryPath("tiny.h5")
    #expect(
      try GradTraceRun(["init", "--model", "vgg08", "--classes", "10", "--input", "1x32x32", "-o", checkpoint]).status
        == 0)
    let run = try GradTraceRun([
      "probe", "--checkpoint", checkpoint, "--dataset", "fashion-mnist", "--examples", "8", "--probes", "2",
      "--max-eigen-products", "4", "--json",
    ])
    #expect(run.status == 0, "\(run.standardError)")
    let json = try #require(try JSONSerialization.jsonObject(with: Data(run.standardOutput.utf8)) as? [String: Any])
    let layers = try #require(json["layers"] as? [[String: Any]])
    #expect(layers.count == 9)
    let gHg = try #require(json["g_hg"] as? Double)
    let sum = layers.reduce(0.0) { $0 + ($1["g_hg"] as? Double ?? .nan) }
    #expect(abs(sum - gHg) <= 1e-6 * abs(gHg))
    #expect((json["taylor"] as? [[String: Any]])?.count == 5)
    #expect(json["hessian_vector_products"] as? Int == 1 + 2 + 4)
  }

  /// --skip-analysis: one entry per block, the shape-changing ones marked not skippable.
  @Test func skipAnalysisInTheJSONReport() throws {
    let checkpoint = temporaryPath("skip.h5")
    #expect(
      try GradTraceRun([
        "init", "--model", "vgg38", "--batchnorm", "--residual", "--classes", "10", "--input", "1x32x32", "-o",
        checkpoint,
      ]).status == 0)
    let run = try GradTraceRun([
      "probe", "--checkpoint", checkpoint, "--dataset", "fashion-mnist", "--examples", "4", "--probes", "1",
      "--max-eigen-products", "1", "--skip-analysis", "--json",
    ])
    #expect(run.status == 0, "\(run.standardError)")
    let json = try #require(try JSONSerialization.jsonObject(with: Data(run.standardOutput.utf8)) as? [String: Any])
    #expect((json["curvature"] as? [String: Any])?["g_hg"] is Double)
    let blocks = try #require((json["skip_analysis"] as? [String: Any])?["blocks"] as? [[String: Any]])
    #expect(blocks.count == 19)
    #expect(blocks.filter { $0["not_skippable"] != nil }.count == 4, "the stem and the three reduction blocks")
    #expect(blocks.filter { $0["first_layer_flow_ratio"] is Double }.count == 15)
  }

  /// --spectrum: Lanczos' largest eigenvalue agrees with power iteration run to convergence,
  /// the gradient's share of the top span is a fraction, and the density integrates to 1.
  @Test func spectrumInTheJSONReport() throws {
    let checkpoint = temporaryPath("spectrum.h5")
    #expect(
      try GradTraceRun(["init", "--model", "vgg08", "--classes", "10", "--input", "1x32x32", "-o", checkpoint]).status
        == 0)
    let run = try GradTraceRun([
      "probe", "--checkpoint", checkpoint, "--dataset", "fashion-mnist", "--examples", "8", "--probes", "1",
      "--max-eigen-products", "300", "--eigen-tolerance", "1e-9", "--spectrum", "--spectrum-steps", "40",
      "--spectrum-top-k", "3", "--spectrum-probes", "2", "--spectrum-per-layer", "--json",
    ])
    #expect(run.status == 0, "\(run.standardError)")
    let json = try #require(try JSONSerialization.jsonObject(with: Data(run.standardOutput.utf8)) as? [String: Any])
    let spectrum = try #require(json["spectrum"] as? [String: Any])
    let pairs = try #require(spectrum["eigenpairs"] as? [String: Any])
    let top = try #require(pairs["top"] as? [Double])
    let bottom = try #require(pairs["bottom"] as? [Double])
    #expect(top.count == 3 && bottom.count == 3 && top == top.sorted(by: >) && bottom == bottom.sorted())
    let power = try #require((json["dominant_eigenvalue"] as? [String: Any])?["eigenvalue"] as? Double)
    // The dominant eigenvalue is the largest or the smallest, whichever is larger in magnitude.
    let extreme = abs(top[0]) >= abs(bottom[0]) ? top[0] : bottom[0]
    #expect(abs(extreme - power) <= 1e-6 * abs(power), "Lanczos \(extreme), power iteration \(power)")
    let layers = try #require(spectrum["layers"] as? [[String: Any]])
    #expect(
      layers.count == 9 && layers.allSatisfy { ($0["largest"] as? Double ?? 0) >= ($0["smallest"] as? Double ?? 1) })
    let overlap = try #require(spectrum["gradient_overlap"] as? Double)
    #expect(overlap >= 0 && overlap <= 1)
    let density = try #require(spectrum["density"] as? [String: Any])
    let grid = try #require(density["grid"] as? [Double])
    let values = try #require(density["density"] as? [Double])
    #expect(abs(values.reduce(0, +) * (grid[1] - grid[0]) - 1) < 1e-2, "∫φ = 1")
    // A trained checkpoint: Adam's preconditioned sharpness against 38/η at the epoch it resumes into.
    let directory = temporaryPath("adam-run")
    #expect(
      try GradTraceRun([
        "train", "--model", "vgg08", "--epochs", "1", "--subset", "200", "--validation", "100", "--test-examples",
        "100",
        "--batch-size", "50", "--schedule", "constant", "--lr", "0.002", "--output", directory, "--quiet",
      ]).status == 0)
    let trained = try GradTraceRun([
      "probe", "--checkpoint", "\(directory)/last.h5", "--dataset", "fashion-mnist", "--examples", "8", "--probes", "1",
      "--max-eigen-products", "2", "--spectrum", "--spectrum-steps", "10", "--spectrum-probes", "1", "--json",
    ])
    #expect(trained.status == 0, "\(trained.standardError)")
    let report = try #require(
      try JSONSerialization.jsonObject(with: Data(trained.standardOutput.utf8)) as? [String: Any])
    let stability = try #require(report["stability"] as? [String: Any])
    #expect(stability["optimizer"] as? String == "adam")
    #expect(abs((stability["threshold"] as? Double ?? 0) - 38 / 0.002) < 1e-6)
    let sharpness = try #require(stability["sharpness"] as? Double)
    #expect(sharpness > 0 && abs((stability["ratio"] as? Double ?? 0) - sharpness / 19_000) < 1e-9 * sharpness)
    #expect(json["stability"] == nil, "an init checkpoint has no optimizer")
    let unused = try GradTraceRun([
      "probe", "--checkpoint", checkpoint, "--dataset", "fashion-mnist", "--spectrum-steps", "9",
    ])
    #expect(unused.status == 64 && unused.standardError.contains("without --spectrum"), "\(unused.standardError)")
  }

  /// train --spectrum-every: the trace holds the spectra, analyze states the edge of stability,
  /// plot and report draw them; spectrum options without --spectrum-every are refused.
  @Test func spectraDuringTrainingReachAnalyzePlotAndReport() throws {
    let directory = temporaryPath("spectrum-run")
    let trace = "\(directory)/trace.h5"
    let train = try GradTraceRun([
      "train", "--model", "vgg08", "--epochs", "1", "--subset", "200", "--validation", "100", "--test-examples", "100",
      "--batch-size", "50", "--output", directory, "--trace", trace, "--quiet", "--spectrum-every", "2",
      "--spectrum-steps", "6", "--spectrum-probes", "1", "--spectrum-top-k", "2",
    ])
    #expect(train.status == 0, "\(train.standardError)")
    let analysis = try GradTraceRun(["analyze", trace])
    #expect(
      analysis.status == 0 && analysis.standardOutput.contains("Spectrum: 2 measurements"), "\(analysis.standardOutput)"
    )
    #expect(analysis.standardOutput.contains("edge of stability: below its edge"), "\(analysis.standardOutput)")
    let json = try #require(
      try JSONSerialization.jsonObject(with: Data(try GradTraceRun(["analyze", trace, "--json"]).standardOutput.utf8))
        as? [String: Any])
    let spectrum = try #require(json["spectrum"] as? [String: Any])
    #expect((spectrum["stability_ratios"] as? [Any])?.count == 2 && spectrum["statement"] is String)
    let figure = temporaryPath("spectrum.svg")
    #expect(try GradTraceRun(["plot", trace, "--figure", "spectrum", "-o", figure]).status == 0)
    #expect(try String(contentsOfFile: figure, encoding: .utf8).contains("Spectral density over training"))
    let report = temporaryPath("report.html")
    #expect(try GradTraceRun(["report", trace, "-o", report]).status == 0)
    let html = try String(contentsOfFile: report, encoding: .utf8)
    #expect(html.contains("The Hessian&apos;s spectrum") || html.contains("The Hessian's spectrum"))
    #expect(html.contains("Edge of stability"))
    let unused = try GradTraceRun([
      "train", "--model", "vgg08", "--output", temporaryPath("unused"), "--trace", temporaryPath("unused.h5"),
      "--spectrum-probes", "2",
    ])
    #expect(unused.status == 64 && unused.standardError.contains("without --spectrum-every"), "\(unused.standardError)")
    let tooMany = try GradTraceRun([
      "train", "--model", "vgg08", "--output", temporaryPath("many"), "--trace", temporaryPath("many.h5"),
      "--spectrum-every", "5", "--spectrum-steps", "4", "--spectrum-top-k", "5",
    ])
    #expect(tooMany.status == 64 && tooMany.standardError.contains("--spectrum-top-k 5"), "\(tooMany.standardError)")
  }

  @Test func mismatchedBatchAndUsageErrors() throws {
    let checkpoint = temporaryPath("vgg08.h5")
    _ = try GradTraceRun(["init", "--model", "vgg08", "--dataset", "cifar100", "-o", checkpoint])  // 3x32x32
    let run = try GradTraceRun(["probe", "--checkpoint", checkpoint, "--dataset", "fashion-mnist", "--examples", "4"])
    #expect(run.status == 1)
    #expect(run.standardError.contains("1x32x32") && run.standardError.contains("3x32x32"))
    #expect(run.standardError.contains("gradtrace init --dataset fashion-mnist"), "names the fix")
    #expect(try GradTraceRun(["probe", "--checkpoint", checkpoint]).status == 64)
    #expect(try GradTraceRun(["probe", "--checkpoint", checkpoint, "--dataset", "imagenet"]).status == 64)
    let missing = try GradTraceRun(["probe", "--checkpoint", "/no/such.h5", "--dataset", "fashion-mnist"])
    #expect(missing.status != 0 && missing.standardError.contains("/no/such.h5"))
  }
}

@Suite("gradtrace train and evaluate")
struct TrainCommandTests {
  static let tiny = [
    "--model", "vgg08", "--classes", "4", "--input", "1x16x16", "--dataset", "synthetic", "--batch-size", "25",
    "--validation", "50",
  ]

  @Test func trainResumeAndEvaluate() throws {
    let directory = temporaryPath("run")
    let trace = directory + ".h5"
    let first = try GradTraceRun(["train"] + Self.tiny + ["--epochs", "1", "--output", directory, "--trace", trace])
    #expect(first.status == 0, "\(first.standardError)")
    #expect(first.standardOutput.contains("epoch 0 (1/1)"))
    #expect(first.standardOutput.contains("test loss"))
    let resumed = try GradTraceRun([
      "train", "--resume", directory, "--epochs", "2", "--schedule-epochs", "2", "--quiet", "--trace", trace,
    ])
    #expect(resumed.status == 0, "\(resumed.standardError)")
    // The trace continues: 2,000 synthetic images less 50, batches of 25 → 78 steps per epoch.
    let inspect = try GradTraceRun(["inspect", trace])
    #expect(inspect.standardOutput.contains("steps recorded: 156 (steps 0 to 155)"), "\(inspect.standardOutput)")
    #expect(inspect.standardOutput.contains("epochs: 2"))
    let csv = try String(contentsOfFile: "\(directory)/epochs.csv", encoding: .utf8)
    #expect(csv.split(separator: "\n").count == 3, "header and two epochs")
    // The 16×16 model does not take Fashion-MNIST images: a clear error, exit 1.
    let evaluation = try GradTraceRun([
      "evaluate", "--checkpoint", "\(directory)/best.h5", "--dataset", "fashion-mnist", "--examples", "10",
    ])
    #expect(evaluation.status == 1 && evaluation.standardError.contains("1x16x16"), "\(evaluation.standardError)")
  }

  @Test func evaluateATrainedFashionModel() throws {
    let checkpoint = temporaryPath("init.h5")
    #expect(
      try GradTraceRun(["init", "--model", "vgg08", "--classes", "10", "--input", "1x32x32", "-o", checkpoint]).status
        == 0)
    let run = try GradTraceRun([
      "evaluate", "--checkpoint", checkpoint, "--dataset", "fashion-mnist", "--examples", "200", "--json",
    ])
    #expect(run.status == 0, "\(run.standardError)")
    let json = try #require(try JSONSerialization.jsonObject(with: Data(run.standardOutput.utf8)) as? [String: Any])
    #expect(json["examples"] as? Int == 200)
    #expect(abs((json["loss"] as? Double ?? 0) - 2.3) < 0.3, "an untrained 10-class model is near ln 10")
  }

  @Test func anotherArchitectureOnResumeIsRefused() throws {
    let directory = temporaryPath("run")
    #expect(try GradTraceRun(["train"] + Self.tiny + ["--epochs", "1", "--output", directory, "--quiet"]).status == 0)
    let run = try GradTraceRun([
      "train", "--resume", directory, "--model", "vgg38", "--classes", "4", "--input", "1x16x16",
    ])
    #expect(run.status == 1)
    #expect(
      run.standardError.contains(directory) && run.standardError.contains("vgg08")
        && run.standardError.contains("vgg38"))
  }

  /// gᵀHg and dᵀHd at every curvature measurement; the per-layer split (an H·v) only on every
  /// --layer-curvature-every-th, on its own index.
  @Test func perLayerCurvatureFollowsItsSchedule() throws {
    let trace = temporaryPath("layers") + ".h5"
    let run = try GradTraceRun(
      ["train"] + Self.tiny + [
        "--epochs", "1", "--output", temporaryPath("layers"), "--trace", trace, "--quiet",
        "--record", "gradients,curvature", "--curvature-every", "10", "--layer-curvature-every", "3",
      ])
    #expect(run.status == 0, "\(run.standardError)")
    let reader = try TraceReader(path: trace)
    let gHg = try reader.values(.gHg)
    let dHd = try reader.values(.dHd)
    #expect(gHg.count == 8, "78 steps, every 10th measured")
    #expect(gHg.allSatisfy(\.isFinite) && dHd.allSatisfy(\.isFinite))
    #expect(try reader.steps(.layerCurvature) == [0, 30, 60], "every 3rd measurement")
    #expect(try reader.rows(.layerGHg).allSatisfy { $0.allSatisfy(\.isFinite) })
    let inspect = try GradTraceRun(["inspect", trace])
    #expect(inspect.standardOutput.contains("per-layer gᵀHg at 3,"), "\(inspect.standardOutput)")
    #expect(
      try GradTraceRun(["train", "--output", temporaryPath("x"), "--layer-curvature-every", "-1"]).status == 64)
  }

  @Test func badOptionsAndDataAreClearErrors() throws {
    #expect(try GradTraceRun(["train", "--output", temporaryPath("x"), "--optimiser", "adam"]).status == 64)
    #expect(try GradTraceRun(["train", "--output", temporaryPath("x"), "--optimizer", "lbfgs"]).status == 64)
    #expect(try GradTraceRun(["train", "--epochs", "1"]).status == 64, "no --output")
    #expect(try GradTraceRun(["train", "--resume", "a", "--output", "b"]).status == 64)
    #expect(try GradTraceRun(["train", "--dataset", "cifar10", "--no-pad", "--output", "o"]).status == 64)
    let missing = try GradTraceRun([
      "train", "--dataset", "cifar100", "--data-dir", "/no/cifar", "--output", temporaryPath("c"),
    ])
    #expect(missing.status == 1 && missing.standardError.contains("/no/cifar"))
    let shape = try GradTraceRun(["train", "--model", "vgg08", "--classes", "100", "--output", temporaryPath("f")])
    #expect(shape.status == 64 && shape.standardError.contains("--classes 100"), "\(shape.standardError)")
    #expect(shape.standardError.contains("10 classes"), "names the data's class count")
    let noResume = try GradTraceRun(["train", "--resume", temporaryPath("nothing")])
    #expect(noResume.status == 1 && noResume.standardError.contains("last.h5"))
  }
}

@Suite("Trace crash safety")
struct CrashSafetyTests {
  /// SIGKILL a traced training run at 10 random moments: after `recover` every trace opens,
  /// holds contiguous steps up to its last flush in every dataset, and says the run was killed.
  @Test func killedRunsLeaveReadableTraces() throws {
    var generator = SystemRandomNumberGenerator()
    for attempt in 0..<10 {
      let directory = temporaryPath("killed-\(attempt)")
      let trace = directory + ".h5"
      let process = Process()
      process.executableURL = GradTraceRun.executable
      process.arguments =
        ["train"] + TrainCommandTests.tiny + [
          "--epochs", "50", "--output", directory, "--trace", trace, "--flush-every", "3", "--quiet",
          "--record", "gradients,activations,curvature", "--curvature-every", "4",
        ]
      process.standardOutput = FileHandle.nullDevice
      process.standardError = FileHandle.nullDevice
      try process.run()
      Thread.sleep(forTimeInterval: Double.random(in: 0.4...3.0, using: &generator))
      kill(process.processIdentifier, SIGKILL)
      process.waitUntilExit()
      #expect(process.terminationReason == .uncaughtSignal, "attempt \(attempt): the run ended before the kill")

      // Before recovery gradtrace reads it (SWMR), unless the kill tore the chunk a flush was
      // rewriting: then the reader names the failing checksum and points to recover.
      let before = try GradTraceRun(["inspect", trace])
      if before.status != 0 {
        #expect(before.standardError.contains("gradtrace recover"), "attempt \(attempt): \(before.standardError)")
      }
      let recovered = try GradTraceRun(["recover", trace])
      #expect(recovered.status == 0, "attempt \(attempt): \(recovered.standardError)")
      let inspect = try GradTraceRun(["inspect", trace])
      let dump = try GradTraceRun(["tail", trace, "--timeout", "0.1", "--interval", "0.1"])
      #expect(inspect.status == 0, "attempt \(attempt): \(inspect.standardError)")
      #expect(inspect.standardOutput.contains("status: killed "), "attempt \(attempt): \(inspect.standardOutput)")
      #expect(dump.status == 0, "attempt \(attempt): \(dump.standardError)")
      guard dump.status == 0 else { continue }
      let rows = dump.standardOutput.split(separator: "\n").dropFirst().filter { !$0.hasPrefix("status") }
      // Contiguous steps 0, 1, 2, … : nothing lost before the last flush, nothing half-written.
      let steps = rows.compactMap { Int($0.split(separator: " ").first ?? "") }
      #expect(steps == Array(0..<steps.count), "attempt \(attempt): steps \(steps.prefix(8))…")
      #expect(
        steps.count % 3 == 0 || steps.count % 8 == 0, "attempt \(attempt): \(steps.count) rows is not a flush boundary")
    }
  }
}

@Suite("gradtrace inspect and tail")
struct InspectTailTests {
  @Test func inspectAndTailAFinishedTrace() throws {
    let directory = temporaryPath("traced")
    let trace = directory + ".h5"
    let run = try GradTraceRun(
      ["train"] + TrainCommandTests.tiny + ["--epochs", "1", "--output", directory, "--trace", trace, "--quiet"])
    #expect(run.status == 0, "\(run.standardError)")
    let inspect = try GradTraceRun(["inspect", trace])
    #expect(inspect.standardOutput.contains("format_version 2") && inspect.standardOutput.contains("status: finished"))
    // 2,000 synthetic images less 50 for validation, in batches of 25: 78 steps.
    #expect(inspect.standardOutput.contains("steps recorded: 78 (steps 0 to 77)"), "\(inspect.standardOutput)")
    let tail = try GradTraceRun(["tail", trace])
    #expect(tail.standardOutput.contains("status: finished"))
    #expect(tail.standardOutput.split(separator: "\n").count == 1 + 78 + 1)
    let notATrace = try GradTraceRun(["inspect", "/etc/hostname"])
    #expect(notATrace.status == 1 && notATrace.standardError.contains("not an HDF5 file"))
  }
}

@Suite("gradtrace analyze on real runs")
struct AnalyzeCommandTests {
  /// Plain VGG38 vanishes; VGG38 with BatchNorm and residual connections is healthy.
  @Test(arguments: [
    (["--model", "vgg38"], "VANISHING"), (["--model", "vgg38", "--batchnorm", "--residual"], "HEALTHY"),
  ])
  func verdictOnATrainedTrace(model: [String], verdict: String) throws {
    let directory = temporaryPath("analyze")
    let trace = directory + ".h5"
    let run = try GradTraceRun(
      ["train"] + model + [
        "--classes", "4", "--input", "1x16x16", "--dataset", "synthetic", "--batch-size", "25", "--validation", "50",
        "--subset", "200", "--epochs", "1", "--output", directory, "--trace", trace, "--quiet",
      ])
    #expect(run.status == 0, "\(run.standardError)")
    let analysis = try GradTraceRun(["analyze", trace])
    #expect(analysis.status == 0)
    #expect(analysis.standardOutput.contains("verdict: \(verdict)"), "\(analysis.standardOutput)")
    let missing = try GradTraceRun(["analyze", "/no/such/trace.h5"])
    #expect(missing.status == 1 && missing.standardError.contains("/no/such/trace.h5"))
  }
}

@Suite("gradtrace probe --precision double")
struct ProbePrecisionTests {
  /// In double precision the probe's gᵀHg on vgg08 matches PyTorch's float64 double backward
  /// (the golden value) to 1e-9.
  @Test func doubleMatchesPyTorchFloat64() throws {
    let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .appendingPathComponent("CurvatureTests/Golden")
    let checkpoint = temporaryPath("vgg08.h5")
    #expect(
      try GradTraceRun(["init", "--model", "vgg08", "--dataset", "cifar100", "--seed", "0", "-o", checkpoint]).status
        == 0)
    let run = try GradTraceRun([
      "probe", "--checkpoint", checkpoint, "--batch", golden.appendingPathComponent("batch.h5").path, "--precision",
      "double",
      "--probes", "1", "--max-eigen-products", "2", "--multiples", "0.01", "--json",
    ])
    #expect(run.status == 0, "\(run.standardError)")
    let json = try #require(try JSONSerialization.jsonObject(with: Data(run.standardOutput.utf8)) as? [String: Any])
    let gHg = try #require(json["g_hg"] as? Double)
    // curvature-vgg08.h5's gHg attribute, written by scripts/torch_reference.py.
    let expected = 0.0002267505246523918
    #expect(abs(gHg - expected) <= 1e-9 * expected, "\(gHg) vs PyTorch float64 \(expected)")
  }
}

@Suite("Checkpoint on request")
struct CheckpointRequestTests {
  /// SIGUSR1 makes a running `train` write DIR/requested.h5, which loads like any checkpoint.
  @Test func usr1WritesACheckpoint() throws {
    let directory = temporaryPath("requested")
    let process = Process()
    process.executableURL = GradTraceRun.executable
    process.arguments = ["train"] + TrainCommandTests.tiny + ["--epochs", "50", "--output", directory, "--quiet"]
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    defer {
      kill(process.processIdentifier, SIGKILL)
      process.waitUntilExit()
    }
    Thread.sleep(forTimeInterval: 1.5)
    kill(process.processIdentifier, SIGUSR1)
    let path = "\(directory)/requested.h5"
    var waited = 0.0
    while !FileManager.default.fileExists(atPath: path) && waited < 20 {
      Thread.sleep(forTimeInterval: 0.1)
      waited += 0.1
    }
    #expect(process.isRunning, "SIGUSR1 must not end the run")
    #expect(FileManager.default.fileExists(atPath: path))
    Thread.sleep(forTimeInterval: 0.5)  // the checkpoint is renamed into place when complete
    let evaluation = try GradTraceRun([
      "evaluate", "--checkpoint", path, "--dataset", "fashion-mnist", "--examples", "4",
    ])
    // The 16×16 model cannot take Fashion-MNIST: the point is that the checkpoint itself loads.
    #expect(evaluation.standardError.contains("1x16x16"), "\(evaluation.standardError)")
  }
}

import Analysis
import ArgumentParser
import DataParallel
import Foundation
import TensorCore
import Training

struct Reproduce: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Reproduce the paper's Table 1: runs, traces, table, figures, report.",
    discussion: """
      Scales:
        smoke  VGG08, VGG38, VGG38 BN and VGG38 BN+residual on 2,000 Fashion-MNIST
               images, 2 epochs, batch 100, test on 1,000 (a few minutes on 2
               cores).
        small  every row of Table 1 (batch sizes, learning rates and weight decays
               as in the paper) on 4,000 Fashion-MNIST images for 3 epochs, test on
               5,000 (about an hour on 2 cores).
        paper  the full protocol: every row, CIFAR-100 from --data-dir, 100 epochs.
      The four headline runs record curvature every --curvature-every steps (the
      Taylor figure); the others gradients and activations.

      DIR receives runs/<name>/ (checkpoints, summary.json), traces/<name>.h5,
      table.md, table.tex and table.csv (Table 1 with the paper's accuracies beside
      ours, verdicts), figures/*.svg (gradient flow per headline run like Figures
      1-3, loss and accuracy like Figures 4-5, Taylor and curvature) and
      report.html. A run already finished in DIR with the same configuration is
      reused; an interrupted one resumes from its last epoch and its trace
      continues.

      As a job array (each row its own process, sharing DIR): --plan writes
      DIR/plan/rows.json and a Slurm script (DIR/plan/slurm.sh); --row N (or --row
      auto, from SLURM_ARRAY_TASK_ID, JOB_COMPLETION_INDEX or OMPI_COMM_WORLD_RANK)
      trains one row; --collect builds the table, figures and report from the rows
      finished so far and lists the missing ones. --rows 0,3 restricts any mode.
      As an MPI task farm: mpirun -np K gradtrace reproduce --farm shares the rows
      among the K ranks (row i on rank i mod K), then rank 0 collects.

      Examples:
        gradtrace reproduce --scale smoke --output out/smoke
        gradtrace reproduce --scale paper --data-dir ~/cifar-100-binary \\
          --output out/paper
        gradtrace reproduce --scale paper --data-dir ~/cifar-100-binary \\
          --output /shared/table1 --plan
        sbatch /shared/table1/plan/slurm.sh
        mpirun -np 16 gradtrace reproduce --scale paper --threads 8 \\
          --data-dir ~/cifar-100-binary --output /shared/table1 --farm
      """)

  @Option(help: "smoke, small or paper.") var scale = ReproductionScale.smoke
  @Option(help: "Dataset (default: fashion-mnist for smoke and small, cifar100 for paper).")
  var dataset: TrainingConfiguration.DatasetName?
  @Option(help: "Directory with the dataset files.") var dataDir: String?
  @Option(help: "Where runs, traces, tables, figures and the report go (default: out/reproduce-<scale>).")
  var output: String?
  @Option(parsing: .unconditional, help: "Worker threads.") var threads = 2
  @Option(parsing: .unconditional, help: "Curvature every K steps in the headline runs.") var curvatureEvery: Int?
  @Option(
    parsing: .unconditional,
    help: ArgumentHelp(
      "Spectra per headline run, from step 0 to the last (default: as many as fit in a tenth of its training, at most 8).",
      discussion: """
        The paper's runs get 6 (batch 100) or 2 (batch 256) by default; smoke and small \
        none, since one spectrum \
        costs more than their whole training: give --spectrum-points 3 there to see \
        the spectra (and the outliers experiment) anyway, at several times the cost.
        """))
  var spectrumPoints: Int?
  @OptionGroup var spectrumArguments: SpectrumArguments
  @Option(help: "Only these rows of the scale's plan, comma-separated (0-based, as --plan lists them).")
  var rows: String?
  @Option(
    help: ArgumentHelp(
      "Train row N of the plan only (no table); auto: the index from SLURM_ARRAY_TASK_ID, JOB_COMPLETION_INDEX or OMPI_COMM_WORLD_RANK.",
      discussion: "Rows run as separate processes share --output: each writes its own run and trace there."))
  var row: String?
  @Flag(help: "Build the table, figures and report from the rows finished in --output, listing the missing ones.")
  var collect = false
  @Flag(
    help: ArgumentHelp(
      "Under mpirun -np K: the ranks share the rows (row i on rank i mod K), then rank 0 collects the table.",
      discussion: "Each rank trains its rows as single-process runs with --threads threads each."))
  var farm = false
  @Flag(help: "Write --output/plan/rows.json and a Slurm job-array script (plan/slurm.sh) instead of training.")
  var plan = false

  func validate() throws {
    let modes = [
      row != nil ? "--row" : nil, collect ? "--collect" : nil, plan ? "--plan" : nil, farm ? "--farm" : nil,
    ].compactMap { $0 }
    if modes.count > 1 { throw ValidationError("\(modes.joined(separator: " and ")) exclude each other") }
    if row != nil && rows != nil { throw ValidationError("--row trains one row; --rows does not apply to it") }
    if scale == .paper && (dataset ?? .cifar100) != .fashionMNIST && dataDir == nil {
      throw ValidationError("--scale paper trains on CIFAR-100: give --data-dir with its binary version")
    }
    if threads < 1 { throw ValidationError("--threads must be at least 1, got \(threads)") }
    if let spectrumPoints, spectrumPoints < 0 {
      throw ValidationError("--spectrum-points cannot be negative, got \(spectrumPoints)")
    }
    if let curvatureEvery, curvatureEvery < 1 {
      throw ValidationError("--curvature-every must be at least 1, got \(curvatureEvery)")
    }
  }

  func run() throws {
    ComputeThreads.set(threads)
    let directory = output ?? "out/reproduce-\(scale.rawValue)"
    let all = ReproductionPlan.runs(scale: scale, dataset: dataset, dataDirectory: dataDir, threads: threads)
    let rows = try selectedRows(of: all)
    var runner = ReproductionRunner(directory: directory)
    runner.notice = { say("notice: \($0)") }
    runner.curvatureEvery = curvatureEvery ?? (scale == .smoke ? 8 : 10)
    runner.spectrumPoints = spectrumPoints
    runner.spectrum = spectrumArguments.options
    if plan { return try writePlan(all, rows: rows, directory: directory) }
    // Under mpirun every rank would train every row into the same directory.
    let launched = MPICollective.launchedRanks()
    if launched > 1 && !farm && row == nil {
      throw ValidationError(
        "under mpirun (\(launched) ranks) give --farm (the ranks share the rows) or --row auto (one row per rank)")
    }
    if let row = try rowIndex(count: all.count) {
      say("row \(row) of Table 1 at scale \(scale.rawValue) into \(directory)")
      _ = try train(all[row], index: row, of: all.count, runner)
      say("collect the table once every row has run: \(collectCommand(directory: directory))")
      return
    }
    let started = Date()
    var summaries: [TrainingSummary?] = []
    if farm {
      guard try trainFarmedRows(rows.map { (index: $0, run: all[$0]) }, count: all.count, runner) else { return }
    }
    if collect || farm {
      summaries = rows.map { runner.finished(all[$0]) }
      let missing = zip(rows, summaries).filter { $0.1 == nil }.map { "\($0.0) (\(all[$0.0].name))" }
      guard missing.count < rows.count else {
        throw CommandError("\(directory): no row of Table 1 has finished there yet; run them with --row N")
      }
      if !missing.isEmpty { say("missing rows (not finished in \(directory)): \(missing.joined(separator: ", "))") }
    } else {
      say("reproducing Table 1 at scale \(scale.rawValue): \(rows.count) runs into \(directory)")
      for row in rows { summaries.append(try train(all[row], index: row, of: all.count, runner)) }
    }
    let done = zip(rows, summaries).compactMap { row, summary in summary.map { (all[row], $0) } }
    let runs = done.map(\.0)
    let trainingSeconds = done.reduce(0) { $0 + $1.1.trainingSeconds }
    let analyses = try runs.map { try FigureData(path: runner.tracePath($0)) }
    try writeTable(runs, analyses, directory: directory, trainingSeconds: trainingSeconds)
    try writeFigures(runs, analyses, directory: directory)
    var report = HTMLReport(runs: analyses)
    report.title = "gradtrace: the paper's Table 1 at scale \(scale.rawValue)"
    try report.html.write(toFile: "\(directory)/report.html", atomically: true, encoding: .utf8)

    say("\nverdicts:")
    for (run, data) in zip(runs, analyses) {
      let a = data.analysis
      let name = run.name.padding(toLength: 36, withPad: " ", startingAt: 0)
      let verdict = a.verdict.uppercased().padding(toLength: 10, withPad: " ", startingAt: 0)
      say(
        "  \(name) \(verdict) first/last mean|g| \(String(format: "%.2g", a.firstToLastRatio)), test acc \(a.testAccuracy.map { String(format: "%.2f%%", $0 * 100) } ?? "-")"
      )
    }
    say(
      String(
        format: "\ntraining time %.1f min (sum over runs); this command %.1f min", trainingSeconds / 60,
        Date().timeIntervalSince(started) / 60))
    say("table: \(directory)/table.md; figures: \(directory)/figures/; report: \(directory)/report.html")
  }

  /// `--farm`: this rank's share of the rows (row i on rank i mod K, each a single-process run),
  /// then a barrier. A rank that fails ends the job (`MPICollective.fail`).
  /// - Returns: whether this process collects the table (rank 0).
  func trainFarmedRows(_ rows: [(index: Int, run: ReproductionRun)], count: Int, _ runner: ReproductionRunner) throws
    -> Bool
  {
    guard let collective = try joinLaunchedRanks() else {
      throw ValidationError(
        "--farm shares the rows among the ranks of mpirun -np K (K ≥ 2); in one process leave it out, on a scheduler use --plan"
      )
    }
    let mine = rows.enumerated().filter { $0.offset % collective.size == collective.rank }.map(\.element)
    say("rank \(collective.rank) of \(collective.size): rows \(mine.map { String($0.index) }.joined(separator: ", "))")
    try collective.endingTheJobOnError {
      for (index, run) in mine { _ = try train(run, index: index, of: count, runner) }
    }
    collective.finalize()  // every rank's rows are done
    return collective.rank == 0
  }

  /// Trains (or reuses, or resumes) row `index` and says how it went.
  func train(_ run: ReproductionRun, index: Int, of count: Int, _ runner: ReproductionRunner) throws
    -> TrainingSummary
  {
    let c = run.configuration
    say(
      "[\(index + 1)/\(count)] \(run.label), batch \(c.batchSize), lr \(c.learningRate), wd \(c.weightDecay) (\(run.name))"
    )
    let result: (outcome: ReproductionRunner.Outcome, summary: TrainingSummary)
    do {
      result = try runner.execute(run)
    } catch {
      throw CommandError("\(run.name): \(error)")
    }
    say(
      String(
        format: "    %@, test acc %.2f%% (%@), %.0fs", result.outcome.rawValue, result.summary.testAccuracy * 100,
        run.paperTestAccuracy.map { String(format: "paper %.2f%%", $0 * 100) } ?? "beyond the paper",
        result.summary.trainingSeconds))
    return result.summary
  }

  /// The rows `--rows` keeps (all by default), as indices into the scale's plan.
  func selectedRows(of all: [ReproductionRun]) throws -> [Int] {
    guard let rows else { return Array(all.indices) }
    let indices = rows.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
    guard !indices.isEmpty, indices.allSatisfy({ $0.map { all.indices.contains($0) } ?? false }) else {
      throw ValidationError(
        "--rows takes row numbers from 0 to \(all.count - 1) (the plan of scale \(scale.rawValue)), comma-separated, got '\(rows)'"
      )
    }
    return indices.map { $0! }
  }

  /// The row of `--row N`, or with `--row auto` the array index a scheduler gives the process.
  func rowIndex(count: Int) throws -> Int? {
    guard let row else { return nil }
    var text = row
    if row == "auto" {
      guard
        let (variable, value) = Self.arrayIndexVariables.lazy.compactMap({ name in
          ProcessInfo.processInfo.environment[name].flatMap { $0.isEmpty ? nil : (name, $0) }
        }).first
      else {
        throw CommandError(
          "--row auto: none of \(Self.arrayIndexVariables.joined(separator: ", ")) is set (run it as a job-array task, or give --row N)"
        )
      }
      say("row from \(variable)=\(value)")
      text = value
    }
    guard let index = Int(text.trimmingCharacters(in: .whitespaces)), (0..<count).contains(index) else {
      throw ValidationError("--row: the plan of scale \(scale.rawValue) has rows 0 to \(count - 1), got '\(text)'")
    }
    return index
  }

  /// Where schedulers put a job-array task's index: Slurm, Kubernetes indexed jobs, Open MPI.
  static let arrayIndexVariables = ["SLURM_ARRAY_TASK_ID", "JOB_COMPLETION_INDEX", "OMPI_COMM_WORLD_RANK"]

  /// This command's options for another process of the same reproduction (scale, data,
  /// directory, threads, schedules), without the mode options.
  func sharedArguments(directory: String) -> [String] {
    var arguments = ["--scale", scale.rawValue]
    if let dataset { arguments += ["--dataset", dataset.rawValue] }
    if let dataDir { arguments += ["--data-dir", dataDir] }
    arguments += ["--output", directory, "--threads", String(threads)]
    if let curvatureEvery { arguments += ["--curvature-every", String(curvatureEvery)] }
    if let spectrumPoints { arguments += ["--spectrum-points", String(spectrumPoints)] }
    return arguments
  }

  func collectCommand(directory: String) -> String {
    (["gradtrace", "reproduce"] + sharedArguments(directory: directory) + ["--collect"]).map(shellQuoted)
      .joined(separator: " ")
  }

  /// `DIR/plan/rows.json` (each row's index, name, label and training configuration) and
  /// `DIR/plan/slurm.sh`, a Slurm job array of the rows that calls `--row auto`.
  func writePlan(_ all: [ReproductionRun], rows: [Int], directory: String) throws {
    // Absolute: the tasks may start anywhere.
    let directory = URL(fileURLWithPath: directory).standardizedFileURL.path
    let planDirectory = "\(directory)/plan"
    try FileManager.default.createDirectory(atPath: planDirectory, withIntermediateDirectories: true)
    let entries = rows.map { index -> String in
      let run = all[index]
      let label = String(decoding: try! JSONEncoder().encode(run.label), as: UTF8.self)
      return
        "  {\"row\": \(index), \"name\": \"\(run.name)\", \"label\": \(label), \"configuration\": \(run.configuration.json)}"
    }
    try ("[\n" + entries.joined(separator: ",\n") + "\n]\n").write(
      toFile: "\(planDirectory)/rows.json", atomically: true, encoding: .utf8)
    let executable = URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL.path
    let command = ([executable, "reproduce"] + sharedArguments(directory: directory) + ["--row", "auto"])
      .map(shellQuoted).joined(separator: " ")
    let script = """
      #!/bin/bash
      # The paper's Table 1 at scale \(scale.rawValue) as a Slurm job array: one row per task.
      # Submit: sbatch \(planDirectory)/slurm.sh; then, once the rows have run:
      #   \(collectCommand(directory: directory))
      # (--collect tables whatever rows have finished and lists the missing ones.)
      #SBATCH --job-name=gradtrace-table1-\(scale.rawValue)
      #SBATCH --array=\(rows.map(String.init).joined(separator: ","))
      #SBATCH --cpus-per-task=\(threads)
      #SBATCH --output=\(directory)/plan/row-%a.log
      srun \(command)

      """
    try script.write(toFile: "\(planDirectory)/slurm.sh", atomically: true, encoding: .utf8)
    try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: "\(planDirectory)/slurm.sh")
    say(
      "wrote \(planDirectory)/rows.json (\(rows.count) rows) and \(planDirectory)/slurm.sh: sbatch \(planDirectory)/slurm.sh"
    )
  }

  /// Table 1 with our accuracies beside the paper's, and gradient health.
  func writeTable(_ runs: [ReproductionRun], _ data: [FigureData], directory: String, trainingSeconds: Double) throws {
    let columns: [TableColumn] = [
      .init("model", .text), .init("batch_size", .integer), .init("learning_rate", .number),
      .init("weight_decay", .number), .init("test_accuracy", .fraction), .init("train_accuracy", .fraction),
      .init("paper_test_accuracy", .fraction), .init("paper_train_accuracy", .fraction), .init("verdict", .text),
      .init("first_last_ratio", .number), .init("run", .text),
    ]
    let rows: [[TableCell]] = zip(runs, data).map { run, data in
      let c = run.configuration
      let a = data.analysis
      return [
        .text(run.label), .integer(c.batchSize), .number(c.learningRate), .number(c.weightDecay),
        TableCell(a.testAccuracy), TableCell(a.finalTrainAccuracy), TableCell(run.paperTestAccuracy),
        TableCell(run.paperTrainAccuracy), .text(a.verdict), .number(a.firstToLastRatio), .text(run.name),
      ]
    }
    let table = Table(columns: columns, rows: rows)
    let c = runs[0].configuration
    let setting =
      "scale \(scale.rawValue): \(c.dataset.rawValue), \(c.subset.map { "\($0) training images" } ?? "all training images"), \(c.epochs) epochs, \(c.validationCount) validation, test on \(c.testCount.map(String.init) ?? "all") images, \(threads) threads; training time \(String(format: "%.1f", trainingSeconds / 60)) min (sum over runs). Paper: CIFAR-100, 100 epochs."
    try ("<!-- \(setting) -->\n" + table.rendered(.markdown)).write(
      toFile: "\(directory)/table.md", atomically: true, encoding: .utf8)
    try ("% \(setting)\n" + table.rendered(.latex)).write(
      toFile: "\(directory)/table.tex", atomically: true, encoding: .utf8)
    try table.rendered(.csv).write(toFile: "\(directory)/table.csv", atomically: true, encoding: .utf8)
    say("\n" + table.rendered(.text))
  }

  /// Figures 1-3 (gradient flow of each headline run), 4-5 (loss, accuracy), Taylor, curvature.
  func writeFigures(_ runs: [ReproductionRun], _ data: [FigureData], directory: String) throws {
    let figures = "\(directory)/figures"
    try FileManager.default.createDirectory(atPath: figures, withIntermediateDirectories: true)
    let headline = zip(runs, data).filter { $0.0.recordsCurvature }
    for (run, data) in headline {
      try FigureKind.gradientFlow.svg([data]).write(
        toFile: "\(figures)/gradient-flow-\(run.name).svg", atomically: true, encoding: .utf8)
    }
    let headlineData = headline.map(\.1)
    for kind in [FigureKind.loss, .accuracy, .taylor, .curvature] {
      try kind.svg(headlineData).write(toFile: "\(figures)/\(kind.rawValue).svg", atomically: true, encoding: .utf8)
    }
  }
}

extension ReproductionScale: ExpressibleByArgument {}

/// Writes a line to standard output at once (progress must show in a log file too, where
/// `print` would hold it in a buffer until the end).
private func say(_ text: String = "") {
  FileHandle.standardOutput.write(Data((text + "\n").utf8))
}

/// `text` as one word for a POSIX shell: unchanged when it holds only safe characters, else in
/// single quotes (a quote inside as '\'').
func shellQuoted(_ text: String) -> String {
  let safe = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@%")
  if !text.isEmpty && text.allSatisfy({ safe.contains($0) }) { return text }
  return "'" + text.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "'\\''") + "'"
}

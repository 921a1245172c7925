import Analysis
import ArgumentParser
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

      Examples:
        gradtrace reproduce --scale smoke --output out/smoke
        gradtrace reproduce --scale paper --data-dir ~/cifar-100-binary \\
          --output out/paper
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

  func validate() throws {
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
    let runs = ReproductionPlan.runs(scale: scale, dataset: dataset, dataDirectory: dataDir, threads: threads)
    var runner = ReproductionRunner(directory: directory)
    runner.notice = { say("notice: \($0)") }
    runner.curvatureEvery = curvatureEvery ?? (scale == .smoke ? 8 : 10)
    runner.spectrumPoints = spectrumPoints
    runner.spectrum = spectrumArguments.options
    let started = Date()
    say("reproducing Table 1 at scale \(scale.rawValue): \(runs.count) runs into \(directory)")
    var trainingSeconds = 0.0
    for (index, run) in runs.enumerated() {
      let c = run.configuration
      say(
        "[\(index + 1)/\(runs.count)] \(run.label), batch \(c.batchSize), lr \(c.learningRate), wd \(c.weightDecay) (\(run.name))"
      )
      let result: (outcome: ReproductionRunner.Outcome, summary: TrainingSummary)
      do {
        result = try runner.execute(run)
      } catch {
        throw CommandError("\(run.name): \(error)")
      }
      trainingSeconds += result.summary.trainingSeconds
      say(
        String(
          format: "    %@, test acc %.2f%% (%@), %.0fs", result.outcome.rawValue, result.summary.testAccuracy * 100,
          run.paperTestAccuracy.map { String(format: "paper %.2f%%", $0 * 100) } ?? "beyond the paper",
          result.summary.trainingSeconds))
    }
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

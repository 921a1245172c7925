import Curvature
import Foundation
import TraceIO

/// Trains the runs of a reproduction in `directory`: `runs/<name>/` holds each run's
/// checkpoints and summary, `traces/<name>.h5` its trace. A run that finished before (same
/// configuration) is reused; one that was interrupted resumes from its last epoch and its trace
/// continues from there.
public struct ReproductionRunner {
  public enum Outcome: String, Sendable { case reused, resumed, trained }

  public let directory: String
  /// Curvature every K steps in the headline runs.
  public var curvatureEvery = 10
  /// Spectra in each headline run, evenly spaced from step 0 to the last; nil: as many as fit in
  /// a tenth of its training (`ReproductionPlan.affordableSpectra`).
  public var spectrumPoints: Int?
  public var spectrum = SpectrumOptions()
  public var observer: TrainingObserver?
  /// Told when a run or trace is moved aside (the CLI prints it).
  public var notice: (String) -> Void = { _ in }

  public init(directory: String) { self.directory = directory }

  public func runDirectory(_ run: ReproductionRun) -> String { "\(directory)/runs/\(run.name)" }
  public func tracePath(_ run: ReproductionRun) -> String { "\(directory)/traces/\(run.name).h5" }

  /// The summary of `run` when it finished in `directory` with this configuration and its trace
  /// is there (what `reproduce --collect` tables); nil otherwise. Trains nothing.
  public func finished(_ run: ReproductionRun) -> TrainingSummary? {
    let runDirectory = runDirectory(run)
    guard let saved = try? Trainer.savedConfiguration(in: runDirectory),
      Self.comparable(saved) == Self.comparable(run.configuration),
      FileManager.default.fileExists(atPath: tracePath(run))
    else { return nil }
    return try? TrainingSummary.read(from: "\(runDirectory)/summary.json")
  }

  /// Trains (or reuses, or resumes) one run. - Throws: data, checkpoint and trace errors;
  /// `TrainingError` when the run diverges (its trace says so).
  public func execute(_ run: ReproductionRun) throws -> (outcome: Outcome, summary: TrainingSummary) {
    let runDirectory = runDirectory(run)
    let trace = tracePath(run)
    try FileManager.default.createDirectory(atPath: "\(directory)/traces", withIntermediateDirectories: true)
    let summaryPath = "\(runDirectory)/summary.json"
    let saved = try? Trainer.savedConfiguration(in: runDirectory)
    let sameRun = saved.map { Self.comparable($0) == Self.comparable(run.configuration) } ?? false
    let data = try TrainingData.load(run.configuration)
    let options = recordingOptions(run, trainCount: data.train.count)
    if sameRun, FileManager.default.fileExists(atPath: summaryPath), FileManager.default.fileExists(atPath: trace) {
      do {
        let summary = try TrainingSummary.read(from: summaryPath)
        if options.recordsSpectrum, (try? TraceReader(path: trace).spectrumShape()) ?? nil == nil {
          notice(
            "\(run.name): reusing the finished run, whose trace holds no spectra; give another --output to train it again with spectra"
          )
        }
        return (.reused, summary)
      } catch .newer(let file, let version, let supported) {
        // A newer gradtrace's run is not this one's to set aside or retrain.
        throw SummaryError.newer(file: file, version: version, supported: supported)
      } catch {
        // Not a summary: the run is resumed (or set aside) below.
      }
    }
    let trainer: Trainer
    let outcome: Outcome
    if sameRun, FileManager.default.fileExists(atPath: trace) {
      trainer = try Trainer(resumingIn: runDirectory, data: data)
      trainer.recorder = try TraceRecorder(continuing: trace, trainer: trainer, options: options)
      outcome = .resumed
    } else {
      // A run or trace that cannot be reused is set aside, never deleted.
      for path in [runDirectory, trace] where FileManager.default.fileExists(atPath: path) {
        let aside = try RunDirectory.moveAside(path)
        notice("\(path) cannot be reused (another configuration, or unreadable): moved to \(aside)")
      }
      trainer = try Trainer(
        configuration: run.configuration, data: data, outputDirectory: runDirectory)
      trainer.recorder = try TraceRecorder(
        path: trace, network: trainer.network, configuration: trainer.configuration.json, options: options)
      outcome = .trained
    }
    trainer.observer = observer
    trainer.continueAfterNonFinite = true
    return (outcome, try trainer.run())
  }

  /// What a run's trace records: the headline runs curvature every `curvatureEvery` steps and
  /// `spectrumPoints` spectra (or as many as are affordable).
  func recordingOptions(_ run: ReproductionRun, trainCount: Int) -> RecordingOptions {
    var options = RecordingOptions()
    options.curvature = run.recordsCurvature
    options.curvatureEvery = curvatureEvery
    guard run.recordsCurvature else { return options }
    let c = run.configuration
    let steps = c.epochs * ((trainCount + c.batchSize - 1) / c.batchSize)
    let products = spectrum.products(preconditioned: c.optimizer == .adam, layers: 0)
    let points = spectrumPoints ?? ReproductionPlan.affordableSpectra(trainingSteps: steps, products: products)
    options.spectrum = spectrum
    options.spectrumEvery = ReproductionPlan.spectrumEvery(points: points, trainingSteps: steps)
    return options
  }

  /// The configuration without what may differ between machines (threads change speed, not
  /// results, apart from summation order).
  static func comparable(_ configuration: TrainingConfiguration) -> TrainingConfiguration {
    var copy = configuration
    copy.threads = 0
    return copy
  }
}

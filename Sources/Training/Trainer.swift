import Autodiff
import Datasets
import Foundation
import Networks
import TensorCore
import TraceIO

/// Why a run stopped early.
public enum TrainingError: Error, CustomStringConvertible {
  /// The loss became NaN or infinite at a step (counted from 0 over the whole run).
  case diverged(step: Int, loss: Double)
  /// A stop was asked for (SIGINT or SIGTERM): `last.h5` holds the run after `step` steps.
  case interrupted(step: Int, signal: Int32)

  public var description: String {
    switch self {
    case .diverged(let step, let loss):
      "non-finite loss (\(loss.isNaN ? "NaN" : loss > 0 ? "+Inf" : "-Inf")) at step \(step)"
    case .interrupted(let step, let signal):
      "interrupted by \(signal == SIGTERM ? "SIGTERM" : "SIGINT") after \(step) steps"
    }
  }
}

/// A run that cannot start as configured (the message says why and what would work).
public struct TrainingSetupError: Error, CustomStringConvertible {
  public var description: String
}

/// Where an epoch stopped: enough to continue it exactly (the order is redrawn from the
/// generator's state at the epoch's start; augmentation goes on from `generator`).
struct EpochProgress: Codable {
  /// The next step of the epoch (0: at its start).
  var step: Int
  var lossSum: Double
  var correct: Double
  var seen: Int
  var epochStart: [UInt64]
  var generator: [UInt64]
  /// Curvature measurements taken in the run so far (the per-layer schedule counts them).
  var curvatureMeasurements: Int

  init(
    step: Int, lossSum: Double, correct: Double, seen: Int, epochStart: (UInt64, UInt64, UInt64, UInt64),
    generator: (UInt64, UInt64, UInt64, UInt64), curvatureMeasurements: Int
  ) {
    (self.step, self.lossSum, self.correct, self.seen) = (step, lossSum, correct, seen)
    self.epochStart = [epochStart.0, epochStart.1, epochStart.2, epochStart.3]
    self.generator = [generator.0, generator.1, generator.2, generator.3]
    self.curvatureMeasurements = curvatureMeasurements
  }

  var epochStartState: (UInt64, UInt64, UInt64, UInt64) { (epochStart[0], epochStart[1], epochStart[2], epochStart[3]) }
  var generatorState: (UInt64, UInt64, UInt64, UInt64) { (generator[0], generator[1], generator[2], generator[3]) }
}

/// One epoch's results.
public struct EpochRecord: Codable, Equatable, Sendable {
  public var epoch: Int
  public var learningRate: Double
  public var trainLoss: Double
  public var trainAccuracy: Double
  public var validLoss: Double
  public var validAccuracy: Double
  public var seconds: Double
}

/// Receives progress as the run goes (a progress bar, a log line per epoch, nothing).
public protocol TrainingObserver: AnyObject {
  func stepFinished(epoch: Int, step: Int, of steps: Int, loss: Double, accuracy: Double, imagesPerSecond: Double)
  func epochFinished(_ record: EpochRecord, best: Bool)
}

/// Trains a VGG-family network: shuffled minibatches with augmentation, Adam or SGD under a
/// per-epoch schedule, validation after every epoch, a checkpoint at every epoch end
/// (`last.h5`) and at the best validation accuracy (`best.h5`), and the test set evaluated once,
/// on the best checkpoint.
///
/// Reproducibility: every random draw (shuffle, crops, flips, noise) comes from one seeded
/// generator whose state is saved with each checkpoint, so `resume` continues exactly, with the
/// same data order, weights and optimizer state (bit-identical for the same thread count).
public final class TrainerOf<Scalar: TensorScalar> where Scalar.Accumulator: TensorScalar {
  public private(set) var configuration: TrainingConfiguration
  public let data: TrainingData
  public let network: Network<Scalar>
  public let outputDirectory: String
  public private(set) var history: [EpochRecord] = []
  public weak var observer: TrainingObserver?
  /// Records the run into a trace, when set.
  public var recorder: TraceRecorder?
  /// Keep training after a non-finite loss (the default stops with `TrainingError.diverged`).
  public var continueAfterNonFinite = false
  /// When set and signalled, the trainer writes `requested.h5` after the current step.
  public var checkpointRequest: CheckpointRequest?
  public static var requestedCheckpoint: String { "requested.h5" }
  /// When set and signalled, the trainer stops after the current step (`TrainingError.interrupted`).
  public var stopRequest: StopRequest?
  /// Where a run resumed mid-epoch picks up (nil at an epoch boundary).
  private var progress: EpochProgress?
  private var curvatureMeasurements = 0
  private var optimizer: TrainingOptimizerOf<Scalar>
  private var generator: SeededGenerator
  private var stepCount = 0
  /// Training steps taken so far (restored on resume).
  public var completedSteps: Int { stepCount }

  /// The ranks of a data-parallel run (`mpirun -np R gradtrace train`), nil in one process; set
  /// before `run()`. Every rank trains the same weights on its shards of each global batch;
  /// rank 0 alone writes the checkpoints, the summary and (its recorder's) trace.
  public var collective: (any Collective)?
  /// Whether this process writes the run's files: rank 0, or a single process.
  public var writesFiles: Bool { (collective?.rank ?? 0) == 0 }
  /// Records the rank count of this start in the configuration (the checkpoints and a new
  /// trace carry it; a checkpoint itself does not depend on it).
  public func adoptRanks(_ ranks: Int?) { configuration.ranks = ranks }
  var shardPlan: ShardPlan {
    ShardPlan(rank: collective?.rank ?? 0, ranks: collective?.size ?? 1, ghostGroups: configuration.ghostBatchNorm)
  }

  /// False when the run was resumed from a checkpoint without checksums (format version 1).
  public private(set) var resumedFromVerifiedCheckpoint = true

  public static var lastCheckpoint: String { "last.h5" }
  public static var bestCheckpoint: String { "best.h5" }

  /// A new run. - Throws: when the model cannot be built or the directory not created.
  public init(configuration: TrainingConfiguration, data: TrainingData, outputDirectory: String) throws {
    self.configuration = configuration
    self.data = data
    self.outputDirectory = outputDirectory
    network = try Network<Scalar>(
      configuration.model, initialization: configuration.initialization, seed: configuration.seed)
    optimizer = TrainingOptimizerOf(configuration)
    generator = SeededGenerator(seed: configuration.seed &+ 0x5EED)
    try FileManager.default.createDirectory(atPath: outputDirectory, withIntermediateDirectories: true)
  }

  /// Continues the run saved in `directory` (its `last.h5`). The data must be loaded with the
  /// checkpoint's configuration (`Trainer.savedConfiguration(in:)`).
  public init(resumingIn directory: String, data: TrainingData) throws {
    let (path, checkpoint, notes) = try Self.newestCheckpoint(in: directory)
    resumeNotes = notes
    resumedFrom = path
    resumedFromVerifiedCheckpoint = checkpoint.isVerified
    guard let configuration = TrainingConfiguration.decode(checkpoint.runConfiguration) else {
      throw CheckpointError(file: path, message: "its 'config' attribute is not a training configuration")
    }
    if configuration.precision == .double {
      throw TrainingSetupError(
        description:
          "\(path) is a float64 run's checkpoint (train --precision double): it holds the weights rounded to float32, so the run cannot continue exactly; start it again, or use the checkpoint with evaluate and probe"
      )
    }
    self.configuration = configuration
    self.data = data
    outputDirectory = directory
    resumedFromVerifiedCheckpoint = checkpoint.isVerified
    network = try Network<Scalar>(
      checkpoint.configuration, parameters: checkpoint.parameters.converted(to: Scalar.self),
      buffers: checkpoint.buffers.converted(to: Scalar.self))
    optimizer = TrainingOptimizerOf(configuration)
    optimizer.restore(state: checkpoint.optimizerState.converted(to: Scalar.self), stepCount: checkpoint.optimizerSteps)
    guard checkpoint.generatorState.count == 4 else {
      throw CheckpointError(
        file: path, message: "rng_state must hold 4 words, found \(checkpoint.generatorState.count)")
    }
    let words = checkpoint.generatorState
    generator = SeededGenerator(state: (words[0], words[1], words[2], words[3]))
    stepCount = checkpoint.step
    if let saved = try? JSONDecoder().decode(EpochProgress.self, from: Data(checkpoint.progress.utf8)) {
      curvatureMeasurements = saved.curvatureMeasurements
      progress = saved.step > 0 ? saved : nil
    }
    history = (try? JSONDecoder().decode([EpochRecord].self, from: Data(checkpoint.history.utf8))) ?? []
    guard history.count == checkpoint.epoch else {
      throw CheckpointError(
        file: path, message: "history holds \(history.count) epochs but the checkpoint is at epoch \(checkpoint.epoch)")
    }
  }

  /// Trains up to `epochs` in all (a resumed run may be extended; the cosine schedule's
  /// period stays the one the run started with).
  /// - Parameter schedulePeriod: a new T_max for the cosine schedule (the epochs still to run
  ///   follow it); nil keeps the period the run started with.
  public func extendEpochs(to epochs: Int, schedulePeriod: Int? = nil) {
    precondition(epochs >= history.count, "extendEpochs: \(history.count) epochs are done already")
    if configuration.cosinePeriod == nil { configuration.cosinePeriod = configuration.epochs }
    if let schedulePeriod { configuration.cosinePeriod = schedulePeriod }
    configuration.epochs = epochs
  }

  /// The newest checkpoint of the run in `directory` that reads and verifies: `last.h5` or
  /// `requested.h5` (SIGUSR1, mid-epoch), whichever is at the later step; a damaged one is
  /// passed over with a note. - Throws: the newest one's error when none is usable.
  public static func newestCheckpoint(in directory: String) throws -> (
    path: String, checkpoint: Checkpoint, notes: [String]
  ) {
    let candidates = [lastCheckpoint, requestedCheckpoint].map { "\(directory)/\($0)" }
      .filter { FileManager.default.fileExists(atPath: $0) }
    guard !candidates.isEmpty else {
      throw CheckpointError(file: "\(directory)/\(lastCheckpoint)", message: "no such file: nothing to resume")
    }
    var usable: [(String, Checkpoint)] = []
    var failures: [CheckpointError] = []
    for path in candidates {
      do {
        usable.append((path, try Checkpoint.read(from: path)))
      } catch {
        failures.append(error)
      }
    }
    guard let newest = usable.max(by: { $0.1.step < $1.1.step }) else { throw failures[0] }
    let notes = failures.map { "\($0); resuming from \(newest.0) (step \(newest.1.step))" }
    return (newest.0, newest.1, notes)
  }

  /// Where the last `init(resumingIn:data:)` resumed from, and what it passed over.
  public private(set) var resumedFrom: String?
  public private(set) var resumeNotes: [String] = []

  /// The configuration saved with the run in `directory` (in its newest usable checkpoint).
  public static func savedConfiguration(in directory: String) throws -> TrainingConfiguration {
    let (path, checkpoint, _) = try newestCheckpoint(in: directory)
    guard let configuration = TrainingConfiguration.decode(checkpoint.runConfiguration) else {
      throw CheckpointError(file: path, message: "its 'config' attribute is not a training configuration")
    }
    return configuration
  }

  /// Trains the remaining epochs, then evaluates the best checkpoint on the test set.
  public func run() throws -> TrainingSummary {
    try checkShardPlan(recording: recorder?.options)
    let schedule = configuration.learningRateSchedule
    while history.count < configuration.epochs {
      let epoch = history.count
      let start = DispatchTime.now().uptimeNanoseconds
      let learningRate = schedule.learningRate(epoch: epoch)
      let (trainLoss, trainAccuracy): (Double, Double)
      do {
        (trainLoss, trainAccuracy) = try trainEpoch(epoch, learningRate: learningRate)
      } catch TrainingError.interrupted(let step, let signal) {
        throw TrainingError.interrupted(step: step, signal: signal)  // the trace is closed as interrupted
      } catch let error as TrainingError {
        try recorder?.writer?.finish(status: "failed: \(error)")
        throw error
      }
      let (validLoss, validAccuracy) = evaluate(data.validation)
      let record = EpochRecord(
        epoch: epoch, learningRate: learningRate, trainLoss: trainLoss, trainAccuracy: trainAccuracy,
        validLoss: validLoss, validAccuracy: validAccuracy,
        seconds: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
      let best = history.allSatisfy { validAccuracy > $0.validAccuracy }
      history.append(record)
      try recorder?.recordEpoch(record)
      try saveCheckpoint(to: "\(outputDirectory)/\(Self.lastCheckpoint)")
      if best { try saveCheckpoint(to: "\(outputDirectory)/\(Self.bestCheckpoint)") }
      observer?.epochFinished(record, best: best)
      if let signal = agreedStop().signal, history.count < configuration.epochs {
        try recorder?.writer?.finish(status: "interrupted at step \(stepCount)")
        throw TrainingError.interrupted(step: stepCount, signal: signal)
      }
    }
    let bestEpoch = history.indices.max { history[$0].validAccuracy < history[$1].validAccuracy } ?? 0
    guard writesFiles else {
      // The other ranks leave the test set and the files to rank 0.
      return TrainingSummary(
        model: configuration.model.shortName, epochs: history, bestEpoch: bestEpoch, testLoss: .nan,
        testAccuracy: .nan, trainingSeconds: history.reduce(0) { $0 + $1.seconds })
    }
    let best = try Checkpoint.read(from: "\(outputDirectory)/\(Self.bestCheckpoint)")
    let evaluator = try Network<Scalar>(
      best.configuration, parameters: best.parameters.converted(to: Scalar.self),
      buffers: best.buffers.converted(to: Scalar.self))
    let (testLoss, testAccuracy) = evaluate(data.test, with: evaluator, shared: false)
    let summary = TrainingSummary(
      model: configuration.model.shortName, epochs: history, bestEpoch: bestEpoch, testLoss: testLoss,
      testAccuracy: testAccuracy, trainingSeconds: history.reduce(0) { $0 + $1.seconds })
    try writeSummary(summary)
    try recorder?.writer?.finish(
      status: "finished", testLoss: testLoss, testAccuracy: testAccuracy, bestEpoch: bestEpoch)
    return summary
  }

  /// One pass over the training set in a fresh random order; returns the mean loss and accuracy.
  /// A run resumed mid-epoch (`progress`) redraws the epoch's order from the generator's state
  /// at the epoch's start and continues at its next step with the sums so far.
  private func trainEpoch(_ epoch: Int, learningRate: Double) throws -> (Double, Double) {
    let resumed = progress
    progress = nil
    if let resumed { generator = SeededGenerator(state: resumed.epochStartState) }
    let epochStart = generator.state
    var order = Array(0..<data.train.count)
    for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, Int(generator.next() % UInt64(i + 1))) }
    let batchSize = configuration.batchSize
    let steps = (order.count + batchSize - 1) / batchSize
    var (lossSum, correct, seen) = (0.0, 0.0, 0)
    var firstStep = 0
    if let resumed {
      generator = SeededGenerator(state: resumed.generatorState)
      (lossSum, correct, seen, firstStep) = (resumed.lossSum, resumed.correct, resumed.seen, resumed.step)
    }
    let start = DispatchTime.now().uptimeNanoseconds
    for step in firstStep..<steps {
      let indices = Array(order[(step * batchSize)..<min(order.count, (step + 1) * batchSize)])
      let batch = data.train.batch(indices, augmentation: configuration.augmentation, generator: &generator)
      let recording = recorder?.records(step: step, of: steps) ?? false
      let measuring = recorder?.measuresCurvature(globalStep: stepCount) ?? false
      let spectrum = recorder?.measuresSpectrum(globalStep: stepCount) ?? false
      let histograms = recorder?.measuresHistograms(globalStep: stepCount) ?? false
      let noise = recorder?.measuresNoise(globalStep: stepCount) ?? false

      // Forward and backward over this process's shards of the batch (the whole batch in one
      // process), every value then the global batch's.
      let passSeed = Self.passSeed(run: configuration.seed, step: stepCount)
      let pass = shardedPass(
        images: Self.inArithmetic(batch.images), labels: batch.labels, seed: passSeed, signal: recording,
        histograms: histograms,
        noiseGroups: noise ? recorder!.options.noiseGroups : nil)
      let (gradients, loss) = (pass.gradients, pass.loss)
      let signal = recording ? recorder!.signalStatistics(pass.signal) : (blocks: [], mergeNorms: [])
      let (groupGradients, noiseSeconds, blockOutputs) = (pass.groupGradients, pass.noiseSeconds, pass.blockOutputs)

      // The weights before the update, kept only when a recorder needs d = w_{t+1} − w_t (holding
      // them makes the optimizer's in-place update copy every tensor).
      let kept = recording || measuring || spectrum || histograms || noise ? network.parameters : nil
      optimizer.step(&network.parameters, gradients: gradients, learningRate: learningRate)
      if let recorder, let before = kept, recording {
        try recorder.recordStep(
          step: stepCount, epoch: epoch, loss: Float(loss.doubleValue), accuracy: pass.accuracy,
          learningRate: learningRate, gradients: Self.inFloat(gradients), before: Self.inFloat(before),
          after: Self.inFloat(network.parameters), activations: signal.blocks, mergeNorms: signal.mergeNorms)
      }
      // The measurements sum their shares over the ranks (`BatchShard`).
      try BatchShard.$current.withValue(pass.shard) {
        if let recorder, let before = kept, histograms {
          try recorder.recordHistograms(
            step: stepCount, gradients: Self.inFloat(gradients), before: Self.inFloat(before),
            after: Self.inFloat(network.parameters), blockOutputs: blockOutputs.map { $0.converted(to: Float.self) })
        }
        var gHg: Double?
        if let recorder, let before = kept, measuring, loss.doubleValue.isFinite {
          gHg = try recorder.recordCurvature(
            step: stepCount, network: network, images: pass.images, labels: pass.labels, seed: passSeed, loss: loss,
            gradients: gradients, before: before, after: network.parameters, measurementIndex: curvatureMeasurements)
          curvatureMeasurements += 1
        }
        if let recorder, let before = kept, let groupGradients {
          try recorder.recordNoise(
            step: stepCount, network: network, images: pass.images, labels: pass.labels, seed: passSeed,
            gradients: gradients, groups: groupGradients, before: before, after: network.parameters, gHg: gHg,
            backwardSeconds: noiseSeconds)
        }
        if let recorder, let before = kept, spectrum, loss.doubleValue.isFinite {
          try recorder.recordSpectrum(
            step: stepCount, network: network, images: pass.images, labels: pass.labels, seed: passSeed,
            gradients: gradients, before: before, after: network.parameters,
            optimizer: optimizer.stability(learningRate: learningRate))
        }
      }
      stepCount += 1
      if !loss.doubleValue.isFinite && !continueAfterNonFinite {
        throw TrainingError.diverged(step: stepCount - 1, loss: loss.doubleValue)
      }
      lossSum += loss.doubleValue * Double(indices.count)
      correct += pass.accuracy * Double(indices.count)
      seen += indices.count
      let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
      observer?.stepFinished(
        epoch: epoch, step: step + 1, of: steps, loss: lossSum / Double(seen), accuracy: correct / Double(seen),
        imagesPerSecond: Double(seen) / max(elapsed, 1e-9))
      // Built only when a checkpoint needs it: not every step.
      let here = {
        EpochProgress(
          step: step + 1, lossSum: lossSum, correct: correct, seen: seen, epochStart: epochStart,
          generator: self.generator.state, curvatureMeasurements: self.curvatureMeasurements)
      }
      let agreed = agreedStop(checkpoint: checkpointRequest?.take() == true)
      if agreed.checkpoint {
        // Mid-epoch, with what --resume needs to continue from here.
        try saveCheckpoint(to: "\(outputDirectory)/\(Self.requestedCheckpoint)", progress: here())
      }
      if let signal = agreed.signal, step + 1 < steps {
        try saveCheckpoint(to: "\(outputDirectory)/\(Self.lastCheckpoint)", progress: here())
        try recorder?.writer?.finish(status: "interrupted at step \(stepCount)")
        throw TrainingError.interrupted(step: stepCount, signal: signal)
      }
    }
    return (lossSum / Double(seen), correct / Double(seen))
  }

  /// Images in the run's arithmetic (Float: as loaded).
  static func inArithmetic(_ images: Tensor<Float>) -> Tensor<Scalar> {
    Scalar.self == Float.self ? unsafeBitCast(images, to: Tensor<Scalar>.self) : images.converted()
  }

  /// Values in Float for the recorder (a float64 run's are rounded: the trace stores float32).
  static func inFloat(_ tensors: NamedTensors<Scalar>) -> NamedTensors<Float> {
    Scalar.self == Float.self ? unsafeBitCast(tensors, to: NamedTensors<Float>.self) : tensors.converted(to: Float.self)
  }

  /// The seed of step `step`'s passes (its dropout masks): drawn once per step from the run's
  /// seed, shared by the gradient, every curvature measurement and the actual change.
  public static func passSeed(run seed: UInt64, step: Int) -> UInt64 {
    // SplitMix64-seeded xoshiro: neighbouring steps get unrelated seeds.
    var generator = SeededGenerator(seed: (seed ^ 0xD0_0D) &+ UInt64(step) &* 0x9E37_79B9_7F4A_7C15)
    return generator.next()
  }

  /// Mean loss and accuracy over a dataset in evaluation mode (running statistics). In a
  /// data-parallel run (`shared`) rank r evaluates the batches b ≡ r (mod R) and the sums are
  /// added over the ranks.
  public func evaluate(_ dataset: LabeledImages, with model: Network<Scalar>? = nil, shared: Bool = true) -> (
    loss: Double, accuracy: Double
  ) {
    let model = model ?? network
    var (lossSum, correct) = (0.0, 0.0)
    var unused = SeededGenerator(seed: 0)  // no augmentation: nothing is drawn
    let (rank, ranks) = shared ? (collective?.rank ?? 0, collective?.size ?? 1) : (0, 1)
    for (index, start) in stride(from: 0, to: dataset.count, by: configuration.batchSize).enumerated()
    where index % ranks == rank {
      let indices = Array(start..<min(dataset.count, start + configuration.batchSize))
      let batch = dataset.batch(indices, augmentation: .none, generator: &unused)
      let result = model.evaluate(images: Self.inArithmetic(batch.images), labels: batch.labels, mode: .evaluation)
      lossSum += result.loss.doubleValue * Double(indices.count)
      correct += result.accuracy * Double(indices.count)
    }
    if ranks > 1, let collective { (lossSum, correct) = { ($0[0], $0[1]) }(collective.sum([lossSum, correct])) }
    return (lossSum / Double(dataset.count), correct / Double(dataset.count))
  }

  /// Whether to stop (a signal) or to write a checkpoint now, agreed by every rank: any rank's
  /// request counts for all (each rank receives its own signals, at its own moment).
  private func agreedStop(checkpoint: Bool = false) -> (signal: Int32?, checkpoint: Bool) {
    let signal = stopRequest?.receivedSignal
    guard let collective, collective.size > 1 else { return (signal, checkpoint) }
    let votes = collective.sum([signal != nil ? 1 : 0, checkpoint ? 1 : 0])
    return (votes[0] > 0 ? signal ?? SIGTERM : nil, votes[1] > 0)
  }

  /// Refuses a shard plan (ranks, ghost BatchNorm) that cannot run, and recordings it cannot
  /// make yet (`run` checks again; a caller checks before it creates the trace).
  public func checkShardPlan(recording: RecordingOptions?) throws {
    let plan = shardPlan
    if let problem = plan.problem(trainCount: data.train.count, batch: configuration.batchSize) {
      throw TrainingSetupError(description: problem)
    }
    guard plan.shardCount > 1, let options = recording else { return }
    let perRank = plan.shardCount / plan.ranks
    if perRank > 1 && (options.curvature || options.recordsSpectrum || options.noise || options.recordsHistograms) {
      throw TrainingSetupError(
        description:
          "curvature, spectra, gradient noise and histograms are measured on one BatchNorm group per process: with --ghost-batchnorm \(plan.shardCount) run \(plan.shardCount) ranks (mpirun -np \(plan.shardCount)), or leave out ghost BatchNorm"
      )
    }
  }

  private func saveCheckpoint(to path: String, progress: EpochProgress? = nil) throws {
    guard writesFiles else { return }
    // A float64 run's checkpoint holds its weights rounded to float32 (`--precision double`
    // runs cannot be resumed: `TrainingSetupError`).
    var checkpoint = Checkpoint(
      model: try Network<Float>(
        network.configuration, parameters: network.parameters.converted(to: Float.self),
        buffers: network.buffers.converted(to: Float.self)))
    let atBoundary = EpochProgress(
      step: 0, lossSum: 0, correct: 0, seen: 0, epochStart: generator.state, generator: generator.state,
      curvatureMeasurements: curvatureMeasurements)
    checkpoint.progress = String(decoding: try JSONEncoder().encode(progress ?? atBoundary), as: UTF8.self)
    checkpoint.optimizerState = optimizer.state.converted(to: Float.self)
    checkpoint.optimizerSteps = optimizer.stepCount
    checkpoint.step = stepCount
    checkpoint.epoch = history.count
    checkpoint.runConfiguration = configuration.json
    let state = generator.state
    checkpoint.generatorState = [state.0, state.1, state.2, state.3]
    let encoder = JSONEncoder()
    encoder.nonConformingFloatEncodingStrategy = .convertToString(
      positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
    checkpoint.history = String(decoding: try encoder.encode(history), as: UTF8.self)
    try checkpoint.write(to: path)  // beside, then renamed into place
  }

  private func writeSummary(_ summary: TrainingSummary) throws {
    guard writesFiles else { return }
    try summary.write(to: "\(outputDirectory)/summary.json")
    var csv = "epoch,learning_rate,train_loss,train_accuracy,valid_loss,valid_accuracy,seconds\n"
    for r in summary.epochs {
      csv +=
        "\(r.epoch),\(r.learningRate),\(r.trainLoss),\(r.trainAccuracy),\(r.validLoss),\(r.validAccuracy),\(r.seconds)\n"
    }
    try csv.write(toFile: "\(outputDirectory)/epochs.csv", atomically: true, encoding: .utf8)
  }
}

/// The trainer of float32 runs (every run but `train --precision double`).
public typealias Trainer = TrainerOf<Float>

import ArgumentParser
import CConsole
import Datasets
import DataParallel
import Foundation
import Networks
import TensorBoard
import TensorCore
import TraceIO
import Training

extension TrainingConfiguration.DatasetName: ExpressibleByArgument {}
extension TrainingConfiguration.OptimizerName: ExpressibleByArgument {}
extension TrainingConfiguration.ScheduleName: ExpressibleByArgument {}

struct Train: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Train a model of the VGG family.",
    discussion: """
      Trains with shuffled, augmented minibatches (random crop with 4 pixels of zero
      padding; horizontal flips for CIFAR), validates after every epoch, writes
      DIR/last.h5 at every epoch end and DIR/best.h5 at the best validation
      accuracy, evaluates the test set once on best.h5, and writes DIR/summary.json
      and DIR/epochs.csv. The same seed and thread count give the same run; --resume
      DIR continues one exactly. Epochs are counted from 0 everywhere (console,
      summary.json, epochs.csv, traces, exports). `kill -USR1 <pid>` asks for a
      checkpoint now: DIR/requested.h5 is written when the current step ends.
      Ctrl-C (or SIGTERM) stops gracefully: the step finishes, DIR/last.h5 holds
      the run at that step, the trace is closed as "interrupted at step N", and
      --resume DIR continues bit for bit (exit 130, or 143); a second Ctrl-C stops
      at once. An existing run or trace is never replaced without --overwrite.

      Fashion-MNIST (the default) is read from the Debian package and padded to
      32×32; CIFAR-10/100 from --data-dir in the official binary format.

      Examples:
        gradtrace train --model vgg08 --epochs 2 --subset 10000 --output runs/vgg08
        gradtrace train --model vgg38 --batchnorm --residual --dataset cifar100 \\
          --data-dir ~/cifar-100-binary --epochs 100 --output runs/vgg38-bn-res
        gradtrace train --resume runs/vgg08 --epochs 4 --schedule-epochs 4

      Under mpirun -np R (or srun) the run is data-parallel over R ranks: the
      global batch cut into R shards, BatchNorm synchronised (--local-batchnorm:
      per rank), every recorded number the global batch's, rank 0 writing:
        mpirun -np 4 gradtrace train --model vgg38 --batchnorm --threads 8 \\
          --output runs/four --trace runs/four.h5
      """)

  @OptionGroup var modelOptions: ModelOptions

  @Option(help: "Dataset: fashion-mnist, cifar10, cifar100, synthetic.")
  var dataset: TrainingConfiguration.DatasetName = .fashionMNIST

  @Option(help: "Directory with the dataset files (default for fashion-mnist: \(FashionMNIST.defaultDirectory)).")
  var dataDir: String?

  @Flag(help: "Keep Fashion-MNIST at 28×28 (only models without residual connections fit).")
  var noPad = false

  @Option(parsing: .unconditional, help: "Epochs.") var epochs = 2
  @Option(parsing: .unconditional, help: "Minibatch size.") var batchSize = 100
  @Option(parsing: .unconditional, help: "Learning rate (the maximum of the cosine schedule).") var lr = 1e-3
  @Option(parsing: .unconditional, help: "Weight decay, coupled L2 as PyTorch's Adam and SGD.") var weightDecay = 0.0
  @Option(help: "Optimizer: adam or sgd (momentum 0.9).") var optimizer: TrainingConfiguration.OptimizerName = .adam
  @Option(help: "Learning-rate schedule: cosine (per epoch, η_min 2e-5) or constant.") var schedule:
    TrainingConfiguration.ScheduleName = .cosine
  @Option(parsing: .unconditional, help: "Seed for initialisation, data order and augmentation.") var seed: UInt64 = 0
  @Option(parsing: .unconditional, help: "Seed of the train/validation split (independent of --seed).")
  var splitSeed: UInt64 = 0
  @Option(
    parsing: .unconditional,
    help: "Worker threads (default: 2; a resumed run keeps its own, so that it continues bit for bit).")
  var threads: Int?
  @Option(parsing: .unconditional, help: "Use only the first N training images.") var subset: Int?
  @Option(
    parsing: .unconditional,
    help: "Validation images held out of the training set (default: 5000 Fashion-MNIST, 2500 CIFAR, 200 synthetic).")
  var validation: Int?
  @Option(parsing: .unconditional, help: "Evaluate the test set on its first N images (default: all of them).")
  var testExamples: Int?
  @Option(
    help:
      "Augmentation of training images: none, crop, crop-flip (default: crop for Fashion-MNIST, crop-flip for CIFAR, none for synthetic)."
  )
  var augment: AugmentationChoice?
  @Option(parsing: .unconditional, help: "Gaussian noise (std) added after normalisation to training images.")
  var noise = 0.0
  @Option(name: .customLong("init"), help: "Initialisation: pytorch, he, xavier.") var initialization: Initialization =
    .pytorchDefault
  @Option(help: "Directory for checkpoints and results.") var output: String?
  @Option(help: "Continue the run in this directory (its last.h5) up to --epochs.") var resume: String?
  @Option(help: "What compare, export and report call this run (stored in the trace; default: its directory and file).")
  var name: String?
  @Flag(help: "Print only the summary.") var quiet = false
  @Option(
    parsing: .unconditional,
    help: "With --resume past a cosine schedule's end: its new length in epochs (T_max) for the epochs still to run.")
  var scheduleEpochs: Int?
  @Flag(help: "With --resume past a cosine schedule's end: keep training at η_min.") var extendSchedule = false
  @Flag(help: "Replace the run in --output and the file at --trace if they exist (refused otherwise).")
  var overwrite = false

  @Option(
    help: "Write a trace of the run (HDF5, schema v2: docs/trace-format.md) to this file; with --resume, continue it.")
  var trace: String?
  @Option(
    help: ArgumentHelp(
      "Also write the trace's rows as TensorBoard event files in this directory, live (each flush).",
      discussion:
        "Needs --trace; `tensorboard --logdir DIR` shows them (export --format tensorboard writes the same from a finished trace)."
    ))
  var tensorboard: String?
  @Option(help: "What the trace records: any of gradients, activations, curvature, noise, comma-separated.")
  var record = "gradients,activations"
  @Option(
    parsing: .unconditional,
    help: "Record step statistics every k steps (the last step of each epoch always; default: 1).")
  var recordEvery: Int?
  @Option(
    parsing: .unconditional,
    help: "Measure curvature (gᵀHg, dᵀHd, α, the actual change) every K steps (default: 10).")
  var curvatureEvery: Int?
  @Option(
    parsing: .unconditional,
    help: """
      Per-layer curvature g_lᵀ(Hg)_l every this many curvature measurements (0: \
      never; NaN in between; default: 10). It needs a Hessian-vector product; gᵀHg \
      alone is a cheaper Taylor-mode pass.
      """) var layerCurvatureEvery: Int?
  @Option(
    parsing: .unconditional,
    help: ArgumentHelp(
      "Arithmetic of the curvature measurements: float (default) or double.",
      discussion: """
        double recomputes the gradient and measures gᵀHg, dᵀHd and the actual change \
        in float64 at the same weights, batch and dropout mask (several times \
        slower): what remains of a Taylor outlier then is not float32 rounding.
        """))
  var curvaturePrecision: CurvaturePrecision?
  @Option(
    parsing: .unconditional, help: "Hutchinson trace every this many curvature measurements (0: never, the default).")
  var traceEvery: Int?
  @Option(
    parsing: .unconditional, help: "Dominant eigenvalue every this many curvature measurements (0: never, the default)."
  )
  var eigenEvery: Int?
  @Option(
    parsing: .unconditional,
    help: ArgumentHelp(
      "The Hessian's spectrum every N steps (0: never, the default), from step 0.",
      discussion: """
        Lanczos eigenvalues (top and bottom k), the share of the gradient and of the \
        update in the top-k eigenvectors' span, the outliers above the bulk, the \
        density by stochastic Lanczos quadrature and the edge of stability (for \
        Adam from its own second moments). Each costs steps × (probes + 1) \
        Hessian-vector products, 2-4 gradients each: with the defaults about 540 \
        gradients on vgg38 BN+residual (BENCHMARKS.md).
        """))
  var spectrumEvery: Int?
  @OptionGroup var spectrumArguments: SpectrumArguments
  @Option(
    parsing: .unconditional,
    help: ArgumentHelp(
      "Log-magnitude histograms every N steps (0: never, the default), from step 0.",
      discussion: """
        Per layer the gradient, the update and the weights, per block the output \
        (with activations recorded): counts of log10 |x| in bins (--histogram-range, \
        --histogram-bins-per-decade) and of zeros, values outside the range, NaN, \
        +Inf, -Inf and negatives. Taken even at a non-finite step: a diverging run \
        shows where its NaN and Inf are.
        """))
  var histogramEvery: Int?
  @Option(
    parsing: .unconditional,
    help: "The histograms' range of |x|, LOW:HIGH powers of ten (default: 1e-30:1e4).")
  var histogramRange: String?
  @Option(parsing: .unconditional, help: "Histogram bins per decade of |x| (1-64; default: 4).")
  var histogramBinsPerDecade: Int?
  @Option(
    parsing: .unconditional,
    help: ArgumentHelp(
      "Gradient noise every N steps (with --record noise; default: 20), from step 0.",
      discussion: """
        The batch's loss terms are cut into --noise-groups groups of consecutive rows and \
        each group's gradient g_j is taken through the step's own forward pass (BatchNorm \
        in training mode, statistics over the whole batch): m − 1 backward passes more. \
        From them, per layer and for the model, |G|², tr(Σ), the noise scale B_simple \
        and the signal-to-noise ratio of the batch gradient; with curvature recorded also \
        tr(HΣ), B_noise and McCandlish's optimal step ε_opt (m Taylor-mode passes more).
        """))
  var noiseEvery: Int?
  @Option(parsing: .unconditional, help: "Groups of the batch for gradient noise (2 to the batch size; default: 4).")
  var noiseGroups: Int?
  @Option(
    parsing: .unconditional,
    help: "Write buffered trace rows to the file every N steps (and at every epoch end; default: 100).")
  var flushEvery: Int?
  @Option(help: "On a NaN or infinite loss: stop (default) or continue.") var onNonfinite: NonFinitePolicy = .stop
  @Option(
    help: ArgumentHelp(
      "The arithmetic of every step: float (float32, the default) or double (float64 throughout, ~4x slower).",
      discussion: """
        double keeps the weights and the optimizer in float64 and runs every forward, backward \
        and curvature pass in float64 (an oracle for float32 runs, and for data-parallel runs \
        against one process); the trace stores float32 values as always, and checkpoints hold \
        the weights rounded to float32, so a float64 run is not resumed.
        """))
  var precision: TrainingPrecision?
  @Flag(
    help: ArgumentHelp(
      "Under mpirun: BatchNorm statistics per rank (ghost BatchNorm over B/R images) instead of the global batch's.",
      discussion: """
        By default a data-parallel run synchronises BatchNorm: the per-channel sums are added over \
        the ranks in every forward and backward pass (and in the curvature passes), so an R-rank \
        run trains the single-process run's function at the same global batch. With this flag \
        each rank normalises with its own B/R images: the function of --ghost-batchnorm R.
        """))
  var localBatchnorm = false
  @Option(
    parsing: .unconditional,
    help: ArgumentHelp(
      "Ghost BatchNorm: statistics over each of K contiguous groups of B/K images (the loss stays the batch's mean).",
      discussion: """
        In one process the K groups run one after another; under mpirun -np R (K a multiple of \
        R) each rank takes K/R of them. --ghost-batchnorm R in one process is the function an \
        R-rank run with --local-batchnorm trains.
        """))
  var ghostBatchnorm: Int?

  enum NonFinitePolicy: String, ExpressibleByArgument, CaseIterable { case stop, `continue` }

  /// What `--augment` names.
  enum AugmentationChoice: String, ExpressibleByArgument, CaseIterable {
    case none, crop, cropFlip = "crop-flip"
  }

  var recordedParts: Set<String> { Set(record.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }) }

  var recording: RecordingOptions {
    var options = RecordingOptions()
    options.gradients = true  // step rows always carry the gradient statistics
    options.activations = recordedParts.contains("activations")
    options.curvature = recordedParts.contains("curvature")
    options.noise = recordedParts.contains("noise")
    options.noiseEvery = noiseEvery ?? options.noiseEvery
    options.noiseGroups = noiseGroups ?? options.noiseGroups
    options.every = recordEvery ?? options.every
    options.curvatureEvery = curvatureEvery ?? options.curvatureEvery
    options.curvaturePrecision = curvaturePrecision ?? options.curvaturePrecision
    options.layerCurvatureEvery = layerCurvatureEvery ?? options.layerCurvatureEvery
    options.traceEvery = traceEvery ?? options.traceEvery
    options.eigenvalueEvery = eigenEvery ?? options.eigenvalueEvery
    options.spectrumEvery = spectrumEvery ?? options.spectrumEvery
    options.spectrum = spectrumArguments.options
    options.histogramEvery = histogramEvery ?? options.histogramEvery
    options.histogramBins = (try? histogramBins()) ?? options.histogramBins
    options.flushEvery = flushEvery ?? options.flushEvery
    return options
  }

  /// The bins `--histogram-range` and `--histogram-bins-per-decade` ask for.
  func histogramBins() throws -> LogHistogramBins {
    var bins = LogHistogramBins()
    if let histogramRange {
      let parts = histogramRange.split(separator: ":").map { Double($0.trimmingCharacters(in: .whitespaces)) }
      let decades = parts.compactMap { $0 }.filter { $0 > 0 }.map { log10($0) }
      guard parts.count == 2, decades.count == 2, decades.allSatisfy({ abs($0 - $0.rounded()) < 1e-9 }) else {
        throw ValidationError(
          "--histogram-range takes LOW:HIGH, two powers of ten such as 1e-30:1e4, got '\(histogramRange)'")
      }
      (bins.lowDecade, bins.highDecade) = (Int(decades[0].rounded()), Int(decades[1].rounded()))
    }
    bins.binsPerDecade = histogramBinsPerDecade ?? bins.binsPerDecade
    if let problem = bins.problem { throw ValidationError("histogram bins: \(problem)") }
    return bins
  }

  /// The model for the chosen data (a usage error when --input or --classes contradicts it).
  func model() throws -> NetworkConfiguration {
    try modelOptions.configuration(for: dataset.shape(pad: !noPad), source: dataset.rawValue)
  }

  func validate() throws {
    guard epochs >= 1 else { throw ValidationError("--epochs must be at least 1, got \(epochs)") }
    guard batchSize >= 2 else {
      throw ValidationError("--batch-size must be at least 2 (BatchNorm needs a batch), got \(batchSize)")
    }
    guard lr > 0 else { throw ValidationError("--lr must be positive, got \(lr)") }
    guard weightDecay >= 0 else { throw ValidationError("--weight-decay cannot be negative, got \(weightDecay)") }
    guard noise >= 0 else { throw ValidationError("--noise cannot be negative, got \(noise)") }
    if let threads, threads < 1 { throw ValidationError("--threads must be at least 1, got \(threads)") }
    if let ghostBatchnorm, ghostBatchnorm < 1 {
      throw ValidationError(
        "--ghost-batchnorm must be at least 1 (the BatchNorm groups of a batch), got \(ghostBatchnorm)")
    }
    if let subset, subset < 1 { throw ValidationError("--subset must be at least 1, got \(subset)") }
    if let validation, validation < 1 { throw ValidationError("--validation must be at least 1, got \(validation)") }
    if let testExamples, testExamples < 1 {
      throw ValidationError("--test-examples must be at least 1, got \(testExamples)")
    }
    if resume == nil && output == nil { throw ValidationError("give --output DIR for a new run (or --resume DIR)") }
    if let resume, let output, resume != output {
      throw ValidationError("--resume \(resume) and --output \(output) conflict: a resumed run stays in its directory")
    }
    if noPad && dataset != .fashionMNIST { throw ValidationError("--no-pad applies to fashion-mnist only") }
    if dataset == .synthetic && dataDir != nil {
      throw ValidationError("--data-dir does not apply to the synthetic dataset")
    }
    if resume == nil { _ = try model() }
    let known: Set<String> = ["gradients", "activations", "curvature", "noise"]
    for part in record.split(separator: ",") where !known.contains(part.trimmingCharacters(in: .whitespaces)) {
      throw ValidationError("--record: unknown '\(part)'; choose from gradients, activations, curvature, noise")
    }
    if let noiseGroups, noiseGroups < 2 || noiseGroups > batchSize {
      throw ValidationError(
        "--noise-groups must be from 2 to the batch size (\(batchSize)), got \(noiseGroups): each group needs a loss term and the spread needs two groups"
      )
    }
    if !recordedParts.contains("noise"),
      let flag = noiseEvery != nil ? "--noise-every" : noiseGroups != nil ? "--noise-groups" : nil
    {
      throw ValidationError("\(flag) has no effect unless --record includes noise (e.g. --record gradients,noise)")
    }
    for (flag, value, least) in [
      ("--record-every", recordEvery, 1), ("--curvature-every", curvatureEvery, 1), ("--flush-every", flushEvery, 1),
      ("--layer-curvature-every", layerCurvatureEvery, 0), ("--trace-every", traceEvery, 0),
      ("--eigen-every", eigenEvery, 0), ("--spectrum-every", spectrumEvery, 0),
      ("--histogram-every", histogramEvery, 0), ("--noise-every", noiseEvery, 1),
    ] {
      if let value, value < least { throw ValidationError("\(flag) must be at least \(least), got \(value)") }
    }
    // Recording options that would do nothing are refused rather than ignored.
    let traceOptions: [(String, Bool)] = [
      ("--record", CommandLine.arguments.contains("--record")), ("--record-every", recordEvery != nil),
      ("--flush-every", flushEvery != nil), ("--spectrum-every", spectrumEvery != nil),
      ("--histogram-every", histogramEvery != nil),
    ]
    if tensorboard != nil && trace == nil && resume == nil {
      throw ValidationError("--tensorboard shows the trace's rows: give --trace FILE too")
    }
    if trace == nil && resume == nil, let flag = traceOptions.first(where: \.1)?.0 {
      throw ValidationError("\(flag) has no effect without --trace FILE (the trace it configures)")
    }
    let curvatureOptions: [(String, Bool)] = [
      ("--curvature-every", curvatureEvery != nil), ("--layer-curvature-every", layerCurvatureEvery != nil),
      ("--trace-every", traceEvery != nil), ("--eigen-every", eigenEvery != nil),
      ("--curvature-precision", curvaturePrecision != nil),
    ]
    if (spectrumEvery ?? 0) == 0, let flag = spectrumArguments.firstGiven {
      throw ValidationError("\(flag) has no effect without --spectrum-every N (N ≥ 1)")
    }
    _ = try histogramBins()
    if (histogramEvery ?? 0) == 0, histogramRange != nil || histogramBinsPerDecade != nil {
      throw ValidationError(
        "\(histogramRange != nil ? "--histogram-range" : "--histogram-bins-per-decade") has no effect without --histogram-every N (N ≥ 1)"
      )
    }
    if !recordedParts.contains("curvature"), let flag = curvatureOptions.first(where: \.1)?.0 {
      throw ValidationError(
        "\(flag) has no effect unless --record includes curvature (e.g. --record gradients,curvature)")
    }
  }

  /// Under mpirun (or srun) with R > 1 ranks the run is data-parallel (`Train+Ranks.swift`);
  /// otherwise a single process that neither links nor loads MPI.
  func run() throws {
    try runOnLaunchedRanks { collective in
      switch precision {
      case .double?: try train(on: collective, Double.self)
      default: try train(on: collective, Float.self)
      }
    }
  }

  func train<Scalar: TensorScalar>(on collective: MPICollective?, _: Scalar.Type) throws
  where Scalar.Accumulator: TensorScalar {
    ComputeThreads.set(threads ?? 2)
    // Log lines reach a file or pipe as they are printed, not when a block fills.
    if isatty(STDOUT_FILENO) == 0 { gt_line_buffer_stdout() }
    // A resumed run continues its own trace with its own recording options.
    let savedRun = try resume.map { try Trainer.savedConfiguration(in: $0) }
    if let resume, savedRun?.precision == .double {
      throw CommandError(
        "\(resume) is a float64 run (train --precision double): its checkpoints hold the weights rounded to float32, so it cannot continue exactly; start it again, or use its checkpoints with evaluate and probe"
      )
    }
    let (tracePath, options) = try traceAndRecording(resuming: savedRun)
    // One writer per run and per trace, before anything is written.
    let directory = resume ?? output!
    let writes = (collective?.rank ?? 0) == 0  // rank 0 writes the run's files
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    let locks =
      writes
      ? try [WriterLock("\(directory)/\(RunDirectory.lockFile)", guarding: "run directory \(directory)")]
        + (tracePath.map { [try WriterLock("\($0).lock", guarding: "trace \($0)")] } ?? []) : []
    defer { withExtendedLifetime(locks) {} }
    if resume == nil && writes { try refuseToReplace(directory: directory) }
    let trainer: TrainerOf<Scalar>
    if let resume {
      var saved = savedRun!
      if modelOptions.given {
        let given = try modelOptions.configuration(
          for: saved.dataset.shape(pad: saved.pad), source: saved.dataset.rawValue,
          fallback: DataShape(
            channels: saved.model.inputShape[0], height: saved.model.inputShape[1], width: saved.model.inputShape[2],
            classes: saved.model.classes))
        if saved.model != given {
          throw CommandError(
            "\(resume)/\(Trainer.lastCheckpoint) holds a \(saved.model.shortName), not the \(given.shortName) given on the command line"
          )
        }
      }
      let horizon = saved.cosinePeriod ?? saved.epochs
      if saved.schedule == .cosine && epochs > horizon && scheduleEpochs == nil && !extendSchedule {
        throw ValidationError(
          "--epochs \(epochs) runs past the end of the run's cosine schedule (\(horizon) epochs): the learning rate would stay at η_min \(saved.minimumLearningRate). Give --schedule-epochs N (a new length, at least \(epochs)) or --extend-schedule (keep η_min)"
        )
      }
      if let scheduleEpochs, scheduleEpochs < epochs {
        throw ValidationError("--schedule-epochs \(scheduleEpochs) ends before --epochs \(epochs)")
      }
      saved.epochs = max(epochs, saved.epochs)
      ComputeThreads.set(threads ?? saved.threads)
      let data = try TrainingData.load(saved)
      let resumed = try TrainerOf<Scalar>(resumingIn: resume, data: data)
      for note in resumed.resumeNotes { notice(note) }
      if !resumed.resumedFromVerifiedCheckpoint { noticeUnverified(resumed.resumedFrom ?? resume) }
      trainer = resumed
      trainer.extendEpochs(to: saved.epochs, schedulePeriod: scheduleEpochs)
    } else {
      var c = TrainingConfiguration(model: try model(), dataset: dataset)
      c.name = name
      c.initialization = initialization
      c.dataDirectory = dataDir
      c.pad = !noPad
      c.epochs = epochs
      c.batchSize = batchSize
      c.learningRate = lr
      c.weightDecay = weightDecay
      c.optimizer = optimizer
      c.schedule = schedule
      c.seed = seed
      c.splitSeed = splitSeed
      c.threads = threads ?? 2
      c.subset = subset
      c.testCount = testExamples
      c.ghostBatchNorm = ghostBatchnorm ?? (localBatchnorm ? collective?.size : nil)
      c.precision = precision == .double ? .double : nil
      if let validation { c.validationCount = validation }
      switch augment {
      case nil: break
      case .none?: c.augmentation = .none
      case .crop?: c.augmentation = Augmentation(cropPadding: 4, horizontalFlip: false)
      case .cropFlip?: c.augmentation = Augmentation(cropPadding: 4, horizontalFlip: true)
      }
      c.augmentation.noise = noise
      if let tracePath {
        c.trace = tracePath
        c.recording = options
      }
      let data = try TrainingData.load(c)
      if let subset, subset > data.train.count {
        notice(
          "--subset \(subset) is more than the \(data.train.count) training images left after validation: using all of them"
        )
      }
      if let testExamples, testExamples > data.test.count {
        notice("--test-examples \(testExamples) is more than the \(data.test.count) test images: using all of them")
      }
      trainer = try TrainerOf<Scalar>(configuration: c, data: data, outputDirectory: output!)
    }
    trainer.collective = collective
    try adopt(ranks: collective?.size, into: trainer)
    try trainer.checkShardPlan(recording: tracePath != nil ? options : nil)
    if tracePath != nil && !writes {
      trainer.recorder = TraceRecorder(measuringFor: trainer.network, options: options)
    } else if let trace = tracePath {
      if resume != nil && FileManager.default.fileExists(atPath: trace) {
        // The run's trace continues from the checkpoint (what was recorded after it is dropped).
        trainer.recorder = try TraceRecorder(continuing: trace, trainer: trainer, options: options)
      } else if resume != nil && savedRun?.trace == trace {
        throw CommandError(
          "\(trace), the run's trace, is gone: give --trace FILE to record the rest of the run into a new one")
      } else {
        trainer.recorder = try TraceRecorder(
          path: trace, network: trainer.network, configuration: trainer.configuration.json, options: options)
      }
    }
    if let tensorboard, writes {
      guard let recorder = trainer.recorder, let writer = recorder.writer else {
        throw CommandError("--tensorboard shows the trace's rows, and this run records no trace: give --trace FILE")
      }
      let run = try TensorBoardRun(
        directory: tensorboard, configuration: writer.configuration, model: writer.model)
      writer.sinks.append(run)
      notice("TensorBoard event file \(run.path)")
    }
    trainer.continueAfterNonFinite = onNonfinite == .continue
    let request = CheckpointRequest()
    request.listenForSignal()
    trainer.checkpointRequest = request
    let stop = StopRequest()
    stop.listenForSignals()
    trainer.stopRequest = stop
    if let collective { watch(collective, trainer: trainer, stop: stop) }
    let printer = ProgressPrinter(epochs: trainer.configuration.epochs, batchSize: trainer.configuration.batchSize)
    if !quiet && writes { trainer.observer = printer }
    let c = trainer.configuration
    if !quiet && writes, let resume, let from = trainer.resumedFrom {
      print(
        "resuming \(resume) from \(from) (step \(trainer.completedSteps))\(tracePath.map { ", trace \($0)" } ?? "")")
    }
    if !quiet && writes {
      print(
        "\(c.model.shortName) on \(c.dataset.rawValue): \(trainer.data.train.count) train, \(trainer.data.validation.count) validation, \(trainer.data.test.count) test images; \(c.optimizer.rawValue) lr \(c.learningRate), batch \(c.batchSize), \(c.threads) threads\(rankLine(c))"
      )
    }
    let summary: TrainingSummary
    let firstStep = trainer.completedSteps
    do {
      summary = try trainer.run()
    } catch TrainingError.interrupted(let step, let signal) {
      collective?.finalize()  // every rank stopped at the same step
      guard writes else { throw ExitCode(128 + signal) }
      print(
        "interrupted after step \(step): \(trainer.outputDirectory)/\(Trainer.lastCheckpoint) holds the run\(trace.map { " and \($0) its trace" } ?? ""); continue with: gradtrace train --resume \(trainer.outputDirectory)\(trace.map { " --trace \($0)" } ?? "")"
      )
      throw ExitCode(128 + signal)
    } catch let error as TrainingError {
      collective?.finalize()
      guard writes else { throw ExitCode.failure }
      throw CommandError(
        "training stopped: \(error)\(trace.map { "; the trace \($0) holds every step up to it" } ?? "") (--on-nonfinite continue keeps going)"
      )
    }
    collective?.finalize()
    guard writes else { return }
    if let collective { print(exchangeLine(collective, steps: trainer.completedSteps - firstStep)) }
    let best = summary.epochs[summary.bestEpoch]
    print(
      String(
        format: "%@: best epoch %d (valid acc %.2f%%), test loss %.4f acc %.2f%%, %.1fs training; results in %@",
        summary.model, summary.bestEpoch, best.validAccuracy * 100, summary.testLoss, summary.testAccuracy * 100,
        summary.trainingSeconds, trainer.outputDirectory))
  }

  /// The trace and what it records: the command line's for a new run; for a resumed run its own,
  /// saved with it (options given again must agree: a usage error names both).
  func traceAndRecording(resuming saved: TrainingConfiguration?) throws -> (String?, RecordingOptions) {
    let given = trace.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
    guard let saved else { return (given, recording) }
    if let given, let own = saved.trace, given != own {
      throw ValidationError("--trace \(given) contradicts the run's own trace \(own): leave --trace out to continue it")
    }
    guard let own = saved.recording else { return (given, recording) }
    let recordingGiven =
      CommandLine.arguments.contains("--record")
      || [recordEvery, curvatureEvery, layerCurvatureEvery, traceEvery, eigenEvery, flushEvery, spectrumEvery].contains
      {
        $0 != nil
      } || spectrumArguments.firstGiven != nil || histogramEvery != nil || histogramRange != nil
      || curvaturePrecision != nil
      || histogramBinsPerDecade != nil
    if recordingGiven && recording != own {
      throw ValidationError(
        "the recording options given (\(recording)) contradict the run's own (\(own)): leave them out to continue as it recorded"
      )
    }
    return (given ?? saved.trace, own)
  }

  /// Nothing a user made is replaced without `--overwrite`: an existing run in the directory or
  /// an existing trace is an error naming it and the options that would proceed.
  func refuseToReplace(directory: String) throws {
    let existing = RunDirectory.existingRunFiles(in: directory)
    if !existing.isEmpty {
      guard overwrite else {
        throw CommandError(
          "\(directory) holds a run (\(existing.joined(separator: ", "))): --resume \(directory) continues it, --overwrite replaces it, or give another --output"
        )
      }
      try RunDirectory.removeRunFiles(in: directory)
      notice("--overwrite: replacing the run in \(directory) (\(existing.joined(separator: ", ")))")
    }
    if let trace, FileManager.default.fileExists(atPath: trace) {
      guard overwrite else {
        throw CommandError(
          "\(trace) exists: --overwrite replaces it, --resume with its run continues it, or give another --trace")
      }
      notice("--overwrite: replacing the trace \(trace)")
    }
  }

}

extension CurvaturePrecision: ExpressibleByArgument {}
extension TrainingPrecision: ExpressibleByArgument {}

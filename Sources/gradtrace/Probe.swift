import ArgumentParser
import DataParallel
import Curvature
import Datasets
import Foundation
import Networks
import TensorCore
import Training

struct Probe: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Measure exact curvature at fixed weights on a fixed batch.",
    discussion: """
      Loads a checkpoint, takes one batch (a batch file, or the first N examples of
      a dataset, normalised, not augmented) and reports, with BatchNorm in training
      mode: the loss, per-layer gradient statistics, gᵀg and gᵀHg with per-layer
      contributions g_lᵀ(Hg)_l, the Hessian trace and per-layer traces (Hutchinson),
      the dominant eigenvalue (power iteration), and the Taylor table along −g at ε
      = k·ε* for k in --multiples. Every curvature number comes from exact
      Hessian-vector products (forward-over-reverse).

      Where gᵀHg ≤ 0 there is no ε*: the report says "negative curvature" and the
      table runs over --epsilon-grid instead. --precision double runs everything in
      float64: use it for deep BatchNorm networks, where float32 rounding grows to
      percents (vgg38 BN at initialisation: 7% in the gradient, for PyTorch as for
      gradtrace).

      Examples:
        gradtrace init --model vgg08 -o vgg08.h5
        gradtrace probe --checkpoint vgg08.h5 --dataset fashion-mnist --examples 100
        gradtrace probe --checkpoint vgg08.h5 --batch batch.h5 --json
        gradtrace probe --checkpoint vgg08.h5 --dataset fashion-mnist --spectrum
        gradtrace probe --checkpoint vgg38.h5 --dataset fashion-mnist --skip-analysis
      """)

  @Option(help: "Checkpoint with the weights (from `gradtrace init` or training).")
  var checkpoint: String

  @Option(help: "Batch file: /images float32 [N, C, H, W] (normalised) and /labels int64 [N].")
  var batch: String?

  @Option(help: "Take the batch from a dataset instead: fashion-mnist.")
  var dataset: String?

  @Option(help: "Dataset directory.")
  var dataDir = FashionMNIST.defaultDirectory

  @Option(parsing: .unconditional, help: "How many examples to take from the start of the dataset's training split.")
  var examples = 100

  @Option(parsing: .unconditional, help: "Rademacher probes for the Hutchinson trace.")
  var probes = 10

  @Option(parsing: .unconditional, help: "Seed for the probes and the power iteration's start.")
  var seed: UInt64 = 0

  @Option(parsing: .unconditional, help: "Relative tolerance of the dominant eigenvalue.")
  var eigenTolerance = 1e-3

  @Option(parsing: .unconditional, help: "At most this many Hessian-vector products for the eigenvalue.")
  var maxEigenProducts = 100

  @Option(parsing: .upToNextOption, help: "Multiples of ε* for the Taylor table.")
  var multiples: [Double] = [0.01, 0.1, 0.5, 1, 2]

  @Option(parsing: .upToNextOption, help: "Step sizes ε for the Taylor table when ε* does not exist.")
  var epsilonGrid: [Double] = [1e-4, 1e-3, 1e-2, 1e-1, 1]

  @Flag(
    help: """
      Also the Hessian's spectrum: the largest and smallest eigenvalues by Lanczos \
      (full reorthogonalisation) with the gradient's share in the top ones' span, \
      and the spectral density by stochastic Lanczos quadrature.
      """)
  var spectrum = false

  @OptionGroup var spectrumArguments: SpectrumArguments

  @Flag(help: "Also each layer's diagonal Hessian block: its largest and smallest eigenvalue (Lanczos per layer).")
  var spectrumPerLayer = false

  @Flag(
    help: "Also each block's (of the network description) diagonal Hessian block: its largest and smallest eigenvalue.")
  var spectrumPerBlock = false

  @Flag(
    help: ArgumentHelp(
      "Also each block's effect, found by replacing it with the identity.",
      discussion: """
        Per block (same weights and batch): the loss change and the ratio of the \
        first layer's mean |∂f/∂W|, and the median ratio over the layers before the \
        block, to the whole network's. A block whose removal multiplies the gradient \
        below it is where the flow is lost. Blocks whose output shape differs from \
        their input's cannot be skipped and are listed as such. With --json the \
        output is {"curvature": …, "skip_analysis": …}.
        """))
  var skipAnalysis = false

  @Option(parsing: .unconditional, help: "Worker threads.")
  var threads = 2

  enum Precision: String, ExpressibleByArgument, CaseIterable { case float, double }

  @Option(
    help: """
      Arithmetic of the gradient and Hessian-vector products: float (as training \
      runs) or double (about twice as slow; deep BatchNorm networks amplify \
      float32 rounding to several percent).
      """)
  var precision: Precision = .float

  @Flag(help: "Print JSON.")
  var json = false

  func validate() throws {
    if (batch == nil) == (dataset == nil) {
      throw ValidationError("give exactly one of --batch FILE.h5 or --dataset NAME")
    }
    if let dataset, dataset != "fashion-mnist" {
      throw ValidationError("unknown dataset '\(dataset)': probe reads fashion-mnist (or any batch with --batch)")
    }
    guard examples >= 2 else {
      throw ValidationError("--examples must be at least 2 (BatchNorm needs a batch), got \(examples)")
    }
    guard probes >= 1 else { throw ValidationError("--probes must be at least 1, got \(probes)") }
    guard threads >= 1 else { throw ValidationError("--threads must be at least 1, got \(threads)") }
    let perFlag = spectrumPerLayer ? "--spectrum-per-layer" : spectrumPerBlock ? "--spectrum-per-block" : nil
    if !spectrum, let flag = spectrumArguments.firstGiven ?? perFlag {
      throw ValidationError("\(flag) has no effect without --spectrum")
    }
    guard eigenTolerance > 0, maxEigenProducts >= 1 else {
      throw ValidationError("--eigen-tolerance must be positive and --max-eigen-products at least 1")
    }
  }

  /// Under mpirun with R > 1 ranks the batch is cut into R shards and every number is the
  /// whole batch's, summed over the ranks (BatchNorm synchronised); rank 0 prints.
  func run() throws {
    guard let collective = try joinLaunchedRanks() else { return try measure(on: nil) }
    try collective.endingTheJobOnError {
      if skipAnalysis { throw ValidationError("--skip-analysis runs in one process (not under mpirun)") }
      try measure(on: collective)
      collective.finalize()
    }
  }

  func measure(on collective: MPICollective?) throws {
    ComputeThreads.set(threads)
    let saved = try Checkpoint.read(from: checkpoint)
    if !saved.isVerified { noticeUnverified(checkpoint) }
    let network = try Network<Float>(saved.configuration, parameters: saved.parameters, buffers: saved.buffers)
    let c = saved.configuration
    var (images, labels, source): (Tensor<Float>, [Int], String)
    if let batch {
      (images, labels) = try BatchFile.read(batch)
      source = batch
    } else {
      let padded = c.inputShape[1] == 32
      (images, labels) = try FashionMNIST.load(directory: dataDir, split: .train, limit: examples, pad: padded)
      source = "\(dataDir) (first \(labels.count) training images)"
    }
    let expected = c.inputShape
    guard Array(images.shape.dropFirst()) == expected else {
      let shape = images.shape.dropFirst().map(String.init).joined(separator: "x")
      let fix =
        batch == nil
        ? "write the checkpoint for this data with `gradtrace init --dataset fashion-mnist` (init's default), or give --batch with \(c.inputShapeDescription) images"
        : "give a batch of \(c.inputShapeDescription) images, or a checkpoint made with `gradtrace init --input \(shape)`"
      throw CommandError(
        "\(source): images are \(shape), but \(checkpoint) holds a \(c.shortName) for \(c.inputShapeDescription) input: \(fix)"
      )
    }
    if let bad = labels.first(where: { $0 < 0 || $0 >= c.classes }) {
      throw CommandError("\(source): label \(bad) is outside the model's \(c.classes) classes")
    }
    var options = CurvatureReport.Options()
    options.probes = probes
    options.seed = seed
    options.eigenvalueTolerance = eigenTolerance
    options.maximumEigenvalueProducts = maxEigenProducts
    options.multiples = multiples
    options.epsilonGrid = epsilonGrid
    if spectrum {
      var chosen = spectrumArguments.options
      chosen.perLayer = spectrumPerLayer
      chosen.perBlock = spectrumPerBlock
      options.spectrum = chosen
    }
    options.optimizer = Self.optimizerState(saved)
    // On R ranks: this rank's rows, every sum over the ranks.
    var shard: BatchShard?
    if let collective {
      let rows = BatchShard.rows(ofShard: collective.rank, of: collective.size, batch: labels.count)
      shard = BatchShard(
        collective: collective, synchronisesBatchNorm: true, batchRows: labels.count, offset: rows.lowerBound)
      (images, labels) = (images.rows(rows), Array(labels[rows]))
    }
    try BatchShard.$current.withValue(shard) {
      try report(
        network: network, saved: saved, images: images, labels: labels, options: options,
        writes: (collective?.rank ?? 0) == 0)
    }
  }

  func report(
    network: Network<Float>, saved: Checkpoint, images: Tensor<Float>, labels: [Int], options: CurvatureReport.Options,
    writes: Bool
  ) throws {
    let c = saved.configuration
    let report: CurvatureReport
    var skips: SkipAnalysis?
    switch precision {
    case .float:
      report = CurvatureReport.measure(
        CurvatureProbe(network: network, images: images, labels: labels), options: options)
      if skipAnalysis {
        skips = SkipAnalysis.measure(
          model: network.model, parameters: network.parameters, buffers: network.buffers, images: images,
          labels: labels)
      }
    case .double:
      let wide = try Network<Double>(
        c, parameters: saved.parameters.converted(to: Double.self), buffers: saved.buffers.converted(to: Double.self))
      report = CurvatureReport.measure(
        CurvatureProbe(network: wide, images: images.converted(), labels: labels), options: options)
      if skipAnalysis {
        skips = SkipAnalysis.measure(
          model: wide.model, parameters: wide.parameters, buffers: wide.buffers, images: images.converted(),
          labels: labels)
      }
    }
    struct Combined: Encodable {
      var curvature: CurvatureReport
      var skipAnalysis: SkipAnalysis
    }
    guard writes else { return }
    if json {
      print(try skips.map { try ReportJSON.encode(Combined(curvature: report, skipAnalysis: $0)) } ?? report.json())
    } else {
      print(report.text)
      if let skips { print("\n" + skips.text) }
    }
    if spectrum && options.optimizer == nil && !json {
      print("  (no edge of stability: \(checkpoint) holds no training run's optimizer state)")
    }
  }

  /// The optimizer a training checkpoint was written by, at the learning rate of the epoch it
  /// resumes into; nil for a checkpoint without a run (`gradtrace init`'s) or without Adam's
  /// second moments.
  static func optimizerState(_ saved: Checkpoint) -> CurvatureReport.OptimizerState? {
    guard let run = TrainingConfiguration.decode(saved.runConfiguration) else { return nil }
    guard
      run.optimizer == .sgd || saved.parameters.names.allSatisfy({ saved.optimizerState.contains("exp_avg_sq/\($0)") })
    else { return nil }
    var optimizer = TrainingOptimizer(run)
    optimizer.restore(state: saved.optimizerState, stepCount: saved.optimizerSteps)
    return optimizer.stability(learningRate: run.learningRateSchedule.learningRate(epoch: saved.epoch))
  }

}

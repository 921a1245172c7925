/// The gradtrace trace file, declared once: every dataset's path, element type, shape, the
/// index whose rows it follows, unit and meaning. `TraceWriter` creates and fills the file from
/// this table, `TraceReader` reads it (and maps version 1 files onto it), trace continuation and
/// recovery walk it, `inspect` and `export` list it, and docs/trace-format.md is this table
/// printed (`gradtrace inspect --schema`; a test compares the two).
///
/// Recording one more statistic is one entry here (a `static let` and its line in `all`) and the
/// code that computes it: `TraceRow`s are keyed by these entries, so nothing else changes.
public enum TraceSchema {
  public static let format = "gradtrace"
  /// 2: every sparse quantity on its own step index (version 1 stored them as NaN rows of
  /// `/curvature`); per-dataset `unit`, `description` and `index` attributes.
  public static let formatVersion: Int64 = 2

  public static let summary = "/summary"

  /// Every dataset, in the order of docs/trace-format.md. Index datasets come first in their group.
  public static let all: [TraceDataset] = [
    .layerName, .layerKind, .layerParameters, .activationName, .mergeLayer, .mergeKind, .mergeInput,
    .step, .epoch, .loss, .accuracy, .learningRate,
    .gradientMeanAbs, .gradientL2Norm, .gradientMaxAbs, .updateL2Norm, .updateGradientCosine, .weightL2Norm,
    .activationMean, .activationStd, .activationFractionNegative, .activationFractionSaturated,
    .activationQValue, .activationCValue, .mergeInputNorm,
    .curvatureStep, .gTg, .gHg, .gTd, .dHd, .predictedFirst, .predictedSecond, .actualDelta, .epsilonStar, .alpha,
    .layerCurvatureStep, .layerGHg,
    .hessianTraceStep, .hessianTrace, .layerHessianTrace,
    .eigenvalueStep, .topEigenvalue,
    .spectrumStep, .spectrumLanczosSteps, .spectrumTop, .spectrumBottom, .spectrumGradientOverlap,
    .spectrumUpdateOverlap, .spectrumOutliers, .spectrumBulkEdge, .spectrumNegativeMass, .spectrumSharpness,
    .spectrumThreshold, .spectrumNodes, .spectrumWeights, .spectrumSigma, .spectrumGridLow, .spectrumGridHigh,
    .spectrumDensity, .spectrumSeconds,
    .histogramEdges, .histogramStep, .gradientHistogram, .gradientSpecials, .updateHistogram, .updateSpecials,
    .weightHistogram, .weightSpecials, .activationHistogram, .activationSpecials, .histogramSeconds,
    .noiseStep, .noiseBatch, .noiseGroups, .noiseGradientNormSquared, .noiseCovarianceTrace, .noiseSimpleScale,
    .noiseSignalToNoise, .layerNoiseGradientNormSquared, .layerNoiseCovarianceTrace, .layerNoiseSimpleScale,
    .layerNoiseSignalToNoise, .noiseStepTaken, .noiseHessianCovarianceTrace, .noiseExpectedCurvature,
    .noiseCurvatureScale, .noiseEpsilonMax, .noiseEpsilonOptimal, .noiseSeconds,
    .epochIndex, .trainLoss, .trainAccuracy, .validLoss, .validAccuracy, .epochSeconds,
  ]

  /// The datasets whose rows follow `index` (its own index dataset first).
  public static func datasets(following index: TraceIndex) -> [TraceDataset] {
    all.filter { $0.index == index }
  }

  public static func dataset(at path: String) -> TraceDataset? { all.first { $0.path == path } }

  /// The appendable datasets of a file of `version`, grouped by the index whose rows they share
  /// (the first path of each group is the index): what recovery cuts to a common length.
  public static func appendableGroups(version: Int64) -> [[String]] {
    if version >= 2 { return TraceIndex.allCases.map { datasets(following: $0).map(\.path) } }
    // Version 1: the sparse quantities were NaN rows of /curvature.
    return [TraceIndex.steps, .curvature, .epochs].map { group in
      all.filter { $0.inVersionOne && $0.index?.versionOneParent == group }.map(\.versionOnePath)
    }
  }
}

/// The step indices of a trace: each sparse quantity has its own, so what was not measured at a
/// step is absent, not a NaN row.
public enum TraceIndex: String, CaseIterable, Sendable {
  /// Recorded training steps (`--record-every`).
  case steps
  /// Curvature measurements (`--curvature-every`).
  case curvature
  /// Per-layer gᵀHg (`--layer-curvature-every` measurements).
  case layerCurvature
  /// Hutchinson trace (`--trace-every` measurements).
  case hessianTrace
  /// Dominant eigenvalue (`--eigen-every` measurements).
  case eigenvalue
  /// Lanczos spectra and densities (`--spectrum-every` steps).
  case spectrum
  /// Log-magnitude histograms (`--histogram-every` steps).
  case histograms
  /// Gradient noise (`--noise-every` steps).
  case noise
  /// Epochs.
  case epochs

  /// The dataset holding the step (or, for `.epochs`, the epoch) of each row.
  public var dataset: TraceDataset { TraceSchema.all.first { $0.index == self }! }

  /// Where version 1 kept these rows: the sparse indices were rows of `/curvature` in which
  /// `versionOneMarker` was not NaN.
  public var versionOneParent: TraceIndex {
    switch self {
    case .layerCurvature, .hessianTrace, .eigenvalue: .curvature
    default: self
    }
  }

  /// The version 1 dataset whose non-NaN rows were this index's measurements.
  public var versionOneMarker: TraceDataset? {
    switch self {
    case .layerCurvature: .layerGHg
    case .hessianTrace: .hessianTrace
    case .eigenvalue: .topEigenvalue
    default: nil
    }
  }

  /// What the trace must record for this index to exist.
  public var presence: TraceDataset.Presence { self.dataset.presence }
}

/// One entry of the schema.
public struct TraceDataset: Hashable, Sendable, CustomStringConvertible {
  public enum Element: String, Sendable { case int64, int32, float32, string }
  /// The shape of one row: one value, one per layer (L), one per block (B); for spectra the
  /// top-k eigenvalues (k), the quadrature nodes of each probe ([P, m]: probes × Lanczos steps)
  /// or the density's grid (G); for histograms the bins of each layer or block ([L, b], [B, b]),
  /// their specials ([L, 7], [B, 7]) and the bins' edges (b + 1, a fixed dataset).
  public enum Width: String, Sendable {
    case one, layers, blocks, topK, quadrature, grid, layerBins, blockBins, layerSpecials, blockSpecials, binEdges
    /// One per input of each add and concat layer (J).
    case merges
  }
  /// When a trace holds the dataset.
  public enum Presence: String, Sendable {
    case always, activations, curvature, spectrum, histograms
    /// Histograms of block outputs: with both `--histogram-every` and activations recorded.
    case activationHistograms
    /// Inputs of add and concat layers: with activations recorded, in a model that has them.
    case merges
    /// Gradient noise: with `--record noise`.
    case noise
    /// The curvature side of the noise: with both noise and curvature recorded.
    case noiseCurvature
  }

  public let path: String
  /// Its column in `export` tables and its tag in TensorBoard (unique among its index's datasets).
  public let name: String
  public let element: Element
  public let width: Width
  /// The index whose rows it follows; nil for the fixed datasets (layer and block names).
  public let index: TraceIndex?
  public let presence: Presence
  public let unit: String
  public let meaning: String
  /// Its path in a version 1 trace (where `inVersionOne`).
  public let versionOnePath: String
  /// Whether version 1 recorded it (a dataset added later reads as absent from a v1 trace).
  public let inVersionOne: Bool
  /// Part of the divergence count (`/summary` nonfinite_count): the loss and the gradients.
  public let watchesDivergence: Bool

  init(
    _ path: String, name: String? = nil, _ element: Element, _ width: Width, index: TraceIndex?,
    presence: Presence = .always, unit: String = "", _ meaning: String, versionOne: String? = nil,
    inVersionOne: Bool = true, watchesDivergence: Bool = false
  ) {
    self.path = path
    self.name = name ?? String(path.split(separator: "/").last!)
    self.element = element
    self.width = width
    self.index = index
    self.presence = presence
    self.unit = unit
    self.meaning = meaning
    self.versionOnePath = versionOne ?? path
    self.inVersionOne = inVersionOne
    self.watchesDivergence = watchesDivergence
  }

  public var description: String { path }
  /// Stored deflate-compressed: the histograms' counts, mostly zeros.
  public var isCompressed: Bool { index == .histograms && element == .int32 }
  public static func == (a: TraceDataset, b: TraceDataset) -> Bool { a.path == b.path }
  public func hash(into hasher: inout Hasher) { hasher.combine(path) }

  /// The shape as docs/trace-format.md writes it: [S], [S, L], [L], …
  public var shapeText: String {
    let rows = index.map { ["steps": "S", "curvature": "M", "epochs": "E"][$0.rawValue] ?? $0.letter } ?? ""
    let specials = HistogramSpecial.allCases.count
    switch (index == nil, width) {
    case (true, .binEdges): return "[b + 1]"
    case (true, .layers): return "[L]"
    case (true, .merges): return "[J]"
    case (false, .merges): return "[\(rows), J]"
    case (true, _): return "[B]"
    case (false, .one): return "[\(rows)]"
    case (false, .layers): return "[\(rows), L]"
    case (false, .blocks): return "[\(rows), B]"
    case (_, .topK): return "[\(rows), k]"
    case (_, .quadrature): return "[\(rows), P, m]"
    case (_, .grid): return "[\(rows), G]"
    case (_, .layerBins): return "[\(rows), L, b]"
    case (_, .blockBins): return "[\(rows), B, b]"
    case (_, .layerSpecials): return "[\(rows), L, \(specials)]"
    case (_, .blockSpecials): return "[\(rows), B, \(specials)]"
    case (false, .binEdges): return "[\(rows), b + 1]"
    }
  }
}

extension TraceIndex {
  /// The row count's letter in docs/trace-format.md.
  var letter: String {
    switch self {
    case .steps: "S"
    case .curvature: "M"
    case .layerCurvature: "K"
    case .hessianTrace: "T"
    case .eigenvalue: "P"
    case .spectrum: "Q"
    case .histograms: "H"
    case .noise: "R"
    case .epochs: "E"
    }
  }
}

// MARK: - The table

extension TraceDataset {
  public static let layerName = TraceDataset(
    "/layers/name", name: "layer", .string, .layers, index: nil,
    "layer names (`input_conv_conv_0`, …, `logit_linear_layer`)")
  public static let layerKind = TraceDataset(
    "/layers/kind", name: "layer_kind", .string, .layers, index: nil, "`conv`, `batchnorm` or `linear`")
  public static let layerParameters = TraceDataset(
    "/layers/parameters", name: "layer_parameters", .int64, .layers, index: nil, unit: "scalars",
    "elements in each layer's weight tensor")
  public static let activationName = TraceDataset(
    "/activations/name", name: "block", .string, .blocks, index: nil, presence: .activations,
    "block names (`input_conv`, `block_0_0`, …)")

  public static let mergeLayer = TraceDataset(
    "/merges/layer", name: "merge", .string, .merges, index: nil, presence: .merges,
    "the add or concat layer of each column: one column per input it reads, in the order the model lists them")
  public static let mergeKind = TraceDataset(
    "/merges/kind", name: "merge_kind", .string, .merges, index: nil, presence: .merges, "`add` or `concat`")
  public static let mergeInput = TraceDataset(
    "/merges/input", name: "merge_input", .string, .merges, index: nil, presence: .merges,
    "the layer whose output the column's input is (`input`: the images)")

  public static let step = TraceDataset(
    "/steps/step", .int64, .one, index: .steps, unit: "step", "the step of each row")
  public static let epoch = TraceDataset(
    "/steps/epoch", .int32, .one, index: .steps, unit: "epoch", "the epoch of each row (from 0)")
  public static let loss = TraceDataset(
    "/steps/loss", .float32, .one, index: .steps, unit: "nats", "minibatch loss before the update",
    watchesDivergence: true)
  public static let accuracy = TraceDataset(
    "/steps/accuracy", .float32, .one, index: .steps, unit: "fraction", "minibatch accuracy before the update")
  public static let learningRate = TraceDataset(
    "/steps/learning_rate", .float32, .one, index: .steps, "learning rate of the step")
  public static let gradientMeanAbs = TraceDataset(
    "/gradients/mean_abs", name: "gradient_mean_abs", .float32, .layers, index: .steps,
    "mean \\|∂f/∂W\\| per layer (the paper's gradient flow)", watchesDivergence: true)
  public static let gradientL2Norm = TraceDataset(
    "/gradients/l2_norm", name: "gradient_l2_norm", .float32, .layers, index: .steps, "‖∂f/∂W‖₂ per layer",
    watchesDivergence: true)
  public static let gradientMaxAbs = TraceDataset(
    "/gradients/max_abs", name: "gradient_max_abs", .float32, .layers, index: .steps, "max \\|∂f/∂W\\| per layer",
    watchesDivergence: true)
  public static let updateL2Norm = TraceDataset(
    "/updates/l2_norm", name: "update_l2_norm", .float32, .layers, index: .steps,
    "‖W_{t+1} − W_t‖₂ per layer, the step the optimizer applied")
  public static let updateGradientCosine = TraceDataset(
    "/updates/gradient_cosine", name: "update_gradient_cosine", .float32, .layers, index: .steps,
    "cos(g_l, d_l) = g_l·d_l / (‖g_l‖ ‖d_l‖) per layer, d the update: −1 is plain gradient descent, near 0 an update (Adam's, momentum's) that no longer follows this batch's gradient; NaN when g_l or d_l is 0",
    inVersionOne: false)
  public static let weightL2Norm = TraceDataset(
    "/weights/l2_norm", name: "weight_l2_norm", .float32, .layers, index: .steps,
    "‖W_{t+1}‖₂ per layer, after the step's update (what the next step starts from)")
  public static let activationMean = TraceDataset(
    "/activations/mean", name: "activation_mean", .float32, .blocks, index: .steps, presence: .activations,
    "mean of each block's output over the batch")
  public static let activationStd = TraceDataset(
    "/activations/std", name: "activation_std", .float32, .blocks, index: .steps, presence: .activations,
    "standard deviation of each block's output")
  public static let activationFractionNegative = TraceDataset(
    "/activations/fraction_negative", name: "activation_fraction_negative", .float32, .blocks, index: .steps,
    presence: .activations, unit: "fraction", "share of outputs below 0")
  public static let activationFractionSaturated = TraceDataset(
    "/activations/fraction_saturated", name: "activation_fraction_saturated", .float32, .blocks, index: .steps,
    presence: .activations, unit: "fraction", "sigmoid networks: share below 0.01 or above 0.99; NaN otherwise")

  public static let activationQValue = TraceDataset(
    "/activations/q_value", name: "activation_q_value", .float32, .blocks, index: .steps, presence: .activations,
    "q-value: the mean squared output, (1/(N·D)) Σ x² over the batch (signal propagation's q of each block)",
    inVersionOne: false)
  public static let activationCValue = TraceDataset(
    "/activations/c_value", name: "activation_c_value", .float32, .blocks, index: .steps, presence: .activations,
    "c-value: the mean cosine similarity between two examples' outputs over the first 32 examples of the batch (1: the examples have collapsed onto one direction)",
    inVersionOne: false)
  public static let mergeInputNorm = TraceDataset(
    "/merges/input_norm", name: "merge_input_norm", .float32, .merges, index: .steps, presence: .merges,
    "‖x‖ = √(mean over the batch of ‖x_n‖²) of each input of each add and concat; at an add of a residual branch F(x) and its shortcut x (the families list the branch first) their ratio is ‖F(x)‖/‖x‖",
    inVersionOne: false)

  public static let curvatureStep = TraceDataset(
    "/curvature/step", name: "curvature_step", .int64, .one, index: .curvature, presence: .curvature, unit: "step",
    "the step of each curvature measurement")
  public static let gTg = TraceDataset(
    "/curvature/gTg", .float32, .one, index: .curvature, presence: .curvature, "gᵀg, g the step's gradient")
  public static let gHg = TraceDataset(
    "/curvature/gHg", .float32, .one, index: .curvature, presence: .curvature, "gᵀHg, exact (Taylor mode)")
  public static let gTd = TraceDataset(
    "/curvature/gTd", .float32, .one, index: .curvature, presence: .curvature, unit: "nats",
    "gᵀd, d the update: the first-order prediction of the loss change")
  public static let dHd = TraceDataset(
    "/curvature/dHd", .float32, .one, index: .curvature, presence: .curvature, "dᵀHd, exact (Taylor mode)")
  public static let predictedFirst = TraceDataset(
    "/curvature/predicted_first", .float32, .one, index: .curvature, presence: .curvature, unit: "nats", "Δ1 = gᵀd")
  public static let predictedSecond = TraceDataset(
    "/curvature/predicted_second", .float32, .one, index: .curvature, presence: .curvature, unit: "nats",
    "Δ2 = gᵀd + ½ dᵀHd")
  public static let actualDelta = TraceDataset(
    "/curvature/actual_delta", .float32, .one, index: .curvature, presence: .curvature, unit: "nats",
    "Δ = f_B(w + d) − f_B(w), same batch and BatchNorm mode")
  public static let epsilonStar = TraceDataset(
    "/curvature/epsilon_star", .float32, .one, index: .curvature, presence: .curvature,
    "ε* = gᵀg / gᵀHg; NaN when gᵀHg ≤ 0 (negative curvature)")
  public static let alpha = TraceDataset(
    "/curvature/alpha", .float32, .one, index: .curvature, presence: .curvature,
    "step quality α = 1/s* − 1, s* = −gᵀd / dᵀHd; NaN when dᵀHd ≤ 0")

  public static let layerCurvatureStep = TraceDataset(
    "/layer_curvature/step", name: "layer_curvature_step", .int64, .one, index: .layerCurvature,
    presence: .curvature, unit: "step", "the step of each per-layer measurement (`--layer-curvature-every`)",
    inVersionOne: false)
  public static let layerGHg = TraceDataset(
    "/layer_curvature/gHg", name: "layer_gHg", .float32, .layers, index: .layerCurvature, presence: .curvature,
    "g_lᵀ(Hg)_l per layer (they sum to gᵀHg)", versionOne: "/curvature/layer_gHg")

  public static let hessianTraceStep = TraceDataset(
    "/hessian_trace/step", name: "hessian_trace_step", .int64, .one, index: .hessianTrace, presence: .curvature,
    unit: "step", "the step of each trace estimate (`--trace-every`)", inVersionOne: false)
  public static let hessianTrace = TraceDataset(
    "/hessian_trace/trace", name: "hessian_trace", .float32, .one, index: .hessianTrace, presence: .curvature,
    "Hutchinson estimate of tr(H)", versionOne: "/curvature/hessian_trace")
  public static let layerHessianTrace = TraceDataset(
    "/hessian_trace/layer_trace", name: "layer_trace", .float32, .layers, index: .hessianTrace,
    presence: .curvature, "Hutchinson estimate of tr(H_ll) per layer (the same probes)",
    versionOne: "/curvature/layer_trace")

  public static let eigenvalueStep = TraceDataset(
    "/eigenvalue/step", name: "eigenvalue_step", .int64, .one, index: .eigenvalue, presence: .curvature,
    unit: "step", "the step of each eigenvalue estimate (`--eigen-every`)", inVersionOne: false)
  public static let topEigenvalue = TraceDataset(
    "/eigenvalue/top", name: "hessian_top_eigenvalue", .float32, .one, index: .eigenvalue, presence: .curvature,
    "dominant eigenvalue of H by power iteration", versionOne: "/curvature/hessian_top_eigenvalue")

  public static let spectrumStep = TraceDataset(
    "/spectrum/step", name: "spectrum_step", .int64, .one, index: .spectrum, presence: .spectrum, unit: "step",
    "the step of each spectrum (`--spectrum-every`), at the weights before its update, on its batch",
    inVersionOne: false)
  public static let spectrumLanczosSteps = TraceDataset(
    "/spectrum/lanczos_steps", name: "spectrum_lanczos_steps", .int32, .one, index: .spectrum, presence: .spectrum,
    unit: "H·v", "Lanczos steps of the eigenvalue run (fewer than asked when the Krylov space became invariant)",
    inVersionOne: false)
  public static let spectrumTop = TraceDataset(
    "/spectrum/top", name: "spectrum_top", .float32, .topK, index: .spectrum, presence: .spectrum,
    "the k largest eigenvalues of H (Lanczos Ritz values), descending", inVersionOne: false)
  public static let spectrumBottom = TraceDataset(
    "/spectrum/bottom", name: "spectrum_bottom", .float32, .topK, index: .spectrum, presence: .spectrum,
    "the k smallest eigenvalues of H, ascending (λ_min first: negative curvature)", inVersionOne: false)
  public static let spectrumGradientOverlap = TraceDataset(
    "/spectrum/gradient_overlap", name: "spectrum_gradient_overlap", .float32, .one, index: .spectrum,
    presence: .spectrum, unit: "fraction",
    "‖P_k g‖² / ‖g‖²: the gradient's share in the span of the top-k eigenvectors",
    inVersionOne: false)
  public static let spectrumUpdateOverlap = TraceDataset(
    "/spectrum/update_overlap", name: "spectrum_update_overlap", .float32, .one, index: .spectrum,
    presence: .spectrum, unit: "fraction", "‖P_k d‖² / ‖d‖², d the update the optimizer took", inVersionOne: false)
  public static let spectrumOutliers = TraceDataset(
    "/spectrum/outliers", name: "spectrum_outliers", .int32, .one, index: .spectrum, presence: .spectrum,
    unit: "eigenvalues", "top-k eigenvalues above the bulk edge (docs/design.md, \"Outliers\")", inVersionOne: false)
  public static let spectrumBulkEdge = TraceDataset(
    "/spectrum/bulk_edge", name: "spectrum_bulk_edge", .float32, .one, index: .spectrum, presence: .spectrum,
    "the bulk's upper edge: the largest quadrature node standing for many eigenvalues", inVersionOne: false)
  public static let spectrumNegativeMass = TraceDataset(
    "/spectrum/negative_mass", name: "spectrum_negative_mass", .float32, .one, index: .spectrum, presence: .spectrum,
    unit: "fraction", "the density's mass below −σ: the share of clearly negative curvature", inVersionOne: false)
  public static let spectrumSharpness = TraceDataset(
    "/spectrum/sharpness", name: "spectrum_sharpness", .float32, .one, index: .spectrum, presence: .spectrum,
    "λ_max of H (SGD) or of P^(−1/2) H P^(−1/2), P = diag(√v̂ + ε) from Adam's state after the step (Adam)",
    inVersionOne: false)
  public static let spectrumThreshold = TraceDataset(
    "/spectrum/threshold", name: "spectrum_threshold", .float32, .one, index: .spectrum, presence: .spectrum,
    "the edge of stability at the step's learning rate η: 2(1 + β)/η (SGD, momentum β), (2 + 2β₁)/((1 − β₁)η) (Adam)",
    inVersionOne: false)
  public static let spectrumNodes = TraceDataset(
    "/spectrum/nodes", name: "spectrum_nodes", .float32, .quadrature, index: .spectrum, presence: .spectrum,
    "each probe's quadrature nodes θ_j (eigenvalues of its Lanczos tridiagonal), ascending; NaN past its steps",
    inVersionOne: false)
  public static let spectrumWeights = TraceDataset(
    "/spectrum/weights", name: "spectrum_weights", .float32, .quadrature, index: .spectrum, presence: .spectrum,
    unit: "fraction",
    "each probe's quadrature weights τ_j (they sum to 1): the density is the mean over probes of Σ_j τ_j δ(t − θ_j)",
    inVersionOne: false)
  public static let spectrumSigma = TraceDataset(
    "/spectrum/sigma", name: "spectrum_sigma", .float32, .one, index: .spectrum, presence: .spectrum,
    "the Gaussian broadening σ of the density", inVersionOne: false)
  public static let spectrumGridLow = TraceDataset(
    "/spectrum/grid_low", name: "spectrum_grid_low", .float32, .one, index: .spectrum, presence: .spectrum,
    "the density grid's first point (the smallest node − 4σ)", inVersionOne: false)
  public static let spectrumGridHigh = TraceDataset(
    "/spectrum/grid_high", name: "spectrum_grid_high", .float32, .one, index: .spectrum, presence: .spectrum,
    "the density grid's last point (the largest node + 4σ); G points evenly spaced between", inVersionOne: false)
  public static let spectrumDensity = TraceDataset(
    "/spectrum/density", name: "spectrum_density", .float32, .grid, index: .spectrum, presence: .spectrum,
    unit: "1/curvature", "φ(t) on the grid: the broadened density, whose integral is 1", inVersionOne: false)

  public static let spectrumSeconds = TraceDataset(
    "/spectrum/seconds", name: "spectrum_seconds", .float32, .one, index: .spectrum, presence: .spectrum, unit: "s",
    "wall time of the measurement (its cost beside /epochs/seconds)", inVersionOne: false)

  public static let histogramEdges = TraceDataset(
    "/histograms/edges", name: "histogram_edges", .float32, .binEdges, index: nil, presence: .histograms,
    unit: "log10", "the bins' edges in log10 \\|x\\|: bin j holds 10^edge[j] ≤ \\|x\\| < 10^edge[j+1]",
    inVersionOne: false)
  public static let histogramStep = TraceDataset(
    "/histograms/step", name: "histogram_step", .int64, .one, index: .histograms, presence: .histograms,
    unit: "step", "the step of each histogram row (`--histogram-every`)", inVersionOne: false)
  public static let gradientHistogram = TraceDataset(
    "/histograms/gradients", name: "gradient_histogram", .int32, .layerBins, index: .histograms,
    presence: .histograms, unit: "elements", "counts of log10 \\|∂f/∂W\\| per layer and bin", inVersionOne: false)
  public static let gradientSpecials = TraceDataset(
    "/histograms/gradient_specials", name: "gradient_specials", .int32, .layerSpecials, index: .histograms,
    presence: .histograms, unit: "elements", specialsMeaning("the gradient's"), inVersionOne: false)
  public static let updateHistogram = TraceDataset(
    "/histograms/updates", name: "update_histogram", .int32, .layerBins, index: .histograms, presence: .histograms,
    unit: "elements", "counts of log10 \\|W_{t+1} − W_t\\| per layer and bin (the step the optimizer applied)",
    inVersionOne: false)
  public static let updateSpecials = TraceDataset(
    "/histograms/update_specials", name: "update_specials", .int32, .layerSpecials, index: .histograms,
    presence: .histograms, unit: "elements", specialsMeaning("the update's"), inVersionOne: false)
  public static let weightHistogram = TraceDataset(
    "/histograms/weights", name: "weight_histogram", .int32, .layerBins, index: .histograms, presence: .histograms,
    unit: "elements", "counts of log10 \\|W_t\\| per layer and bin, before the update", inVersionOne: false)
  public static let weightSpecials = TraceDataset(
    "/histograms/weight_specials", name: "weight_specials", .int32, .layerSpecials, index: .histograms,
    presence: .histograms, unit: "elements", specialsMeaning("the weights'"), inVersionOne: false)
  public static let activationHistogram = TraceDataset(
    "/histograms/activations", name: "activation_histogram", .int32, .blockBins, index: .histograms,
    presence: .activationHistograms, unit: "elements", "counts of log10 \\|x\\| of each block's output per bin",
    inVersionOne: false)
  public static let activationSpecials = TraceDataset(
    "/histograms/activation_specials", name: "activation_specials", .int32, .blockSpecials, index: .histograms,
    presence: .activationHistograms, unit: "elements", specialsMeaning("the block output's"), inVersionOne: false)

  public static let histogramSeconds = TraceDataset(
    "/histograms/seconds", name: "histogram_seconds", .float32, .one, index: .histograms, presence: .histograms,
    unit: "s", "wall time of the row's counting (its cost beside /epochs/seconds)", inVersionOne: false)

  public static let noiseStep = TraceDataset(
    "/noise/step", name: "noise_step", .int64, .one, index: .noise, presence: .noise, unit: "step",
    "the step of each gradient-noise row (`--noise-every`)", inVersionOne: false)
  public static let noiseBatch = TraceDataset(
    "/noise/batch", name: "noise_batch", .int32, .one, index: .noise, presence: .noise, unit: "examples",
    "N, the loss terms of the step's batch", inVersionOne: false)
  public static let noiseGroups = TraceDataset(
    "/noise/groups", name: "noise_groups", .int32, .one, index: .noise, presence: .noise, unit: "groups",
    "m, the groups of consecutive loss terms whose gradients g_j were taken through the step's forward pass",
    inVersionOne: false)
  public static let noiseGradientNormSquared = TraceDataset(
    "/noise/gradient_norm_squared", name: "noise_gradient_norm_squared", .float32, .one, index: .noise,
    presence: .noise, "\\|G\\|² ≈ \\|g\\|² − tr(Σ)/N, the expected gradient's squared length (unbiased; may be < 0)",
    inVersionOne: false)
  public static let noiseCovarianceTrace = TraceDataset(
    "/noise/covariance_trace", name: "noise_covariance_trace", .float32, .one, index: .noise, presence: .noise,
    "tr(Σ) ≈ Σ_j b_j \\|g_j − g\\|² / (m − 1), one loss term's gradient variance summed over parameters",
    inVersionOne: false)
  public static let noiseSimpleScale = TraceDataset(
    "/noise/b_simple", name: "noise_b_simple", .float32, .one, index: .noise, presence: .noise, unit: "examples",
    "B_simple = tr(Σ)/\\|G\\|², McCandlish et al.'s simple noise scale", inVersionOne: false)
  public static let noiseSignalToNoise = TraceDataset(
    "/noise/snr", name: "noise_snr", .float32, .one, index: .noise, presence: .noise,
    "\\|G\\|² / (tr(Σ)/N) = N/B_simple: below 1 the batch gradient is more noise than signal", inVersionOne: false)
  public static let layerNoiseGradientNormSquared = TraceDataset(
    "/noise/layer_gradient_norm_squared", name: "layer_noise_gradient_norm_squared", .float32, .layers,
    index: .noise, presence: .noise, "\\|G_l\\|² per layer (its weight, bias and BatchNorm parameters together)",
    inVersionOne: false)
  public static let layerNoiseCovarianceTrace = TraceDataset(
    "/noise/layer_covariance_trace", name: "layer_noise_covariance_trace", .float32, .layers, index: .noise,
    presence: .noise, "tr(Σ_l) per layer", inVersionOne: false)
  public static let layerNoiseSimpleScale = TraceDataset(
    "/noise/layer_b_simple", name: "layer_noise_b_simple", .float32, .layers, index: .noise, presence: .noise,
    unit: "examples", "B_simple,l = tr(Σ_l)/\\|G_l\\|² per layer", inVersionOne: false)
  public static let layerNoiseSignalToNoise = TraceDataset(
    "/noise/layer_snr", name: "layer_noise_snr", .float32, .layers, index: .noise, presence: .noise,
    "SNR_l = N \\|G_l\\|² / tr(Σ_l) per layer", inVersionOne: false)
  public static let noiseStepTaken = TraceDataset(
    "/noise/step_taken", name: "noise_step_taken", .float32, .one, index: .noise, presence: .noise,
    "−gᵀd / gᵀg: the update d the optimizer applied, as a step along −g (the learning rate for plain SGD)",
    inVersionOne: false)
  public static let noiseHessianCovarianceTrace = TraceDataset(
    "/noise/hessian_covariance_trace", name: "noise_hessian_covariance_trace", .float32, .one, index: .noise,
    presence: .noiseCurvature, "tr(HΣ) ≈ Σ_j b_j (g_j − g)ᵀH(g_j − g) / (m − 1), by Taylor mode", inVersionOne: false)
  public static let noiseExpectedCurvature = TraceDataset(
    "/noise/expected_curvature", name: "noise_expected_curvature", .float32, .one, index: .noise,
    presence: .noiseCurvature, "GᵀHG ≈ gᵀHg − tr(HΣ)/N, the curvature along the expected gradient",
    inVersionOne: false)
  public static let noiseCurvatureScale = TraceDataset(
    "/noise/b_noise", name: "noise_b_noise", .float32, .one, index: .noise, presence: .noiseCurvature,
    unit: "examples", "B_noise = tr(HΣ)/GᵀHG, McCandlish et al.'s noise scale", inVersionOne: false)
  public static let noiseEpsilonMax = TraceDataset(
    "/noise/epsilon_max", name: "noise_epsilon_max", .float32, .one, index: .noise, presence: .noiseCurvature,
    "ε_max = \\|G\\|²/GᵀHG, the paper's ε* for the expected gradient (NaN where GᵀHG ≤ 0)", inVersionOne: false)
  public static let noiseEpsilonOptimal = TraceDataset(
    "/noise/epsilon_opt", name: "noise_epsilon_opt", .float32, .one, index: .noise, presence: .noiseCurvature,
    "ε_opt(N) = ε_max / (1 + B_noise/N), the best step along −g at this batch size (compare step_taken)",
    inVersionOne: false)
  public static let noiseSeconds = TraceDataset(
    "/noise/seconds", name: "noise_seconds", .float32, .one, index: .noise, presence: .noise, unit: "s",
    "wall time of the measurement (its cost beside /epochs/seconds)", inVersionOne: false)

  /// The meaning of a specials dataset: what its seven columns count.
  private static func specialsMeaning(_ whose: String) -> String {
    "\(whose) elements outside the bins, columns "
      + HistogramSpecial.allCases.map { "`\($0.name)`" }.joined(separator: ", ")
      + " (0 < \\|x\\| below the range; finite, at or above it; the last counts finite non-zero x < 0 in any bin): "
      + "the bins and the first six count every element once"
  }

  public static let epochIndex = TraceDataset(
    "/epochs/epoch", .int32, .one, index: .epochs, unit: "epoch", "the epoch of each row (from 0)")
  public static let trainLoss = TraceDataset(
    "/epochs/train_loss", .float32, .one, index: .epochs, unit: "nats", "mean training loss over the epoch")
  public static let trainAccuracy = TraceDataset(
    "/epochs/train_accuracy", .float32, .one, index: .epochs, unit: "fraction", "training accuracy over the epoch")
  public static let validLoss = TraceDataset(
    "/epochs/valid_loss", .float32, .one, index: .epochs, unit: "nats",
    "validation loss after the epoch (BatchNorm in eval mode)")
  public static let validAccuracy = TraceDataset(
    "/epochs/valid_accuracy", .float32, .one, index: .epochs, unit: "fraction", "validation accuracy after the epoch")
  public static let epochSeconds = TraceDataset(
    "/epochs/seconds", .float32, .one, index: .epochs, unit: "s", "wall time of the epoch")
}

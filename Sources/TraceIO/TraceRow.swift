/// One row of one index, its values keyed by schema entry: `row[.loss] = 2.3`,
/// `row[values: .gradientMeanAbs] = meanAbs`. `TraceWriter.append(_:)` checks it against the
/// schema and the trace's layout (every dataset of the index the trace holds, one value per
/// layer or block where the entry says so) before buffering anything.
public struct TraceRow: Sendable {
  public let index: TraceIndex
  /// The index value: the step (for `.epochs`, the epoch).
  public var at: Int
  /// The values of each dataset that follows `index`, by path (not the index dataset itself).
  public private(set) var values: [TraceDataset: [Double]] = [:]

  public init(_ index: TraceIndex, at: Int) {
    self.index = index
    self.at = at
  }

  /// A dataset of width one. - Precondition: it follows this row's index.
  public subscript(_ dataset: TraceDataset) -> Double {
    get { values[dataset]?.first ?? .nan }
    set { self[values: dataset] = [newValue] }
  }

  /// A dataset's values (one per layer or block). - Precondition: it follows this row's index.
  public subscript(values dataset: TraceDataset) -> [Double] {
    get { values[dataset] ?? [] }
    set {
      precondition(
        dataset.index == index && dataset != index.dataset,
        "TraceRow: \(dataset.path) does not follow the \(index) index")
      values[dataset] = newValue
    }
  }

  /// Single-precision values (as the recorder computes them).
  public mutating func set(_ dataset: TraceDataset, _ values: [Float]) {
    self[values: dataset] = values.map(Double.init)
  }
}

/// The layers (weight tensors) and block activations a trace records, and whether it records
/// curvature: what decides which of the schema's datasets the file holds. One kind and one
/// parameter count per layer name: `TraceWriter` refuses (throws) a layout that has not.
public struct TraceLayout: Sendable {
  public var layerNames: [String]
  public var layerKinds: [String]
  public var layerParameters: [Int]
  /// Block names whose activations are recorded; nil when activations are not recorded.
  public var activationNames: [String]?
  public var recordsCurvature: Bool
  /// The shape of the recorded spectra; nil when spectra are not recorded.
  public var spectrum: SpectrumShape?
  /// The bins of the recorded log-magnitude histograms; nil when histograms are not recorded.
  public var histogramBins: LogHistogramBins?
  /// Whether it records gradient noise (`/noise`).
  public var recordsNoise: Bool
  /// The inputs of the model's add and concat layers whose norms are recorded (with the
  /// activations); nil when not recorded or the model has none.
  public var merges: [MergeColumn]?

  /// One input of an add or concat layer: a column of `/merges/input_norm`.
  public struct MergeColumn: Equatable, Sendable {
    public var layer: String
    public var kind: String
    public var input: String
    public init(layer: String, kind: String, input: String) {
      (self.layer, self.kind, self.input) = (layer, kind, input)
    }
  }

  /// The sizes of a spectrum row: k eigenvalues at each end, P probes of m Lanczos steps (the
  /// quadrature nodes and weights), G density grid points.
  public struct SpectrumShape: Equatable, Sendable {
    public var topK: Int
    public var probes: Int
    public var steps: Int
    public var gridPoints: Int
    public init(topK: Int, probes: Int, steps: Int, gridPoints: Int) {
      (self.topK, self.probes, self.steps, self.gridPoints) = (topK, probes, steps, gridPoints)
    }
  }

  public init(
    layerNames: [String], layerKinds: [String], layerParameters: [Int], activationNames: [String]?,
    recordsCurvature: Bool, spectrum: SpectrumShape? = nil, histogramBins: LogHistogramBins? = nil,
    recordsNoise: Bool = false, merges: [MergeColumn]? = nil
  ) {
    self.layerNames = layerNames
    self.layerKinds = layerKinds
    self.layerParameters = layerParameters
    self.activationNames = activationNames
    self.recordsCurvature = recordsCurvature
    self.spectrum = spectrum
    self.histogramBins = histogramBins
    self.recordsNoise = recordsNoise
    self.merges = merges.flatMap { $0.isEmpty ? nil : $0 }
  }

  /// Whether a trace of this layout holds `dataset`.
  public func holds(_ dataset: TraceDataset) -> Bool {
    switch dataset.presence {
    case .always: true
    case .activations: activationNames != nil
    case .curvature: recordsCurvature
    case .spectrum: spectrum != nil
    case .histograms: histogramBins != nil
    case .activationHistograms: histogramBins != nil && activationNames != nil
    case .noise: recordsNoise
    case .merges: merges != nil
    case .noiseCurvature: recordsNoise && recordsCurvature
    }
  }

  public func holds(_ index: TraceIndex) -> Bool { holds(index.dataset) }

  /// Values per row of `dataset`.
  public func width(of dataset: TraceDataset) -> Int { rowShape(of: dataset).reduce(1, *) }

  /// The shape of one row of `dataset` in the file: [] for one value, [L], [B], [k], [P, m], [G],
  /// [L, b], [B, b], [L, 7], [B, 7], [b + 1].
  public func rowShape(of dataset: TraceDataset) -> [Int] {
    let (layers, blocks) = (layerNames.count, activationNames?.count ?? 0)
    let (bins, specials) = (histogramBins?.count ?? 0, HistogramSpecial.allCases.count)
    return switch dataset.width {
    case .one: []
    case .layers: [layers]
    case .blocks: [blocks]
    case .topK: [spectrum?.topK ?? 0]
    case .quadrature: [spectrum?.probes ?? 0, spectrum?.steps ?? 0]
    case .grid: [spectrum?.gridPoints ?? 0]
    case .layerBins: [layers, bins]
    case .blockBins: [blocks, bins]
    case .layerSpecials: [layers, specials]
    case .blockSpecials: [blocks, specials]
    case .binEdges: [bins + 1]
    case .merges: [merges?.count ?? 0]
    }
  }
}

/// Receives the rows a `TraceWriter` has just written to its file (each flush, in index
/// order): another view of the same run kept in step with the trace (TensorBoard's event files).
public protocol TraceRowSink: AnyObject {
  func written(_ rows: [TraceRow], layout: TraceLayout) throws
}

import Foundation

/// Writes a trace (schema v2, `TraceSchema`): creates every dataset the layout holds up front,
/// each with `unit`, `description` and `index` attributes, then appends buffered rows, flushing
/// every `flushEvery` step rows and at epoch ends. After `start()` the file is in SWMR mode:
/// readers (`gradtrace tail`) can follow it, and a killed writer leaves a readable file holding
/// every row up to its last flush, with status "running".
public final class TraceWriter {
  public let path: String
  public let layout: TraceLayout
  public let flushEvery: Int
  /// The root attributes `config` and `model` (JSON).
  public let configuration: String
  public let model: String
  private var file: HDF5File?
  /// Rows waiting for the next flush, per index.
  private var buffered: [TraceIndex: [TraceRow]] = [:]
  private var stepsSinceFlush = 0
  /// Told of every row once it is in the file (after each flush).
  public var sinks: [any TraceRowSink] = []
  /// The first step whose loss or gradient statistics were not finite.
  public private(set) var firstNonFiniteStep: Int?
  /// Non-finite values seen in recorded step statistics.
  public private(set) var nonFiniteCount = 0

  /// Creates the file and its schema. - Throws: `HDF5Error` naming the file.
  public init(
    path: String, configuration: String, model: String, toolVersion: String, layout: TraceLayout, flushEvery: Int = 100
  ) throws(HDF5Error) {
    precondition(flushEvery >= 1, "TraceWriter: flushEvery must be at least 1")
    let layers = layout.layerNames.count
    guard layout.layerKinds.count == layers, layout.layerParameters.count == layers else {
      throw HDF5Error(
        operation: "cannot create the trace", file: path, objectPath: TraceDataset.layerName.path,
        details: [
          "\(layers) layer names need as many kinds and parameter counts, got \(layout.layerKinds.count) and \(layout.layerParameters.count)"
        ])
    }
    self.path = path
    self.layout = layout
    self.flushEvery = flushEvery
    self.configuration = configuration
    self.model = model
    // The schema is written under a temporary name and the file renamed into place once it is
    // complete: a run killed while creating its trace never leaves a half-made file at `path`.
    let partial = path + ".partial"
    let file = try HDF5File(partial, access: .createForAppending)
    try file.setAttribute("format", TraceSchema.format)
    try file.setAttribute("format_version", TraceSchema.formatVersion)
    try file.setAttribute("tool_version", toolVersion)
    try file.setAttribute("created", ISO8601DateFormatter().string(from: Date()))
    try file.setAttribute("config", configuration)
    try file.setAttribute("model", model)
    try file.writeStrings(layout.layerNames, to: TraceDataset.layerName.path, fixedLength: true)
    try file.writeStrings(layout.layerKinds, to: TraceDataset.layerKind.path, fixedLength: true)
    try file.write(
      layout.layerParameters.map { Int64($0) }, shape: [layers], to: TraceDataset.layerParameters.path)
    if let activations = layout.activationNames {
      try file.writeStrings(activations, to: TraceDataset.activationName.path, fixedLength: true)
    }
    if let merges = layout.merges {
      try file.writeStrings(merges.map(\.layer), to: TraceDataset.mergeLayer.path, fixedLength: true)
      try file.writeStrings(merges.map(\.kind), to: TraceDataset.mergeKind.path, fixedLength: true)
      try file.writeStrings(merges.map(\.input), to: TraceDataset.mergeInput.path, fixedLength: true)
    }
    if let bins = layout.histogramBins {
      if let problem = bins.problem {
        throw HDF5Error(
          operation: "cannot create the trace", file: path, objectPath: TraceDataset.histogramEdges.path,
          details: [problem])
      }
      try file.write(bins.edges.map { Float($0) }, shape: [bins.count + 1], to: TraceDataset.histogramEdges.path)
    }
    for dataset in TraceSchema.all where dataset.index != nil && layout.holds(dataset) {
      let shape = layout.rowShape(of: dataset)
      // Chunks of about 16 KB: dense step rows in long chunks, sparse and wide ones in shorter
      // (spectra, a few per run, in chunks of 8 rows; histograms, mostly empty bins, of 4
      // rows, compressed).
      let wide = shape.count >= 2
      let chunkRows =
        dataset.index == .spectrum
        ? 8 : wide ? 4 : dataset.index == .steps && shape.isEmpty ? 1024 : shape.isEmpty ? 256 : 64
      switch dataset.element {
      case .int64: try file.createAppendable(Int64.self, at: dataset.path, rowShape: shape, chunkRows: chunkRows)
      case .int32:
        try file.createAppendable(
          Int32.self, at: dataset.path, rowShape: shape, chunkRows: chunkRows, compressed: dataset.isCompressed)
      case .float32, .string:
        try file.createAppendable(Float.self, at: dataset.path, rowShape: shape, chunkRows: chunkRows)
      }
    }
    for dataset in TraceSchema.all where layout.holds(dataset) {
      try file.setAttribute("description", dataset.meaning, on: dataset.path)
      if !dataset.unit.isEmpty { try file.setAttribute("unit", dataset.unit, on: dataset.path) }
      if let index = dataset.index { try file.setAttribute("index", index.dataset.path, on: dataset.path) }
    }
    try file.createGroup(TraceSchema.summary)
    for name in ["test_loss", "test_accuracy"] { try file.setAttribute(name, Double.nan, on: TraceSchema.summary) }
    try file.setAttribute("best_epoch", Int64(-1), on: TraceSchema.summary)
    try file.setAttribute("status", "running", on: TraceSchema.summary)
    try file.flush()
    try file.rename(to: path)
    try file.startSingleWriterMultipleReader()
    self.file = file
  }

  /// Buffers a row: step rows flush every `flushEvery`, epoch rows at once, other rows with
  /// the next flush. A dataset of the row's index that the row does not set is written as NaN
  /// (not measured), so a loop written against this schema keeps working when statistics are
  /// added to it.
  /// - Throws: `HDF5Error` when the row does not fit the schema and this trace's layout (an
  ///   index the trace does not hold, a dataset it does not hold, a per-layer or per-block row
  ///   of the wrong length); nothing is buffered then, and the trace stays as it was.
  public func append(_ row: TraceRow) throws(HDF5Error) {
    guard layout.holds(row.index) else {
      throw rejected(row, row.index.dataset.path, "this trace was created without \(row.index.dataset.presence)")
    }
    for dataset in TraceSchema.datasets(following: row.index).dropFirst() where layout.holds(dataset) {
      guard let values = row.values[dataset] else { continue }
      let width = layout.width(of: dataset)
      guard values.count == width else {
        let what =
          switch dataset.width {
          case .one: ""
          case .layers: " (one per layer)"
          case .blocks: " (one per block)"
          case .topK: " (the top-k eigenvalues)"
          case .quadrature: " (probes × Lanczos steps)"
          case .grid: " (one per grid point)"
          case .layerBins: " (layers × bins)"
          case .blockBins: " (blocks × bins)"
          case .layerSpecials: " (layers × specials)"
          case .blockSpecials: " (blocks × specials)"
          case .binEdges: ""
          case .merges: " (one per add or concat input)"
          }
        throw rejected(row, dataset.path, "needs \(width) values\(what), got \(values.count)")
      }
    }
    if let extra = row.values.keys.first(where: { !layout.holds($0) }) {
      throw rejected(row, extra.path, "this trace does not hold it")
    }
    if row.index == .steps {
      let bad = row.values.reduce(0) { sum, entry in
        sum + (entry.key.watchesDivergence ? entry.value.reduce(0) { $0 + ($1.isFinite ? 0 : 1) } : 0)
      }
      if bad > 0 {
        nonFiniteCount += bad
        if firstNonFiniteStep == nil { firstNonFiniteStep = row.at }
      }
    }
    buffered[row.index, default: []].append(row)
    switch row.index {
    case .steps:
      stepsSinceFlush += 1
      if stepsSinceFlush >= flushEvery { try flush() }
    case .epochs: try flush()
    default: break
    }
  }

  /// A row that does not fit the schema, refused before anything is buffered.
  private func rejected(_ row: TraceRow, _ objectPath: String, _ reason: String) -> HDF5Error {
    HDF5Error(
      operation: "\(row.index == .epochs ? "epoch" : "step") \(row.at) not appended to", file: path,
      objectPath: objectPath, details: [reason])
  }

  /// Appends every buffered row to the file and flushes it.
  /// - Throws: `HDF5Error` for the file; a sink's failure is reported as one too (naming the
  ///   sink's own file), after the trace holds the rows.
  public func flush() throws(HDF5Error) {
    guard let file else { return }
    var written: [TraceRow] = []
    for index in TraceIndex.allCases {
      guard let rows = buffered[index], !rows.isEmpty else { continue }
      written += rows
      let n = rows.count
      for dataset in TraceSchema.datasets(following: index) where layout.holds(dataset) {
        let width = layout.width(of: dataset)
        let values =
          dataset == index.dataset
          ? rows.map { Double($0.at) }
          : rows.flatMap { $0.values[dataset] ?? Array(repeating: .nan, count: width) }
        switch dataset.element {
        case .int64: try file.append(values.map { Int64($0) }, rows: n, to: dataset.path)
        case .int32: try file.append(values.map { Int32($0) }, rows: n, to: dataset.path)
        case .float32, .string: try file.append(values.map { Float($0) }, rows: n, to: dataset.path)
        }
      }
      buffered[index] = []
    }
    try file.flush()
    stepsSinceFlush = 0
    guard !written.isEmpty else { return }
    for sink in sinks {
      do {
        try sink.written(written, layout: layout)
      } catch {
        throw HDF5Error(
          operation: "the trace holds the rows, but a view of it failed: \(error)", file: path, objectPath: "",
          details: [])
      }
    }
  }

  /// Flushes, closes, and records how the run ended in `/summary`'s attributes (status
  /// "finished" or "failed: reason", test metrics, the first non-finite step).
  /// Whether `finish` has closed the trace.
  public private(set) var isFinished = false

  public func finish(status: String, testLoss: Double = .nan, testAccuracy: Double = .nan, bestEpoch: Int = -1)
    throws(HDF5Error)
  {
    try flush()
    try file?.close()
    file = nil
    // SWMR forbids changing attributes, so the summary is written after reopening normally.
    let update = try HDF5File(path, access: .update)
    try update.setAttribute("status", status, on: TraceSchema.summary)
    try update.setAttribute("test_loss", testLoss, on: TraceSchema.summary)
    try update.setAttribute("test_accuracy", testAccuracy, on: TraceSchema.summary)
    try update.setAttribute("best_epoch", Int64(bestEpoch), on: TraceSchema.summary)
    try update.setAttribute("nonfinite_count", Int64(nonFiniteCount), on: TraceSchema.summary)
    try update.setAttribute("first_nonfinite_step", Int64(firstNonFiniteStep ?? -1), on: TraceSchema.summary)
    try update.close()
    isFinished = true
  }
}

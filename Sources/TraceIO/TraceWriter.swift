import Foundation

/// Writes a trace (schema v1): creates every dataset up front, then appends buffered rows,
/// flushing every `flushEvery` steps and at epoch ends. After `start()` the file is in SWMR
/// mode: readers (`gradtrace tail`) can follow it, and a killed writer leaves a readable file
/// holding every step up to its last flush, with status "running".
public final class TraceWriter {
  public let path: String
  public let layout: TraceLayout
  public let flushEvery: Int
  private var file: HDF5File?
  private var steps: [StepRecord] = []
  private var curvature: [CurvatureRecord] = []
  private var epochs: [EpochRow] = []
  private var stepsSinceFlush = 0
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
        operation: "cannot create the trace", file: path, objectPath: TraceSchema.layerName,
        details: [
          "\(layers) layer names need as many kinds and parameter counts, got \(layout.layerKinds.count) and \(layout.layerParameters.count)"
        ])
    }
    self.path = path
    self.layout = layout
    self.flushEvery = flushEvery
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
    try file.writeStrings(layout.layerNames, to: TraceSchema.layerName)
    try file.writeStrings(layout.layerKinds, to: TraceSchema.layerKind)
    try file.write(
      layout.layerParameters.map { Int64($0) }, shape: [layout.layerNames.count], to: TraceSchema.layerParameters)
    try file.createAppendable(Int64.self, at: TraceSchema.step)
    try file.createAppendable(Int32.self, at: TraceSchema.epoch)
    for path in [TraceSchema.loss, TraceSchema.accuracy, TraceSchema.learningRate] {
      try file.createAppendable(Float.self, at: path)
    }
    for path in [
      TraceSchema.gradientMeanAbs, TraceSchema.gradientL2Norm, TraceSchema.gradientMaxAbs, TraceSchema.updateL2Norm,
      TraceSchema.weightL2Norm,
    ] {
      try file.createAppendable(Float.self, at: path, columns: layers, chunkRows: 256)
    }
    if let activations = layout.activationNames {
      try file.writeStrings(activations, to: TraceSchema.activationName)
      for path in TraceSchema.activationStatistics {
        try file.createAppendable(Float.self, at: path, columns: activations.count, chunkRows: 256)
      }
    }
    if layout.recordsCurvature {
      try file.createAppendable(Int64.self, at: TraceSchema.curvatureStep, chunkRows: 256)
      for path in TraceSchema.curvatureScalars { try file.createAppendable(Float.self, at: path, chunkRows: 256) }
      try file.createAppendable(Float.self, at: TraceSchema.curvatureLayerGHg, columns: layers, chunkRows: 64)
      try file.createAppendable(Float.self, at: TraceSchema.curvatureLayerTrace, columns: layers, chunkRows: 64)
    }
    for path in TraceSchema.epochColumns {
      if path.hasSuffix("/epoch") {
        try file.createAppendable(Int32.self, at: path, chunkRows: 64)
      } else {
        try file.createAppendable(Float.self, at: path, chunkRows: 64)
      }
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

  /// Buffers a step; flushes every `flushEvery` steps.
  /// - Throws: `HDF5Error` when a row does not have one value per layer (or block); nothing is
  ///   buffered then, and the trace stays as it was.
  public func append(_ record: StepRecord) throws(HDF5Error) {
    let layers = layout.layerNames.count
    for (path, row) in [
      (TraceSchema.gradientMeanAbs, record.gradientMeanAbs), (TraceSchema.gradientL2Norm, record.gradientL2Norm),
      (TraceSchema.gradientMaxAbs, record.gradientMaxAbs), (TraceSchema.updateL2Norm, record.updateL2Norm),
      (TraceSchema.weightL2Norm, record.weightL2Norm),
    ] where row.count != layers {
      throw rejected(step: record.step, path, "needs \(layers) values (one per layer), got \(row.count)")
    }
    if let names = layout.activationNames, !record.activations.isEmpty {
      guard record.activations.count == names.count else {
        throw rejected(
          step: record.step, TraceSchema.activationStatistics[0],
          "needs \(names.count) blocks, got \(record.activations.count)")
      }
      if let bad = record.activations.firstIndex(where: { $0.count != TraceSchema.activationStatistics.count }) {
        throw rejected(
          step: record.step, TraceSchema.activationStatistics[0],
          "block \(names[bad]) needs \(TraceSchema.activationStatistics.count) statistics, got \(record.activations[bad].count)"
        )
      }
    }
    let values = [record.loss] + record.gradientMeanAbs + record.gradientL2Norm + record.gradientMaxAbs
    let bad = values.reduce(0) { $0 + ($1.isFinite ? 0 : 1) }
    if bad > 0 {
      nonFiniteCount += bad
      if firstNonFiniteStep == nil { firstNonFiniteStep = record.step }
    }
    steps.append(record)
    stepsSinceFlush += 1
    if stepsSinceFlush >= flushEvery { try flush() }
  }

  /// Buffers a curvature measurement (written with the next flush).
  /// - Throws: `HDF5Error` when the trace records no curvature or a row has the wrong length;
  ///   nothing is buffered then, and the trace stays as it was.
  public func append(_ record: CurvatureRecord) throws(HDF5Error) {
    guard layout.recordsCurvature else {
      throw rejected(step: record.step, TraceSchema.curvatureStep, "this trace was created without curvature")
    }
    let layers = layout.layerNames.count
    if record.scalars.count != TraceSchema.curvatureScalars.count {
      throw rejected(
        step: record.step, "/curvature",
        "needs \(TraceSchema.curvatureScalars.count) scalars, got \(record.scalars.count)")
    }
    for (path, row) in [
      (TraceSchema.curvatureLayerGHg, record.layerGHg), (TraceSchema.curvatureLayerTrace, record.layerTrace),
    ] where row.count != layers {
      throw rejected(step: record.step, path, "needs \(layers) values (one per layer), got \(row.count)")
    }
    curvature.append(record)
  }

  /// A row that does not fit the schema, refused before anything is buffered.
  private func rejected(step: Int, _ objectPath: String, _ reason: String) -> HDF5Error {
    HDF5Error(operation: "step \(step) not appended to", file: path, objectPath: objectPath, details: [reason])
  }

  /// Buffers an epoch row and flushes.
  public func append(_ row: EpochRow) throws(HDF5Error) {
    epochs.append(row)
    try flush()
  }

  /// Appends every buffered row to the file and flushes it.
  public func flush() throws(HDF5Error) {
    guard let file else { return }
    if !steps.isEmpty {
      let n = steps.count
      try file.append(steps.map { Int64($0.step) }, rows: n, to: TraceSchema.step)
      try file.append(steps.map { Int32($0.epoch) }, rows: n, to: TraceSchema.epoch)
      try file.append(steps.map(\.loss), rows: n, to: TraceSchema.loss)
      try file.append(steps.map(\.accuracy), rows: n, to: TraceSchema.accuracy)
      try file.append(steps.map(\.learningRate), rows: n, to: TraceSchema.learningRate)
      try file.append(steps.flatMap(\.gradientMeanAbs), rows: n, to: TraceSchema.gradientMeanAbs)
      try file.append(steps.flatMap(\.gradientL2Norm), rows: n, to: TraceSchema.gradientL2Norm)
      try file.append(steps.flatMap(\.gradientMaxAbs), rows: n, to: TraceSchema.gradientMaxAbs)
      try file.append(steps.flatMap(\.updateL2Norm), rows: n, to: TraceSchema.updateL2Norm)
      try file.append(steps.flatMap(\.weightL2Norm), rows: n, to: TraceSchema.weightL2Norm)
      if let names = layout.activationNames {
        for (statistic, path) in TraceSchema.activationStatistics.enumerated() {
          let row = steps.flatMap { record in
            record.activations.count == names.count
              ? record.activations.map { $0[statistic] } : Array(repeating: Float.nan, count: names.count)
          }
          try file.append(row, rows: n, to: path)
        }
      }
      steps.removeAll(keepingCapacity: true)
    }
    if !curvature.isEmpty {
      let n = curvature.count
      try file.append(curvature.map { Int64($0.step) }, rows: n, to: TraceSchema.curvatureStep)
      for (index, path) in TraceSchema.curvatureScalars.enumerated() {
        try file.append(curvature.map { Float($0.scalars[index]) }, rows: n, to: path)
      }
      try file.append(curvature.flatMap(\.layerGHg), rows: n, to: TraceSchema.curvatureLayerGHg)
      try file.append(curvature.flatMap(\.layerTrace), rows: n, to: TraceSchema.curvatureLayerTrace)
      curvature.removeAll()
    }
    if !epochs.isEmpty {
      for (index, path) in TraceSchema.epochColumns.enumerated() {
        if index == 0 {
          try file.append(epochs.map { Int32($0.values[0]) }, rows: epochs.count, to: path)
        } else {
          try file.append(epochs.map { Float($0.values[index]) }, rows: epochs.count, to: path)
        }
      }
      epochs.removeAll()
    }
    try file.flush()
    stepsSinceFlush = 0
  }

  /// Flushes, closes, and records how the run ended in `/summary`'s attributes (status
  /// "finished" or "failed: reason", test metrics, the first non-finite step).
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
  }
}

import Foundation

extension TraceWriter {
  /// Continues the trace of an interrupted run that resumes from a checkpoint: keeps the
  /// steps before `step` and the first `epochs` epoch rows (what the checkpoint had seen),
  /// drops what was recorded after it, and returns a writer that appends from there. The old
  /// file is rewritten (a killed SWMR writer leaves a file that can only be read), under the
  /// same path, with the same root attributes. A trace that does not fit the run is refused
  /// before anything is touched; if the rewrite fails, the original is put back. The trace of a
  /// killed writer (status "running") is recovered first, as `TraceRecovery.recover` does.
  public static func continuing(
    _ path: String, layout: TraceLayout, beforeStep step: Int, epochs: Int, flushEvery: Int = 100
  ) throws(HDF5Error) -> TraceWriter {
    let killed: Bool
    do {
      let check = try TraceReader(path: path)
      guard try check.layerNames() == layout.layerNames,
        try check.activationNames() == layout.activationNames, check.recordsCurvature == layout.recordsCurvature,
        try check.spectrumShape() == layout.spectrum, try check.histogramBins() == layout.histogramBins,
        check.recordsNoise == layout.recordsNoise, try check.merges() == layout.merges
      else {
        throw HDF5Error(
          operation:
            "cannot continue: it records other layers or quantities than this run (resume with the run's own --record)",
          file: path, objectPath: "/", details: [])
      }
      killed = check.status == "running"
    }
    if killed { _ = try TraceRecovery.recover(path) }
    let old = path + ".continuing"
    try? FileManager.default.removeItem(atPath: old)
    do {
      try FileManager.default.moveItem(atPath: path, toPath: old)
    } catch {
      throw HDF5Error(operation: "cannot move aside to continue: \(error)", file: path, objectPath: "", details: [])
    }
    do {
      return try rewrite(old, as: path, layout: layout, beforeStep: step, epochs: epochs, flushEvery: flushEvery)
    } catch {
      try? FileManager.default.removeItem(atPath: path)
      try? FileManager.default.moveItem(atPath: old, toPath: path)
      throw error
    }
  }

  /// Writes `path` from the rows of `old` before `step` (the first `epochs` epoch rows), then
  /// removes `old`. Every index of the schema is copied the same way, read through
  /// `TraceReader`, so a version 1 trace continues as version 2: its sparse quantities move to
  /// their own indices, and a per-step dataset it did not record is NaN in its old rows (the
  /// writer's value for what a row leaves out).
  private static func rewrite(
    _ old: String, as path: String, layout: TraceLayout, beforeStep step: Int, epochs: Int, flushEvery: Int
  ) throws(HDF5Error) -> TraceWriter {
    let reader = try TraceReader(path: old)
    let writer = try TraceWriter(
      path: path, configuration: reader.configuration, model: reader.model, toolVersion: reader.toolVersion,
      layout: layout, flushEvery: flushEvery)
    for index in TraceIndex.allCases where layout.holds(index) && reader.holds(index) {
      let at = try reader.steps(index)
      let kept = index == .epochs ? min(epochs, at.count) : at.prefix { $0 < step }.count
      for row in try reader.traceRows(index, start: 0, count: kept) { try writer.append(row) }
    }
    try writer.flush()
    try? FileManager.default.removeItem(atPath: old)
    return writer
  }
}

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
        try check.activationNames() == layout.activationNames, check.recordsCurvature == layout.recordsCurvature
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

  /// Writes `path` from the rows of `old` before `step`, then removes `old`.
  private static func rewrite(
    _ old: String, as path: String, layout: TraceLayout, beforeStep step: Int, epochs: Int, flushEvery: Int
  ) throws(HDF5Error) -> TraceWriter {
    let reader = try TraceReader(path: old)
    let writer = try TraceWriter(
      path: path, configuration: reader.configuration, model: reader.model, toolVersion: reader.toolVersion,
      layout: layout, flushEvery: flushEvery)
    let file = reader.file
    let layers = layout.layerNames.count
    let stepIndex = try file.read(Int64.self, from: TraceSchema.step).values
    let kept = stepIndex.prefix { $0 < step }.count
    func rows(_ objectPath: String, _ count: Int) throws(HDF5Error) -> [Float] {
      try file.readRows(Float.self, from: objectPath, start: 0, count: count)
    }
    let epoch = try file.readRows(Int32.self, from: TraceSchema.epoch, start: 0, count: kept)
    let scalars = try [TraceSchema.loss, TraceSchema.accuracy, TraceSchema.learningRate].map { (p) throws(HDF5Error) in
      try rows(p, kept)
    }
    var perLayer: [[Float]] = []
    for objectPath in [
      TraceSchema.gradientMeanAbs, TraceSchema.gradientL2Norm, TraceSchema.gradientMaxAbs, TraceSchema.updateL2Norm,
      TraceSchema.weightL2Norm,
    ] { perLayer.append(try rows(objectPath, kept)) }
    let blocks = layout.activationNames?.count ?? 0
    var activations: [[Float]] = []
    if blocks > 0 {
      for objectPath in TraceSchema.activationStatistics { activations.append(try rows(objectPath, kept)) }
    }
    for row in 0..<kept {
      func slice(_ values: [Float]) -> [Float] { Array(values[(row * layers)..<((row + 1) * layers)]) }
      try writer.append(
        StepRecord(
          step: Int(stepIndex[row]), epoch: Int(epoch[row]), loss: scalars[0][row], accuracy: scalars[1][row],
          learningRate: scalars[2][row], gradientMeanAbs: slice(perLayer[0]), gradientL2Norm: slice(perLayer[1]),
          gradientMaxAbs: slice(perLayer[2]), updateL2Norm: slice(perLayer[3]), weightL2Norm: slice(perLayer[4]),
          activations: (0..<blocks).map { block in activations.map { $0[row * blocks + block] } }))
    }
    if layout.recordsCurvature {
      let measured = try file.read(Int64.self, from: TraceSchema.curvatureStep).values.prefix { $0 < step }.count
      let values = try TraceSchema.curvatureScalars.map { (p) throws(HDF5Error) in
        try file.readRows(Double.self, from: p, start: 0, count: measured)
      }
      let steps = try file.readRows(Int64.self, from: TraceSchema.curvatureStep, start: 0, count: measured)
      let gHg = try rows(TraceSchema.curvatureLayerGHg, measured)
      let trace = try rows(TraceSchema.curvatureLayerTrace, measured)
      for row in 0..<measured {
        try writer.append(
          CurvatureRecord(
            step: Int(steps[row]), scalars: values.map { $0[row] },
            layerGHg: Array(gHg[(row * layers)..<((row + 1) * layers)]),
            layerTrace: Array(trace[(row * layers)..<((row + 1) * layers)])))
      }
    }
    let columns = try reader.columns(TraceSchema.epochColumns)
    let epochRows = min(epochs, columns[0].count)
    for row in 0..<epochRows {
      try writer.append(
        EpochRow(
          epoch: Int(columns[0][row]), trainLoss: columns[1][row], trainAccuracy: columns[2][row],
          validLoss: columns[3][row], validAccuracy: columns[4][row], seconds: columns[5][row]))
    }
    try writer.flush()
    try? FileManager.default.removeItem(atPath: old)
    return writer
  }
}

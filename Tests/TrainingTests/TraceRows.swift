import TraceIO

/// Trace rows for tests: every dataset of the index set from a few numbers.
enum TraceRows {
  /// A step row: `loss`; per layer `gradientMeanAbs`, 1 elsewhere; per block `[mean, 1, 0.5, NaN]`.
  static func step(
    _ step: Int, epoch: Int, loss: Float, gradientMeanAbs: [Float], blocks: [Float]? = nil, layers: Int? = nil
  ) -> TraceRow {
    var row = TraceRow(.steps, at: step)
    row[.epoch] = Double(epoch)
    row[.loss] = Double(loss)
    row[.accuracy] = 0.5
    row[.learningRate] = Double(Float(1e-3))
    let ones = Array(repeating: 1.0, count: layers ?? gradientMeanAbs.count)
    for dataset in TraceSchema.datasets(following: .steps) where dataset.width == .layers {
      row[values: dataset] = ones
    }
    row.set(.gradientMeanAbs, gradientMeanAbs)
    if let blocks {
      row.set(.activationMean, blocks)
      row[values: .activationStd] = blocks.map { _ in 1 }
      row[values: .activationFractionNegative] = blocks.map { _ in 0.5 }
      row[values: .activationFractionSaturated] = blocks.map { _ in .nan }
    }
    return row
  }

  /// A curvature measurement with every scalar `value`.
  static func curvature(_ step: Int, _ value: Double) -> TraceRow {
    var row = TraceRow(.curvature, at: step)
    for dataset in TraceSchema.datasets(following: .curvature).dropFirst() { row[dataset] = value }
    return row
  }

  static func epoch(_ epoch: Int) -> TraceRow {
    var row = TraceRow(.epochs, at: epoch)
    for dataset in TraceSchema.datasets(following: .epochs).dropFirst() { row[dataset] = 0.5 }
    return row
  }
}

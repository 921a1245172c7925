import Foundation
import TraceIO

/// The tables `gradtrace export` and `gradtrace compare` write. Column names and meanings are
/// stable (scripts key on them); new columns may be appended, none renamed.
public enum TraceTable: String, CaseIterable, Sendable {
  /// One row per run: the paper's Table 1 (settings, test and train accuracy) plus gradient
  /// health (verdict, first/last flow ratio, vanishing depth) and the Taylor summary.
  case summary
  /// One row per run, epoch and layer: the gradient flow (mean |g|) as the paper plots it.
  case gradients
  /// One row per curvature measurement: every scalar of /curvature.
  case curvature
  /// One row per epoch: train and validation loss and accuracy, seconds.
  case epochs
  /// One row per recorded step: loss, accuracy, learning rate.
  case steps

  public var columns: [TableColumn] {
    switch self {
    case .summary:
      [
        .init("run", .text), .init("model", .text), .init("dataset", .text), .init("batch_size", .integer),
        .init("learning_rate", .number), .init("weight_decay", .number), .init("epochs", .integer),
        .init("test_accuracy", .fraction), .init("train_accuracy", .fraction),
        .init("best_valid_accuracy", .fraction), .init("test_loss", .number), .init("status", .text),
        .init("verdict", .text), .init("first_last_ratio", .number), .init("vanishing_depth", .integer),
        .init("nonfinite_steps", .integer), .init("taylor_correlation", .number),
        .init("median_step_ratio", .number),
      ]
    case .gradients:
      [
        .init("run", .text), .init("epoch", .integer), .init("layer_index", .integer), .init("layer", .text),
        .init("mean_abs_epoch_mean", .number), .init("mean_abs_last_step", .number),
      ]
    case .curvature:
      [.init("run", .text), .init("step", .integer)]
        + TraceSchema.curvatureScalars.map { .init(String($0.dropFirst("/curvature/".count)), .number) }
    case .epochs:
      [.init("run", .text)]
        + TraceSchema.epochColumns.map {
          let name = String($0.dropFirst("/epochs/".count))
          return .init(name, name == "epoch" ? .integer : name.hasSuffix("accuracy") ? .fraction : .number)
        }
    case .steps:
      [
        .init("run", .text), .init("step", .integer), .init("epoch", .integer), .init("loss", .number),
        .init("accuracy", .fraction), .init("learning_rate", .number),
      ]
    }
  }

  /// What one column means, for `--help` and the README.
  public static let columnHelp = """
    summary: run (file name), model, dataset, batch_size, learning_rate,
      weight_decay, epochs (completed), test_accuracy (on the best checkpoint),
      train_accuracy (last epoch), best_valid_accuracy, test_loss, status,
      verdict, first_last_ratio (first/last layer mean |g| at the last step),
      vanishing_depth (layers from the output until the flow falls below τ·head;
      empty: never), nonfinite_steps, taylor_correlation (second-order prediction
      against the actual change), median_step_ratio (median ε/ε*).
    gradients: run, epoch, layer_index (0 = input side), layer,
      mean_abs_epoch_mean (mean over the epoch's recorded steps of mean |g|),
      mean_abs_last_step (at its last step).
    curvature: run, step, gTg, gHg, gTd, dHd, predicted_first, predicted_second,
      actual_delta, epsilon_star, alpha, hessian_trace, hessian_top_eigenvalue
      (NaN where not measured or undefined).
    epochs: run, epoch, train_loss, train_accuracy, valid_loss, valid_accuracy,
      seconds.
    steps: run, step, epoch, loss, accuracy, learning_rate.

    Accuracies are fractions in csv and json, percentages in text, markdown and
    LaTeX.
    """

  /// Appends this table's rows for one trace. Per-step tables are read in blocks of
  /// `blockRows` (memory stays bounded); summary and gradients come from `analysis`.
  public func appendRows(
    of analysis: @autoclosure () throws -> TraceAnalysis, path: String, to writer: inout TableWriter,
    blockRows: Int = 4096
  ) throws {
    switch self {
    case .summary:
      writer.append(Self.summaryRow(try analysis()))
    case .gradients:
      let analysis = try analysis()
      for (e, epoch) in analysis.epochNumbers.enumerated() {
        for (index, layer) in analysis.layers.enumerated() {
          writer.append([
            .text(analysis.run.name), .integer(epoch), .integer(index), .text(layer.name),
            .number(layer.epochMean[e]), .number(layer.epochLastStep[e]),
          ])
        }
      }
    case .curvature:
      let reader = try TraceReader(path: path)
      guard reader.recordsCurvature else { return }
      let paths = [TraceSchema.curvatureStep] + TraceSchema.curvatureScalars
      try Self.stream(reader, paths, blockRows: blockRows, to: &writer) { run, values, row in
        [.text(run), .integer(Int(values[0][row]))] + values.dropFirst().map { .number($0[row]) }
      }
    case .epochs:
      let reader = try TraceReader(path: path)
      try Self.stream(reader, TraceSchema.epochColumns, blockRows: blockRows, to: &writer) { run, values, row in
        [.text(run), .integer(Int(values[0][row]))] + values.dropFirst().map { .number($0[row]) }
      }
    case .steps:
      let reader = try TraceReader(path: path)
      let paths = [
        TraceSchema.step, TraceSchema.epoch, TraceSchema.loss, TraceSchema.accuracy, TraceSchema.learningRate,
      ]
      try Self.stream(reader, paths, blockRows: blockRows, to: &writer) { run, values, row in
        [.text(run), .integer(Int(values[0][row])), .integer(Int(values[1][row]))]
          + values.dropFirst(2).map { .number($0[row]) }
      }
    }
  }

  public static func summaryRow(_ analysis: TraceAnalysis) -> [TableCell] {
    let run = analysis.run
    return [
      .text(run.name), .text(run.model), TableCell(run.dataset), TableCell(run.batchSize),
      TableCell(run.learningRate), TableCell(run.weightDecay), .integer(analysis.epochs),
      TableCell(analysis.testAccuracy), TableCell(analysis.finalTrainAccuracy),
      TableCell(analysis.bestValidAccuracy), TableCell(analysis.testLoss), .text(analysis.status),
      .text(analysis.verdict), TableCell(analysis.steps > 0 ? analysis.firstToLastRatio : nil),
      TableCell(analysis.vanishingDepth), .integer(analysis.nonFiniteSteps),
      TableCell(analysis.taylor?.correlation), TableCell(analysis.taylor?.stepRatioQuantiles[1]),
    ]
  }

  /// Reads the rows all `paths` ([N] datasets) have in common, block by block.
  private static func stream(
    _ reader: TraceReader, _ paths: [String], blockRows: Int, to writer: inout TableWriter,
    row makeRow: (String, [[Double]], Int) -> [TableCell]
  ) throws {
    let run = RunInfo(reader: reader).name
    let rows = try reader.commonRowCount(vectors: paths, columns: 0)
    let single = try paths.map { try reader.file.storesSinglePrecision($0) }
    var start = 0
    while start < rows {
      let count = min(blockRows, rows - start)
      let values = try zip(paths, single).map { path, single in
        let values = try reader.file.readRows(Double.self, from: path, start: start, count: count)
        // A float32 value prints as the shortest decimal that reads back to the same Float
        // (0.03, not 0.029999999329447746).
        return single ? values.map { Double(Float($0).description) ?? $0 } : values
      }
      for row in 0..<count { writer.append(makeRow(run, values, row)) }
      start += count
    }
  }
}

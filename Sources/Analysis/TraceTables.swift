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
  /// One row per recorded step and layer: every per-layer statistic of the schema (gradients,
  /// updates, weights; the per-layer curvature and Hessian trace at the steps they were measured).
  case layers
  /// One row per recorded step and block: every per-block activation statistic.
  case activations
  /// One row per spectrum and rank r = 1…k: the r-th largest and r-th smallest eigenvalue, then
  /// the spectrum's scalars (overlaps, outliers, sharpness, threshold, …), the same on each rank.
  case spectrum
  /// One row per gradient-noise measurement: every scalar of /noise (the per-layer values are
  /// in the layers table, at the steps they were measured).
  case noise

  /// The noise table's values.
  static let noiseDatasets = TraceSchema.datasets(following: .noise).dropFirst().filter { $0.width == .one }

  /// The spectrum table's scalar values.
  static let spectrumDatasets = TraceSchema.datasets(following: .spectrum).dropFirst().filter { $0.width == .one }

  /// The curvature table's values: the measurement's scalars, then the sparser ones (Hessian
  /// trace, top eigenvalue) at the steps they were measured, NaN at the others.
  static let curvatureDatasets = TraceIndex.allCases.filter { $0.versionOneParent == .curvature }.flatMap {
    TraceSchema.datasets(following: $0).dropFirst().filter { $0.width == .one }
  }

  /// The layers and activations tables' values: the per-step datasets of that width, then the
  /// sparse ones joined at their steps.
  static func perEntryDatasets(_ width: TraceDataset.Width) -> [TraceDataset] {
    TraceIndex.allCases.filter { $0 != .epochs }.flatMap { TraceSchema.datasets(following: $0) }.filter {
      $0.width == width
    }
  }

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
      [.init("run", .text), .init("step", .integer)] + Self.curvatureDatasets.map(Self.column)
    case .epochs:
      [.init("run", .text)] + TraceSchema.datasets(following: .epochs).map(Self.column)
    case .steps:
      [.init("run", .text)] + TraceSchema.datasets(following: .steps).filter { $0.width == .one }.map(Self.column)
    case .layers:
      [
        .init("run", .text), .init("step", .integer), .init("epoch", .integer), .init("layer_index", .integer),
        .init("layer", .text),
      ] + Self.perEntryDatasets(.layers).map(Self.column)
    case .activations:
      [
        .init("run", .text), .init("step", .integer), .init("epoch", .integer), .init("block_index", .integer),
        .init("block", .text),
      ] + Self.perEntryDatasets(.blocks).map(Self.column)
    case .spectrum:
      [
        .init("run", .text), .init("step", .integer), .init("rank", .integer), Self.column(.spectrumTop),
        Self.column(.spectrumBottom),
      ] + Self.spectrumDatasets.map(Self.column)
    case .noise:
      [.init("run", .text), .init("step", .integer)] + Self.noiseDatasets.map(Self.column)
    }
  }

  /// A dataset's column: its schema name; fractions as fractions, integers as integers.
  static func column(_ dataset: TraceDataset) -> TableColumn {
    let kind: TableColumn.Kind =
      dataset.element == .float32 ? (dataset.unit == "fraction" ? .fraction : .number) : .integer
    return TableColumn(dataset.name, kind)
  }

  /// What one column means, for `--help` and the README.
  public static var columnHelp: String {
    """
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
    \(schemaTables)

    Accuracies are fractions in csv and json, percentages in text, markdown and
    LaTeX.
    """
  }

  /// The per-step tables' columns, from the schema (docs/trace-format.md defines each).
  static var schemaTables: String {
    [TraceTable.curvature, .epochs, .steps, .layers, .activations, .spectrum, .noise].map { table in
      let note =
        switch table {
        case .curvature: " (NaN where not measured or undefined)"
        case .layers: " (the curvature ones NaN where not measured)"
        case .spectrum: " (docs/trace-format.md, /spectrum)"
        case .noise: " (docs/trace-format.md, /noise; the curvature ones NaN without curvature)"
        default: ""
        }
      return wrapped("\(table.rawValue): " + table.columns.map(\.name).joined(separator: ", ") + note + ".")
    }.joined(separator: "\n")
  }

  /// Text wrapped at 78 columns, continuation lines indented by two.
  static func wrapped(_ text: String) -> String {
    var lines: [String] = []
    var line = ""
    for word in text.split(separator: " ") {
      if !line.isEmpty && line.count + 1 + word.count > 78 {
        lines.append(line)
        line = "  " + word
      } else {
        line += line.isEmpty ? String(word) : " " + word
      }
    }
    lines.append(line)
    return lines.joined(separator: "\n")
  }

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
      try Self.appendMeasurements(TraceReader(path: path), .curvature, Self.curvatureDatasets, to: &writer)
    case .epochs:
      let reader = try TraceReader(path: path)
      try Self.stream(reader, TraceSchema.datasets(following: .epochs), blockRows: blockRows, to: &writer) {
        run, values, row in
        [.text(run), .integer(Int(values[0][row]))] + values.dropFirst().map { .number($0[row]) }
      }
    case .steps:
      let reader = try TraceReader(path: path)
      let datasets = TraceSchema.datasets(following: .steps).filter { $0.width == .one }
      try Self.stream(reader, datasets, blockRows: blockRows, to: &writer) { run, values, row in
        [.text(run)]
          + zip(datasets, values).map { dataset, values in
            dataset.element == .float32 ? .number(values[row]) : .integer(Int(values[row]))
          }
      }
    case .layers:
      let reader = try TraceReader(path: path)
      try Self.streamEntries(reader, .layers, names: try reader.layerNames(), blockRows: blockRows, to: &writer)
    case .activations:
      let reader = try TraceReader(path: path)
      guard let blocks = try reader.activationNames() else { return }
      try Self.streamEntries(reader, .blocks, names: blocks, blockRows: blockRows, to: &writer)
    case .noise:
      try Self.appendMeasurements(TraceReader(path: path), .noise, Self.noiseDatasets, to: &writer)
    case .spectrum:
      let reader = try TraceReader(path: path)
      guard let shape = try reader.spectrumShape() else { return }
      let run = RunInfo(reader: reader).name
      let steps = try reader.steps(.spectrum)
      let top = try reader.values(.spectrumTop, start: 0, count: steps.count)
      let bottom = try reader.values(.spectrumBottom, start: 0, count: steps.count)
      // A dataset the trace lacks (written before it existed) reads as NaN.
      let scalars = try reader.columns(Self.spectrumDatasets).map {
        $0.count >= steps.count ? $0 : Array(repeating: .nan, count: steps.count)
      }
      for (row, step) in steps.enumerated() {
        for rank in 0..<shape.topK {
          let at = row * shape.topK + rank
          writer.append(
            [
              .text(run), .integer(step), .integer(rank + 1), .number(Self.shortest(top[at], .spectrumTop)),
              .number(Self.shortest(bottom[at], .spectrumBottom)),
            ]
              + zip(Self.spectrumDatasets, scalars).map { dataset, values in
                dataset.element == .float32 || !values[row].isFinite
                  ? .number(Self.shortest(values[row], dataset)) : .integer(Int(values[row]))
              })
        }
      }
    }
  }

  /// One row per measurement of `index` (none when the trace does not hold it): run, step and
  /// `datasets` at that step (integers as integers).
  private static func appendMeasurements(
    _ reader: TraceReader, _ index: TraceIndex, _ datasets: [TraceDataset], to writer: inout TableWriter
  ) throws {
    guard reader.holds(index) else { return }
    let run = RunInfo(reader: reader).name
    let steps = try reader.steps(index)
    let columns = try Self.columns(reader, datasets, at: steps)
    for (row, step) in steps.enumerated() {
      writer.append(
        [.text(run), .integer(step)]
          + zip(datasets, columns).map { dataset, values in
            dataset.element == .float32 || !values[row].isFinite ? .number(values[row]) : .integer(Int(values[row]))
          })
    }
  }

  /// Each dataset's values at `steps` (one per row), sparse ones NaN where not measured there.
  private static func columns(_ reader: TraceReader, _ datasets: [TraceDataset], at steps: [Int]) throws -> [[Double]] {
    try datasets.map { dataset in
      let index = dataset.index!
      guard reader.holds(dataset) else { return Array(repeating: .nan, count: steps.count) }
      let values = try reader.values(dataset).map { Self.shortest($0, dataset) }
      if index == .curvature || index == .steps { return Array(values.prefix(steps.count)) }
      let measured = Dictionary(try reader.steps(index).enumerated().map { ($1, $0) }) { first, _ in first }
      return steps.map { step in measured[step].map { values[$0] } ?? .nan }
    }
  }

  /// One row per step and layer (or block): the per-step datasets streamed in blocks, the sparse
  /// ones (small: measured every few steps) read whole and joined at their steps.
  private static func streamEntries(
    _ reader: TraceReader, _ width: TraceDataset.Width, names: [String], blockRows: Int, to writer: inout TableWriter
  ) throws {
    let run = RunInfo(reader: reader).name
    let entries = names.count
    let datasets = perEntryDatasets(width)
    var sparse: [TraceDataset: [Int: ArraySlice<Double>]] = [:]
    for dataset in datasets where dataset.index != .steps && reader.holds(dataset) {
      let values = try reader.values(dataset)
      let steps = try reader.steps(dataset.index!)
      sparse[dataset] = Dictionary(
        steps.enumerated().map { ($1, values[($0 * entries)..<(($0 + 1) * entries)]) }
      ) { first, _ in first }
    }
    let rows = try reader.rowCount(.steps)
    var start = 0
    while start < rows {
      let count = min(blockRows, rows - start)
      let steps = try reader.values(.step, start: start, count: count)
      let epochs = try reader.values(.epoch, start: start, count: count)
      var dense: [TraceDataset: [Double]] = [:]
      for dataset in datasets where dataset.index == .steps && reader.holds(dataset) {
        dense[dataset] = try reader.values(dataset, start: start, count: count).map { Self.shortest($0, dataset) }
      }
      for row in 0..<count {
        let step = Int(steps[row])
        for entry in 0..<entries {
          let cells = datasets.map { dataset -> TableCell in
            if let values = dense[dataset] { return .number(values[row * entries + entry]) }
            if let values = sparse[dataset]?[step] {
              return .number(Self.shortest(values[values.startIndex + entry], dataset))
            }
            return .number(.nan)
          }
          writer.append(
            [.text(run), .integer(step), .integer(Int(epochs[row])), .integer(entry), .text(names[entry])] + cells)
        }
      }
      start += count
    }
  }

  /// A float32 value as the shortest decimal that reads back to the same Float (0.03, not
  /// 0.029999999329447746).
  static func shortest(_ value: Double, _ dataset: TraceDataset) -> Double {
    dataset.element == .float32 ? Double(Float(value).description) ?? value : value
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

  /// Reads the rows all `datasets` (one value per row, one index) have in common, block by block.
  private static func stream(
    _ reader: TraceReader, _ datasets: [TraceDataset], blockRows: Int, to writer: inout TableWriter,
    row makeRow: (String, [[Double]], Int) -> [TableCell]
  ) throws {
    let run = RunInfo(reader: reader).name
    let rows = try reader.rowCount(datasets[0].index!)
    var start = 0
    while start < rows {
      let count = min(blockRows, rows - start)
      let values = try datasets.map { dataset in
        reader.holds(dataset)
          ? try reader.values(dataset, start: start, count: count).map { Self.shortest($0, dataset) }
          : Array(repeating: .nan, count: count)
      }
      for row in 0..<count { writer.append(makeRow(run, values, row)) }
      start += count
    }
  }
}

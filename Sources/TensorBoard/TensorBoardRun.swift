import Foundation
import TraceIO

/// One run's TensorBoard view of a trace: every dataset of the schema that follows an index
/// becomes scalars, tagged by its path (`steps/loss`, `curvature/gHg`, `epochs/valid_accuracy`)
/// with the layer or block between group and name for per-layer and per-block datasets
/// (`gradients/<layer>/mean_abs`, `activations/<block>/std`), at the row's step (for the epochs
/// group, the epoch). The configuration and model description are text summaries (`config`,
/// `model`). A statistic added to the schema appears here with no change.
public final class TensorBoardRun: TraceRowSink {
  private let file: EventFile
  public var path: String { file.path }

  /// A new event file in `directory`, opened with the run's configuration and model as text.
  public init(directory: String, configuration: String, model: String, wallTime: Double = Date().timeIntervalSince1970)
    throws
  {
    file = try EventFile(directory: directory)
    var event = Tensorboard_Event()
    event.wallTime = wallTime
    event.step = 0
    event.summary.value = [Self.text("config", configuration), Self.text("model", model)]
    try file.write([event])
  }

  /// The TensorBoard tag of `dataset` for layer (or block) `entry`.
  public static func tag(_ dataset: TraceDataset, entry: String? = nil) -> String {
    let parts = dataset.path.split(separator: "/").map(String.init)
    guard let entry else { return parts.joined(separator: "/") }
    return (parts.dropLast() + [entry, parts.last!]).joined(separator: "/")
  }

  public func written(_ rows: [TraceRow], layout: TraceLayout) throws {
    try file.write(Self.events(rows, layout: layout, wallTime: Date().timeIntervalSince1970))
  }

  /// One event per row: a scalar for each value of each dataset the row holds.
  static func events(_ rows: [TraceRow], layout: TraceLayout, wallTime: Double) -> [Tensorboard_Event] {
    rows.map { row in
      var event = Tensorboard_Event()
      event.wallTime = wallTime
      event.step = Int64(row.at)
      for dataset in TraceSchema.datasets(following: row.index).dropFirst() {
        guard let values = row.values[dataset] else { continue }
        let entries: [String?] =
          switch dataset.width {
          case .one: [nil]
          case .layers: layout.layerNames
          case .blocks: layout.activationNames ?? []
          // An add or concat input: "<layer> <- <input>".
          case .merges: layout.merges?.map { "\($0.layer) <- \($0.input)" } ?? []
          // The eigenvalues by rank from 1.
          case .topK: (0..<values.count).map { String($0 + 1) }
          // Quadratures, density grids and histograms are no scalars.
          case .quadrature, .grid, .layerBins, .blockBins, .layerSpecials, .blockSpecials, .binEdges: []
          }
        for (entry, value) in zip(entries, values) {
          var summary = Tensorboard_Summary.Value()
          summary.tag = tag(dataset, entry: entry)
          summary.simpleValue = Float(value)
          event.summary.value.append(summary)
        }
      }
      return event
    }
  }

  /// A text summary (TensorBoard's text plugin: a scalar string tensor).
  static func text(_ tag: String, _ text: String) -> Tensorboard_Summary.Value {
    var value = Tensorboard_Summary.Value()
    value.tag = tag
    value.metadata.pluginData.pluginName = "text"
    value.metadata.dataClass = .tensor
    value.tensor.dtype = .dtString
    value.tensor.stringVal = [Data(text.utf8)]
    return value
  }

  public func close() throws { try file.close() }

  /// Writes a whole trace as one run in `directory` (a new event file): every row of every
  /// index the trace holds, read through `TraceReader` (version 1 traces included) in blocks.
  @discardableResult
  public static func export(_ reader: TraceReader, to directory: String, blockRows: Int = 4096) throws
    -> TensorBoardRun
  {
    let layout = try reader.layout()
    let created = ISO8601DateFormatter().date(from: reader.created)?.timeIntervalSince1970 ?? 0
    let run = try TensorBoardRun(
      directory: directory, configuration: reader.configuration, model: reader.model, wallTime: created)
    for index in TraceIndex.allCases where reader.holds(index) {
      let rows = try reader.rowCount(index)
      for start in stride(from: 0, to: rows, by: blockRows) {
        let block = try reader.traceRows(index, start: start, count: min(blockRows, rows - start))
        try run.file.write(events(block, layout: layout, wallTime: created))
      }
    }
    try run.close()
    return run
  }
}

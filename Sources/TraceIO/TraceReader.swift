import Foundation

/// Reads a trace, also while it is being written (SWMR), through the schema (`TraceSchema`):
/// `rowCount(.curvature)`, `steps(.eigenvalue)`, `values(.gradientMeanAbs, start:count:)`. A
/// version 1 trace reads as version 2: its sparse quantities, NaN rows of `/curvature` there,
/// come back on their own index, and datasets added since are absent.
public final class TraceReader {
  public let file: HDF5File
  public let formatVersion: Int64
  public let configuration: String
  public let model: String
  public let created: String
  public let toolVersion: String
  /// The file's size: no dataset holds more rows than its bytes could store (a damaged extent
  /// is refused instead of read as gigabytes of fill values).
  private let fileBytes: Int
  /// L and B: the entries of `/layers/name` and `/activations/name`.
  private let layerCount: Int
  private let blockCount: Int
  private let mergeCount: Int
  /// Version 1: for each sparse index, the rows of `/curvature` that hold its measurements.
  private var versionOneRows: [TraceIndex: [Int]] = [:]

  /// Opens a trace. - Throws: `HDF5Error` naming the file and, for a file that is not a
  /// gradtrace trace or is newer than this reader, what was expected.
  public init(path: String) throws(HDF5Error) {
    file = try HDF5File(path, access: .readWhileWriting)
    guard file.hasAttribute("format"), try file.stringAttribute("format") == TraceSchema.format else {
      throw HDF5Error(
        operation: "not a gradtrace trace (no format = \"gradtrace\" attribute)", file: path, objectPath: "/",
        details: [])
    }
    formatVersion = try file.attribute("format_version", as: Int64.self)
    guard formatVersion <= TraceSchema.formatVersion else {
      throw HDF5Error(
        operation:
          "format_version \(formatVersion) is newer than this gradtrace reads (\(TraceSchema.formatVersion)); update gradtrace",
        file: path, objectPath: "/", details: [])
    }
    fileBytes = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? Int.max
    layerCount = file.exists(TraceDataset.layerName.path) ? try file.shape(of: TraceDataset.layerName.path)[0] : 0
    blockCount =
      file.exists(TraceDataset.activationName.path) ? try file.shape(of: TraceDataset.activationName.path)[0] : 0
    mergeCount = file.exists(TraceDataset.mergeLayer.path) ? try file.shape(of: TraceDataset.mergeLayer.path)[0] : 0
    for (count, objectPath) in [
      (layerCount, TraceDataset.layerName.path), (blockCount, TraceDataset.activationName.path),
      (mergeCount, TraceDataset.mergeLayer.path),
    ]
    where count > fileBytes / 8 {
      throw HDF5Error(
        operation: "\(count) names claimed, more than the file's \(fileBytes) bytes can hold (damaged)",
        file: path, objectPath: objectPath, details: [])
    }
    configuration = try file.stringAttribute("config")
    model = try file.stringAttribute("model")
    created = file.hasAttribute("created") ? try file.stringAttribute("created") : ""
    toolVersion = file.hasAttribute("tool_version") ? try file.stringAttribute("tool_version") : ""
  }

  /// The recorded layers (weight tensors), in application order.
  public func layerNames() throws(HDF5Error) -> [String] { try names(TraceDataset.layerName.path, count: layerCount) }
  /// The blocks whose activations are recorded; nil when activations were not recorded.
  public func activationNames() throws(HDF5Error) -> [String]? {
    holds(.activationName) ? try names(TraceDataset.activationName.path, count: blockCount) : nil
  }

  /// The add and concat inputs whose norms are recorded; nil when there are none.
  public func merges() throws(HDF5Error) -> [TraceLayout.MergeColumn]? {
    guard holds(.mergeLayer) else { return nil }
    let layers = try names(TraceDataset.mergeLayer.path, count: mergeCount)
    let kinds = try names(TraceDataset.mergeKind.path, count: mergeCount)
    let inputs = try names(TraceDataset.mergeInput.path, count: mergeCount)
    return layers.indices.map { TraceLayout.MergeColumn(layer: layers[$0], kind: kinds[$0], input: inputs[$0]) }
  }

  /// The names at `objectPath`, which must be as many as its shape says (a damaged string
  /// dataset can read as fewer, and every per-layer row is cut by this count).
  private func names(_ objectPath: String, count: Int) throws(HDF5Error) -> [String] {
    let names = try file.readStrings(from: objectPath)
    guard names.count == count else {
      throw HDF5Error(
        operation: "read \(names.count) names where the dataset's shape says \(count) (damaged)", file: file.path,
        objectPath: objectPath, details: [])
    }
    return names
  }
  public var recordsCurvature: Bool { holds(.curvatureStep) }
  public var recordsNoise: Bool { holds(.noiseStep) }

  /// The shape of the recorded spectra (from their datasets' extents); nil when the trace has none.
  public func spectrumShape() throws(HDF5Error) -> TraceLayout.SpectrumShape? {
    guard holds(.spectrumStep), holds(.spectrumTop), holds(.spectrumNodes), holds(.spectrumDensity) else { return nil }
    let top = try file.shape(of: TraceDataset.spectrumTop.path)
    let nodes = try file.shape(of: TraceDataset.spectrumNodes.path)
    let density = try file.shape(of: TraceDataset.spectrumDensity.path)
    guard top.count == 2 else { throw schemaError(TraceDataset.spectrumTop.path, expected: "[Q, k]", found: top) }
    guard nodes.count == 3 else {
      throw schemaError(TraceDataset.spectrumNodes.path, expected: "[Q, P, m]", found: nodes)
    }
    guard density.count == 2 else {
      throw schemaError(TraceDataset.spectrumDensity.path, expected: "[Q, G]", found: density)
    }
    return TraceLayout.SpectrumShape(topK: top[1], probes: nodes[1], steps: nodes[2], gridPoints: density[1])
  }

  /// The bins of the recorded histograms (from `/histograms/edges`); nil when the trace has none.
  public func histogramBins() throws(HDF5Error) -> LogHistogramBins? {
    let path = TraceDataset.histogramEdges.path
    guard holds(.histogramEdges), holds(.histogramStep) else { return nil }
    let edges = try file.read(Double.self, from: path).values
    guard let bins = LogHistogramBins(edges: edges) else {
      throw HDF5Error(
        operation:
          "expected evenly spaced log10 edges, a whole number of bins per decade from one decade to another, found \(edges.count) values from \(edges.first ?? .nan) to \(edges.last ?? .nan)",
        file: file.path, objectPath: path, details: [])
    }
    return bins
  }

  /// The layout the trace was written with.
  public func layout() throws(HDF5Error) -> TraceLayout {
    TraceLayout(
      layerNames: try layerNames(), layerKinds: try file.readStrings(from: TraceDataset.layerKind.path),
      layerParameters: try file.read(Int64.self, from: TraceDataset.layerParameters.path).values.map { Int($0) },
      activationNames: try activationNames(), recordsCurvature: recordsCurvature, spectrum: try spectrumShape(),
      histogramBins: try histogramBins(), recordsNoise: recordsNoise, merges: try merges())
  }

  /// Rows recorded (and flushed) so far.
  public func stepCount() throws(HDF5Error) -> Int { try rowCount(.steps) }
  public func curvatureCount() throws(HDF5Error) -> Int { try rowCount(.curvature) }
  public func epochCount() throws(HDF5Error) -> Int { try rowCount(.epochs) }

  // MARK: Through the schema

  /// Whether the trace holds `dataset` (false for one added after the trace's version).
  public func holds(_ dataset: TraceDataset) -> Bool {
    if formatVersion >= 2 { return file.exists(dataset.path) }
    if let index = dataset.index, let marker = index.versionOneMarker, dataset == index.dataset {
      return file.exists(marker.versionOnePath)
    }
    return dataset.inVersionOne && file.exists(dataset.versionOnePath)
  }

  public func holds(_ index: TraceIndex) -> Bool { holds(index.dataset) }

  /// The rows every held dataset of `index` has (a live writer may have extended one dataset
  /// before another; readers use the rows they have in common). 0 when the index is not held.
  public func rowCount(_ index: TraceIndex) throws(HDF5Error) -> Int {
    guard holds(index) else { return 0 }
    if formatVersion < 2, index.versionOneMarker != nil { return try versionOneRowNumbers(index).count }
    var rows = Int.max
    for dataset in TraceSchema.datasets(following: index) where holds(dataset) {
      let objectPath = storedPath(dataset)
      let shape = try file.shape(of: objectPath)
      switch dataset.width {
      case .one:
        guard shape.count == 1 else { throw schemaError(objectPath, expected: "[N]", found: shape) }
      case .layers:
        guard shape.count == 2, shape[1] == layerCount else {
          throw schemaError(objectPath, expected: "[N, \(layerCount)] (one column per layer)", found: shape)
        }
      case .blocks:
        guard shape.count == 2, shape[1] == blockCount else {
          throw schemaError(objectPath, expected: "[N, \(blockCount)] (one column per block)", found: shape)
        }
      case .merges:
        guard shape.count == 2, shape[1] == mergeCount else {
          throw schemaError(
            objectPath, expected: "[N, \(mergeCount)] (one column per add or concat input)", found: shape)
        }
      case .topK, .grid:
        guard shape.count == 2 else { throw schemaError(objectPath, expected: "[N, columns]", found: shape) }
      case .quadrature:
        guard shape.count == 3 else { throw schemaError(objectPath, expected: "[N, probes, steps]", found: shape) }
      case .layerBins, .blockBins, .layerSpecials, .blockSpecials:
        let rows = dataset.width == .layerBins || dataset.width == .layerSpecials ? layerCount : blockCount
        let columns =
          try dataset.width == .layerSpecials || dataset.width == .blockSpecials
          ? HistogramSpecial.allCases.count : (histogramBins()?.count ?? 0)
        guard shape.count == 3, shape[1] == rows, shape[2] == columns else {
          throw schemaError(objectPath, expected: "[N, \(rows), \(columns)]", found: shape)
        }
      case .binEdges:
        throw schemaError(objectPath, expected: "a fixed dataset (no rows)", found: shape)
      }
      // Deflate shrinks data at most 1032-fold: a compressed dataset's rows may outweigh the file.
      let rowBytes = (dataset.element == .int64 ? 8 : 4) * max(shape.dropFirst().reduce(1, *), 1)
      let expansion = dataset.isCompressed ? 1032 : 1
      guard shape[0] <= fileBytes / max(1, rowBytes / expansion) else {
        throw HDF5Error(
          operation: "\(shape[0]) rows claimed, more than the file's \(fileBytes) bytes can hold (damaged)",
          file: file.path, objectPath: objectPath, details: [])
      }
      rows = min(rows, shape[0])
    }
    return rows == Int.max ? 0 : rows
  }

  /// The step (for `.epochs`, the epoch) of each row of `index`.
  public func steps(_ index: TraceIndex) throws(HDF5Error) -> [Int] {
    try values(index.dataset).map { Int($0) }
  }

  /// Rows `start ..< start + count` of `dataset` (all rows of its index when `count` is nil),
  /// row-major as Doubles: one value per row, or one per layer or block.
  public func values(_ dataset: TraceDataset, start: Int = 0, count requested: Int? = nil) throws(HDF5Error) -> [Double]
  {
    guard let index = dataset.index, holds(dataset) else { return [] }
    let count: Int
    if let requested { count = requested } else { count = try rowCount(index) - start }
    guard count > 0 else { return [] }
    if formatVersion < 2, index.versionOneMarker != nil {
      let rows = try versionOneRowNumbers(index)[start..<(start + count)]
      let parent = dataset == index.dataset ? TraceDataset.curvatureStep : dataset
      let all = try file.readRows(Double.self, from: parent.versionOnePath, start: 0, count: rows.last! + 1)
      let width = all.count / (rows.last! + 1)
      return rows.flatMap { all[($0 * width)..<(($0 + 1) * width)] }
    }
    return try file.readRows(Double.self, from: storedPath(dataset), start: start, count: count)
  }

  /// Rows `start ..< start + count` of `index` as `TraceRow`s holding every dataset of the
  /// index that this trace has (one a version 1 trace lacks is left out: a writer stores it as
  /// NaN). What continuation and the TensorBoard export copy.
  public func traceRows(_ index: TraceIndex, start: Int, count: Int) throws(HDF5Error) -> [TraceRow] {
    guard count > 0 else { return [] }
    var rows = try values(index.dataset, start: start, count: count).map { TraceRow(index, at: Int($0)) }
    for dataset in TraceSchema.datasets(following: index).dropFirst() where holds(dataset) {
      let values = try values(dataset, start: start, count: count)
      let width = values.count / count
      for row in 0..<count { rows[row][values: dataset] = Array(values[(row * width)..<((row + 1) * width)]) }
    }
    return rows
  }

  /// A per-layer or per-block dataset as rows.
  public func rows(_ dataset: TraceDataset) throws(HDF5Error) -> [[Double]] {
    let values = try values(dataset)
    guard let index = dataset.index else { return [] }
    let rows = try rowCount(index)
    guard rows > 0 else { return [] }
    let width = values.count / rows
    return (0..<rows).map { Array(values[($0 * width)..<(($0 + 1) * width)]) }
  }

  /// Where `dataset` lies in this file.
  public func storedPath(_ dataset: TraceDataset) -> String {
    formatVersion >= 2 ? dataset.path : dataset.versionOnePath
  }

  /// Version 1: the rows of `/curvature` where `index`'s marker was measured (not all NaN).
  private func versionOneRowNumbers(_ index: TraceIndex) throws(HDF5Error) -> [Int] {
    if let cached = versionOneRows[index] { return cached }
    guard let marker = index.versionOneMarker, holds(index) else { return [] }
    let rows = try rowCount(.curvature)
    let values = try file.readRows(Double.self, from: marker.versionOnePath, start: 0, count: rows)
    let width = rows > 0 ? values.count / rows : 1
    let measured = (0..<rows).filter { row in values[(row * width)..<((row + 1) * width)].contains { !$0.isNaN } }
    versionOneRows[index] = measured
    return measured
  }

  /// The rows that all of `vectors` ([N]) and `matrices` ([N, columns]) hold, after checking
  /// their ranks and widths against the schema. A live writer may have extended one dataset
  /// before another; analysis reads the rows they have in common.
  public func commonRowCount(vectors: [String], matrices: [String] = [], columns: Int) throws(HDF5Error) -> Int {
    var rows = Int.max
    for objectPath in vectors {
      let shape = try file.shape(of: objectPath)
      guard shape.count == 1 else { throw schemaError(objectPath, expected: "[N]", found: shape) }
      rows = min(rows, shape[0])
    }
    for objectPath in matrices {
      let shape = try file.shape(of: objectPath)
      guard shape.count == 2, shape[1] == columns else {
        throw schemaError(objectPath, expected: "[N, \(columns)]", found: shape)
      }
      rows = min(rows, shape[0])
    }
    return rows == Int.max ? 0 : rows
  }

  /// Datasets of one index read whole as Doubles, cut to the rows its datasets all hold (empty
  /// columns for datasets the trace does not hold: a group it did not record).
  public func columns(_ datasets: [TraceDataset]) throws(HDF5Error) -> [[Double]] {
    var result: [[Double]] = []
    for dataset in datasets { result.append(try values(dataset)) }
    return result
  }

  /// "expected [N, 9] (one column per layer), found [30, 8]", naming the file and dataset.
  public func schemaError(_ objectPath: String, expected: String, found shape: [Int]) -> HDF5Error {
    HDF5Error(
      operation: "expected shape \(expected) by schema v\(formatVersion), found \(shape)", file: file.path,
      objectPath: objectPath,
      details: [])
  }

  /// A whole one-dimensional dataset as Doubles.
  public func column(_ objectPath: String) throws(HDF5Error) -> [Double] {
    try file.read(Double.self, from: objectPath).values
  }

  /// A whole [N, L] dataset as rows of Doubles.
  public func matrix(_ objectPath: String) throws(HDF5Error) -> [[Double]] {
    let (values, shape) = try file.read(Double.self, from: objectPath)
    guard shape.count == 2, shape[1] > 0 else { return [] }
    return (0..<shape[0]).map { Array(values[($0 * shape[1])..<(($0 + 1) * shape[1])]) }
  }

  /// `/summary`'s status: running (or interrupted: a killed writer leaves "running"),
  /// finished, or "failed: reason".
  public var status: String { (try? file.stringAttribute("status", on: TraceSchema.summary)) ?? "unknown" }

  public func summaryValue(_ name: String) -> Double? {
    guard file.hasAttribute(name, on: TraceSchema.summary) else { return nil }
    return try? file.attribute(name, as: Double.self, on: TraceSchema.summary)
  }
}

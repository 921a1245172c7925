/// Reads a trace (schema v1), also while it is being written (SWMR).
public final class TraceReader {
  public let file: HDF5File
  public let formatVersion: Int64
  public let configuration: String
  public let model: String
  public let created: String
  public let toolVersion: String

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
    configuration = try file.stringAttribute("config")
    model = try file.stringAttribute("model")
    created = file.hasAttribute("created") ? try file.stringAttribute("created") : ""
    toolVersion = file.hasAttribute("tool_version") ? try file.stringAttribute("tool_version") : ""
  }

  /// The recorded layers (weight tensors), in application order.
  public func layerNames() throws(HDF5Error) -> [String] { try file.readStrings(from: TraceSchema.layerName) }
  /// The blocks whose activations are recorded; nil when activations were not recorded.
  public func activationNames() throws(HDF5Error) -> [String]? {
    file.exists(TraceSchema.activationName) ? try file.readStrings(from: TraceSchema.activationName) : nil
  }
  public var recordsCurvature: Bool { file.exists(TraceSchema.curvatureStep) }

  /// Rows recorded (and flushed) so far.
  public func stepCount() throws(HDF5Error) -> Int { try file.shape(of: TraceSchema.step)[0] }
  public func curvatureCount() throws(HDF5Error) -> Int {
    recordsCurvature ? try file.shape(of: TraceSchema.curvatureStep)[0] : 0
  }
  public func epochCount() throws(HDF5Error) -> Int { try file.shape(of: TraceSchema.epochColumns[0])[0] }

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

  /// One-dimensional datasets read whole as Doubles, cut to the rows they all hold (empty
  /// columns when the first is absent: a group the trace did not record).
  public func columns(_ objectPaths: [String]) throws(HDF5Error) -> [[Double]] {
    guard let first = objectPaths.first, file.exists(first) else { return objectPaths.map { _ in [] } }
    let rows = try commonRowCount(vectors: objectPaths, columns: 0)
    var result: [[Double]] = []
    for objectPath in objectPaths {
      result.append(try file.readRows(Double.self, from: objectPath, start: 0, count: rows))
    }
    return result
  }

  /// "expected [N, 9] (one column per layer), found [30, 8]", naming the file and dataset.
  public func schemaError(_ objectPath: String, expected: String, found shape: [Int]) -> HDF5Error {
    HDF5Error(
      operation: "expected shape \(expected) by schema v1, found \(shape)", file: file.path, objectPath: objectPath,
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

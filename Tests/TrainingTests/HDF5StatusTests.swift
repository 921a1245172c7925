import Foundation
import Testing
import TraceIO

/// Every HDF5 call in Sources/TraceIO goes through a wrapper that checks what it returns
/// (`check`, `checkSize`, `checkClass`) or takes ownership of the identifier it returns
/// (`handle`, closed exactly once by `HDF5Handle`): a status code that is not checked would let a
/// failed write pass silently.
@Suite("HDF5 status codes")
struct HDF5StatusTests {
  /// The error-stack functions, which build `HDF5Error` itself: checking them would recurse.
  static let errorReporting: Set<String> = ["H5Eset_auto2", "H5Ewalk2", "H5Eclear2"]
  static let wrappers = ["check(", "checkSize(", "checkClass(", "handle("]

  /// Each call `H5Xxx(` (a function: `H5Dwrite`, not a type or constant such as `H5T_cset_t`)
  /// with the text before it, whitespace and line breaks skipped.
  static func calls(in source: String) -> [(function: String, before: String, line: Int)] {
    let pattern = try! NSRegularExpression(pattern: "(?<![A-Za-z0-9_])(H5[A-Z]+[a-z][A-Za-z0-9_]*)\\(")
    let text = source as NSString
    return pattern.matches(in: source, range: NSRange(location: 0, length: text.length)).map { match in
      let function = text.substring(with: match.range(at: 1))
      let before = text.substring(to: match.range.location).trimmingCharacters(in: .whitespacesAndNewlines)
      let line = text.substring(to: match.range.location).components(separatedBy: "\n").count
      return (function, String(before.suffix(20)), line)
    }
  }

  @Test func everyHDF5CallIsCheckedOrOwned() throws {
    let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent().appendingPathComponent("Sources/TraceIO")
    var unchecked: [String] = []
    var total = 0
    for file in try FileManager.default.contentsOfDirectory(atPath: directory.path) where file.hasSuffix(".swift") {
      let source = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
      for call in Self.calls(in: source) where !Self.errorReporting.contains(call.function) {
        total += 1
        if !Self.wrappers.contains(where: { call.before.hasSuffix($0) }) {
          unchecked.append("\(file):\(call.line): \(call.function) (after \"\(call.before)\")")
        }
      }
    }
    #expect(total > 80, "the scan finds the module's HDF5 calls (\(total))")
    #expect(unchecked.isEmpty, "unchecked HDF5 calls:\n\(unchecked.joined(separator: "\n"))")
  }

  /// The scan itself catches a bare call, and one whose result is compared by hand.
  @Test func theScanCatchesABareCall() {
    let source = """
      try check(H5Fflush(handle, H5F_SCOPE_GLOBAL), "cannot flush", "/")
      H5Dclose(dataset)
      let set = H5T_cset_t(rawValue: 0)
      if H5Dwrite(d, t, s, s, p, v) < 0 { throw error() }
      """
    let flagged = Self.calls(in: source).filter { call in !Self.wrappers.contains { call.before.hasSuffix($0) } }
    #expect(flagged.map(\.function) == ["H5Dclose", "H5Dwrite"])
  }
}

/// Appends of any rank: a [N, L, bins] dataset grows row by row and reads back in blocks.
@Suite("HDF5 appends of any rank")
struct HDF5AppendTests {
  @Test func threeDimensionalRowsAppendAndReadBack() throws {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("rank3-\(UUID().uuidString).h5").path
    let file = try HDF5File(creating: path)
    try file.createAppendable(Float.self, at: "/histograms/counts", rowShape: [3, 4], chunkRows: 2)
    let rows = (0..<5).map { row in (0..<12).map { Float(row * 100 + $0) } }
    try file.append(rows[0] + rows[1], rows: 2, to: "/histograms/counts")
    for row in rows[2...] { try file.append(row, rows: 1, to: "/histograms/counts") }
    #expect(try file.shape(of: "/histograms/counts") == [5, 3, 4])
    #expect(try file.readRows(Float.self, from: "/histograms/counts", start: 1, count: 3) == rows[1...3].flatMap { $0 })
    #expect(throws: HDF5Error.self, "a row of the wrong size") {
      try file.append([Float](repeating: 0, count: 11), rows: 1, to: "/histograms/counts")
    }
    try file.close()
  }
}

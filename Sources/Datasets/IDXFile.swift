internal import CZlib
import Foundation

/// An IDX file (the MNIST format), optionally gzip-compressed: a big-endian header
/// (0, 0, type 0x08 = unsigned byte, rank) and `rank` 32-bit dimensions, then the bytes.
public struct IDXFile: Sendable {
  public var dimensions: [Int]
  public var bytes: [UInt8]

  /// Reads and validates the whole file.
  /// - Throws: `DatasetError` naming the file and what is wrong (missing, truncated, corrupt).
  public static func read(_ path: String) throws(DatasetError) -> IDXFile {
    guard FileManager.default.fileExists(atPath: path) else {
      throw DatasetError(file: path, message: "no such file")
    }
    let data = try decompress(path)
    guard data.count >= 4, data[0] == 0, data[1] == 0 else {
      throw DatasetError(file: path, message: "not an IDX file (the first two bytes must be 0)")
    }
    guard data[2] == 0x08 else {
      throw DatasetError(
        file: path, message: "element type 0x\(String(data[2], radix: 16)) is not unsigned byte (0x08)")
    }
    let rank = Int(data[3])
    guard rank >= 1, data.count >= 4 + 4 * rank else {
      throw DatasetError(file: path, message: "truncated header (rank \(rank), \(data.count) bytes)")
    }
    var dimensions: [Int] = []
    for axis in 0..<rank {
      let offset = 4 + 4 * axis
      dimensions.append(data[offset..<(offset + 4)].reduce(0) { $0 << 8 | Int($1) })
    }
    let expected = dimensions.reduce(1, *)
    let payload = data.count - 4 - 4 * rank
    guard payload == expected else {
      throw DatasetError(
        file: path,
        message:
          "\(payload < expected ? "truncated" : "has trailing data"): dimensions \(dimensions) need \(expected) bytes, found \(payload)"
      )
    }
    return IDXFile(dimensions: dimensions, bytes: Array(data[(4 + 4 * rank)...]))
  }

  /// The file's bytes, gunzipped when it is gzip (zlib reads plain files unchanged).
  private static func decompress(_ path: String) throws(DatasetError) -> [UInt8] {
    guard let file = gzopen(path, "rb") else { throw DatasetError(file: path, message: "cannot open") }
    defer { gzclose(file) }
    var output: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 20)
    while true {
      let count = chunk.withUnsafeMutableBytes { gzread(file, $0.baseAddress, UInt32($0.count)) }
      if count < 0 {
        var code: Int32 = 0
        let message = gzerror(file, &code).map { String(cString: $0) } ?? "read error"
        throw DatasetError(file: path, message: "corrupt gzip data: \(message)")
      }
      if count == 0 { break }
      output.append(contentsOf: chunk[0..<Int(count)])
    }
    return output
  }
}

/// A dataset file that cannot be used, with the file and the reason.
public struct DatasetError: Error, CustomStringConvertible, Sendable {
  public var file: String
  public var message: String
  public var description: String { "\(file): \(message)" }
  public init(file: String, message: String) {
    self.file = file
    self.message = message
  }
}

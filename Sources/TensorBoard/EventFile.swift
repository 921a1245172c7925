import Foundation
import SwiftProtobuf

/// A TensorBoard event file: TFRecord framing (for each record: its length as a little-endian
/// UInt64, the masked CRC-32C of those 8 bytes, the serialized `Event`, the masked CRC-32C of
/// it), opened with a `file_version` event. TensorBoard, W&B and Aim read these files.
final class EventFile {
  let path: String
  private let handle: FileHandle

  /// Creates `directory` if needed and a new event file in it (never replacing one: the name
  /// holds the time, the host and the process).
  init(directory: String) throws {
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    let seconds = Int(Date().timeIntervalSince1970)
    let host = ProcessInfo.processInfo.hostName
    var name = "events.out.tfevents.\(seconds).\(host).\(ProcessInfo.processInfo.processIdentifier).gradtrace"
    var suffix = 1
    while FileManager.default.fileExists(atPath: "\(directory)/\(name)") {
      suffix += 1
      name = "events.out.tfevents.\(seconds).\(host).\(ProcessInfo.processInfo.processIdentifier).\(suffix).gradtrace"
    }
    path = "\(directory)/\(name)"
    guard FileManager.default.createFile(atPath: path, contents: nil),
      let handle = FileHandle(forWritingAtPath: path)
    else { throw TensorBoardError(file: path, message: "cannot create the event file") }
    self.handle = handle
    var version = Tensorboard_Event()
    version.wallTime = Date().timeIntervalSince1970
    version.fileVersion = "brain.Event:2"
    try write([version])
  }

  /// Appends events and hands them to the file system (a reader sees whole records only).
  func write(_ events: [Tensorboard_Event]) throws {
    var bytes = [UInt8]()
    for event in events {
      let data: [UInt8] = try event.serializedBytes()
      let length = withUnsafeBytes(of: UInt64(data.count).littleEndian) { Array($0) }
      bytes += length
      bytes += withUnsafeBytes(of: CRC32C.masked(length).littleEndian) { Array($0) }
      bytes += data
      bytes += withUnsafeBytes(of: CRC32C.masked(data).littleEndian) { Array($0) }
    }
    do {
      try handle.write(contentsOf: bytes)
    } catch {
      throw TensorBoardError(file: path, message: "cannot write: \(error.localizedDescription)")
    }
  }

  func close() throws { try handle.close() }
}

/// A failure writing TensorBoard files, naming the file.
public struct TensorBoardError: Error, CustomStringConvertible {
  public var file: String
  public var message: String
  public var description: String { "\(file): \(message)" }
}

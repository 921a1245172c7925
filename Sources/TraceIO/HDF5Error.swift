internal import CHDF5

/// A failed HDF5 operation: what was attempted, on which file and object, and HDF5's own
/// error stack (innermost first).
public struct HDF5Error: Error, CustomStringConvertible, Sendable {
  public var operation: String
  public var file: String
  public var objectPath: String
  public var details: [String]

  public init(operation: String, file: String, objectPath: String, details: [String]) {
    self.operation = operation
    self.file = file
    self.objectPath = objectPath
    self.details = details
  }

  public var description: String { "\(file): \(descriptionWithoutFile)" }

  /// What failed and why, for a caller that names the file itself.
  public var descriptionWithoutFile: String {
    var text = operation
    if !objectPath.isEmpty { text += " '\(objectPath)'" }
    if let reason = details.first { text += ": \(Self.plain(reason))" }
    if details.contains(where: { $0.contains("Fletcher32") }) {
      text +=
        " (a chunk no longer matches its checksum: if the run writing this trace was killed, `gradtrace recover`"
        + " repairs the chunk its last flush tore; otherwise the file is damaged)"
    }
    return text
  }

  /// HDF5's low-level messages carry the system's own reason inside a dump of its arguments
  /// (`… errno = 30, error message = 'Read-only file system', flags = …`): keep the reason.
  static func plain(_ reason: String) -> String {
    guard let start = reason.range(of: "error message = '"),
      let end = reason[start.upperBound...].firstIndex(of: "'")
    else { return reason }
    return String(reason[start.upperBound..<end])
  }
}

enum HDF5Library {
  /// Turns HDF5's automatic error printing off, once: errors are reported through `HDF5Error`.
  static let quiet: Void = {
    H5Eset_auto2(gt_H5E_DEFAULT(), nil, nil)
  }()

  /// The current thread's HDF5 error stack as messages, innermost (most specific) first.
  static func errorStack() -> [String] {
    var messages: [String] = []
    withUnsafeMutablePointer(to: &messages) { pointer in
      _ = H5Ewalk2(
        gt_H5E_DEFAULT(), H5E_WALK_UPWARD,
        { _, description, context in
          guard let description, let context else { return 0 }
          let messages = context.assumingMemoryBound(to: [String].self)
          let function = description.pointee.func_name.map { String(cString: $0) } ?? "?"
          let text = description.pointee.desc.map { String(cString: $0) } ?? ""
          messages.pointee.append("\(text) (\(function))")
          return 0
        }, pointer)
    }
    H5Eclear2(gt_H5E_DEFAULT())
    return messages
  }
}

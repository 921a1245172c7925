import ArgumentParser
import Foundation

/// The exit statuses of the commands that read traces (analyze, compare, export, plot, report).
enum TraceExit {
  /// No trace could be read: the message names the file, the dataset inside it and what was
  /// expected.
  static let unreadable = ExitCode(1)
  /// Several traces were given, some were read and some not: the output covers the readable
  /// ones and stderr names each of the others.
  static let partial = ExitCode(2)

  static let help = """
    Exit status: 0 when every trace was read (notes in the output say what a trace
    did not record); 1 when no trace could be read (not HDF5, truncated, another
    program's file, a newer format_version, a dataset with the wrong shape), with
    a message naming the file, the path inside it and what was expected; 2 when
    some traces were read and others not; 64 on a usage error.
    """
}

/// Reads each trace with `body`, reporting the ones that fail on stderr, and says how the
/// command must end: `finish()` throws the exit status for the failures.
struct TraceInputs {
  let paths: [String]
  /// One message per trace that could not be read ("file: what went wrong").
  private(set) var failures: [String] = []

  init(_ paths: [String]) { self.paths = paths }

  /// `body(path)` for each path; nil (and a message on stderr) for those that throw.
  mutating func map<Result>(_ body: (String) throws -> Result) -> [Result] {
    paths.compactMap { path in
      do {
        return try body(path)
      } catch {
        report(error)
        return nil
      }
    }
  }

  private mutating func report(_ error: Error) {
    failures.append("\(error)")
    FileHandle.standardError.write(Data("Error: \(error)\n".utf8))
  }

  /// Exit 0 when all traces were read, 1 when none, 2 when some.
  func finish() throws {
    if failures.isEmpty { return }
    throw failures.count == paths.count ? TraceExit.unreadable : TraceExit.partial
  }
}

#if canImport(Glibc)
  import Glibc
#endif
import Foundation

/// One writer per run directory and per trace: an advisory lock (`flock`) on a lock file beside
/// what is written, taken before anything is written. The kernel releases it when the process
/// ends however it ends, so a killed run never leaves a stale lock; the file itself stays and
/// holds the last holder's pid.
public final class WriterLock {
  public let path: String
  private let descriptor: Int32

  /// Takes the lock on `path` (created if missing). - Throws: `WriterLockError` naming `what`
  /// and the holder's pid when another process holds it, or why the file cannot be made.
  public init(_ path: String, guarding what: String) throws(WriterLockError) {
    self.path = path
    let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
    guard descriptor >= 0 else {
      throw WriterLockError(
        message: "\(what): cannot create the lock file \(path): \(String(cString: strerror(errno)))")
    }
    guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
      let holder = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
      close(descriptor)
      throw WriterLockError(
        message: "\(what) is in use by pid \(holder.flatMap { $0.isEmpty ? nil : $0 } ?? "unknown") (lock \(path))")
    }
    self.descriptor = descriptor
    let pid = "\(getpid())\n"
    ftruncate(descriptor, 0)
    _ = pid.withCString { write(descriptor, $0, strlen($0)) }
  }

  deinit { close(descriptor) }
}

/// Another process writes the run or trace, or its lock file cannot be made.
public struct WriterLockError: Error, CustomStringConvertible, Sendable {
  public var message: String
  public var description: String { message }
}

import Foundation

/// Where tests write their files: one directory per test process under the system's temporary
/// directory, removed when the process exits normally, so that test runs do not leave their
/// traces, checkpoints and datasets behind (a crashed run leaves its directory for inspection).
public enum ScratchDirectory {
  /// The process's directory, created on first use.
  public static let root: URL = {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent(
      "gradtrace-tests-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString)")
    try? FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    atexit { try? FileManager.default.removeItem(at: ScratchDirectory.root) }
    return root
  }()

  /// A new path in the process's directory whose last component starts with `prefix`
  /// (nothing is created there).
  public static func path(_ prefix: String) -> String {
    root.appendingPathComponent("\(prefix)-\(UUID().uuidString)").path
  }
}

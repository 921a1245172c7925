import Foundation

/// What a run directory holds, and the only ways gradtrace replaces or sets aside a user's run.
public enum RunDirectory {
  /// The files a training run writes into its directory.
  public static let runFiles = [
    Trainer.lastCheckpoint, Trainer.bestCheckpoint, Trainer.requestedCheckpoint, "summary.json", "epochs.csv",
  ]
  /// The lock file inside a run directory.
  public static let lockFile = ".lock"

  /// The run files present in `directory` (empty: no run there).
  public static func existingRunFiles(in directory: String) -> [String] {
    runFiles.filter { FileManager.default.fileExists(atPath: "\(directory)/\($0)") }
  }

  /// Removes the run files from `directory` (what `--overwrite` asks for); other files stay.
  public static func removeRunFiles(in directory: String) throws {
    for name in existingRunFiles(in: directory) { try FileManager.default.removeItem(atPath: "\(directory)/\(name)") }
  }

  /// Moves `path` aside to `path.unreadable-N` (the first N free) and returns where: a run or
  /// trace gradtrace cannot use is kept for its owner, never deleted.
  public static func moveAside(_ path: String) throws -> String {
    var index = 1
    while FileManager.default.fileExists(atPath: "\(path).unreadable-\(index)") { index += 1 }
    let destination = "\(path).unreadable-\(index)"
    try FileManager.default.moveItem(atPath: path, toPath: destination)
    return destination
  }
}

import Foundation

/// A failure caused by the user's files or data rather than by the command line: printed as
/// `Error: <message>` with exit status 1 (usage errors exit with 64 and show the usage).
struct CommandError: Error, CustomStringConvertible {
  var description: String
  init(_ description: String) { self.description = description }
}

/// The one-line notice for a checkpoint written before checksums (format version 1).
func noticeUnverified(_ path: String) {
  FileHandle.standardError.write(
    Data("notice: \(path) was written before checkpoints carried checksums: it cannot be verified\n".utf8))
}

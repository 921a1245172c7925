import Foundation

/// A failure caused by the user's files or data rather than by the command line: printed as
/// `Error: <message>` with exit status 1 (usage errors exit with 64 and show the usage).
struct CommandError: Error, CustomStringConvertible {
  var description: String
  init(_ description: String) { self.description = description }
}

/// A one-line notice on standard error: the command goes on as described.
func notice(_ message: String) {
  FileHandle.standardError.write(Data("notice: \(message)\n".utf8))
}

/// The notice for a checkpoint written before checksums (format version 1).
func noticeUnverified(_ path: String) {
  notice("\(path) was written before checkpoints carried checksums: it cannot be verified")
}

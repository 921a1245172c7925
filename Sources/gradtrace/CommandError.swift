/// A failure caused by the user's files or data rather than by the command line: printed as
/// `Error: <message>` with exit status 1 (usage errors exit with 64 and show the usage).
struct CommandError: Error, CustomStringConvertible {
  var description: String
  init(_ description: String) { self.description = description }
}

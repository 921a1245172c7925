import DataParallel
import Foundation

/// The ranks mpirun (or srun) started this process among, joined; nil when it runs alone (a
/// single process never loads MPI).
func joinLaunchedRanks() throws -> MPICollective? {
  let ranks = MPICollective.launchedRanks()
  guard ranks > 1 else { return nil }
  do {
    return try MPICollective()
  } catch {
    throw CommandError("cannot join the \(ranks) ranks the launcher started: \(error)")
  }
}

extension MPICollective {
  /// Runs this rank's part of a command. An error ends the job on every rank (`fail`: rank 0
  /// records "rank r: reason"), unless the ranks had already agreed to stop (`finalize` ran:
  /// a signal, a diverged loss), when it is rethrown as in one process.
  func endingTheJobOnError(_ body: () throws -> Void) throws {
    do {
      try body()
    } catch {
      if isFinalized { throw error }
      FileHandle.standardError.write(Data("Error: rank \(rank): \(error)\n".utf8))
      fail(reason: "\(error)")
    }
  }
}

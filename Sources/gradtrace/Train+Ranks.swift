import ArgumentParser
import DataParallel
import Foundation
import Training

/// `mpirun -np R gradtrace train …`: a data-parallel run over R ranks (README, "On a cluster").
extension Train {
  /// Runs `train` on the ranks mpirun (or srun) started, or in this process alone. A rank's
  /// failure ends the job: rank 0 closes the trace as "failed: rank r: reason" and every rank
  /// exits non-zero (`MPICollective.fail`); a stop every rank agreed on (a signal, a diverged
  /// loss) ends each rank normally.
  func runOnLaunchedRanks(_ train: (MPICollective?) throws -> Void) throws {
    guard let collective = try joinLaunchedRanks() else {
      if localBatchnorm {
        throw ValidationError(
          "--local-batchnorm applies to a run on several ranks (mpirun -np R); in one process --ghost-batchnorm K gives the same function"
        )
      }
      return try train(nil)
    }
    if localBatchnorm && ghostBatchnorm != nil {
      collective.fail(reason: "--local-batchnorm and --ghost-batchnorm K both set the BatchNorm groups: give one")
    }
    try collective.endingTheJobOnError { try train(collective) }
  }

  /// Rank 0 closes the trace when another rank fails or the job is ended under it; a stop
  /// signal makes a rank waiting for the others give up after a grace period.
  func watch<Scalar>(_ collective: MPICollective, trainer: TrainerOf<Scalar>, stop: StopRequest) {
    collective.stopRequested = { stop.receivedSignal != nil }
    collective.onFailure = { message in
      FileHandle.standardError.write(Data("Error: \(message)\n".utf8))
      if let writer = trainer.recorder?.writer, !writer.isFinished {
        try? writer.finish(status: "failed: \(message)")
      }
    }
  }

  /// Records this start's rank count; BatchNorm options given again on resume must agree with
  /// the run's own.
  func adopt<Scalar>(ranks: Int?, into trainer: TrainerOf<Scalar>) throws {
    trainer.adoptRanks(ranks)
    guard resume != nil, ghostBatchnorm != nil || localBatchnorm else { return }
    let asked = ghostBatchnorm ?? ranks
    let own = trainer.configuration.ghostBatchNorm
    if asked != own {
      throw ValidationError(
        "the run trains with \(own.map { "ghost BatchNorm over \($0) groups" } ?? "BatchNorm over the global batch"): leave --local-batchnorm and --ghost-batchnorm out to continue it"
      )
    }
  }

  /// What the ranks exchanged per training step (validation's sums included): the number of
  /// sums, the bytes this rank sent, and the time in the sums (waiting for the others included).
  func exchangeLine(_ collective: MPICollective, steps: Int) -> String {
    let perStep = Double(max(steps, 1))
    return String(
      format: "exchange per step: %.0f sums, %.2f MB sent by rank 0, %.1f ms in the sums (waiting included)",
      Double(collective.sumCount) / perStep, Double(collective.bytesSent) / perStep / 1e6,
      collective.secondsInSums / perStep * 1e3)
  }

  /// ", 2 ranks (BatchNorm synchronised)" for the start line; empty in one process.
  func rankLine(_ c: TrainingConfiguration) -> String {
    let groups = c.ghostBatchNorm.map { ", ghost BatchNorm over \($0) groups of \(c.batchSize / $0)" } ?? ""
    guard let ranks = c.ranks, ranks > 1 else { return groups }
    return ", \(ranks) ranks\(c.ghostBatchNorm == nil ? " (BatchNorm synchronised)" : groups)"
  }
}

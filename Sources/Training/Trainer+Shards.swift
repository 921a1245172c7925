import Autodiff
import Foundation
import Networks
import TensorCore

/// How a step's global batch is cut: into S contiguous shards (S = R ranks, or the ghost
/// BatchNorm's K groups), rank r taking shards r·S/R ..< (r+1)·S/R one after another.
///
/// - Synchronised BatchNorm (the default): S = R, one shard per rank, BatchNorm's statistics
///   summed over the ranks: the step is the single-process step on the global batch.
/// - Ghost BatchNorm (`--ghost-batchnorm K`, or `--local-batchnorm` under mpirun: K = R):
///   statistics over each shard of B/K images; the loss is still the global batch's mean.
struct ShardPlan {
  var rank = 0
  var ranks = 1
  /// K, the ghost groups; nil: statistics over the global batch.
  var ghostGroups: Int?

  var shardCount: Int { ghostGroups ?? ranks }
  var synchronisesBatchNorm: Bool { ghostGroups == nil }

  /// Rows of shard `s` of a batch of `rows`: an even split, the larger shards first.
  func rows(ofShard s: Int, batch rows: Int) -> Range<Int> {
    BatchShard.rows(ofShard: s, of: shardCount, batch: rows)
  }

  /// This rank's shards of a batch of `rows`.
  func shards(batch rows: Int) -> [Range<Int>] {
    (rank * shardCount / ranks..<(rank + 1) * shardCount / ranks).map { self.rows(ofShard: $0, batch: rows) }
  }

  /// Why this plan cannot run on `trainCount` training images at batch size `batch`, if it
  /// cannot: every shard of every batch (the epoch's last, smaller one too) needs an image.
  func problem(trainCount: Int, batch: Int) -> String? {
    if shardCount % ranks != 0 {
      return
        "--ghost-batchnorm \(shardCount) does not split over \(ranks) ranks (it must be a multiple of the rank count)"
    }
    let last = trainCount % batch
    if batch < shardCount || (last > 0 && last < shardCount) {
      return
        "a batch of \(min(batch, last > 0 ? last : batch)) images cannot be cut into \(shardCount) shards (the epoch's last batch holds \(last > 0 ? last : batch)); choose --batch-size or --subset so that every batch holds at least \(shardCount) images"
    }
    return nil
  }
}

/// One training pass over this process's shards of a step's batch, every value the global
/// batch's (summed over shards and ranks).
struct ShardedPass<Scalar: TensorScalar> {
  var loss: Scalar
  var accuracy: Double
  var gradients: NamedTensors<Scalar>
  var signal: SignalSums
  /// The block outputs (histograms) and the group gradients (noise): one-shard passes only.
  var blockOutputs: [Tensor<Scalar>] = []
  var groupGradients: [NamedTensors<Scalar>]?
  var noiseSeconds = 0.0
  /// This process's shard, for the curvature measurements (one-shard passes only).
  var images: Tensor<Scalar>
  var labels: [Int]
  var shard: BatchShard?
}

extension TrainerOf {
  /// The forward and backward passes of one step over this process's shards: each shard on its
  /// own tape with `BatchShard.current` bound (the loss divided by the global batch size,
  /// BatchNorm synchronised or ghost), the shares summed in shard order and then over the
  /// ranks; BatchNorm's running statistics folded from the global batch's statistics, or, for
  /// ghost BatchNorm, the mean over all K shards of each shard's fold.
  func shardedPass(
    images: Tensor<Scalar>, labels: [Int], seed: UInt64, signal: Bool, histograms: Bool, noiseGroups: Int?
  ) -> ShardedPass<Scalar> {
    let shards = shardPlan.shards(batch: labels.count)
    let sharded = shardPlan.shardCount > 1
    var result: ShardedPass<Scalar>?
    var folded: NamedTensors<Scalar>?
    let startBuffers = network.buffers
    var correct = 0.0
    var firstAccuracy = 0.0
    for rows in shards {
      let shard =
        sharded
        ? BatchShard(
          collective: collective, synchronisesBatchNorm: shardPlan.synchronisesBatchNorm, batchRows: labels.count,
          offset: rows.lowerBound) : nil
      let (shardImages, shardLabels) = (images.rows(rows), Array(labels[rows]))
      BatchShard.$current.withValue(shard) {
        let tape = Tape<Scalar>()
        let forward = network.loss(
          images: shardImages, labels: shardLabels, on: tape, mode: .training, updateRunningStatistics: false,
          seed: seed)
        tape.backward(from: forward.loss)
        // One shard per process: its share is summed over the ranks at once (the group
        // gradients of a noise measurement need the global g); several: after the last.
        let share = forward.forward.gradients(on: tape, names: network.parameters.names)
        let gradients = shards.count == 1 ? collective?.sum(share) ?? share : share
        let loss = tape.value(forward.loss).scalars[0]
        correct += forward.accuracy * Double(rows.count)
        // Running statistics: global ones fold once; ghost groups each fold from the step's start.
        var buffers = startBuffers
        for statistics in forward.forward.batchStatistics {
          statistics.fold(into: &buffers, momentum: Network<Scalar>.batchNormMomentum)
        }
        folded = folded.map { $0.adding(buffers, scaledBy: 1) } ?? buffers
        let sums =
          signal
          ? recorder!.signalSums(
            forward.forward, on: tape, shard: rows,
            firstShardRows: shardPlan.rows(ofShard: 0, batch: labels.count).count,
            batchRows: labels.count) : SignalSums()
        guard var pass = result else {
          firstAccuracy = forward.accuracy
          let noiseStarted = DispatchTime.now().uptimeNanoseconds
          let groups =
            noiseGroups.map { count in
              // Every rank takes the group passes (their BatchNorm sums are shared): the
              // condition is the global batch's, and a rank's non-finite share goes on.
              (sharded || loss.doubleValue.isFinite) && labels.count >= count
                ? forward.forward.groupGradients(
                  on: tape, labels: shardLabels, gradient: gradients,
                  groups: LossGroups(batch: labels.count, count: count)) : nil
            } ?? nil
          result = ShardedPass(
            loss: loss, accuracy: 0, gradients: gradients, signal: sums,
            blockOutputs: histograms ? forward.forward.blockOutputs.map { tape.storedValue($0.output) } : [],
            groupGradients: groups, noiseSeconds: Double(DispatchTime.now().uptimeNanoseconds - noiseStarted) / 1e9,
            images: shardImages, labels: shardLabels, shard: shard)
          return
        }
        pass.loss += loss
        pass.gradients = pass.gradients.adding(gradients, scaledBy: 1)
        pass.signal = pass.signal.adding(sums)
        result = pass
      }
    }
    var pass = result!
    pass.accuracy = firstAccuracy
    if let collective, collective.size > 1 {
      if shards.count > 1 { pass.gradients = collective.sum(pass.gradients) }
      pass.signal = pass.signal.summed(over: collective)
      let totals = collective.sum([pass.loss.doubleValue, correct])
      (pass.loss, correct) = (Scalar(totals[0]), totals[1])
    }
    if sharded { pass.accuracy = correct / Double(labels.count) }
    // The running statistics: with BatchNorm synchronised every rank folded the same global
    // statistics; ghost groups average their folds over all K shards.
    var buffers = folded!
    if shardPlan.shardCount > 1 && !shardPlan.synchronisesBatchNorm {
      if let collective { buffers = collective.sum(buffers) }
      buffers = buffers.scaled(by: 1 / Double(shardPlan.shardCount))
    }
    network.buffers = buffers
    return pass
  }
}

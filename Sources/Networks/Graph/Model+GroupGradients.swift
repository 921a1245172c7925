import Autodiff
import TensorCore

/// A batch of N loss terms cut into m groups of consecutive rows, sizes ⌊N/m⌋ or ⌈N/m⌉ (the
/// batch order is already random, so consecutive rows are a random split).
public struct LossGroups: Equatable, Sendable {
  public let batch: Int
  public let count: Int

  public init(batch: Int, count: Int) {
    precondition(count >= 2 && batch >= count, "LossGroups: \(count) groups of a batch of \(batch)")
    self.batch = batch
    self.count = count
  }

  /// The rows of group j: [⌊jN/m⌋, ⌊(j+1)N/m⌋).
  public var ranges: [Range<Int>] { (0..<count).map { BatchShard.rows(ofShard: $0, of: count, batch: batch) } }
  /// b_j, the rows in each group.
  public var sizes: [Int] { ranges.map(\.count) }
}

extension ModelForward {
  /// The gradients the last `backward` on `tape` left on the parameters `names` (zeros for a
  /// parameter the root does not depend on).
  public func gradients(on tape: Tape<Scalar>, names: [String]) -> NamedTensors<Scalar> {
    var gradients = NamedTensors<Scalar>()
    for name in names {
      let variable = parameters[name]!
      gradients.append(tape.gradient(variable) ?? Tensor(zeros: tape.shape(variable)), named: name)
    }
    return gradients
  }

  /// The gradients g_j of the groups' mean losses (`Tape.groupCrossEntropy`) through this
  /// forward pass, given the batch gradient g that a `backward` from the whole loss left:
  /// m − 1 more backward passes on the same tape, and the last group's gradient from
  /// g = Σ_j (b_j/N) g_j, so g_m = (N g − Σ_{j<m} b_j g_j) / b_m.
  ///
  /// On a shard of a global batch (`BatchShard.current`: `labels` are the shard's rows, the
  /// groups cut the global batch) every rank takes each backward pass, from the part of group
  /// j it holds (possibly none: its synchronised BatchNorm sums still take part), and the
  /// ranks' shares of g_j are summed; g is the global batch's gradient.
  public func groupGradients(
    on tape: Tape<Scalar>, labels: [Int], gradient g: NamedTensors<Scalar>, groups: LossGroups
  ) -> [NamedTensors<Scalar>] {
    let shard = BatchShard.current
    let offset = shard?.offset ?? 0
    precondition(
      (shard?.batchRows ?? labels.count) == groups.batch, "groupGradients: \(labels.count) labels for \(groups)")
    let (ranges, sizes) = (groups.ranges, groups.sizes.map { Scalar(Double($0)) })
    var members: [NamedTensors<Scalar>] = []
    for group in ranges.dropLast() {
      let rows = group.clamped(to: offset..<(offset + labels.count))
      let local = (rows.lowerBound - offset)..<(rows.upperBound - offset)
      tape.backward(from: tape.groupCrossEntropy(logits: logits, labels: labels, rows: local, of: group.count))
      let share = gradients(on: tape, names: g.names)
      members.append(shard?.collective?.sum(share) ?? share)
    }
    let total = Scalar(Double(groups.batch))
    var last = NamedTensors<Scalar>()
    for (name, batchGradient) in g.entries {
      var remainder = batchGradient.scalars.map { total * $0 }
      for (member, size) in zip(members, sizes) {
        let scalars = member[name]!.scalars
        for i in remainder.indices { remainder[i] -= size * scalars[i] }
      }
      let size = sizes.last!
      last.append(Tensor(shape: batchGradient.shape, scalars: remainder.map { $0 / size }), named: name)
    }
    return members + [last]
  }
}

extension Model {
  /// One forward pass, the batch gradient g and the m group gradients g_j (`groupGradients`):
  /// what a gradient-noise measurement takes, for a caller without a training step's tape. On
  /// a shard of a global batch of `globalRows` the gradients are the global batch's.
  public func groupGradients<Scalar: TensorScalar>(
    parameters: NamedTensors<Scalar>, buffers: NamedTensors<Scalar>, images: Tensor<Scalar>, labels: [Int],
    groups: Int, globalRows: Int? = nil, mode: NetworkMode = .training, seed: UInt64 = 0
  ) -> (loss: Scalar, gradient: NamedTensors<Scalar>, groups: [NamedTensors<Scalar>]) {
    let pass = backwardPass(
      parameters: parameters, buffers: buffers, images: images, labels: labels, mode: mode, seed: seed)
    let gradient = BatchShard.current?.collective?.sum(pass.gradient) ?? pass.gradient
    let members = pass.forward.groupGradients(
      on: pass.tape, labels: labels, gradient: gradient,
      groups: LossGroups(batch: globalRows ?? labels.count, count: groups))
    return (pass.tape.value(pass.loss).scalars[0], gradient, members)
  }
}

import Foundation

/// The ranks of a data-parallel run and the one operation they share: an element-wise sum.
///
/// A run on R ranks splits every global batch into R shards; each rank computes its shard's
/// contribution to the global batch's sums (BatchNorm's per-channel statistics, the loss, the
/// gradient, H·v, …) and `sum` adds the R contributions. The sum is taken in rank order,
/// ((x₀ + x₁) + x₂) + …, accumulated in Double whatever the element type, on every rank alike,
/// so its result depends neither on timing nor on which rank arrived first, and every rank
/// holds the same bits afterwards.
///
/// The operations do not fail: when another rank ends or reports a failure while this one
/// waits, the implementation ends the process (after letting rank 0 close its trace), so a
/// caller deep inside a forward pass needs no error path.
public protocol Collective: AnyObject, Sendable {
  /// This process's rank, 0..<size.
  var rank: Int { get }
  /// The number of ranks.
  var size: Int { get }
  /// Replaces `values` on every rank by the element-wise sum over ranks, in rank order.
  func sum(_ values: UnsafeMutableBufferPointer<Double>)
  /// The same for Float values: summed in Double in rank order, rounded once.
  func sum(_ values: UnsafeMutableBufferPointer<Float>)
  /// Bytes this rank has sent so far (the exchange's cost, for benchmarks and logs).
  var bytesSent: Int { get }
}

extension Collective {
  /// The element-wise sum over ranks of `values`.
  public func sum(_ values: [Double]) -> [Double] {
    var result = values
    result.withUnsafeMutableBufferPointer { sum($0) }
    return result
  }

  /// The sum over ranks of one number.
  public func sum(_ value: Double) -> Double { sum([value])[0] }

  /// Sums of values of any type made of Doubles only (Double, and the accumulators of the
  /// derivative-carrying scalars: `Dual<Double>`, `Jet<Double>`), component by component;
  /// Double values of a Double computation pass through here too.
  public func sum<Value>(components values: inout [Value]) {
    precondition(
      MemoryLayout<Value>.size == MemoryLayout<Value>.stride && MemoryLayout<Value>.size % 8 == 0,
      "Collective.sum: \(Value.self) is not made of Doubles")
    values.withUnsafeMutableBytes { raw in
      sum(raw.bindMemory(to: Double.self))
    }
  }
}

/// The part of a global batch a computation holds, bound while it runs
/// (`BatchShard.$current.withValue(shard) { … }`); nil when it holds the whole batch.
///
/// A data-parallel step cuts the global batch of N rows into contiguous shards, one per rank
/// (or, for ghost BatchNorm in one process, several run one after another). What a shard's
/// computation needs to know of the rest: the mean cross-entropy divides by N, not by the
/// shard's rows (so the shares of the loss and of every derivative add up to the global batch's);
/// dropout draws the global batch's mask and keeps its own rows; synchronised BatchNorm sums its
/// channel statistics over `collective`; and the curvature probes sum their shares over it.
public struct BatchShard: Sendable {
  /// The ranks the global batch is shared over (nil: this process holds every shard).
  public var collective: (any Collective)?
  /// BatchNorm normalises with the global batch's statistics (summed over `collective`), or
  /// with this shard's own (ghost BatchNorm: `--local-batchnorm`, `--ghost-batchnorm`).
  public var synchronisesBatchNorm: Bool
  /// The global batch's rows, N.
  public var batchRows: Int
  /// The global row this shard's first row is.
  public var offset: Int

  public init(collective: (any Collective)?, synchronisesBatchNorm: Bool, batchRows: Int, offset: Int) {
    (self.collective, self.synchronisesBatchNorm) = (collective, synchronisesBatchNorm)
    (self.batchRows, self.offset) = (batchRows, offset)
  }

  @TaskLocal public static var current: BatchShard?

  /// The collective BatchNorm sums its statistics over, if any.
  public static var batchNormCollective: (any Collective)? {
    guard let shard = current, shard.synchronisesBatchNorm else { return nil }
    return shard.collective
  }

  /// Rows of shard `shard` when a batch of `rows` is cut into `shards` contiguous shards: an
  /// even split, ⌊s·N/S⌋ ..< ⌊(s+1)·N/S⌋ (the ranks' shards, ghost BatchNorm's groups, the
  /// gradient-noise groups).
  @inlinable
  public static func rows(ofShard shard: Int, of shards: Int, batch rows: Int) -> Range<Int> {
    (rows * shard / shards)..<(rows * (shard + 1) / shards)
  }
}

/// The sum of one contribution per rank of each of `count` values, as every `Collective.sum`
/// computes it: in Double, rank 0 first, ((x₀ + x₁) + x₂) + ….
@inlinable
public func rankOrderedSum(ranks: Int, count: Int, _ value: (_ rank: Int, _ index: Int) -> Double) -> [Double] {
  (0..<count).map { index in
    var total = 0.0
    for rank in 0..<ranks { total += value(rank, index) }
    return total
  }
}

extension Collective {
  /// Each tensor summed over the ranks (Float tensors exchanged as Float, summed in Double).
  public func sum<Scalar: TensorScalar>(_ tensors: NamedTensors<Scalar>) -> NamedTensors<Scalar> {
    guard size > 1 else { return tensors }
    let entries = tensors.entries
    var flat: [Scalar] = []
    flat.reserveCapacity(entries.reduce(0) { $0 + $1.tensor.count })
    for entry in entries { flat += entry.tensor.inLayout(.nchw).scalars }
    if Scalar.self == Float.self {
      var floats = unsafeBitCast(flat, to: [Float].self)
      floats.withUnsafeMutableBufferPointer { sum($0) }
      flat = unsafeBitCast(floats, to: [Scalar].self)
    } else {
      sum(components: &flat)
    }
    var result = NamedTensors<Scalar>()
    var start = 0
    for (name, tensor) in entries {
      result.append(Tensor(shape: tensor.shape, scalars: Array(flat[start..<start + tensor.count])), named: name)
      start += tensor.count
    }
    return result
  }
}

/// R ranks as threads of one process (tests and examples): `LocalCollectiveGroup(size:)` makes
/// the group and `rank(r)` each thread's member. The sums are the same rank-ordered Double sums
/// an MPI run takes.
public final class LocalCollectiveGroup: @unchecked Sendable {
  public let size: Int
  private let condition = NSCondition()
  private var slots: [[Double]]
  private var arrived = 0
  private var generation = 0

  public init(size: Int) {
    precondition(size >= 1, "LocalCollectiveGroup: need at least one rank")
    self.size = size
    slots = Array(repeating: [], count: size)
  }

  public func rank(_ rank: Int) -> LocalCollective {
    precondition((0..<size).contains(rank), "LocalCollectiveGroup: rank \(rank) outside 0..<\(size)")
    return LocalCollective(group: self, rank: rank)
  }

  /// Deposits `values` as `rank`'s slot, waits for every rank, returns the ordered sum, and
  /// waits again so that no rank overwrites a slot another is still reading.
  func exchange(_ values: [Double], rank: Int) -> [Double] {
    condition.lock()
    slots[rank] = values
    barrier()
    let count = values.count
    precondition(slots.allSatisfy { $0.count == count }, "LocalCollective: ranks summed different lengths")
    let total = rankOrderedSum(ranks: size, count: count) { slots[$0][$1] }
    barrier()
    condition.unlock()
    return total
  }

  /// Waits (holding the lock between waits) until all `size` ranks have arrived.
  private func barrier() {
    let mine = generation
    arrived += 1
    if arrived == size {
      arrived = 0
      generation += 1
      condition.broadcast()
    } else {
      while generation == mine { condition.wait() }
    }
  }
}

/// One rank of a `LocalCollectiveGroup`.
public final class LocalCollective: Collective, @unchecked Sendable {
  public let rank: Int
  public var size: Int { group.size }
  public private(set) var bytesSent = 0
  private let group: LocalCollectiveGroup

  init(group: LocalCollectiveGroup, rank: Int) {
    self.group = group
    self.rank = rank
  }

  public func sum(_ values: UnsafeMutableBufferPointer<Double>) {
    bytesSent += values.count * 8
    let total = group.exchange(Array(values), rank: rank)
    for i in values.indices { values[i] = total[i] }
  }

  public func sum(_ values: UnsafeMutableBufferPointer<Float>) {
    bytesSent += values.count * 4
    let total = group.exchange(values.map(Double.init), rank: rank)
    for i in values.indices { values[i] = Float(total[i]) }
  }
}

extension Tensor {
  /// Rows `rows` of a batch [N, …] (the first axis); the tensor itself when that is all of it.
  public func rows(_ rows: Range<Int>) -> Tensor<Scalar> {
    guard rows != 0..<shape[0] else { return self }
    let size = count / shape[0]
    return Tensor(
      shape: [rows.count] + shape.dropFirst(),
      scalars: Array(scalars[(rows.lowerBound * size)..<(rows.upperBound * size)]))
  }
}

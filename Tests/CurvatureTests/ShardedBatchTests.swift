import Curvature
import Foundation
import Networks
import TensorCore
import Testing

/// A batch cut into shards held by R ranks (threads of this process, `LocalCollectiveGroup`,
/// whose sums are the rank-ordered Double sums an MPI run takes) gives the single-process
/// numbers: in Double, loss, accuracy, gradient, H·v (forward-over-reverse on dual numbers),
/// vᵀHv (Taylor mode on jets), a displaced loss and BatchNorm's batch statistics agree within
/// 1e-12 relative, with BatchNorm synchronised and a dropout layer, over an uneven split
/// (3 ranks, 8 rows: 2 + 3 + 3). Ghost BatchNorm (statistics per rank) equals the shards run
/// one after another in one process. Unsynchronised statistics do not pass the first check
/// (so it can fail).
@Suite("Sharded batches give the global batch's numbers")
struct ShardedBatchTests {
  static let rows = 8

  static func network() throws -> Network<Double> {
    var graph = ModelGraphBuilder(name: "sharded", input: [1, 8, 8])
    graph.add("stem.conv", Conv2d(outChannels: 4, kernel: 3, padding: 1))
    graph.add("stem.bn", BatchNorm())
    graph.add("stem.tanh", Tanh(), block: "stem")
    graph.add("down.conv", Conv2d(outChannels: 6, kernel: 3, stride: 2, padding: 1))
    graph.add("down.bn", BatchNorm())
    graph.add("down.tanh", Tanh(), block: "down")
    graph.add("pool", GlobalAveragePool())
    graph.add("drop", Dropout(probability: 0.25))
    graph.add("fc", Linear(outFeatures: 3))
    return try Network<Double>(.graph(graph.graph), initialization: .he, seed: 3)
  }

  /// Everything compared: scalars and vectors, flattened.
  struct Measured {
    var loss, accuracy, slope, curvature, displaced: Double
    var gradient, product: NamedTensors<Double>
    var mean, variance: [Double]
    /// The gradients of 4 groups of the global batch's loss terms (gradient noise).
    var groups: [NamedTensors<Double>] = []
  }

  static func measure(
    _ network: Network<Double>, images: Tensor<Double>, labels: [Int], direction: NamedTensors<Double>
  ) -> Measured {
    let probe = CurvatureProbe(
      model: network.model, weights: network.parameters, buffers: network.buffers, images: images, labels: labels,
      exactLoss: false, seed: 11)
    let (loss, accuracy, gradient) = probe.gradient()
    let product = probe.hessianVectorProduct(direction)
    let (slope, curvature) = probe.curvature(along: direction)
    let displaced = probe.loss(displacedBy: direction.scaled(by: 1e-3))
    let statistics = network.model.gradient(
      parameters: network.parameters, buffers: network.buffers, images: images, labels: labels, seed: 11
    ).batchStatistics
    let groups = network.model.groupGradients(
      parameters: network.parameters, buffers: network.buffers, images: images, labels: labels, groups: 4,
      globalRows: BatchShard.current?.batchRows, seed: 11
    ).groups
    return Measured(
      loss: loss, accuracy: accuracy, slope: slope, curvature: curvature, displaced: displaced, gradient: gradient,
      product: product, mean: statistics.flatMap(\.mean.scalars),
      variance: statistics.flatMap(\.biasedVariance.scalars),
      groups: groups)
  }

  /// Each rank's measurement on its rows, the ranks running as threads.
  static func sharded(
    ranks: Int, synchronised: Bool, network: Network<Double>, images: Tensor<Double>, labels: [Int],
    direction: NamedTensors<Double>
  ) -> [Measured] {
    let group = LocalCollectiveGroup(size: ranks)
    let results = Results(count: ranks)
    let shared = Shared(network)  // read only, by every rank
    let threads = (0..<ranks).map { rank in
      Thread {
        let rows = (rows * rank / ranks)..<(rows * (rank + 1) / ranks)
        let shard = BatchShard(
          collective: group.rank(rank), synchronisesBatchNorm: synchronised, batchRows: Self.rows,
          offset: rows.lowerBound)
        let measured = ComputeThreads.$override.withValue(1) {
          BatchShard.$current.withValue(shard) {
            measure(shared.network, images: rowsOf(images, rows), labels: Array(labels[rows]), direction: direction)
          }
        }
        results.set(rank, measured)
      }
    }
    threads.forEach { $0.start() }
    return results.wait()
  }

  final class Shared: @unchecked Sendable {
    let network: Network<Double>
    init(_ network: Network<Double>) { self.network = network }
  }

  final class Results: @unchecked Sendable {
    private let condition = NSCondition()
    private var values: [Measured?]
    init(count: Int) { values = Array(repeating: nil, count: count) }
    func set(_ index: Int, _ value: Measured) {
      condition.lock()
      values[index] = value
      condition.broadcast()
      condition.unlock()
    }
    func wait() -> [Measured] {
      condition.lock()
      while values.contains(where: { $0 == nil }) { condition.wait() }
      condition.unlock()
      return values.map { $0! }
    }
  }

  static func rowsOf(_ images: Tensor<Double>, _ rows: Range<Int>) -> Tensor<Double> {
    let size = images.count / images.shape[0]
    return Tensor(
      shape: [rows.count] + images.shape.dropFirst(),
      scalars: Array(images.scalars[(rows.lowerBound * size)..<(rows.upperBound * size)]))
  }

  static func relative(_ a: [Double], _ b: [Double]) -> Double {
    let difference = zip(a, b).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot()
    let scale = max(a.reduce(0) { $0 + $1 * $1 }.squareRoot(), 1e-300)
    return difference / scale
  }

  static func errors(_ a: Measured, _ b: Measured) -> [String: Double] {
    func flat(_ t: NamedTensors<Double>) -> [Double] { t.entries.flatMap(\.tensor.scalars) }
    return [
      "loss": relative([a.loss], [b.loss]), "accuracy": relative([a.accuracy], [b.accuracy]),
      "slope gᵀv": relative([a.slope], [b.slope]), "vᵀHv": relative([a.curvature], [b.curvature]),
      "f(w + 1e-3 v)": relative([a.displaced], [b.displaced]), "gradient": relative(flat(a.gradient), flat(b.gradient)),
      "H·v": relative(flat(a.product), flat(b.product)), "BatchNorm mean": relative(a.mean, b.mean),
      "BatchNorm variance": relative(a.variance, b.variance),
      "group gradients": relative(a.groups.flatMap(flat), b.groups.flatMap(flat)),
    ]
  }

  static func batch() -> (Tensor<Double>, [Int], SeededGenerator) {
    var generator = SeededGenerator(seed: 29)
    let images = Tensor<Double>(
      shape: [rows, 1, 8, 8], scalars: (0..<(rows * 64)).map { _ in generator.nextNormal() * 2 + 0.5 })
    let labels = (0..<rows).map { _ in Int(generator.next() % 3) }
    return (images, labels, generator)
  }

  @Test func synchronisedShardsGiveTheGlobalBatch() throws {
    let network = try Self.network()
    var (images, labels, generator) = Self.batch()
    let direction = network.parameters.filled { _, _ in generator.nextNormal() }
    let single = ComputeThreads.$override.withValue(1) {
      Self.measure(network, images: images, labels: labels, direction: direction)
    }
    for (rank, measured) in Self.sharded(
      ranks: 3, synchronised: true, network: network, images: images, labels: labels, direction: direction
    ).enumerated() {
      for (name, error) in Self.errors(single, measured).sorted(by: { $0.key < $1.key }) {
        #expect(error <= 1e-12, "rank \(rank): \(name) off by \(error) relative")
      }
    }
    // Per-rank statistics are another function: the comparison tells them apart.
    let local = Self.sharded(
      ranks: 3, synchronised: false, network: network, images: images, labels: labels, direction: direction)
    let unsynchronised = Self.errors(single, local[0])
    #expect(unsynchronised["gradient"]! > 1e-3 && unsynchronised["BatchNorm mean"]! > 1e-3, "\(unsynchronised)")
  }

  @Test func ghostBatchNormEqualsShardsOneAfterAnother() throws {
    let network = try Self.network()
    var (images, labels, generator) = Self.batch()
    let direction = network.parameters.filled { _, _ in generator.nextNormal() }
    // One process: each half on its own, as the trainer's --ghost-batchnorm 2 runs them, the
    // loss divided by the whole batch's rows so that the halves' shares add up.
    let halves = (0..<2).map { half in
      let rows = (4 * half)..<(4 * half + 4)
      let shard = BatchShard(
        collective: nil, synchronisesBatchNorm: false, batchRows: Self.rows, offset: rows.lowerBound)
      return ComputeThreads.$override.withValue(1) {
        BatchShard.$current.withValue(shard) {
          Self.measure(
            network, images: Self.rowsOf(images, rows), labels: Array(labels[rows]), direction: direction)
        }
      }
    }
    let ranks = Self.sharded(
      ranks: 2, synchronised: false, network: network, images: images, labels: labels, direction: direction)
    let (a, b) = (halves[0], halves[1])
    let expected = Measured(
      loss: a.loss + b.loss, accuracy: ranks[0].accuracy, slope: a.slope + b.slope,
      curvature: a.curvature + b.curvature, displaced: a.displaced + b.displaced,
      gradient: a.gradient.adding(b.gradient, scaledBy: 1), product: a.product.adding(b.product, scaledBy: 1),
      mean: b.mean, variance: b.variance, groups: ranks[1].groups)
    for (name, error) in Self.errors(expected, ranks[1]).sorted(by: { $0.key < $1.key }) {
      #expect(error <= 1e-12, "\(name) off by \(error) relative")
    }
    #expect(ranks[0].mean == a.mean && ranks[1].mean == b.mean, "each rank normalises with its own rows")
  }
}

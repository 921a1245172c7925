import Foundation
import TensorCore
import Testing
import TraceIO
import Training

/// `LogHistogramCounter` (bins from float bits and an edge table) against a direct computation
/// in Double, and quantiles read from the counts against exact ones.
@Suite("Log-magnitude histograms")
struct LogHistogramTests {
  /// Values over every decade float32 has, both signs, exact edges and their neighbours, zeros
  /// of both signs, subnormals, NaN and the infinities.
  static func awkwardValues(bins: LogHistogramBins, count: Int, seed: UInt64) -> [Float] {
    var generator = SeededGenerator(seed: seed)
    func uniform() -> Double { generator.nextUnit() }
    var values: [Float] = (0..<count).map { _ in
      let magnitude = Float(pow(10, -44 + 82 * uniform()))
      return uniform() < 0.3 ? -magnitude : magnitude
    }
    for j in 0...bins.count {
      let edge = Float(pow(10, bins.edge(j)))
      values += [edge, edge.nextUp, edge.nextDown, -edge, -edge.nextDown]
    }
    values += [
      0, -0, .nan, -.nan, .infinity, -.infinity, .infinity, Float.leastNonzeroMagnitude, .greatestFiniteMagnitude,
    ]
    values += [-Float.leastNormalMagnitude, Float.leastNormalMagnitude.nextDown]
    return values
  }

  /// The histogram by definition: bin j holds 10^edge(j) ≤ |x| < 10^edge(j+1), compared in Double.
  static func direct(_ values: [Float], bins: LogHistogramBins) -> LogHistogram {
    var counts = [Int](repeating: 0, count: bins.count)
    var specials = [Int](repeating: 0, count: HistogramSpecial.allCases.count)
    let edges = bins.edges.map { pow(10, $0) }
    for value in values {
      let special: HistogramSpecial?
      if value.isNaN {
        special = .nan
      } else if value.isInfinite {
        special = value > 0 ? .positiveInfinity : .negativeInfinity
      } else if value == 0 {
        special = .zero
      } else {
        if value < 0 { specials[HistogramSpecial.negative.rawValue] += 1 }
        let magnitude = Double(abs(value))
        let above = edges.lastIndex { magnitude >= $0 }
        switch above {
        case nil: special = .belowRange
        case bins.count?: special = .aboveRange
        case let j?:
          counts[j] += 1
          special = nil
        }
      }
      if let special { specials[special.rawValue] += 1 }
    }
    return LogHistogram(bins: bins, counts: counts, specials: specials)
  }

  @Test(arguments: [
    LogHistogramBins(), LogHistogramBins(lowDecade: -37, highDecade: 38, binsPerDecade: 64),
    LogHistogramBins(lowDecade: -3, highDecade: 2, binsPerDecade: 1),
    LogHistogramBins(lowDecade: -20, highDecade: -10, binsPerDecade: 10),
  ])
  func countsEqualTheDefinition(bins: LogHistogramBins) {
    let values = Self.awkwardValues(bins: bins, count: 20_000, seed: 7)
    let counter = LogHistogramCounter(bins: bins)
    let counted = values.withUnsafeBufferPointer { counter.histogram(of: $0) }
    let expected = Self.direct(values, bins: bins)
    #expect(counted == expected, "bins \(bins)")
    #expect(counted.total == values.count)
    #expect(counted.nonFinite == 5)
    #expect(counted[.zero] == 2 && counted[.positiveInfinity] == 2 && counted[.negativeInfinity] == 1)
  }

  /// A tensor counted in parallel slices, and an update counted from the two weight tensors
  /// without forming it, equal the serial count of the same values.
  @Test func parallelAndDifferenceCountsEqualTheSerialOne() {
    let bins = LogHistogramBins()
    let counter = LogHistogramCounter(bins: bins)
    var generator = SeededGenerator(seed: 3)
    let n = 300_001
    let before = Tensor<Float>(shape: [n]) { p in for i in 0..<n { p[i] = Float(generator.nextNormal()) } }
    let after = Tensor<Float>(shape: [n]) { p in
      for i in 0..<n { p[i] = before.scalars[i] + Float(generator.nextNormal()) * (i % 3 == 0 ? 0 : 1e-6) }
    }
    let difference = zip(after.scalars, before.scalars).map { $0 - $1 }
    let serial = difference.withUnsafeBufferPointer { counter.histogram(of: $0) }
    #expect(counter.histogram(ofDifference: after, before) == serial)
    // Every third element did not move (and some moves round away): the update's zeros.
    #expect(serial[.zero] == difference.filter { $0 == 0 }.count && serial[.zero] >= (n + 2) / 3)
    for threads in [1, 2, 3] {
      ComputeThreads.set(threads)
      let parallel = counter.histogram(of: before)
      #expect(parallel == before.scalars.withUnsafeBufferPointer { counter.histogram(of: $0) }, "\(threads) threads")
    }
    ComputeThreads.set(2)
  }

  /// Quantiles of log10 |x| read from the counts lie within one bin width of the exact ones,
  /// for magnitudes spread over many decades (log-normal) with zeros among them.
  @Test func quantilesAreWithinOneBinOfTheExactOnes() throws {
    var generator = SeededGenerator(seed: 11)
    for (bins, spread) in [(LogHistogramBins(), 3.0), (LogHistogramBins(binsPerDecade: 16), 0.5)] {
      var values: [Float] = (0..<50_000).map { _ in Float(pow(10, -8 + spread * generator.nextNormal())) }
      values += [Float](repeating: 0, count: 500)
      let histogram = values.withUnsafeBufferPointer { LogHistogramCounter(bins: bins).histogram(of: $0) }
      let sorted = values.map { log10(Double($0)) }.sorted()
      for q in [0.0, 0.005, 0.02, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 1] {
        let estimate = try #require(histogram.quantile(q))
        // The exact quantile: the same rank, interpolated between its neighbours.
        let rank = q * Double(sorted.count - 1)
        let (low, high) = (sorted[Int(rank.rounded(.down))], sorted[Int(rank.rounded(.up))])
        if low == -.infinity {
          #expect(estimate == -.infinity, "q \(q)")
          continue
        }
        let exact = low + (high - low) * (rank - rank.rounded(.down))
        #expect(abs(estimate - exact) <= 1 / Double(bins.binsPerDecade), "q \(q): \(estimate) vs exact \(exact)")
      }
      let mode = try #require(histogram.mode)
      #expect(abs(mode - -8) <= 0.5, "mode \(mode)")
    }
    let empty = LogHistogram(
      bins: LogHistogramBins(), counts: [Int](repeating: 0, count: 136), specials: [0, 0, 0, 3, 0, 0, 0])
    #expect(empty.quantile(0.5) == nil && empty.mode == nil)
  }

  @Test func binsRoundTripThroughTheirEdgesAndRefuseWhatCannotBeCounted() {
    for bins in [LogHistogramBins(), LogHistogramBins(lowDecade: -37, highDecade: 38, binsPerDecade: 64)] {
      #expect(LogHistogramBins(edges: bins.edges.map { Double(Float($0)) }) == bins)
    }
    #expect(LogHistogramBins(edges: [0, 0.3, 1]) == nil)
    #expect(LogHistogramBins(lowDecade: -40).problem?.contains("1e-37") == true)
    #expect(LogHistogramBins(lowDecade: 4, highDecade: 4).problem?.contains("not below") == true)
    #expect(LogHistogramBins(binsPerDecade: 65).problem?.contains("1...64") == true)
  }
}

import Foundation

/// Bins in log10 |x|: `binsPerDecade` bins per decade from 10^lowDecade to 10^highDecade.
/// Bin j holds 10^(low + j/b) ≤ |x| < 10^(low + (j + 1)/b). Gradients of a vanishing plain
/// VGG38 stem sit near 1e-18 while its head's are near 1e-4: on a linear (min-max) axis the
/// vanishing layers collapse into one bin, on this axis each keeps its own shape.
public struct LogHistogramBins: Codable, Equatable, Sendable {
  public var lowDecade: Int
  public var highDecade: Int
  public var binsPerDecade: Int

  /// 1e-30 to 1e4, 4 bins per decade (136 bins).
  public init(lowDecade: Int = -30, highDecade: Int = 4, binsPerDecade: Int = 4) {
    (self.lowDecade, self.highDecade, self.binsPerDecade) = (lowDecade, highDecade, binsPerDecade)
  }

  /// The range float32 can bin (every edge a normal float) and a resolution the counting
  /// kernel supports (at most one edge between two floats that share their top 16 bits).
  public static let decadeRange = -37...38
  public static let binsPerDecadeRange = 1...64

  /// Why these bins cannot be used; nil when they can.
  public var problem: String? {
    guard Self.decadeRange.contains(lowDecade), Self.decadeRange.contains(highDecade) else {
      return "the range must lie within 1e\(Self.decadeRange.lowerBound) to 1e\(Self.decadeRange.upperBound) "
        + "(float32's normal numbers), got 1e\(lowDecade) to 1e\(highDecade)"
    }
    guard lowDecade < highDecade else { return "the range's low end 1e\(lowDecade) is not below 1e\(highDecade)" }
    guard Self.binsPerDecadeRange.contains(binsPerDecade) else {
      return
        "bins per decade must be in \(Self.binsPerDecadeRange.lowerBound)...\(Self.binsPerDecadeRange.upperBound), "
        + "got \(binsPerDecade)"
    }
    return nil
  }

  public var count: Int { (highDecade - lowDecade) * binsPerDecade }

  /// log10 of edge j (0...count): bin j spans edges j and j + 1.
  public func edge(_ j: Int) -> Double { Double(lowDecade) + Double(j) / Double(binsPerDecade) }

  /// The count + 1 edges, in log10 |x|.
  public var edges: [Double] { (0...count).map(edge) }

  /// The bins whose edges these are (the inverse of `edges`), or nil when they are not such a
  /// sequence (evenly spaced, a whole number of bins per decade, starting and ending on decades).
  public init?(edges: [Double]) {
    guard edges.count >= 2, let first = edges.first, let last = edges.last else { return nil }
    let perDecade = (Double(edges.count - 1) / (last - first)).rounded()
    let bins = Self(lowDecade: Int(first.rounded()), highDecade: Int(last.rounded()), binsPerDecade: Int(perDecade))
    guard bins.problem == nil, bins.count == edges.count - 1,
      zip(bins.edges, edges).allSatisfy({ abs($0 - $1) < 1e-4 })
    else { return nil }
    self = bins
  }
}

/// What falls outside the bins, stored beside them per tensor. The bins plus zero, below and
/// above range, NaN and both infinities count every element once; `negative` counts the
/// finite non-zero values below 0 (whatever their bin).
public enum HistogramSpecial: Int, CaseIterable, Sendable {
  case zero, belowRange, aboveRange, nan, positiveInfinity, negativeInfinity, negative

  public var name: String {
    switch self {
    case .zero: "zero"
    case .belowRange: "below_range"
    case .aboveRange: "above_range"
    case .nan: "nan"
    case .positiveInfinity: "positive_infinity"
    case .negativeInfinity: "negative_infinity"
    case .negative: "negative"
    }
  }

  /// The specials that, with the bins, partition the elements (all but `negative`).
  public static let partition: [HistogramSpecial] = [
    .zero, .belowRange, .aboveRange, .nan, .positiveInfinity, .negativeInfinity,
  ]
}

/// One tensor's log-magnitude histogram: the bin counts and the specials.
public struct LogHistogram: Equatable, Sendable {
  public var bins: LogHistogramBins
  public var counts: [Int]
  /// Indexed by `HistogramSpecial.rawValue`.
  public var specials: [Int]

  public init(bins: LogHistogramBins, counts: [Int], specials: [Int]) {
    precondition(counts.count == bins.count && specials.count == HistogramSpecial.allCases.count)
    (self.bins, self.counts, self.specials) = (bins, counts, specials)
  }

  /// One trace row of a histogram dataset and its specials ([entries, b] and [entries, 7],
  /// row-major, as `TraceReader.values` returns them) as one histogram per layer or block.
  public static func entries(counts: [Double], specials: [Double], bins: LogHistogramBins) -> [LogHistogram] {
    let specialCount = HistogramSpecial.allCases.count
    return (0..<(specials.count / specialCount)).map { e in
      LogHistogram(
        bins: bins, counts: counts[(e * bins.count)..<((e + 1) * bins.count)].map { Int($0) },
        specials: specials[(e * specialCount)..<((e + 1) * specialCount)].map { Int($0) })
    }
  }

  public subscript(_ special: HistogramSpecial) -> Int { specials[special.rawValue] }

  /// Every element counted once: the bins plus the partitioning specials.
  public var total: Int { counts.reduce(0, +) + HistogramSpecial.partition.reduce(0) { $0 + self[$1] } }
  /// Elements that are NaN or infinite.
  public var nonFinite: Int { self[.nan] + self[.positiveInfinity] + self[.negativeInfinity] }

  /// The q-quantile (0 ≤ q ≤ 1) of log10 |x| over the finite elements, read from the counts:
  /// −∞ when it falls among the zeros, the range's low (high) end when below (above) it, and
  /// within its bin by linear interpolation in log10 |x| by rank, so it is within one bin width
  /// (1/binsPerDecade decades) of the exact quantile. nil when no element is finite.
  public func quantile(_ q: Double) -> Double? {
    let finite = self[.zero] + self[.belowRange] + counts.reduce(0, +) + self[.aboveRange]
    guard finite > 0 else { return nil }
    // The rank of the quantile among the finite values sorted by |x| (the lower one of a pair).
    let rank = min(Double(finite - 1), max(0, q * Double(finite - 1)))
    var below = Double(self[.zero])
    if rank < below { return -.infinity }
    below += Double(self[.belowRange])
    if rank < below { return bins.edge(0) }
    for (j, count) in counts.enumerated() where count > 0 {
      if rank < below + Double(count) {
        let within = (rank - below + 0.5) / Double(count)
        return bins.edge(j) + within / Double(bins.binsPerDecade)
      }
      below += Double(count)
    }
    return bins.edge(bins.count)
  }

  /// log10 |x| at the centre of the fullest bin; nil when every bin is empty.
  public var mode: Double? {
    guard let (j, count) = counts.enumerated().max(by: { $0.element < $1.element }), count > 0 else { return nil }
    return bins.edge(j) + 0.5 / Double(bins.binsPerDecade)
  }
}

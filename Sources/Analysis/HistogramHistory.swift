import Foundation
import TraceIO

/// Which recorded tensor's histograms (`/histograms`, `train --histogram-every`).
public enum HistogramTensor: String, CaseIterable, Codable, Sendable {
  case gradients, updates, weights, activations

  /// Its counts and its specials.
  public var datasets: (counts: TraceDataset, specials: TraceDataset) {
    switch self {
    case .gradients: (.gradientHistogram, .gradientSpecials)
    case .updates: (.updateHistogram, .updateSpecials)
    case .weights: (.weightHistogram, .weightSpecials)
    case .activations: (.activationHistogram, .activationSpecials)
    }
  }

  /// "|∂f/∂W|", "|update|", …: what the histogram is of.
  public var magnitude: String {
    switch self {
    case .gradients: "|∂f/∂W|"
    case .updates: "|W_{t+1} − W_t|"
    case .weights: "|W|"
    case .activations: "|block output|"
    }
  }
}

/// What colours a depth × time heatmap: a quantile (0 ≤ q ≤ 1) or the mode of log10 |x|.
public enum HistogramStatistic: Equatable, Sendable, CustomStringConvertible {
  case quantile(Double)
  case mode

  /// "mode", "median", or a quantile such as "0.9"; nil otherwise.
  public init?(argument: String) {
    switch argument {
    case "mode": self = .mode
    case "median": self = .quantile(0.5)
    default:
      guard let q = Double(argument), q >= 0, q <= 1 else { return nil }
      self = .quantile(q)
    }
  }

  public var description: String {
    switch self {
    case .mode: "mode"
    case .quantile(0.5): "median"
    case .quantile(let q): String(format: "%g-quantile", q)
    }
  }

  /// The statistic of one histogram in log10 |x| (−∞: zeros; nil: nothing finite).
  public func value(of histogram: LogHistogram) -> Double? {
    switch self {
    case .mode: histogram.mode
    case .quantile(let q): histogram.quantile(q)
    }
  }
}

/// One tensor's histograms reduced for a depth × time picture: a statistic of log10 |x| and
/// the count of non-finite values per histogram row and layer (or block).
public struct HistogramSummary: Sendable {
  public var tensor: HistogramTensor
  public var statistic: HistogramStatistic
  public var bins: LogHistogramBins
  /// The rows shown (all of them, or an even thinning of a long run).
  public var steps: [Int]
  /// Layer or block names, in application order.
  public var entries: [String]
  /// values[row][entry]: the statistic in log10 |x|; −∞ when it falls among zeros, NaN when the
  /// tensor held nothing finite.
  public var values: [[Double]]
  /// nonFinite[row][entry]: NaN and infinities.
  public var nonFinite: [[Int]]

  /// Reads `tensor`'s histograms from `reader` (nil when it has none), at most `columns` rows
  /// spread evenly over the run (the first and the last always), one row at a time.
  public init?(
    reader: TraceReader, tensor: HistogramTensor, statistic: HistogramStatistic = .quantile(0.5), columns: Int = 240
  ) throws {
    let (countsDataset, specialsDataset) = tensor.datasets
    guard let bins = try reader.histogramBins(), reader.holds(countsDataset) else { return nil }
    let all = try reader.steps(.histograms)
    guard !all.isEmpty else { return nil }
    let picked =
      all.count <= columns
      ? Array(all.indices) : Array(Set((0..<columns).map { $0 * (all.count - 1) / (columns - 1) })).sorted()
    entries = tensor == .activations ? try reader.activationNames() ?? [] : try reader.layerNames()
    (self.tensor, self.statistic, self.bins, steps) = (tensor, statistic, bins, picked.map { all[$0] })
    (values, nonFinite) = ([], [])
    for row in picked {
      let histograms = LogHistogram.entries(
        counts: try reader.values(countsDataset, start: row, count: 1),
        specials: try reader.values(specialsDataset, start: row, count: 1), bins: bins)
      values.append(histograms.map { statistic.value(of: $0) ?? .nan })
      nonFinite.append(histograms.map(\.nonFinite))
    }
  }
}

extension TraceAnalysis {
  /// What the recorded histograms say: where the gradients' magnitudes sit from the input to
  /// the output, which layers' gradients fell below the range, and where a diverging run's NaN
  /// and infinities appeared first.
  public struct Histograms: Codable, Sendable {
    public var rows: Int
    public var lastStep: Int
    /// Median log10 |∂f/∂W| per layer at the last histogram (−∞: mostly zeros; NaN: none finite).
    public var gradientMedians: [Double]
    public var layerNames: [String]
    /// Layers whose median |∂f/∂W| at the last histogram lies below the range (or is 0).
    public var vanishedLayers: [String]
    public var rangeLow: Double
    /// The first histogram step holding NaN or ±Inf in any tensor, and what held them there.
    public var firstNonFiniteStep: Int?
    public var nonFinite: [NonFinite]

    public struct NonFinite: Codable, Sendable {
      public var tensor: String
      public var entries: Int
      public var of: Int
      /// The first such entry in application order.
      public var first: String
      public var nan: Int
      public var infinite: Int
    }
  }

  static func histogramSummary(_ reader: TraceReader) throws -> Histograms? {
    guard let bins = try reader.histogramBins() else { return nil }
    let steps = try reader.steps(.histograms)
    guard let lastStep = steps.last else { return nil }
    let layerNames = try reader.layerNames()
    let specialCount = HistogramSpecial.allCases.count
    let medians = LogHistogram.entries(
      counts: try reader.values(.gradientHistogram, start: steps.count - 1, count: 1),
      specials: try reader.values(.gradientSpecials, start: steps.count - 1, count: 1), bins: bins
    ).map { $0.quantile(0.5) ?? .nan }
    var summary = Histograms(
      rows: steps.count, lastStep: lastStep, gradientMedians: medians, layerNames: layerNames,
      vanishedLayers: zip(layerNames, medians).filter { $0.1 <= bins.edge(0) }.map(\.0), rangeLow: bins.edge(0),
      firstNonFiniteStep: nil, nonFinite: [])
    // The specials are small (entries × 7 per row): read whole to find the first non-finite row.
    var perTensor: [(tensor: HistogramTensor, names: [String], specials: [Double])] = []
    for tensor in HistogramTensor.allCases where reader.holds(tensor.datasets.specials) {
      let names = tensor == .activations ? try reader.activationNames() ?? [] : layerNames
      perTensor.append((tensor, names, try reader.values(tensor.datasets.specials)))
    }
    /// The count of `special` of `entry` at `row` in one tensor's specials.
    func count(_ t: Int, _ row: Int, _ entry: Int, _ special: HistogramSpecial) -> Int {
      let (names, specials) = (perTensor[t].names, perTensor[t].specials)
      return Int(specials[(row * names.count + entry) * specialCount + special.rawValue])
    }
    func nonFinite(_ t: Int, _ row: Int, _ entry: Int) -> Int {
      count(t, row, entry, .nan) + count(t, row, entry, .positiveInfinity) + count(t, row, entry, .negativeInfinity)
    }
    let firstRow = steps.indices.first { row in
      perTensor.indices.contains { t in perTensor[t].names.indices.contains { nonFinite(t, row, $0) > 0 } }
    }
    guard let row = firstRow else { return summary }
    summary.firstNonFiniteStep = steps[row]
    for (t, (tensor, names, _)) in perTensor.enumerated() {
      let held = names.indices.filter { nonFinite(t, row, $0) > 0 }
      guard let first = held.first else { continue }
      summary.nonFinite.append(
        Histograms.NonFinite(
          tensor: tensor.rawValue, entries: held.count, of: names.count, first: names[first],
          nan: held.reduce(0) { $0 + count(t, row, $1, .nan) },
          infinite: held.reduce(0) { $0 + nonFinite(t, row, $1) - count(t, row, $1, .nan) }))
    }
    return summary
  }
}

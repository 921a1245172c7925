import Foundation
import TraceIO

/// The spectra a trace recorded (`/spectrum`, `train --spectrum-every`), read whole: a run
/// holds a few of them.
public struct SpectrumHistory: Sendable {
  public var steps: [Int]
  /// The top-k eigenvalues (descending) and bottom-k (ascending) of each spectrum.
  public var top: [[Double]]
  public var bottom: [[Double]]
  public var gradientOverlap: [Double]
  public var updateOverlap: [Double]
  public var outliers: [Int]
  public var bulkEdge: [Double]
  public var negativeMass: [Double]
  public var sharpness: [Double]
  public var threshold: [Double]
  public var sigma: [Double]
  /// Each spectrum's quadrature: [probe][node] (NaN past a probe's steps).
  public var nodes: [[[Double]]]
  public var weights: [[[Double]]]

  /// nil when the trace holds no spectrum.
  public init?(reader: TraceReader) throws {
    guard let shape = try reader.spectrumShape(), try reader.rowCount(.spectrum) > 0 else { return nil }
    let columns = try reader.columns([
      .spectrumStep, .spectrumGradientOverlap, .spectrumUpdateOverlap, .spectrumOutliers, .spectrumBulkEdge,
      .spectrumNegativeMass, .spectrumSharpness, .spectrumThreshold, .spectrumSigma,
    ])
    steps = columns[0].map { Int($0) }
    (gradientOverlap, updateOverlap, bulkEdge) = (columns[1], columns[2], columns[4])
    outliers = columns[3].map { $0.isFinite ? Int($0) : 0 }
    (negativeMass, sharpness, threshold, sigma) = (columns[5], columns[6], columns[7], columns[8])
    top = try reader.rows(.spectrumTop)
    bottom = try reader.rows(.spectrumBottom)
    func probes(_ flat: [[Double]]) -> [[[Double]]] {
      flat.map { row in (0..<shape.probes).map { Array(row[($0 * shape.steps)..<(($0 + 1) * shape.steps)]) } }
    }
    nodes = probes(try reader.rows(.spectrumNodes))
    weights = probes(try reader.rows(.spectrumWeights))
  }

  public var count: Int { steps.count }

  /// sharpness / threshold of each spectrum: 1 is the edge of stability.
  public var ratios: [Double] { zip(sharpness, threshold).map { $0 / $1 } }

  /// φ(t) of spectrum `q` from its quadrature, broadened by its own σ (as recorded; the same
  /// formula as `SpectralDensity.broadened`): the mean over probes of Σ_j τ_j 𝒩(t; θ_j, σ²).
  public func density(_ q: Int, at t: Double) -> Double {
    let s = sigma[q]
    guard s > 0 else { return .nan }
    let normal = 1 / (s * (2 * Double.pi).squareRoot() * Double(max(nodes[q].count, 1)))
    var sum = 0.0
    for (probeNodes, probeWeights) in zip(nodes[q], weights[q]) {
      for (node, weight) in zip(probeNodes, probeWeights) where node.isFinite && weight.isFinite {
        let z = (t - node) / s
        sum += weight * normal * exp(-0.5 * z * z)
      }
    }
    return sum
  }
}

extension TraceAnalysis {
  /// What the recorded spectra say: the extreme eigenvalues, outliers and overlaps at the last
  /// spectrum, and whether (and since when) the run trains at its edge of stability.
  public struct Spectrum: Codable, Sendable {
    public var measurements: Int
    public var lastStep: Int
    /// At the last spectrum.
    public var largest: Double
    public var smallest: Double
    public var outliers: Int
    /// k: how many of the largest eigenvalues were kept (outliers = k means at least k).
    public var topK: Int
    public var gradientOverlap: Double
    public var negativeMass: Double
    /// The median over spectra of the gradient's share in the top-k span.
    public var medianGradientOverlap: Double
    /// sharpness / threshold per spectrum (NaN where no threshold: Adam before its first step).
    public var stabilityRatios: [Double]
    /// The first spectrum step from which every later ratio is ≥ 0.9 (at the edge), or ≥ 1.1
    /// (above it); nil when the last one is below.
    public var edgeOfStabilitySince: Int?
    public var aboveEdgeSince: Int?
    /// Curvature measurements whose gᵀHg/gᵀg (and dᵀHd/dᵀd, where the step's update norms were
    /// recorded) reached the threshold, of those compared.
    public var gradientCurvatureAtEdge: Int
    public var updateCurvatureAtEdge: Int
    public var directionalCompared: Int
    public var statement: String
  }

  /// Where a run stands: at the edge once every later ratio is ≥ `edge`, above it past `above`.
  public static let edgeRatio = 0.9
  public static let aboveEdgeRatio = 1.1

  static func spectrumSummary(_ history: SpectrumHistory, reader: TraceReader) throws -> Spectrum {
    let last = history.count - 1
    let ratios = history.ratios
    func since(_ bound: Double) -> Int? {
      var first: Int?
      for (q, ratio) in ratios.enumerated() where ratio.isFinite {
        if ratio >= bound { first = first ?? history.steps[q] } else { first = nil }
      }
      return first
    }
    let edge = since(edgeRatio)
    let above = since(aboveEdgeRatio)
    let directional = try directionalCurvature(history, reader: reader)
    let finite = ratios.enumerated().filter { $0.element.isFinite }
    let statement: String
    let f = { (x: Double) in String(format: "%.3g", x) }
    if finite.isEmpty {
      statement = "edge of stability unknown: no sharpness with a threshold was measured (Adam before its first step)"
    } else if let above {
      let since = finite.filter { history.steps[$0.offset] >= above }.map(\.element)
      statement =
        "trains above its edge of stability since step \(above): sharpness/threshold \(f(since.min()!))-\(f(since.max()!)) over the \(since.count) spectra since"
    } else if let edge {
      let since = finite.filter { history.steps[$0.offset] >= edge }.map(\.element)
      statement =
        "trains at its edge of stability since step \(edge): sharpness/threshold \(f(since.min()!))-\(f(since.max()!)) over the \(since.count) spectra since"
    } else {
      let peak = finite.max { $0.element < $1.element }!
      if let lastAtEdge = finite.last(where: { $0.element >= edgeRatio }),
        let next = finite.first(where: { $0.offset > lastAtEdge.offset })
      {
        // It was at or above the edge, and has left it.
        statement =
          "below its edge of stability since step \(history.steps[next.offset]) (sharpness/threshold \(f(finite.last!.element)) at the last spectrum); at or above it until step \(history.steps[lastAtEdge.offset]), up to \(f(peak.element)) (step \(history.steps[peak.offset]))"
      } else {
        statement =
          "below its edge of stability: sharpness reaches at most \(f(peak.element)) of the threshold (step \(history.steps[peak.offset]))"
      }
    }
    return Spectrum(
      measurements: history.count, lastStep: history.steps[last], largest: history.top[last].first ?? .nan,
      smallest: history.bottom[last].first ?? .nan, outliers: history.outliers[last], topK: history.top[last].count,
      gradientOverlap: history.gradientOverlap[last], negativeMass: history.negativeMass[last],
      medianGradientOverlap: quantile(history.gradientOverlap.filter(\.isFinite).sorted(), 0.5),
      stabilityRatios: ratios, edgeOfStabilitySince: edge, aboveEdgeSince: above,
      gradientCurvatureAtEdge: directional.gradient, updateCurvatureAtEdge: directional.update,
      directionalCompared: directional.compared, statement: statement)
  }

  /// gᵀHg/gᵀg and dᵀHd/dᵀd of each curvature measurement against the threshold at its step.
  /// Thresholds scale as 1/η (2(1 + β)/η, (2 + 2β₁)/((1 − β₁)η)), so the one at step s is the
  /// latest spectrum's (at or before s, else the first) times η_spectrum / η_s, with η from
  /// the recorded steps. ‖d‖² is the sum of the step's per-layer update norms squared.
  static func directionalCurvature(_ history: SpectrumHistory, reader: TraceReader) throws -> (
    gradient: Int, update: Int, compared: Int
  ) {
    guard reader.recordsCurvature, try reader.rowCount(.curvature) > 0 else { return (0, 0, 0) }
    let stepColumns = try reader.columns([.step, .learningRate])
    let recorded = Dictionary(
      stepColumns[0].enumerated().map { (Int($0.element), $0.offset) }, uniquingKeysWith: { first, _ in first })
    let rate = { (step: Int) in recorded[step].map { stepColumns[1][$0] } }
    let anchors = history.steps.indices.filter { history.threshold[$0].isFinite && rate(history.steps[$0]) != nil }
    guard let firstAnchor = anchors.first else { return (0, 0, 0) }
    let curvature = try reader.columns([.curvatureStep, .gTg, .gHg, .dHd])
    var (gradient, update, compared) = (0, 0, 0)
    for (i, stepValue) in curvature[0].enumerated() {
      let step = Int(stepValue)
      guard let eta = rate(step), eta > 0 else { continue }
      let anchor = anchors.last { history.steps[$0] <= step } ?? firstAnchor
      let threshold = history.threshold[anchor] * rate(history.steps[anchor])! / eta
      compared += 1
      if curvature[1][i] > 0, curvature[2][i] / curvature[1][i] >= threshold { gradient += 1 }
      if let row = recorded[step] {
        let norms = try reader.values(.updateL2Norm, start: row, count: 1)
        let dTd = norms.reduce(0) { $0 + $1 * $1 }
        if dTd > 0, curvature[3][i] / dTd >= threshold { update += 1 }
      }
    }
    return (gradient, update, compared)
  }
}

import Foundation
import TraceIO

/// Thresholds of the gradient-flow verdict (documented defaults; each is an option of
/// `gradtrace analyze`).
public struct VerdictThresholds: Codable, Sendable {
  /// Vanishing when the first layer's flow is below this fraction of the last layer's.
  public var vanishingRatio = 1e-4
  /// Exploding when the first layer's flow is above this multiple of the last layer's.
  public var explodingRatio = 1e4
  /// The vanishing depth is the first layer, counted from the output, whose flow falls below
  /// τ times the head's.
  public var depthFraction = 1e-2
  public init() {}
}

/// What `gradtrace analyze` concludes from a trace's gradient flow (mean |∂f/∂W| per layer,
/// the paper's Figures 1-3) and, when recorded, its curvature.
public struct TraceAnalysis: Codable, Sendable {
  public struct Layer: Codable, Sendable {
    public var name: String
    /// Per epoch: the mean over its recorded steps of mean |g|.
    public var epochMean: [Double]
    /// Per epoch: mean |g| at the epoch's last recorded step (what the paper plots).
    public var epochLastStep: [Double]
  }
  public struct Taylor: Codable, Sendable {
    public var measurements: Int
    /// Pearson correlation of the second-order prediction with the actual change.
    public var correlation: Double
    /// Steps where the curvature term ½dᵀHd outweighs the first-order term |gᵀd|.
    public var curvatureDominates: Int
    public var negativeCurvature: Int
    /// α quantiles (10%, 50%, 90%) over steps where α is defined.
    public var alphaQuantiles: [Double]
    public var medianRelativeError: Double
  }

  public var trace: String
  public var status: String
  public var steps: Int
  public var epochs: Int
  public var finalValidAccuracy: Double?
  public var bestValidAccuracy: Double?
  public var testAccuracy: Double?
  public var layers: [Layer]
  /// First layer's flow over the last layer's, at the last epoch's last step.
  public var firstToLastRatio: Double
  /// Layers from the output until the flow drops below τ·head (nil: it never does).
  public var vanishingDepth: Int?
  /// The first layer's flow at the last epoch over the first epoch (per-epoch means).
  public var trend: Double
  public var nonFiniteSteps: Int
  public var verdict: String
  public var evidence: [String]
  public var hint: String
  /// nil when the trace recorded no curvature.
  public var taylor: Taylor?
  public var missing: [String]

  /// Reads `path` in blocks of `blockRows` steps (memory stays bounded whatever its length).
  public static func analyze(path: String, thresholds: VerdictThresholds = .init(), blockRows: Int = 4096) throws
    -> TraceAnalysis
  {
    let reader = try TraceReader(path: path)
    let names = try reader.layerNames()
    let steps = try reader.stepCount()
    var missing: [String] = []
    guard steps > 0 else {
      return TraceAnalysis(
        trace: path, status: reader.status, steps: 0, epochs: 0, finalValidAccuracy: nil, bestValidAccuracy: nil,
        testAccuracy: nil, layers: names.map { Layer(name: $0, epochMean: [], epochLastStep: []) },
        firstToLastRatio: .nan,
        vanishingDepth: nil, trend: .nan, nonFiniteSteps: 0, verdict: "no data", evidence: ["the trace holds no steps"],
        hint: "nothing was recorded yet; is the run still starting?", taylor: nil, missing: ["steps"])
    }
    // Stream the per-step gradient flow, accumulating per epoch.
    var sums: [[Double]] = []
    var counts: [Int] = []
    var last: [[Double]] = []
    var nonFinite = 0
    let width = names.count
    var start = 0
    while start < steps {
      let count = min(blockRows, steps - start)
      let epochs = try reader.file.readRows(Int32.self, from: TraceSchema.epoch, start: start, count: count)
      let flow = try reader.file.readRows(Double.self, from: TraceSchema.gradientMeanAbs, start: start, count: count)
      let losses = try reader.file.readRows(Double.self, from: TraceSchema.loss, start: start, count: count)
      for row in 0..<count {
        let epoch = Int(epochs[row])
        while sums.count <= epoch {
          sums.append(Array(repeating: 0, count: width))
          counts.append(0)
          last.append(Array(repeating: .nan, count: width))
        }
        let values = Array(flow[(row * width)..<((row + 1) * width)])
        if !losses[row].isFinite || values.contains(where: { !$0.isFinite }) { nonFinite += 1 }
        for layer in 0..<width { sums[epoch][layer] += values[layer] }
        counts[epoch] += 1
        last[epoch] = values
      }
      start += count
    }
    let epochCount = sums.count
    let layers = names.enumerated().map { index, name in
      Layer(
        name: name, epochMean: (0..<epochCount).map { counts[$0] > 0 ? sums[$0][index] / Double(counts[$0]) : .nan },
        epochLastStep: (0..<epochCount).map { last[$0][index] })
    }
    let final = last[epochCount - 1]
    let head = final.last ?? .nan
    let ratio = (final.first ?? .nan) / head
    let depth = Array(final.reversed()).firstIndex { $0 < thresholds.depthFraction * head }
    let firstFlow = layers.first?.epochMean ?? []
    let trend = firstFlow.count >= 2 ? firstFlow.last! / firstFlow.first! : 1

    var verdict = "healthy"
    var evidence = [
      String(
        format: "first/last layer mean |g| = %.3g (%@ %.3g over %@)", ratio, names.first ?? "?", final.first ?? .nan,
        names.last ?? "?")
    ]
    var hint =
      "gradients reach every layer; if it does not learn, look at the learning rate (the Taylor analysis) or the data"
    if nonFinite > 0 {
      verdict = "exploding"
      evidence.append("\(nonFinite) recorded steps have a non-finite loss or gradient")
      hint = "the run diverged: lower the learning rate, or add BatchNorm"
    } else if ratio < thresholds.vanishingRatio {
      verdict = "vanishing"
      if let depth {
        evidence.append(
          "the flow falls below \(thresholds.depthFraction)× the head's \(depth) layers from the output (\(names[width - 1 - depth]))"
        )
      }
      hint =
        "gradients vanish towards the input: add BatchNorm or residual connections (the paper's fix), or use He initialisation"
    } else if ratio > thresholds.explodingRatio {
      verdict = "exploding"
      hint = "gradients grow towards the input: lower the learning rate or add BatchNorm"
    }
    if epochCount >= 2 {
      evidence.append(String(format: "first layer's flow changed %.3g× from the first epoch to the last", trend))
    }

    var taylor: Taylor?
    if reader.recordsCurvature, try reader.curvatureCount() > 0 {
      let predicted = try reader.column("/curvature/predicted_second")
      let actual = try reader.column("/curvature/actual_delta")
      let gTd = try reader.column("/curvature/gTd")
      let dHd = try reader.column("/curvature/dHd")
      let alpha = try reader.column("/curvature/alpha").filter { $0.isFinite }.sorted()
      let pairs = zip(predicted, actual).filter { $0.0.isFinite && $0.1.isFinite }
      let errors = pairs.filter { $0.1 != 0 }.map { abs($0.0 - $0.1) / abs($0.1) }.sorted()
      func quantile(_ values: [Double], _ q: Double) -> Double {
        values.isEmpty ? .nan : values[min(values.count - 1, Int(q * Double(values.count)))]
      }
      taylor = Taylor(
        measurements: predicted.count, correlation: correlation(pairs.map(\.0), pairs.map(\.1)),
        curvatureDominates: zip(gTd, dHd).filter { abs(0.5 * $0.1) > abs($0.0) }.count,
        negativeCurvature: dHd.filter { $0 <= 0 }.count,
        alphaQuantiles: [0.1, 0.5, 0.9].map { quantile(alpha, $0) }, medianRelativeError: quantile(errors, 0.5))
    } else {
      missing.append("curvature (record it with --record gradients,activations,curvature)")
    }
    let valid = (try? reader.column("/epochs/valid_accuracy")) ?? []
    let test = reader.summaryValue("test_accuracy")
    return TraceAnalysis(
      trace: path, status: reader.status, steps: steps, epochs: epochCount, finalValidAccuracy: valid.last,
      bestValidAccuracy: valid.max(), testAccuracy: test?.isNaN == false ? test : nil, layers: layers,
      firstToLastRatio: ratio,
      vanishingDepth: depth, trend: trend, nonFiniteSteps: nonFinite, verdict: verdict, evidence: evidence, hint: hint,
      taylor: taylor, missing: missing)
  }
}

/// Pearson correlation (NaN for fewer than two points or no spread).
func correlation(_ x: [Double], _ y: [Double]) -> Double {
  let n = Double(x.count)
  guard x.count >= 2 else { return .nan }
  let (mx, my) = (x.reduce(0, +) / n, y.reduce(0, +) / n)
  var (sxy, sxx, syy) = (0.0, 0.0, 0.0)
  for (a, b) in zip(x, y) {
    sxy += (a - mx) * (b - my)
    sxx += (a - mx) * (a - mx)
    syy += (b - my) * (b - my)
  }
  return sxy / (sxx * syy).squareRoot()
}

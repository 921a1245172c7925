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
    /// ε/ε* quantiles (10%, 50%, 90%), where ε = −gᵀd / gᵀg is the step length along −g that
    /// the update's projection on −g represents and ε* = gᵀg / gᵀHg (steps with gᵀHg > 0).
    public var stepRatioQuantiles: [Double]
    /// Steps with ε > 2ε*, where the paper's curvature term outweighs the first-order term.
    public var beyondTwiceOptimal: Int
  }

  public var trace: String
  public var run: RunInfo
  public var status: String
  public var steps: Int
  /// The epoch numbers with recorded steps, in order (the columns of each layer's flow).
  public var epochNumbers: [Int]
  public var epochs: Int
  public var finalTrainLoss: Double?
  public var finalTrainAccuracy: Double?
  public var finalValidAccuracy: Double?
  public var bestValidAccuracy: Double?
  public var testLoss: Double?
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
  /// From the recorded spectra (`train --spectrum-every`); nil when there are none.
  public var spectrum: Spectrum?
  /// From the recorded histograms (`train --histogram-every`); nil when there are none.
  public var histograms: Histograms?
  /// From the recorded gradient noise (`train --record noise`); nil when there is none.
  public var noise: Noise?
  /// From the norms of the add and concat inputs; nil when the model has none or they were
  /// not recorded.
  public var merges: Merges?
  public var missing: [String]

  /// Reads `path` in blocks of `blockRows` steps (memory stays bounded whatever its length).
  /// - Throws: `HDF5Error` naming the file and dataset when the file is not a readable trace
  ///   or a dataset contradicts schema v1 (wrong shape, epochs out of order).
  public static func analyze(path: String, thresholds: VerdictThresholds = .init(), blockRows: Int = 4096) throws
    -> TraceAnalysis
  {
    let reader = try TraceReader(path: path)
    let names = try reader.layerNames()
    let width = names.count
    let steps = try reader.rowCount(.steps)
    let outcome = try Outcome(reader: reader)
    var missing: [String] = []
    guard steps > 0, width > 0 else {
      return TraceAnalysis(
        trace: path, run: RunInfo(reader: reader), status: reader.status, steps: steps, epochNumbers: [], epochs: 0,
        outcome: outcome, layers: names.map { Layer(name: $0, epochMean: [], epochLastStep: []) },
        firstToLastRatio: .nan, vanishingDepth: nil, trend: .nan, nonFiniteSteps: 0, verdict: "no data",
        evidence: [width == 0 ? "the trace declares no layers" : "the trace holds no steps"],
        hint: "nothing was recorded yet; is the run still starting?", taylor: nil,
        missing: [width == 0 ? "layers" : "steps"])
    }
    // Stream the per-step gradient flow, accumulating per recorded epoch.
    var epochNumbers: [Int] = []
    var sums: [[Double]] = []
    var counts: [Int] = []
    var last: [[Double]] = []
    var nonFinite = 0
    var start = 0
    while start < steps {
      let count = min(blockRows, steps - start)
      let epochs = try reader.values(.epoch, start: start, count: count)
      let flow = try reader.values(.gradientMeanAbs, start: start, count: count)
      let losses = try reader.values(.loss, start: start, count: count)
      // A damaged file can lose a dataset of the index (read as no values): say which.
      for (dataset, values, perRow) in [
        (TraceDataset.epoch, epochs, 1), (.gradientMeanAbs, flow, width), (.loss, losses, 1),
      ]
      where values.count != count * perRow {
        throw HDF5Error(
          operation:
            "expected \(count * perRow) values for rows \(start)..<\(start + count), read \(values.count) (damaged or missing)",
          file: path, objectPath: dataset.path, details: [])
      }
      for row in 0..<count {
        let epoch = Int(epochs[row])
        if epoch != epochNumbers.last {
          guard epoch >= 0, epoch > (epochNumbers.last ?? -1) else {
            throw HDF5Error(
              operation:
                "epoch numbers must start at 0 or more and never decrease; found \(epoch) after \(epochNumbers.last ?? 0) at row \(start + row)",
              file: path, objectPath: TraceDataset.epoch.path, details: [])
          }
          epochNumbers.append(epoch)
          sums.append(Array(repeating: 0, count: width))
          counts.append(0)
          last.append(Array(repeating: .nan, count: width))
        }
        let e = epochNumbers.count - 1
        let values = Array(flow[(row * width)..<((row + 1) * width)])
        if !losses[row].isFinite || values.contains(where: { !$0.isFinite }) { nonFinite += 1 }
        for layer in 0..<width { sums[e][layer] += values[layer] }
        counts[e] += 1
        last[e] = values
      }
      start += count
    }
    let epochCount = epochNumbers.count
    let layers = names.enumerated().map { index, name in
      Layer(
        name: name, epochMean: (0..<epochCount).map { sums[$0][index] / Double(counts[$0]) },
        epochLastStep: (0..<epochCount).map { last[$0][index] })
    }
    let final = last[epochCount - 1]
    let head = final[width - 1]
    let ratio = final[0] / head
    let depth = Array(final.reversed()).firstIndex { $0 < thresholds.depthFraction * head }
    let firstFlow = layers[0].epochMean
    let trend = firstFlow.count >= 2 ? firstFlow.last! / firstFlow.first! : 1

    var verdict = "healthy"
    var evidence = [
      String(format: "first/last layer mean |g| = %.3g (%@ %.3g over %@)", ratio, names[0], final[0], names[width - 1])
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
      taylor = try taylorStatistics(reader)
    } else {
      missing.append("curvature (record it with --record gradients,activations,curvature)")
    }
    // Spectra are opt-in (`--spectrum-every`): a trace without them is not missing anything.
    let spectrum = try SpectrumHistory(reader: reader).map { try spectrumSummary($0, reader: reader) }
    var analysis = TraceAnalysis(
      trace: path, run: RunInfo(reader: reader), status: reader.status, steps: steps, epochNumbers: epochNumbers,
      epochs: epochCount, outcome: outcome, layers: layers, firstToLastRatio: ratio, vanishingDepth: depth,
      trend: trend, nonFiniteSteps: nonFinite, verdict: verdict, evidence: evidence, hint: hint, taylor: taylor,
      missing: missing)
    analysis.spectrum = spectrum
    analysis.histograms = try histogramSummary(reader)
    if let collapsed = try collapsedBlocks(reader) { analysis.evidence.append(collapsed) }
    analysis.noise = try noiseSummary(reader)
    if let noise = analysis.noise, let noisy = noiseEvidence(noise) { analysis.evidence.append(noisy) }
    analysis.merges = try mergeSummary(reader)
    if let merges = analysis.merges, let extreme = mergeEvidence(merges) { analysis.evidence.append(extreme) }
    if let histograms = analysis.histograms, let first = histograms.vanishedLayers.first {
      analysis.evidence.append(
        "at step \(histograms.lastStep) the median |∂f/∂W| of \(histograms.vanishedLayers.count) layers (the first \(first)) lies below 1e\(Int(histograms.rangeLow)), the histograms' range"
      )
    }
    return analysis
  }

  /// "blocks block_3_0 … block_5_1 (6 of 19): c-value ≥ 0.99 at step 120 — …" from the last
  /// recorded step's c-values; nil when none reaches 0.99 or they were not recorded.
  static func collapsedBlocks(_ reader: TraceReader) throws -> String? {
    guard reader.holds(.activationCValue), let names = try reader.activationNames() else { return nil }
    let rows = try reader.rowCount(.steps)
    guard rows > 0 else { return nil }
    let last = try reader.values(.activationCValue, start: rows - 1, count: 1)
    let collapsed = zip(names, last).filter { $0.1 >= 0.99 }.map(\.0)
    guard let first = collapsed.first, let lastName = collapsed.last else { return nil }
    let step = try reader.values(.step, start: rows - 1, count: 1).first.map { Int($0) } ?? rows - 1
    let which = collapsed.count == 1 ? "block \(first)" : "blocks \(first) … \(lastName)"
    return
      "\(which) (\(collapsed.count) of \(names.count)): c-value ≥ 0.99 at step \(step), the examples' outputs point the same way (rank collapse)"
  }

  /// Correlation, errors, α and ε/ε* over the curvature measurements (M is small: a tenth of
  /// the steps by default, so the columns are read whole).
  static func taylorStatistics(_ reader: TraceReader) throws -> Taylor {
    let columns = try reader.columns([.predictedSecond, .actualDelta, .gTd, .dHd, .alpha, .gTg, .gHg])
    let rows = columns[0].count
    let (predicted, actual, gTd, dHd, alphaValues, gTg, gHg) = (
      columns[0], columns[1], columns[2], columns[3], columns[4], columns[5], columns[6]
    )
    let alpha = alphaValues.filter { $0.isFinite }.sorted()
    let pairs = zip(predicted, actual).filter { $0.0.isFinite && $0.1.isFinite }
    let errors = pairs.filter { $0.1 != 0 }.map { abs($0.0 - $0.1) / abs($0.1) }.sorted()
    // ε/ε* = (−gᵀd/gᵀg) / (gᵀg/gᵀHg), defined where gᵀHg > 0 and gᵀg > 0.
    let stepRatios = (0..<rows).compactMap { i -> Double? in
      guard gHg[i] > 0, gTg[i] > 0 else { return nil }
      let ratio = -gTd[i] * gHg[i] / (gTg[i] * gTg[i])
      return ratio.isFinite ? ratio : nil
    }.sorted()
    return Taylor(
      measurements: rows, correlation: correlation(pairs.map(\.0), pairs.map(\.1)),
      curvatureDominates: zip(gTd, dHd).filter { abs(0.5 * $0.1) > abs($0.0) }.count,
      negativeCurvature: dHd.filter { $0 <= 0 }.count,
      alphaQuantiles: [0.1, 0.5, 0.9].map { quantile(alpha, $0) }, medianRelativeError: quantile(errors, 0.5),
      stepRatioQuantiles: [0.1, 0.5, 0.9].map { quantile(stepRatios, $0) },
      beyondTwiceOptimal: stepRatios.filter { $0 > 2 }.count)
  }

  /// The run's outcome from /epochs and /summary.
  struct Outcome {
    var finalTrainLoss, finalTrainAccuracy, finalValidAccuracy, bestValidAccuracy, testLoss, testAccuracy: Double?

    init(reader: TraceReader) throws {
      let epochs = try reader.columns([.trainLoss, .trainAccuracy, .validAccuracy])
      finalTrainLoss = epochs[0].last
      finalTrainAccuracy = epochs[1].last
      let valid = epochs[2]
      finalValidAccuracy = valid.last
      bestValidAccuracy = valid.filter { !$0.isNaN }.max()
      func summary(_ name: String) -> Double? { reader.summaryValue(name).flatMap { $0.isNaN ? nil : $0 } }
      testLoss = summary("test_loss")
      testAccuracy = summary("test_accuracy")
    }
  }

  init(
    trace: String, run: RunInfo, status: String, steps: Int, epochNumbers: [Int], epochs: Int, outcome: Outcome,
    layers: [Layer], firstToLastRatio: Double, vanishingDepth: Int?, trend: Double, nonFiniteSteps: Int,
    verdict: String, evidence: [String], hint: String, taylor: Taylor?, missing: [String]
  ) {
    self.trace = trace
    self.run = run
    self.status = status
    self.steps = steps
    self.epochNumbers = epochNumbers
    self.epochs = epochs
    finalTrainLoss = outcome.finalTrainLoss
    finalTrainAccuracy = outcome.finalTrainAccuracy
    finalValidAccuracy = outcome.finalValidAccuracy
    bestValidAccuracy = outcome.bestValidAccuracy
    testLoss = outcome.testLoss
    testAccuracy = outcome.testAccuracy
    self.layers = layers
    self.firstToLastRatio = firstToLastRatio
    self.vanishingDepth = vanishingDepth
    self.trend = trend
    self.nonFiniteSteps = nonFiniteSteps
    self.verdict = verdict
    self.evidence = evidence
    self.hint = hint
    self.taylor = taylor
    self.missing = missing
  }
}

/// The q-quantile of sorted values (NaN when empty).
func quantile(_ sorted: [Double], _ q: Double) -> Double {
  sorted.isEmpty ? .nan : sorted[min(sorted.count - 1, Int(q * Double(sorted.count)))]
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

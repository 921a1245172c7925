import Foundation
import TraceIO

extension TraceAnalysis {
  /// What the gradient-noise rows (`train --record noise`) say over the run. One measurement's
  /// m groups give tr(Σ) with m − 1 degrees of freedom and |G|² can come out negative, so, as
  /// McCandlish et al. do, the unbiased numerators and denominators are pooled (summed over the
  /// measurements) before any ratio is taken: SNR = Σ_r N_r |G|²_r / Σ_r tr(Σ)_r,
  /// B_simple = Σ tr(Σ) / Σ |G|², B_noise = Σ tr(HΣ) / Σ GᵀHG.
  public struct Noise: Codable, Sendable {
    public var measurements: Int
    public var lastStep: Int
    /// N, the batch size of the last measurement.
    public var batch: Int
    public var layerNames: [String]
    /// Per layer, the pooled SNR_l.
    public var layerSignalToNoise: [Double]
    /// The model's pooled SNR and B_simple.
    public var signalToNoise: Double
    public var simpleNoiseScale: Double
    /// Layers whose pooled SNR is below `noisyBelow`: their batch gradient is mostly noise.
    public var noisyLayers: [String]
    /// With curvature: the pooled B_noise and the quantiles (10/50/90%) of the step taken along
    /// −g over McCandlish's ε_opt(N), per measurement where both are defined.
    public var noiseScale: Double?
    public var stepToOptimalQuantiles: [Double]?

    /// The SNR below which a layer's batch gradient counts as mostly minibatch noise.
    public static let noisyBelow = 1.0
  }

  static func noiseSummary(_ reader: TraceReader) throws -> Noise? {
    guard reader.recordsNoise else { return nil }
    let steps = try reader.steps(.noise)
    guard let lastStep = steps.last else { return nil }
    let names = try reader.layerNames()
    let batches = try reader.values(.noiseBatch)
    /// Σ_r weight_r · values_r over the rows with finite values.
    func pooled(_ values: [Double], weights: [Double]? = nil) -> Double {
      zip(values, weights ?? values.map { _ in 1 }).filter { $0.0.isFinite }.reduce(0) { $0 + $1.0 * $1.1 }
    }
    let (norms, traces) = (try reader.rows(.layerNoiseGradientNormSquared), try reader.rows(.layerNoiseCovarianceTrace))
    let layerRatios = names.indices.map { l in
      pooled(norms.map { $0[l] }, weights: batches) / pooled(traces.map { $0[l] })
    }
    let (norm, trace) = (try reader.values(.noiseGradientNormSquared), try reader.values(.noiseCovarianceTrace))
    var noise = Noise(
      measurements: steps.count, lastStep: lastStep, batch: Int(batches.last ?? 0), layerNames: names,
      layerSignalToNoise: layerRatios, signalToNoise: pooled(norm, weights: batches) / pooled(trace),
      simpleNoiseScale: pooled(trace) / pooled(norm),
      noisyLayers: zip(names, layerRatios).filter { $0.1 < Noise.noisyBelow }.map(\.0))
    if reader.holds(.noiseCurvatureScale) {
      noise.noiseScale =
        pooled(try reader.values(.noiseHessianCovarianceTrace)) / pooled(try reader.values(.noiseExpectedCurvature))
      let ratios = zip(try reader.values(.noiseStepTaken), try reader.values(.noiseEpsilonOptimal)).map { $0 / $1 }
        .filter { $0.isFinite && $0 > 0 }.sorted()
      noise.stepToOptimalQuantiles = [0.1, 0.5, 0.9].map { quantile(ratios, $0) }
    }
    return noise
  }

  /// "2 of 20 layers have an SNR below 1 over 12 noise measurements: a (SNR 0.03), b (SNR 0.4) —
  /// …"; nil when none is noisy.
  static func noiseEvidence(_ noise: Noise) -> String? {
    guard !noise.noisyLayers.isEmpty else { return nil }
    let ratios = Dictionary(uniqueKeysWithValues: zip(noise.layerNames, noise.layerSignalToNoise))
    let shown = noise.noisyLayers.prefix(4).map { String(format: "%@ (SNR %.2g)", $0, ratios[$0]!) }
    let more = noise.noisyLayers.count > 4 ? ", …" : ""
    return
      "\(noise.noisyLayers.count) of \(noise.layerNames.count) layers have an SNR below \(Int(Noise.noisyBelow)) over \(noise.measurements) noise measurements: \(shown.joined(separator: ", "))\(more) — their batch gradient is mostly minibatch noise"
  }
}

/// The median of the finite values (NaN when none).
func median(_ values: [Double]) -> Double {
  quantile(values.filter(\.isFinite).sorted(), 0.5)
}

import Foundation
import TraceIO

extension TraceAnalysis {
  /// What the gradient-noise rows (`train --record noise`) say, as medians over the
  /// measurements: one measurement's m groups give tr(Σ) with m − 1 degrees of freedom, so a
  /// single row is itself noisy.
  public struct Noise: Codable, Sendable {
    public var measurements: Int
    public var lastStep: Int
    /// N, the batch size of the last measurement.
    public var batch: Int
    public var layerNames: [String]
    /// Per layer, the median SNR_l = N |G_l|² / tr(Σ_l).
    public var layerSignalToNoise: [Double]
    /// The model's median SNR and B_simple.
    public var signalToNoise: Double
    public var simpleNoiseScale: Double
    /// Layers whose median SNR is below `noisyBelow`: their batch gradient is mostly noise.
    public var noisyLayers: [String]
    /// With curvature: the median B_noise and the quantiles (10/50/90%) of the step taken along
    /// −g over McCandlish's ε_opt(N), where both are defined.
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
    let layerRatios = try reader.rows(.layerNoiseSignalToNoise)
    let layerMedians = names.indices.map { l in median(layerRatios.map { $0[l] }) }
    var noise = Noise(
      measurements: steps.count, lastStep: lastStep, batch: Int(try reader.values(.noiseBatch).last ?? 0),
      layerNames: names, layerSignalToNoise: layerMedians,
      signalToNoise: median(try reader.values(.noiseSignalToNoise)),
      simpleNoiseScale: median(try reader.values(.noiseSimpleScale)),
      noisyLayers: zip(names, layerMedians).filter { $0.1 < Noise.noisyBelow }.map(\.0))
    if reader.holds(.noiseCurvatureScale) {
      noise.noiseScale = median(try reader.values(.noiseCurvatureScale))
      let ratios = zip(try reader.values(.noiseStepTaken), try reader.values(.noiseEpsilonOptimal)).map { $0 / $1 }
        .filter { $0.isFinite && $0 > 0 }.sorted()
      noise.stepToOptimalQuantiles = [0.1, 0.5, 0.9].map { quantile(ratios, $0) }
    }
    return noise
  }

  /// "layers a, b (2 of 20): median SNR 0.03, 0.4 over 12 measurements — …"; nil when none is noisy.
  static func noiseEvidence(_ noise: Noise) -> String? {
    guard !noise.noisyLayers.isEmpty else { return nil }
    let ratios = Dictionary(uniqueKeysWithValues: zip(noise.layerNames, noise.layerSignalToNoise))
    let shown = noise.noisyLayers.prefix(4).map { String(format: "%@ (SNR %.2g)", $0, ratios[$0]!) }
    let more = noise.noisyLayers.count > 4 ? ", …" : ""
    return
      "\(noise.noisyLayers.count) of \(noise.layerNames.count) layers have a median SNR below \(Int(Noise.noisyBelow)) over \(noise.measurements) noise measurements: \(shown.joined(separator: ", "))\(more) — their batch gradient is mostly minibatch noise"
  }
}

/// The median of the finite values (NaN when none).
func median(_ values: [Double]) -> Double {
  quantile(values.filter(\.isFinite).sorted(), 0.5)
}

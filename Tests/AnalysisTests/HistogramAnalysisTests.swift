import Analysis
import Foundation
import Testing
import TraceIO

/// `analyze`, `plot --figure histograms` and the report read the `/histograms` rows: statistics
/// from the counts, the first non-finite step and the layers whose gradients left the range.
@Suite("Histogram analysis")
struct HistogramAnalysisTests {
  /// 3 layers of 10 weights, 10 steps, histograms at 0, 3, 6, 9 (bins 1e-3 to 1e1, 2 per
  /// decade): layer 0 in bin 1 until step 9, where it is all NaN; layer 1 always in bin 5;
  /// layer 2 in bin 3, then below the range from step 6.
  static func trace() throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("histograms-\(UUID().uuidString).h5").path
    let bins = LogHistogramBins(lowDecade: -3, highDecade: 1, binsPerDecade: 2)
    let layout = TraceLayout(
      layerNames: ["layer_0", "layer_1", "layer_2"], layerKinds: ["conv", "conv", "conv"],
      layerParameters: [10, 10, 10], activationNames: nil, recordsCurvature: false, histogramBins: bins)
    let writer = try TraceWriter(path: path, configuration: "{}", model: "{}", toolVersion: "test", layout: layout)
    for step in 0..<10 {
      var row = TraceRow(.steps, at: step)
      row[.epoch] = Double(step / 5)
      row[.loss] = step == 9 ? .nan : 2
      for dataset in [TraceDataset.gradientMeanAbs, .gradientL2Norm, .gradientMaxAbs, .updateL2Norm, .weightL2Norm] {
        row[values: dataset] = [0.01, 0.1, step >= 6 ? 1e-5 : 0.01]
      }
      try writer.append(row)
      guard step % 3 == 0 else { continue }
      var histogram = TraceRow(.histograms, at: step)
      var counts = [Double](repeating: 0, count: 3 * bins.count)
      var specials = [Double](repeating: 0, count: 3 * 7)
      if step == 9 { specials[HistogramSpecial.nan.rawValue] = 10 } else { counts[1] = 10 }
      counts[bins.count + 5] = 10
      if step >= 6 { specials[14 + HistogramSpecial.belowRange.rawValue] = 10 } else { counts[2 * bins.count + 3] = 10 }
      for (countsDataset, specialsDataset) in [
        (TraceDataset.gradientHistogram, TraceDataset.gradientSpecials), (.updateHistogram, .updateSpecials),
        (.weightHistogram, .weightSpecials),
      ] {
        histogram[values: countsDataset] = counts
        histogram[values: specialsDataset] = specials
      }
      try writer.append(histogram)
    }
    var epoch = TraceRow(.epochs, at: 0)
    epoch[.trainLoss] = 2
    try writer.append(epoch)
    try writer.finish(status: "finished")
    return path
  }

  @Test func statisticsNonFiniteStepsAndVanishedLayers() throws {
    let path = try Self.trace()
    let analysis = try TraceAnalysis.analyze(path: path)
    let histograms = try #require(analysis.histograms)
    #expect(histograms.rows == 4 && histograms.lastStep == 9)
    #expect(histograms.firstNonFiniteStep == 9)
    let gradients = try #require(histograms.nonFinite.first { $0.tensor == "gradients" })
    #expect(gradients.entries == 1 && gradients.of == 3 && gradients.first == "layer_0" && gradients.nan == 10)
    #expect(histograms.vanishedLayers == ["layer_2"])
    #expect(analysis.text.contains("non-finite values first at step 9"), "\(analysis.text)")
    #expect(analysis.evidence.contains { $0.contains("below 1e-3") })

    let reader = try TraceReader(path: path)
    let summary = try #require(try HistogramSummary(reader: reader, tensor: .gradients))
    #expect(summary.steps == [0, 3, 6, 9] && summary.entries == ["layer_0", "layer_1", "layer_2"])
    // Layer 1 sits in bin 5: 10^(−3 + 5/2) ≤ |g| < 10^(−3 + 6/2); the median lies in it.
    #expect(summary.values.allSatisfy { $0[1] >= -0.5 && $0[1] < 0 })
    #expect(summary.values[3][0].isNaN && summary.nonFinite[3][0] == 10 && summary.nonFinite[2][0] == 0)
    #expect(summary.values[2][2] == -3, "below the range: the range's low end")
    let thinned = try #require(try HistogramSummary(reader: reader, tensor: .gradients, columns: 2))
    #expect(thinned.steps == [0, 9])
    let mode = try #require(try HistogramSummary(reader: reader, tensor: .updates, statistic: .mode))
    #expect(mode.values[0][1] == -0.25, "the fullest bin's centre")
    #expect(try HistogramSummary(reader: reader, tensor: .activations) == nil)

    let figure = FigureKind.histograms.svg([try FigureData(path: path)])
    #expect(figure.contains("#d62728") && figure.contains("NaN or ±Inf"))
    #expect(HistogramStatistic(argument: "0.9") == .quantile(0.9) && HistogramStatistic(argument: "2") == nil)
  }
}

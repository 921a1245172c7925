import Autodiff
import Foundation
import Networks
import TensorCore
import Testing
import TraceIO
import Training

/// `train --histogram-every`: log-magnitude histograms on their own index, every tensor's
/// elements counted once, the weights' histogram equal to a direct count of the run's weights,
/// and a diverging run's NaN by layer and step.
@Suite("Histogram recording")
struct HistogramRecordingTests {
  @Test func histogramsCountEveryElementOfEveryTensorOnce() throws {
    let c = syntheticConfiguration(epochs: 1, batchNorm: true, residual: true)
    var options = RecordingOptions()
    options.histogramEvery = 4
    options.histogramBins = LogHistogramBins(lowDecade: -20, highDecade: 2, binsPerDecade: 8)
    var initialWeights = NamedTensors<Float>()
    let (path, trainer) = try recordedRun(c, options: options, name: "histograms") {
      initialWeights = $0.network.parameters
    }

    let reader = try TraceReader(path: path)
    let steps = try reader.stepCount()
    let rows = try reader.steps(.histograms)
    #expect(rows == Array(stride(from: 0, to: steps, by: 4)), "\(rows) of \(steps) steps")
    #expect(try reader.histogramBins() == options.histogramBins)
    let layout = try reader.layout()
    let bins = options.histogramBins.count
    // Each block output's elements: one forward pass on a batch of the run's size.
    let tape = Tape<Float>()
    let images = Tensor<Float>(zeros: [c.batchSize, 1, 16, 16])
    let forward = trainer.network.loss(
      images: images, labels: [Int](repeating: 0, count: c.batchSize), on: tape, mode: .training)
    let blockElements = forward.forward.blockOutputs.map { tape.shape($0.output).reduce(1, *) }
    #expect(blockElements.count == layout.activationNames?.count)
    for (histogram, special, sizes) in [
      (TraceDataset.gradientHistogram, TraceDataset.gradientSpecials, layout.layerParameters),
      (.updateHistogram, .updateSpecials, layout.layerParameters),
      (.weightHistogram, .weightSpecials, layout.layerParameters),
      (.activationHistogram, .activationSpecials, blockElements),
    ] {
      let counts = try reader.rows(histogram)
      let extra = try reader.rows(special)
      for (r, step) in rows.enumerated() {
        let histograms = LogHistogram.entries(counts: counts[r], specials: extra[r], bins: options.histogramBins)
        #expect(histograms.count == sizes.count)
        for (entry, (h, size)) in zip(histograms, sizes).enumerated() {
          let what = "\(histogram.path) step \(step) entry \(entry)"
          #expect(h.total == size, "\(what): \(h.total) of \(size)")
          #expect(h.nonFinite == 0)
        }
      }
    }
    // Step 0's weights are the initial ones (BatchNorm γ = 1 sits on an edge: all in one bin).
    let counter = LogHistogramCounter(bins: options.histogramBins)
    let weights = try reader.rows(.weightHistogram)[0]
    for (l, name) in trainer.network.weightTensors.map(\.name).enumerated() {
      let expected = counter.histogram(of: initialWeights[name]!).counts.map(Double.init)
      #expect(Array(weights[(l * bins)..<((l + 1) * bins)]) == expected, "layer \(name)")
    }
  }

  /// SGD at learning rate 1000 on the plain network: the loss overflows, then NaN spreads; the
  /// histograms show where and when, layer by layer.
  @Test func aDivergingRunShowsItsNaNByLayerAndStep() throws {
    var c = syntheticConfiguration(epochs: 1)
    c.optimizer = .sgd
    c.learningRate = 1000
    var options = RecordingOptions()
    options.histogramEvery = 1
    // The finest bins: rows of 4,800 counts per layer, far more bytes than the compressed file.
    options.histogramBins = LogHistogramBins(lowDecade: -37, highDecade: 38, binsPerDecade: 64)
    let (path, _) = try recordedRun(c, options: options, name: "diverging") { $0.continueAfterNonFinite = true }
    let reader = try TraceReader(path: path)
    #expect(try reader.rowCount(.histograms) == reader.stepCount())
    let losses = try reader.values(.loss)
    let firstNaN = try #require(losses.firstIndex { $0.isNaN }, "the run did not diverge: \(losses)")
    let specials = try reader.rows(.gradientSpecials)
    let nan = HistogramSpecial.nan.rawValue
    let layers = try reader.layerNames().count
    func nanCount(_ row: Int, _ layer: Int) -> Double { specials[row][layer * 7 + nan] }
    // Before the divergence no NaN; at the first NaN loss every layer's gradient is NaN.
    #expect((0..<firstNaN).allSatisfy { r in (0..<layers).allSatisfy { nanCount(r, $0) == 0 } })
    let parameters = try reader.layout().layerParameters
    #expect((0..<layers).allSatisfy { nanCount(firstNaN, $0) == Double(parameters[$0]) })
  }
}

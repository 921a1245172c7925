import Curvature
import Foundation
import Networks
import TensorCore
import Testing
import TraceIO
import Training

/// `train --curvature-precision double`: the recorder's measurement is a float64 probe's at the
/// step's weights, batch and dropout seed, with the gradient recomputed in float64.
@Suite("Curvature precision")
struct CurvaturePrecisionTests {
  @Test func doubleMeasurementsAreAFloat64ProbesAtTheSameWeightsBatchAndSeed() throws {
    let c = syntheticConfiguration(epochs: 1, batchNorm: true)
    let trainer = try Trainer(
      configuration: c, data: try TrainingData.load(c), outputDirectory: temporaryDirectory("precision-run"))
    let network = trainer.network
    var generator = SeededGenerator(seed: 9)
    let images = Tensor<Float>(shape: [6, 1, 16, 16]) { p in
      for i in 0..<p.count { p[i] = Float(generator.nextNormal()) }
    }
    let labels = [0, 1, 2, 3, 0, 1]
    let seed: UInt64 = 17
    let before = network.parameters
    let floatProbe = CurvatureProbe(
      model: network.model, weights: before, buffers: network.buffers, images: images, labels: labels,
      exactLoss: false, seed: seed)
    let (loss, _, g) = floatProbe.gradient()
    let after = before.adding(g, scaledBy: -0.05)
    var options = RecordingOptions()
    options.curvature = true
    options.curvaturePrecision = .double
    options.layerCurvatureEvery = 1
    let path = temporaryDirectory("precision") + ".h5"
    let recorder = try TraceRecorder(path: path, network: network, configuration: c.json, options: options)
    try recorder.recordCurvature(
      step: 0, network: network, images: images, labels: labels, seed: seed, loss: Float(loss), gradients: g,
      before: before, after: after, measurementIndex: 0)
    try recorder.writer?.finish(status: "finished")

    // The same measurement by hand in float64.
    let probe = CurvatureProbe(
      model: network.model, weights: before.converted(to: Double.self),
      buffers: network.buffers.converted(to: Double.self), images: images.converted(), labels: labels,
      exactLoss: false, seed: seed)
    let exact = probe.gradient()
    let along = probe.alongGradient(exact.gradient, perLayer: true)
    let update = probe.alongUpdate(
      after.adding(before, scaledBy: -1).converted(to: Double.self), gradient: exact.gradient, loss: exact.loss)
    let reader = try TraceReader(path: path)
    for (dataset, value) in [
      (TraceDataset.gTg, along.gTg), (.gHg, along.gHg), (.gTd, update.gTd), (.dHd, update.dHd),
      (.actualDelta, update.actual), (.predictedSecond, update.predictedSecond), (.alpha, update.alpha),
    ] {
      #expect(try reader.values(dataset) == [Double(Float(value))], "\(dataset.path)")
    }
    #expect(try reader.rows(.layerGHg)[0].reduce(0, +).isFinite)
    // A float32 measurement of the same step differs, by rounding, from the float64 one.
    let floatUpdate = floatProbe.alongUpdate(after.adding(before, scaledBy: -1), gradient: g, loss: loss)
    #expect(floatUpdate.actual != update.actual)
    #expect(abs(floatUpdate.dHd - update.dHd) <= 1e-3 * abs(update.dHd))
  }
}

import Curvature
import Networks
import TensorCore
import Testing

/// The gradient-noise estimators are unbiased where the gradient distribution is known: a
/// network without BatchNorm (each loss term's gradient depends on its own example only) and
/// batches drawn with replacement from a finite population of P examples, so one loss term's
/// gradient has exactly the population's mean G and covariance Σ = (1/P) Σ_i (∇ℓ_i − G)(∇ℓ_i − G)ᵀ.
/// Many batches go through the code a training run uses (`Model.groupGradients`, `GradientNoise`,
/// `NoiseCurvature`); each estimate's mean must lie within 4 standard errors of the truth, and
/// the naive |g|², which is biased by tr(Σ)/N, must not (so the test can fail).
@Suite("Gradient-noise estimators are unbiased")
struct NoiseEstimatorTests {
  @Test func unbiasedOverManyBatches() throws {
    // No BatchNorm anywhere (the VGG family keeps one on its stem): examples are independent.
    var graph = ModelGraphBuilder(name: "no-batchnorm", input: [1, 8, 8])
    graph.add("stem.conv", Conv2d(outChannels: 4, kernel: 3, padding: 1))
    graph.add("stem.relu", LeakyReLU(slope: 0.01), block: "stem")
    graph.add("down.conv", Conv2d(outChannels: 6, kernel: 3, stride: 2, padding: 1))
    graph.add("down.tanh", Tanh(), block: "down")
    graph.add("pool", GlobalAveragePool())
    graph.add("fc", Linear(outFeatures: 3))
    let network = try Network<Double>(.graph(graph.graph), initialization: .he, seed: 5)
    let (population, batch, groupCount, draws) = (24, 12, 3, 400)
    var generator = SeededGenerator(seed: 17)
    let pixels = 64
    let images = (0..<population).map { _ in (0..<pixels).map { _ in generator.nextNormal() } }
    let labels = (0..<population).map { _ in Int(generator.next() % 3) }
    func batchOf(_ rows: [Int]) -> Tensor<Double> {
      Tensor(shape: [rows.count, 1, 8, 8], scalars: rows.flatMap { images[$0] })
    }
    let model = network.model
    let (weights, buffers) = (network.parameters, network.buffers)
    // H of the population's loss: a fixed H, as the estimator of tr(HΣ) assumes.
    let populationProbe = CurvatureProbe(
      model: model, weights: weights, buffers: buffers, images: batchOf(Array(0..<population)),
      labels: labels, exactLoss: false)
    let layers = populationProbe.layers

    // The truth, from every example's own gradient.
    let perExample = (0..<population).map { i in
      model.gradient(parameters: weights, buffers: buffers, images: batchOf([i]), labels: [labels[i]]).gradient
    }
    let mean = perExample.dropFirst().reduce(perExample[0]) { $0.adding($1, scaledBy: 1) }.scaled(
      by: 1 / Double(population))
    let deviations = perExample.map { $0.adding(mean, scaledBy: -1) }
    let trueNorm = mean.dot(mean)
    let trueTrace = deviations.reduce(0) { $0 + $1.dot($1) } / Double(population)
    let trueLayerTrace = layers.sum(
      deviations.map { $0.entryDots($0) }.reduce(into: [Double](repeating: 0, count: mean.names.count)) {
        for i in $0.indices { $0[i] += $1[i] / Double(population) }
      }, names: mean.names)
    let trueHessianTrace =
      deviations.reduce(0) { $0 + populationProbe.curvature(along: $1).curvature } / Double(population)
    let trueExpectedCurvature = populationProbe.curvature(along: mean).curvature

    // Many batches through the training run's estimators.
    var samples: [String: [Double]] = [:]
    let sizes = LossGroups(batch: batch, count: groupCount).sizes
    for _ in 0..<draws {
      let rows = (0..<batch).map { _ in Int(generator.next() % UInt64(population)) }
      let measured = model.groupGradients(
        parameters: weights, buffers: buffers, images: batchOf(rows), labels: rows.map { labels[$0] },
        groups: groupCount)
      let noise = GradientNoise(gradient: measured.gradient, groups: measured.groups, sizes: sizes, layers: layers)
      let gHg = populationProbe.curvature(along: measured.gradient).curvature
      let curvature = populationProbe.noiseCurvature(
        noise, gradient: measured.gradient, groups: measured.groups, gHg: gHg)
      samples["|G|²", default: []].append(noise.gradientNormSquared)
      samples["tr(Σ)", default: []].append(noise.covarianceTrace)
      samples["tr(Σ_l) of the first layer", default: []].append(noise.layerCovarianceTrace[0])
      samples["tr(Σ_l) of the last layer", default: []].append(noise.layerCovarianceTrace.last!)
      samples["tr(HΣ)", default: []].append(curvature.hessianCovarianceTrace)
      samples["GᵀHG", default: []].append(curvature.expectedCurvature)
      samples["naive |g|²", default: []].append(noise.batchNormSquared)
    }
    let truth: [String: Double] = [
      "|G|²": trueNorm, "tr(Σ)": trueTrace, "tr(Σ_l) of the first layer": trueLayerTrace[0],
      "tr(Σ_l) of the last layer": trueLayerTrace.last!, "tr(HΣ)": trueHessianTrace,
      "GᵀHG": trueExpectedCurvature, "naive |g|²": trueNorm,
    ]
    for (name, values) in samples.sorted(by: { $0.key < $1.key }) {
      let average = values.reduce(0, +) / Double(values.count)
      let variance = values.reduce(0) { $0 + ($1 - average) * ($1 - average) } / Double(values.count - 1)
      let standardError = (variance / Double(values.count)).squareRoot()
      let distance = abs(average - truth[name]!) / standardError
      print("noise estimator \(name): mean \(average), truth \(truth[name]!), \(distance) standard errors")
      if name == "naive |g|²" {
        #expect(distance > 4, "the biased estimator must be caught: \(distance) standard errors")
      } else {
        #expect(distance <= 4, "\(name): mean \(average) vs \(truth[name]!), \(distance) standard errors")
      }
    }
  }
}

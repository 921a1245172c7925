import Datasets
import Foundation
import Networks
import TensorCore
import Testing
import TraceIO
import Training

/// Runs scripts/check_trace.py (h5py) on a trace; returns its exit status and output.
func checkWithH5py(_ trace: String, expect: String? = nil) throws -> (Int32, String) {
  let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("scripts/check_trace.py").path
  let process = Process()
  process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
  process.arguments = ["python3", script, trace] + (expect.map { ["--expect", $0] } ?? [])
  let pipe = Pipe()
  process.standardOutput = pipe
  process.standardError = pipe
  try process.run()
  let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
  process.waitUntilExit()
  return (process.terminationStatus, output)
}

@Suite("Traces")
struct TraceTests {
  /// A conv and a linear layer, one block of activations, curvature recorded.
  static let twoLayers = TraceLayout(
    layerNames: ["a_conv", "b_linear"], layerKinds: ["conv", "linear"], layerParameters: [27, 10],
    activationNames: ["block"], recordsCurvature: true)

  /// A row of the wrong length is refused with an error naming the dataset; the writing
  /// process goes on and its trace stays readable with the rows it had.
  @Test func wrongLengthRowsThrowAndTheTraceStaysReadable() throws {
    let path = temporaryDirectory("wrong") + ".h5"
    let layout = Self.twoLayers
    let writer = try TraceWriter(
      path: path, configuration: "{}", model: "{}", toolVersion: "test", layout: layout, flushEvery: 1)
    func row(_ step: Int, layers: Int = 2, blocks: [Float] = [0.5]) -> TraceRow {
      TraceRows.step(step, epoch: 0, loss: 2, gradientMeanAbs: Array(repeating: 0.1, count: layers), blocks: blocks)
    }
    try writer.append(row(0))
    var layerCurvature = TraceRow(.layerCurvature, at: 1)
    layerCurvature[values: .layerGHg] = [1]
    let withoutCurvature = try TraceWriter(
      path: temporaryDirectory("plain") + ".h5", configuration: "{}", model: "{}", toolVersion: "test",
      layout: TraceLayout(
        layerNames: ["a"], layerKinds: ["conv"], layerParameters: [1], activationNames: nil, recordsCurvature: false))
    let cases: [(() throws -> Void, String)] = [
      ({ try writer.append(row(1, layers: 3)) }, "/gradients/mean_abs"),
      ({ try writer.append(row(1, blocks: [1, 2])) }, "/activations/mean"),
      ({ try writer.append(layerCurvature) }, "/layer_curvature/gHg"),
      ({ try withoutCurvature.append(TraceRows.curvature(1, 1)) }, "created without curvature"),
    ]
    for (append, expected) in cases {
      do {
        try append()
        Issue.record("a wrong-length row was accepted (\(expected))")
      } catch {
        #expect("\(error)".contains(expected) && "\(error)".contains("step 1"), "\(error)")
      }
    }
    try writer.append(row(1))
    try writer.finish(status: "finished")
    let mismatched = TraceLayout(
      layerNames: ["a", "b"], layerKinds: ["conv"], layerParameters: [1, 2], activationNames: nil,
      recordsCurvature: false)
    #expect(throws: HDF5Error.self, "a layout with fewer kinds than names") {
      try TraceWriter(
        path: temporaryDirectory("mismatched") + ".h5", configuration: "{}", model: "{}", toolVersion: "test",
        layout: mismatched)
    }
    let reader = try TraceReader(path: path)
    let steps = try reader.steps(.steps)
    #expect(steps == [0, 1], "\(steps)")
    let (status, output) = try checkWithH5py(path)
    #expect(status == 0, "\(output)")
  }

  /// Rows written with the writer read back identically through h5py (schema, dtypes, shapes
  /// and values), including NaN and infinities.
  @Test func writerRowsMatchH5py() throws {
    let path = temporaryDirectory("rows") + ".h5"
    let layout = Self.twoLayers
    let writer = try TraceWriter(
      path: path, configuration: "{}", model: "{}", toolVersion: "test", layout: layout, flushEvery: 3)
    var logged: [String: [Double?]] = [:]
    func log(_ key: String, _ values: [Float]) {
      logged[key, default: []] += values.map { $0.isNaN ? nil : Double($0) }
    }
    for step in 0..<7 {
      let g: [Float] = [Float(step) * 0.5, step == 4 ? .nan : 1e-18 * Float(step + 1)]
      var row = TraceRows.step(step, epoch: step / 4, loss: 2.3 - Float(step) * 0.1, gradientMeanAbs: g, blocks: [0.5])
      row[values: .activationFractionNegative] = [0.25]
      row[values: .gradientL2Norm] = g.map { Double($0 * 2) }
      try writer.append(row)
      log("steps/loss", [2.3 - Float(step) * 0.1])
      log("gradients/mean_abs", g)
      log("gradients/l2_norm", g.map { $0 * 2 })
      log("activations/fraction_negative", [0.25])
      if step % 3 == 0 {
        try writer.append(TraceRows.curvature(step, Double(1 + step)))
        log("curvature/gHg", [Float(1 + step)])
      }
      if step % 6 == 0 {
        // The per-layer split on its own index: only where measured, no NaN rows between.
        var layers = TraceRow(.layerCurvature, at: step)
        layers[values: .layerGHg] = [Double(step), 1]
        try writer.append(layers)
        log("layer_curvature/gHg", [Float(step), 1])
        log("layer_curvature/step", [Float(step)])
      }
    }
    try writer.append(TraceRows.epoch(0))
    try writer.finish(status: "finished", testLoss: 2.2, testAccuracy: 0.25, bestEpoch: 0)
    #expect(writer.firstNonFiniteStep == 4 && writer.nonFiniteCount == 2)
    let expect = temporaryDirectory("expect") + ".json"
    try JSONSerialization.data(withJSONObject: logged.mapValues { $0.map { $0 ?? NSNull() as Any } }).write(
      to: URL(fileURLWithPath: expect))
    let (status, output) = try checkWithH5py(path, expect: expect)
    #expect(status == 0, "\(output)")

    let reader = try TraceReader(path: path)
    #expect(try reader.stepCount() == 7 && reader.status == "finished")
    #expect(reader.summaryValue("first_nonfinite_step") == 4)
  }

  /// A real run's trace: h5py accepts its schema, and what it holds matches the trainer's own
  /// record (epoch rows, final weight norms, the step count).
  @Test func trainingTraceMatchesTheRun() throws {
    let c = syntheticConfiguration(epochs: 2, batchNorm: true)
    let path = temporaryDirectory("run") + ".h5"
    let trainer = try Trainer(
      configuration: c, data: try TrainingData.load(c), outputDirectory: temporaryDirectory("run"))
    var options = RecordingOptions()
    options.curvature = true
    options.curvatureEvery = 4
    options.layerCurvatureEvery = 2
    options.flushEvery = 5
    trainer.recorder = try TraceRecorder(path: path, network: trainer.network, configuration: c.json, options: options)
    let summary = try trainer.run()
    let (status, output) = try checkWithH5py(path)
    #expect(status == 0, "\(output)")

    let reader = try TraceReader(path: path)
    let stepsPerEpoch = (trainer.data.train.count + c.batchSize - 1) / c.batchSize
    #expect(try reader.stepCount() == 2 * stepsPerEpoch)
    #expect(try reader.curvatureCount() == (2 * stepsPerEpoch + 3) / 4)
    #expect(
      try reader.column("/epochs/valid_accuracy").map { Float($0) } == summary.epochs.map { Float($0.validAccuracy) })
    #expect(reader.status == "finished")
    let lastWeights = try reader.rows(.weightL2Norm).last!
    let expected = trainer.network.weightTensors.map { trainer.network.parameters[$0.name]!.squaredNorm.squareRoot() }
    for (recorded, actual) in zip(lastWeights, expected) { #expect(abs(recorded - actual) <= 1e-5 * actual) }
    // The recorded prediction along the update tracks the actual change on the same batch.
    let predicted = try reader.values(.predictedSecond)
    let actual = try reader.values(.actualDelta)
    #expect(predicted.count == actual.count && !predicted.isEmpty)
    // Per-layer gᵀHg on every 2nd measurement, on its own index, summing to that step's gᵀHg.
    let curvatureSteps = try reader.steps(.curvature)
    let layerSteps = try reader.steps(.layerCurvature)
    #expect(layerSteps == curvatureSteps.enumerated().filter { $0.offset % 2 == 0 }.map(\.element))
    let gHg = try reader.values(.gHg)
    for (step, values) in zip(layerSteps, try reader.rows(.layerGHg)) {
      let row = curvatureSteps.firstIndex(of: step)!
      let total = values.reduce(0.0) { $0 + Double($1) }
      #expect(abs(total - gHg[row]) <= 1e-3 * abs(gHg[row]) + 1e-6, "step \(step): Σ layers \(total), gᵀHg \(gHg[row])")
    }
    // Every per-step statistic of the schema was computed (none left as the writer's NaN;
    // saturation is NaN by definition for leaky ReLU; a plain VGG has no add or concat inputs).
    for dataset in TraceSchema.datasets(following: .steps)
    where dataset != .activationFractionSaturated && dataset != .mergeInputNorm {
      #expect(try reader.values(dataset).contains { $0.isFinite }, "\(dataset.path) holds no value")
    }
    // cos(g, d) per layer: Adam moves against the gradient.
    #expect(try reader.rows(.updateGradientCosine)[0].allSatisfy { $0 < 0 && $0 >= -1 })
  }

  /// Plain VGG38 with leaky ReLU at lr 10 diverges at its third step (as PyTorch does); the
  /// trace records the NaNs and says why the run failed. A sigmoid network stays finite.
  @Test func divergenceIsRecordedNotSwallowed() throws {
    var c = TrainingConfiguration(
      model: .vgg(.preset(.vgg38, inputChannels: 1, inputHeight: 16, inputWidth: 16, classes: 4)), dataset: .synthetic)
    c.epochs = 1
    c.batchSize = 20
    c.learningRate = 10
    c.schedule = .constant
    c.syntheticCount = 300
    c.validationCount = 50
    c.subset = 200
    let data = try TrainingData.load(c)
    let path = temporaryDirectory("nan") + ".h5"
    let trainer = try Trainer(configuration: c, data: data, outputDirectory: temporaryDirectory("nan"))
    trainer.recorder = try TraceRecorder(
      path: path, network: trainer.network, configuration: c.json, options: RecordingOptions())
    #expect { try trainer.run() } throws: { "\($0)".contains("non-finite loss") && "\($0)".contains("step 2") }
    let reader = try TraceReader(path: path)
    #expect(reader.status.hasPrefix("failed: non-finite loss"))
    #expect(reader.summaryValue("first_nonfinite_step") == 2)
    #expect(try reader.values(.loss).last!.isNaN)

    let continuing = try Trainer(configuration: c, data: data, outputDirectory: temporaryDirectory("nan-continue"))
    let continuedPath = temporaryDirectory("nan-continue") + ".h5"
    continuing.recorder = try TraceRecorder(
      path: continuedPath, network: continuing.network, configuration: c.json, options: RecordingOptions())
    continuing.continueAfterNonFinite = true
    _ = try continuing.run()
    let continued = try TraceReader(path: continuedPath)
    let continuedSteps = try continued.stepCount()
    #expect(continued.status == "finished" && continuedSteps == 10)

    var sigmoid = c
    sigmoid.model = .vgg(
      .preset(.vgg38, activation: .sigmoid, inputChannels: 1, inputHeight: 16, inputWidth: 16, classes: 4))
    let sigmoidTrainer = try Trainer(configuration: sigmoid, data: data, outputDirectory: temporaryDirectory("sigmoid"))
    let finite = try sigmoidTrainer.run()
    #expect(finite.epochs[0].trainLoss.isFinite)
  }
}

@Suite("Recorder statistics")
struct RecorderStatisticsTests {
  /// The vectorised moments against a plain Double computation, on sizes that exercise the
  /// 16-lane blocks and the remainder.
  @Test(arguments: [1, 15, 16, 1023, 1024, 5000])
  func momentsMatchAPlainComputation(count: Int) {
    var generator = SeededGenerator(seed: UInt64(count))
    let values = (0..<count).map { _ in Float(generator.nextNormal() * 0.7 + 0.3) }
    let (mean, std, negative, saturated, meanSquare) = TraceRecorder.moments(Tensor(shape: [count], scalars: values))
    let m = values.reduce(0.0) { $0 + Double($1) } / Double(count)
    let s = (values.reduce(0.0) { $0 + (Double($1) - m) * (Double($1) - m) } / Double(count)).squareRoot()
    #expect(abs(Double(mean) - m) < 1e-5)
    #expect(abs(Double(std) - s) < 1e-4)
    let q = values.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(count)
    #expect(abs(Double(meanSquare) - q) <= 1e-5 * q)
    #expect(negative == Float(Double(values.filter { $0 < 0 }.count) / Double(count)))
    #expect(saturated == Float(Double(values.filter { $0 < 0.01 || $0 > 0.99 }.count) / Double(count)))
  }

  /// The c-value (one pass over normalised examples) against every pairwise cosine in Double:
  /// examples sharing a common direction, one all-zero example (left out), more examples than
  /// compared (only the first 32 count), and the same values in oneDNN's blocked layout.
  @Test(arguments: [0.0, 0.5, 3.0])
  func cValueMatchesThePairwiseCosines(common: Double) {
    var generator = SeededGenerator(seed: UInt64(common * 10))
    let (n, c, h, w) = (40, 16, 3, 5)
    let size = c * h * w
    let shared = (0..<size).map { _ in generator.nextNormal() }
    var values = (0..<(n * size)).map { i in Float(common * shared[i % size] + generator.nextNormal()) }
    for k in 0..<size { values[3 * size + k] = 0 }
    let tensor = Tensor(shape: [n, c, h, w], scalars: values)
    let examples = (0..<32).filter { $0 != 3 }.map { i in (0..<size).map { Double(values[i * size + $0]) } }
    var (sum, pairs) = (0.0, 0)
    for i in examples.indices {
      for j in examples.indices where j != i {
        let dot = zip(examples[i], examples[j]).reduce(0) { $0 + $1.0 * $1.1 }
        let norms =
          examples[i].reduce(0) { $0 + $1 * $1 }.squareRoot() * examples[j].reduce(0) { $0 + $1 * $1 }.squareRoot()
        sum += dot / norms
        pairs += 1
      }
    }
    let direct = sum / Double(pairs)
    // Float sums of ≤ 32 unit-scaled terms: |error| ≲ 32 · 2⁻²⁴ on each coordinate, far below 1e-5.
    let recorded = TraceRecorder.cosineSimilarity(tensor)
    #expect(abs(Double(recorded) - direct) < 1e-5, "c \(recorded) vs direct \(direct)")
    #expect(abs(TraceRecorder.cosineSimilarity(tensor.inLayout(.blocked16)) - recorded) < 1e-6)
    #expect(TraceRecorder.cosineSimilarity(Tensor(shape: [1, size], scalars: Array(values[0..<size]))).isNaN)
  }
}

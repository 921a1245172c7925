// A small inception-style CNN defined in Swift, trained for one epoch on Fashion-MNIST with a
// trace (gradients, activations, exact curvature every few steps), then analysed: the same
// steps as `gradtrace train --model-file … --trace …` and `gradtrace analyze`, as library calls.
//
//     swift run -c release custom-network [output-directory]
//
// Exits 0 when the run finishes and its trace analyses as healthy, 1 otherwise.
import Analysis
import Foundation
import Networks
import Training

/// Three branches from a shared stem, concatenated along channels: 1×1 (tanh), 3×3 (ReLU) and
/// the stem itself; then a strided convolution, global pooling, dropout and a linear head.
func inceptionNetwork() -> ModelGraph {
  var graph = ModelGraphBuilder(name: "tiny-inception", input: [1, 32, 32])
  graph.add("stem.conv", Conv2d(outChannels: 8, kernel: 3, padding: 1, bias: false))
  graph.add("stem.bn", BatchNorm())
  graph.add("stem.relu", ReLU())
  let stem = graph.add("stem.pool", MaxPool(window: 2), block: "stem")
  graph.add("narrow.conv", Conv2d(outChannels: 4, kernel: 1, bias: false), inputs: [stem])
  graph.add("narrow.bn", BatchNorm())
  let narrow = graph.add("narrow.tanh", Tanh())
  graph.add("wide.conv", Conv2d(outChannels: 8, kernel: 3, padding: 1, bias: false), inputs: [stem])
  graph.add("wide.bn", BatchNorm())
  let wide = graph.add("wide.relu", ReLU())
  graph.add("merge", Concat(), inputs: [stem, narrow, wide], block: "merge")
  graph.add("pool", AveragePool(window: 2))
  graph.add("head.conv", Conv2d(outChannels: 24, kernel: 3, stride: 2, padding: 1, bias: false))
  graph.add("head.bn", BatchNorm())
  graph.add("head.relu", ReLU(), block: "head")
  graph.add("global_pool", GlobalAveragePool())
  graph.add("dropout", Dropout(probability: 0.1))
  graph.add("classifier", Linear(outFeatures: 10))
  return graph.graph
}

let arguments = CommandLine.arguments.dropFirst()
let directory =
  arguments.first ?? FileManager.default.temporaryDirectory.appendingPathComponent(
    "custom-network-\(ProcessInfo.processInfo.processIdentifier)"
  ).path
let trace = "\(directory)/trace.h5"

var configuration = TrainingConfiguration(model: .graph(inceptionNetwork()), dataset: .fashionMNIST)
configuration.epochs = 1
configuration.subset = 2000
configuration.validationCount = 1000
configuration.testCount = 1000
configuration.trace = trace

do {
  var recording = RecordingOptions()
  recording.curvature = true
  recording.curvatureEvery = 5
  configuration.recording = recording
  try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
  let trainer = try Trainer(
    configuration: configuration, data: try TrainingData.load(configuration), outputDirectory: directory)
  print("\(configuration.model.shortName): \(trainer.network.parameterCount) parameters, \(trainer.network.blockNames.count) recorded blocks")
  trainer.recorder = try TraceRecorder(
    path: trace, network: trainer.network, configuration: configuration.json, options: recording)
  let summary = try trainer.run()
  print(String(format: "trained one epoch: test accuracy %.1f%%; trace %@", summary.testAccuracy * 100, trace))
  let analysis = try TraceAnalysis.analyze(path: trace)
  print(analysis.text)
  exit(analysis.status == "finished" && analysis.verdict == "healthy" ? 0 : 1)
} catch {
  print("custom-network: \(error)")
  exit(1)
}

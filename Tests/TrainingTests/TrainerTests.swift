import Datasets
import Foundation
import _NumericalTestSupport
import Networks
import TensorCore
import Testing
import Training

/// A new path named after `name` in the test process's scratch directory.
func temporaryDirectory(_ name: String) -> String { ScratchDirectory.path("train-\(name)") }

/// Trains `c` with a recorder of `options` writing a new trace, which h5py then checks against
/// the format document; `prepare` sees the trainer before it runs. Returns the trace's path.
func recordedRun(
  _ c: TrainingConfiguration, options: RecordingOptions, name: String, prepare: (Trainer) -> Void = { _ in }
) throws -> (path: String, trainer: Trainer) {
  let path = temporaryDirectory(name) + ".h5"
  let trainer = try Trainer(
    configuration: c, data: try TrainingData.load(c), outputDirectory: temporaryDirectory("\(name)-run"))
  prepare(trainer)
  trainer.recorder = try TraceRecorder(path: path, network: trainer.network, configuration: c.json, options: options)
  _ = try trainer.run()
  let (status, output) = try checkWithH5py(path)
  #expect(status == 0, "\(output)")
  return (path, trainer)
}

/// A small synthetic run: vgg08 at 16×16 so the suite stays fast.
func syntheticConfiguration(
  epochs: Int, batchNorm: Bool = false, residual: Bool = false, activation: Activation = .leaky
) -> TrainingConfiguration {
  var c = TrainingConfiguration(
    model: .vgg(
      .preset(
        .vgg08, batchNorm: batchNorm, residual: residual, activation: activation, inputChannels: 1, inputHeight: 16,
        inputWidth: 16, classes: 4)), dataset: .synthetic)
  c.epochs = epochs
  c.batchSize = 20
  c.syntheticCount = 300
  c.validationCount = 60
  c.augmentation = Augmentation(cropPadding: 2, horizontalFlip: true, noise: 0.05)
  c.seed = 3
  return c
}

@Suite("Trainer")
struct TrainerTests {
  @Test func lossFallsOnSyntheticData() throws {
    var c = syntheticConfiguration(epochs: 4)
    c.learningRate = 3e-3
    let trainer = try Trainer(
      configuration: c, data: try TrainingData.load(c), outputDirectory: temporaryDirectory("falls"))
    let summary = try trainer.run()
    let losses = summary.epochs.map(\.trainLoss)
    // 48 steps of Adam: the loss falls well below ln 4 = 1.386 and accuracy beats chance.
    #expect(losses.last! < 0.8 * losses.first!, "train losses \(losses)")
    #expect(summary.epochs.last!.validAccuracy > 0.5, "valid accuracy \(summary.epochs.last!.validAccuracy)")
    #expect(FileManager.default.fileExists(atPath: "\(trainer.outputDirectory)/best.h5"))
    #expect(FileManager.default.fileExists(atPath: "\(trainer.outputDirectory)/epochs.csv"))
  }

  /// Stopping after epoch 1 and resuming gives the same weights as running straight through:
  /// same data order, augmentation draws, optimizer state and BatchNorm buffers.
  @Test func resumeIsBitIdentical() throws {
    try ComputeThreads.$override.withValue(1) {
      let c = syntheticConfiguration(epochs: 3, batchNorm: true, residual: true)
      let data = try TrainingData.load(c)
      let straight = try Trainer(configuration: c, data: data, outputDirectory: temporaryDirectory("straight"))
      _ = try straight.run()

      var first = c
      first.cosinePeriod = 3  // the interrupted run was planned for 3 epochs
      first.epochs = 1
      let directory = temporaryDirectory("interrupted")
      _ = try Trainer(configuration: first, data: data, outputDirectory: directory).run()
      let resumed = try Trainer(resumingIn: directory, data: data)
      resumed.extendEpochs(to: 3)
      _ = try resumed.run()

      for name in straight.network.parameters.names {
        #expect(resumed.network.parameters[name]!.scalars == straight.network.parameters[name]!.scalars, "\(name)")
      }
      for name in straight.network.buffers.names {
        #expect(resumed.network.buffers[name]!.scalars == straight.network.buffers[name]!.scalars, "\(name)")
      }
      #expect(resumed.history.map(\.trainLoss) == straight.history.map(\.trainLoss))
    }
  }

  @Test func sameSeedSameLosses() throws {
    let c = syntheticConfiguration(epochs: 1)
    let data = try TrainingData.load(c)
    let a = try Trainer(configuration: c, data: data, outputDirectory: temporaryDirectory("a")).run()
    let b = try Trainer(configuration: c, data: data, outputDirectory: temporaryDirectory("b")).run()
    #expect(a.epochs.map(\.trainLoss) == b.epochs.map(\.trainLoss))
  }

  @Test func splitIsIndependentOfTheRunSeed() throws {
    var c = syntheticConfiguration(epochs: 1)
    let one = try TrainingData.load(c)
    c.seed = 99
    let two = try TrainingData.load(c)
    #expect(one.validation.labels == two.validation.labels)
    c.splitSeed = 5
    let three = try TrainingData.load(c)
    #expect(one.validation.labels != three.validation.labels)
  }
}

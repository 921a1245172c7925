import Datasets
import Foundation
import Networks

/// Everything that determines a training run: stored as JSON in checkpoints (the `config`
/// attribute) and in `config.json`, so a run can be resumed or rerun exactly.
public struct TrainingConfiguration: Codable, Equatable, Sendable {
  public enum DatasetName: String, Codable, Sendable, CaseIterable {
    case fashionMNIST = "fashion-mnist"
    case cifar10, cifar100, synthetic
  }
  public enum OptimizerName: String, Codable, Sendable, CaseIterable { case adam, sgd }
  public enum ScheduleName: String, Codable, Sendable, CaseIterable { case cosine, constant }

  /// What `compare`, `export` and `report` call the run (nil: its trace's directory and file).
  public var name: String?
  /// The run's trace (an absolute path) and what it records, so that `--resume` continues both.
  public var trace: String?
  public var recording: RecordingOptions?
  public var model: NetworkConfiguration
  public var initialization = Initialization.pytorchDefault
  public var dataset = DatasetName.fashionMNIST
  public var dataDirectory: String?
  /// Pad Fashion-MNIST from 28×28 to 32×32 (black) before normalisation.
  public var pad = true
  public var epochs = 2
  /// T_max of the cosine schedule; nil means `epochs` (a resumed run that is extended keeps
  /// the period it started with).
  public var cosinePeriod: Int?
  public var batchSize = 100
  public var learningRate = 1e-3
  public var weightDecay = 0.0
  public var optimizer = OptimizerName.adam
  public var momentum = 0.9
  public var schedule = ScheduleName.cosine
  /// η_min of the cosine schedule (the paper's setup: 2e-5).
  public var minimumLearningRate = 2e-5
  public var seed: UInt64 = 0
  /// Seeds the train/validation split only, so runs with different seeds share a split.
  public var splitSeed: UInt64 = 0
  public var threads = 2
  /// Ranks of the run's latest start (`mpirun -np R`); nil: one process. A checkpoint does not
  /// depend on it: a run may resume on any rank count.
  public var ranks: Int?
  /// Ghost BatchNorm: statistics over each of K contiguous groups of B/K images (`--local-batchnorm`
  /// under mpirun: K = R; `--ghost-batchnorm K`); nil: over the global batch (synchronised
  /// across ranks). Part of the function trained, so it stays with the run.
  public var ghostBatchNorm: Int?
  /// The arithmetic of every step: float32 (nil) or float64 (`train --precision double`: the
  /// weights, the optimizer, the forward and backward passes and the measurements in float64;
  /// the trace still stores float32 values, and checkpoints hold the weights rounded to float32,
  /// so such a run is not resumed).
  public var precision: TrainingPrecision?
  /// Use only the first N training images (after the split).
  public var subset: Int?
  public var validationCount: Int
  /// Evaluate the test set on its first N images only (nil: all of it).
  public var testCount: Int?
  public var augmentation: Augmentation
  /// Synthetic dataset size and classes.
  public var syntheticCount = 2000

  public init(model: NetworkConfiguration, dataset: DatasetName) {
    self.model = model
    self.dataset = dataset
    switch dataset {
    case .fashionMNIST:
      validationCount = 5000
      augmentation = Augmentation(cropPadding: 4, horizontalFlip: false)
    case .cifar10, .cifar100:
      validationCount = 2500
      augmentation = Augmentation(cropPadding: 4, horizontalFlip: true)
    case .synthetic:
      validationCount = 200
      augmentation = .none
    }
  }

  public var learningRateSchedule: LearningRateSchedule {
    switch schedule {
    case .constant: .constant(learningRate: learningRate)
    case .cosine: .cosine(learningRate: learningRate, minimum: minimumLearningRate, period: cosinePeriod ?? epochs)
    }
  }

  public var json: String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    return String(decoding: try! encoder.encode(self), as: UTF8.self)
  }

  /// The configuration stored as `json`, nil when it is not one (`decoding(_:)` says why).
  public static func decode(_ json: String) -> TrainingConfiguration? { try? decoding(json) }
}

/// The arithmetic a run trains in.
public enum TrainingPrecision: String, Codable, CaseIterable, Sendable {
  case float, double
}

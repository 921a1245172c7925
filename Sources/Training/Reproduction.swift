import Datasets
import Foundation
import Networks

/// The paper's Table 1 as a list of training runs, at three scales:
/// - `paper`: the full protocol (CIFAR-100 from a data directory, 100 epochs, every row);
/// - `small`: every row on Fashion-MNIST, 4,000 training images, 3 epochs, test on 5,000
///   (about an hour on two cores);
/// - `smoke`: the four headline rows (VGG08, VGG38, VGG38 BN, VGG38 BN+residual) on 2,000
///   Fashion-MNIST images for 2 epochs at batch 100, test on 1,000 (a few minutes).
///
/// Every scale adds rows "beyond the paper": DenseNet-BC at VGG38's depth (40 layers) with and
/// without BatchNorm, the third fix for vanishing gradients the paper names (§3.3) but does not
/// test, so the table shows all three side by side. They have no paper numbers.
public enum ReproductionScale: String, CaseIterable, Codable, Sendable {
  case smoke, small, paper
}

/// One row of the paper's Table 1 and the run that reproduces it.
public struct ReproductionRun: Sendable {
  /// Directory and trace name: `vgg38-bn-res-b256-lr0.001-wd0.0001`.
  public var name: String
  /// The model as Table 1 names it: "VGG38 BN + Resnet".
  public var label: String
  public var configuration: TrainingConfiguration
  /// The headline runs record curvature (the Taylor figure); the others gradients and
  /// activations only.
  public var recordsCurvature: Bool
  /// Table 1's test and train accuracy (CIFAR-100, 100 epochs), as fractions; nil for the
  /// rows beyond the paper.
  public var paperTestAccuracy: Double?
  public var paperTrainAccuracy: Double?

  public init(
    name: String, label: String, configuration: TrainingConfiguration, recordsCurvature: Bool,
    paperTestAccuracy: Double?, paperTrainAccuracy: Double?
  ) {
    self.name = name
    self.label = label
    self.configuration = configuration
    self.recordsCurvature = recordsCurvature
    self.paperTestAccuracy = paperTestAccuracy
    self.paperTrainAccuracy = paperTrainAccuracy
  }
}

public enum ReproductionPlan {
  /// How many spectra of `products` Hessian-vector products fit in a tenth of a run of
  /// `trainingSteps` steps, at most 8: a spectrum's H·v is taken to cost 5 training steps
  /// (measured with `bench --pass spectrum` against `--pass step`: 3.8-4.7 on the headline
  /// models, BENCHMARKS.md), so the schedule stays under 1.1× the training time. The paper's
  /// batch-100 runs (45,000 steps) get 6 spectra of the defaults (150 products), its batch-256
  /// run 2; the smoke and small scales none (their whole training costs less than one spectrum).
  public static func affordableSpectra(trainingSteps: Int, products: Int) -> Int {
    min(8, Int(0.1 * Double(trainingSteps) / (5 * Double(max(products, 1)))))
  }

  /// `--spectrum-every` for `points` spectra evenly spaced from step 0 to the last step (0 for none).
  public static func spectrumEvery(points: Int, trainingSteps: Int) -> Int {
    guard points > 0 else { return 0 }
    guard points > 1 else { return max(trainingSteps, 1) }
    return max(1, (trainingSteps - 1) / (points - 1))
  }

  /// Table 1: label, model, batch size, learning rate, weight decay, test and train accuracy
  /// (percent), whether the row is one of the four headline runs.
  static let table1:
    [(
      label: String, model: VGGConfiguration, batch: Int, lr: Double, decay: Double, test: Double, train: Double,
      headline: Bool
    )] = [
      ("VGG08 baseline", .preset(.vgg08), 100, 1e-3, 0, 49.95, 55.24, true),
      ("VGG08 BN", .preset(.vgg08, batchNorm: true), 100, 1e-3, 0, 53.89, 59.65, false),
      ("VGG08 BN + Resnet", .preset(.vgg08, batchNorm: true, residual: true), 100, 1e-3, 0, 54.45, 60.74, false),
      ("VGG38 baseline", .preset(.vgg38), 100, 1e-3, 0, 1, 1, true),
      ("VGG38 BN", .preset(.vgg38, batchNorm: true), 100, 1e-3, 0, 46.78, 54.20, true),
      ("VGG38 BN", .preset(.vgg38, batchNorm: true), 100, 1e-2, 0, 44.14, 48.33, false),
      ("VGG38 BN", .preset(.vgg38, batchNorm: true), 100, 1e-1, 0, 22.46, 24.86, false),
      ("VGG38 BN", .preset(.vgg38, batchNorm: true), 256, 1e-3, 0, 47.22, 58.05, false),
      ("VGG38 BN", .preset(.vgg38, batchNorm: true), 512, 1e-3, 0, 46.49, 60.43, false),
      ("VGG38 Sigmoid BN", .preset(.vgg38, batchNorm: true, activation: .sigmoid), 512, 1e-3, 0, 26.88, 28.29, false),
      ("VGG38 Resnet (only)", .preset(.vgg38, residual: true), 100, 1e-3, 0, 44.77, 52.20, false),
      ("VGG38 BN + Resnet", .preset(.vgg38, batchNorm: true, residual: true), 512, 1e-3, 0, 58.84, 78.65, false),
      ("VGG38 BN + Resnet", .preset(.vgg38, batchNorm: true, residual: true), 512, 1e-1, 1e-4, 30.22, 29.70, false),
      ("VGG38 BN + Resnet", .preset(.vgg38, batchNorm: true, residual: true), 256, 1e-2, 6e-4, 57.67, 72.81, false),
      ("VGG38 BN + Resnet", .preset(.vgg38, batchNorm: true, residual: true), 256, 1e-2, 1e-4, 58.25, 67.50, false),
      ("VGG38 BN + Resnet", .preset(.vgg38, batchNorm: true, residual: true), 256, 1e-3, 1e-4, 61.81, 85.21, true),
    ]

  /// Rows past the paper (no paper numbers), at the headline rows' settings: the paper's third
  /// fix, DenseNet-BC, at VGG38's depth with and without BatchNorm.
  static let beyondThePaper: [(label: String, model: NetworkConfiguration)] = [
    ("DenseNet-BC 40 BN (beyond the paper)", .denseNet(DenseNetConfiguration(depth: 40, batchNorm: true))),
    ("DenseNet-BC 40 (beyond the paper)", .denseNet(DenseNetConfiguration(depth: 40, batchNorm: false))),
  ]

  /// Table 1's name for this architecture ("VGG38 BN + Resnet"), whatever its input shape and
  /// class count; nil when the paper has no such model (`vgg08 --residual` without BatchNorm).
  public static func paperLabel(of model: NetworkConfiguration) -> String? {
    func architecture(_ m: VGGConfiguration) -> [AnyHashable] {
      [m.numFilters, m.numStages, m.blocksPerStage, m.batchNorm, m.residual, m.activation.rawValue]
    }
    guard case .vgg(let model) = model else { return nil }
    return table1.first { architecture($0.model) == architecture(model) }?.label
  }

  /// The runs of `scale` on `dataset` (nil: Fashion-MNIST for smoke and small, CIFAR-100 for
  /// paper). Fashion-MNIST is padded to 32×32 with 10 classes; CIFAR keeps 3×32×32.
  public static func runs(
    scale: ReproductionScale, dataset: TrainingConfiguration.DatasetName? = nil, dataDirectory: String? = nil,
    threads: Int = 2
  ) -> [ReproductionRun] {
    let dataset = dataset ?? (scale == .paper ? .cifar100 : .fashionMNIST)
    let paperRows = (scale == .smoke ? table1.filter(\.headline) : table1).map {
      (
        label: $0.label, model: NetworkConfiguration.vgg($0.model), batch: $0.batch, lr: $0.lr, decay: $0.decay,
        test: Optional($0.test), train: Optional($0.train), headline: $0.headline
      )
    }
    let beyondRows = beyondThePaper.map {
      (
        label: $0.label, model: $0.model, batch: 100, lr: 1e-3, decay: 0.0, test: Double?.none, train: Double?.none,
        headline: false
      )
    }
    return (paperRows + beyondRows).map { row in
      // The synthetic set takes any shape: Fashion-MNIST's, as the small scales are made for.
      let shape = dataset.shape() ?? TrainingConfiguration.DatasetName.fashionMNIST.shape()!
      let model = row.model.adapted(toInput: [shape.channels, shape.height, shape.width], classes: shape.classes)
      var c = TrainingConfiguration(model: model, dataset: dataset)
      c.dataDirectory = dataDirectory
      c.threads = threads
      c.batchSize = row.batch
      c.learningRate = row.lr
      c.weightDecay = row.decay
      switch scale {
      case .smoke:
        c.batchSize = 100
        c.epochs = 2
        c.subset = 2000
        c.validationCount = 500
        c.testCount = 1000
      case .small:
        c.epochs = 3
        c.subset = 4000
        c.validationCount = 1000
        c.testCount = 5000
      case .paper:
        c.epochs = 100
      }
      var name = model.shortName + "-b\(c.batchSize)-lr\(c.learningRate)"
      if c.weightDecay > 0 { name += "-wd\(c.weightDecay)" }
      c.name = name
      return ReproductionRun(
        name: name, label: row.label, configuration: c, recordsCurvature: row.headline,
        paperTestAccuracy: row.test.map { $0 / 100 }, paperTrainAccuracy: row.train.map { $0 / 100 })
    }
  }
}

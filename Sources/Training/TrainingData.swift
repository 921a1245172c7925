import Datasets
import Networks

/// The three splits of a run, loaded and checked against the model.
public struct TrainingData: Sendable {
  public var train: LabeledImages
  public var validation: LabeledImages
  public var test: LabeledImages

  /// Loads the configured dataset, splits train/validation with the split seed, applies
  /// `subset`. - Throws: `DatasetError` for unreadable data or a model that does not fit it.
  public static func load(_ c: TrainingConfiguration) throws(DatasetError) -> TrainingData {
    let full: LabeledImages
    let test: LabeledImages
    switch c.dataset {
    case .fashionMNIST:
      let directory = c.dataDirectory ?? FashionMNIST.defaultDirectory
      full = try FashionMNIST.images(directory: directory, split: .train, pad: c.pad)
      test = try FashionMNIST.images(directory: directory, split: .test, pad: c.pad)
    case .cifar10, .cifar100:
      let variant: CIFAR.Variant = c.dataset == .cifar10 ? .cifar10 : .cifar100
      guard let directory = c.dataDirectory else {
        throw DatasetError(
          file: "--data-dir",
          message:
            "\(variant.rawValue) needs --data-dir with the official binary files (they cannot be downloaded here)")
      }
      full = try CIFAR.load(variant, directory: directory, split: .train)
      test = try CIFAR.load(variant, directory: directory, split: .test)
    case .synthetic:
      // One draw, so train and test share the class templates; the last fifth is the test set.
      let m = c.model
      let testCount = max(100, c.syntheticCount / 5)
      let all = SyntheticImages.make(
        count: c.syntheticCount + testCount, classes: m.classes, channels: m.inputShape[0], height: m.inputShape[1],
        width: m.inputShape[2], seed: 1234)
      full = all.subset(Array(0..<c.syntheticCount))
      test = all.subset(Array(c.syntheticCount..<(c.syntheticCount + testCount)))
    }
    let m = c.model
    guard [full.channels, full.height, full.width] == m.inputShape else {
      throw DatasetError(
        file: full.name,
        message:
          "images are \(full.channels)x\(full.height)x\(full.width) but the model takes \(m.inputShapeDescription) (use --input \(full.channels)x\(full.height)x\(full.width))"
      )
    }
    guard full.classes == m.classes else {
      throw DatasetError(
        file: full.name,
        message: "\(full.classes) classes but the model has \(m.classes) (use --classes \(full.classes))")
    }
    guard c.validationCount < full.count else {
      throw DatasetError(
        file: full.name, message: "--validation \(c.validationCount) leaves no training images of \(full.count)")
    }
    var (train, validation) = full.split(validationCount: c.validationCount, seed: c.splitSeed)
    if let subset = c.subset { train = train.subset(Array(0..<min(subset, train.count))) }
    let testImages = c.testCount.map { test.subset(Array(0..<min($0, test.count))) } ?? test
    return TrainingData(train: train, validation: validation, test: testImages)
  }
}

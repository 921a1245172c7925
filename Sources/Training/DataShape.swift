import Datasets

/// The input shape and class count that a dataset gives a model: what `train`, `init`,
/// `probe` and `reproduce` use when the command line names none.
public struct DataShape: Equatable, Sendable, CustomStringConvertible {
  public var channels: Int
  public var height: Int
  public var width: Int
  public var classes: Int

  public init(channels: Int, height: Int, width: Int, classes: Int) {
    (self.channels, self.height, self.width, self.classes) = (channels, height, width, classes)
  }

  /// CIFAR-100's shape, the paper's: what `describe` shows by default.
  public static let paper = DataShape(channels: 3, height: 32, width: 32, classes: 100)

  /// `CxHxW`, as `--input` takes it.
  public var input: String { "\(channels)x\(height)x\(width)" }
  public var description: String { "\(input) images in \(classes) classes" }
}

extension TrainingConfiguration.DatasetName {
  /// The shape of this dataset's images: Fashion-MNIST 1×32×32 padded (1×28×28 with `pad`
  /// false), 10 classes; CIFAR-10 3×32×32, 10; CIFAR-100 3×32×32, 100. The synthetic dataset
  /// has no shape of its own (nil): it is drawn in whatever shape the model asks for.
  public func shape(pad: Bool = true) -> DataShape? {
    switch self {
    case .fashionMNIST:
      let side = pad ? 32 : 28
      return DataShape(channels: 1, height: side, width: side, classes: FashionMNIST.classes)
    case .cifar10: return DataShape(channels: 3, height: 32, width: 32, classes: 10)
    case .cifar100: return DataShape(channels: 3, height: 32, width: 32, classes: 100)
    case .synthetic: return nil
    }
  }
}

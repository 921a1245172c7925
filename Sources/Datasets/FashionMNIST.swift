import Foundation
import TensorCore

/// Fashion-MNIST (Xiao, Rasul & Vollgraf 2017): 60,000 training and 10,000 test images of
/// 28×28 grey pixels in 10 classes, read from the gzip IDX files that Debian's
/// `dataset-fashion-mnist` installs.
///
/// Images are zero-padded (black) to 32×32 by default, before normalisation, so the paper's
/// architecture applies unchanged (32 → 16 → 8 → 4); then normalised with the training set's
/// pixel mean and standard deviation.
public enum FashionMNIST {
  public static let defaultDirectory = "/usr/share/datasets/fashion-mnist"
  public static let classes = 10
  /// Pixel statistics of the 60,000 training images (values in [0, 1], 28×28, before
  /// padding); a test recomputes them from the data.
  public static let mean = 0.28604
  public static let standardDeviation = 0.35302

  public enum Split: String, Sendable {
    case train
    case test = "t10k"
  }

  /// A split as raw pixels (padded to 32×32 with black unless `pad` is false), for training.
  public static func images(
    directory: String = defaultDirectory, split: Split, pad: Bool = true
  ) throws(DatasetError) -> LabeledImages {
    let (images, labels) = try readIDX(directory: directory, split: split)
    let side = pad ? 32 : 28
    let offset = (side - 28) / 2
    var pixels = [UInt8](repeating: 0, count: labels.count * side * side)
    for n in 0..<labels.count {
      for row in 0..<28 {
        let source = n * 784 + row * 28
        let target = n * side * side + (row + offset) * side + offset
        pixels.replaceSubrange(target..<(target + 28), with: images[source..<(source + 28)])
      }
    }
    return LabeledImages(
      name: "fashion-mnist", pixels: pixels, labels: labels, channels: 1, height: side, width: side,
      classes: classes, mean: [mean], standardDeviation: [standardDeviation])
  }

  /// Loads the first `limit` examples (all when nil) of a split.
  /// - Returns: images [N, 1, S, S] (S = 32 padded, 28 otherwise), normalised, and labels.
  /// - Throws: `DatasetError` for a missing directory or a missing, truncated or corrupt file.
  public static func load(
    directory: String = defaultDirectory, split: Split, limit: Int? = nil, pad: Bool = true
  ) throws(DatasetError) -> (images: Tensor<Float>, labels: [Int]) {
    let dataset = try images(directory: directory, split: split, pad: pad)
    var unused = SeededGenerator(seed: 0)  // no augmentation: nothing is drawn
    return dataset.batch(Array(0..<min(limit ?? dataset.count, dataset.count)), augmentation: .none, generator: &unused)
  }

  /// The validated pixel bytes [N·28·28] and labels of a split.
  private static func readIDX(directory: String, split: Split) throws(DatasetError) -> (pixels: [UInt8], labels: [Int])
  {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
      throw DatasetError(
        file: directory,
        message: "no such directory (Fashion-MNIST comes with `apt-get install dataset-fashion-mnist`)")
    }
    let imagePath = "\(directory)/\(split.rawValue)-images-idx3-ubyte.gz"
    let labelPath = "\(directory)/\(split.rawValue)-labels-idx1-ubyte.gz"
    let images = try IDXFile.read(imagePath)
    let labels = try IDXFile.read(labelPath)
    guard images.dimensions.count == 3, images.dimensions[1] == 28, images.dimensions[2] == 28 else {
      throw DatasetError(file: imagePath, message: "expected images of shape [N, 28, 28], found \(images.dimensions)")
    }
    guard labels.dimensions.count == 1, labels.dimensions[0] == images.dimensions[0] else {
      throw DatasetError(
        file: labelPath, message: "expected \(images.dimensions[0]) labels, found shape \(labels.dimensions)")
    }
    if let bad = labels.bytes.firstIndex(where: { $0 >= classes }) {
      throw DatasetError(
        file: labelPath, message: "label \(labels.bytes[bad]) at index \(bad) is not a class 0..<\(classes)")
    }
    return (images.bytes, labels.bytes.map { Int($0) })
  }
}

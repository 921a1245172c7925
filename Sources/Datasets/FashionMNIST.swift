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

  /// Loads the first `limit` examples (all when nil) of a split.
  /// - Returns: images [N, 1, S, S] (S = 32 padded, 28 otherwise), normalised, and labels.
  /// - Throws: `DatasetError` for a missing directory or a missing, truncated or corrupt file.
  public static func load(
    directory: String = defaultDirectory, split: Split, limit: Int? = nil, pad: Bool = true
  ) throws(DatasetError) -> (images: Tensor<Float>, labels: [Int]) {
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
      throw DatasetError(file: labelPath, message: "expected \(images.dimensions[0]) labels, found shape \(labels.dimensions)")
    }
    if let bad = labels.bytes.firstIndex(where: { $0 >= classes }) {
      throw DatasetError(file: labelPath, message: "label \(labels.bytes[bad]) at index \(bad) is not a class 0..<\(classes)")
    }
    let count = min(limit ?? images.dimensions[0], images.dimensions[0])
    let side = pad ? 32 : 28
    let offset = (side - 28) / 2
    let background = Float((0 - mean) / standardDeviation)
    let scale = Float(1 / (255 * standardDeviation))
    let shift = Float(-mean / standardDeviation)
    let tensor = images.bytes.withUnsafeBufferPointer { source in
      Tensor<Float>(shape: [count, 1, side, side]) { target in
        target.update(repeating: background)
        for n in 0..<count {
          for row in 0..<28 {
            for column in 0..<28 {
              let pixel = Float(source[n * 784 + row * 28 + column])
              target[n * side * side + (row + offset) * side + column + offset] = pixel * scale + shift
            }
          }
        }
      }
    }
    return (tensor, labels.bytes.prefix(count).map { Int($0) })
  }
}

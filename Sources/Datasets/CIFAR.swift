import Foundation

/// CIFAR-10 and CIFAR-100 in their official binary format (Krizhevsky 2009), from a directory
/// the user gives: CIFAR-10 `data_batch_1.bin` … `data_batch_5.bin` and `test_batch.bin`,
/// records of 1 label byte + 3072 pixel bytes; CIFAR-100 `train.bin` and `test.bin`, records of
/// coarse label, fine label + 3072 bytes (the fine labels are used).
public enum CIFAR {
  public enum Variant: String, Sendable {
    case cifar10, cifar100
    public var classes: Int { self == .cifar10 ? 10 : 100 }
    var labelBytes: Int { self == .cifar10 ? 1 : 2 }
    func files(_ split: Split) -> [String] {
      switch (self, split) {
      case (.cifar10, .train): (1...5).map { "data_batch_\($0).bin" }
      case (.cifar10, .test): ["test_batch.bin"]
      case (.cifar100, .train): ["train.bin"]
      case (.cifar100, .test): ["test.bin"]
      }
    }
  }

  public enum Split: Sendable { case train, test }

  /// The paper's normalisation (its coursework framework's CIFAR statistics), used for both variants.
  public static let mean = [0.4914, 0.4822, 0.4465]
  public static let standardDeviation = [0.2023, 0.1994, 0.2010]

  /// Loads a split. - Throws: `DatasetError` naming the directory or file and the problem.
  public static func load(_ variant: Variant, directory: String, split: Split) throws(DatasetError) -> LabeledImages {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
      throw DatasetError(
        file: directory,
        message:
          "no such directory (give the folder holding the \(variant.rawValue) binary files, e.g. \(variant.files(split)[0]))"
      )
    }
    let record = variant.labelBytes + 3072
    var pixels: [UInt8] = []
    var labels: [Int] = []
    for name in variant.files(split) {
      let path = "\(directory)/\(name)"
      guard let data = FileManager.default.contents(atPath: path) else {
        throw DatasetError(file: path, message: "missing (expected the official \(variant.rawValue) binary version)")
      }
      guard !data.isEmpty, data.count % record == 0 else {
        throw DatasetError(
          file: path,
          message:
            "\(data.count) bytes is not a whole number of \(record)-byte records: truncated or not \(variant.rawValue)")
      }
      let bytes = [UInt8](data)
      for start in stride(from: 0, to: bytes.count, by: record) {
        let label = Int(bytes[start + variant.labelBytes - 1])
        guard label < variant.classes else {
          throw DatasetError(
            file: path, message: "record \(start / record) has label \(label), outside 0..<\(variant.classes)")
        }
        labels.append(label)
        pixels += bytes[(start + variant.labelBytes)..<(start + record)]
      }
    }
    return LabeledImages(
      name: variant.rawValue, pixels: pixels, labels: labels, channels: 3, height: 32, width: 32,
      classes: variant.classes, mean: mean, standardDeviation: standardDeviation)
  }
}

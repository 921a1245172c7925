import TensorCore

/// A dataset in memory as raw 8-bit pixels [N, C, H, W] (already padded where the dataset
/// pads) with integer labels and the per-channel statistics used to normalise batches.
public struct LabeledImages: Sendable {
  public var name: String
  public var pixels: [UInt8]
  public var labels: [Int]
  public var channels: Int
  public var height: Int
  public var width: Int
  public var classes: Int
  /// Per-channel mean and standard deviation of pixel / 255, for normalisation.
  public var mean: [Double]
  public var standardDeviation: [Double]

  public init(
    name: String, pixels: [UInt8], labels: [Int], channels: Int, height: Int, width: Int,
    classes: Int, mean: [Double], standardDeviation: [Double]
  ) {
    precondition(
      pixels.count == labels.count * channels * height * width,
      "LabeledImages: \(pixels.count) pixels for \(labels.count) images")
    precondition(mean.count == channels && standardDeviation.count == channels, "LabeledImages: statistics per channel")
    self.name = name
    self.pixels = pixels
    self.labels = labels
    self.channels = channels
    self.height = height
    self.width = width
    self.classes = classes
    self.mean = mean
    self.standardDeviation = standardDeviation
  }

  public var count: Int { labels.count }
  public var imageSize: Int { channels * height * width }

  /// The images at `indices`, in that order.
  public func subset(_ indices: [Int]) -> LabeledImages {
    var selected = [UInt8]()
    selected.reserveCapacity(indices.count * imageSize)
    for index in indices { selected += pixels[(index * imageSize)..<((index + 1) * imageSize)] }
    return LabeledImages(
      name: name, pixels: selected, labels: indices.map { labels[$0] }, channels: channels,
      height: height, width: width, classes: classes, mean: mean, standardDeviation: standardDeviation)
  }

  /// Splits into (train, validation): a permutation from `seed` (independent of the run's
  /// seed) puts `validationCount` images in validation and the rest, in order, in train.
  public func split(validationCount: Int, seed: UInt64) -> (train: LabeledImages, validation: LabeledImages) {
    precondition(
      validationCount >= 0 && validationCount < count, "split: \(validationCount) of \(count) images for validation")
    var generator = SeededGenerator(seed: seed)
    var order = Array(0..<count)
    // Fisher–Yates with the seeded generator, so the split is the same on every machine.
    for i in stride(from: count - 1, to: 0, by: -1) {
      order.swapAt(i, Int(generator.next() % UInt64(i + 1)))
    }
    return (subset(Array(order[validationCount...])), subset(Array(order[..<validationCount])))
  }
}

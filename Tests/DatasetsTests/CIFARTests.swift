import Datasets
import Foundation
import TensorCore
import Testing

@Suite("CIFAR binary format")
struct CIFARTests {
  /// Writes `count` records of CIFAR-100's layout (coarse, fine, 3072 pixels).
  func writeCIFAR100(_ path: String, count: Int, fine: (Int) -> UInt8) throws {
    var bytes: [UInt8] = []
    for n in 0..<count { bytes += [UInt8(n % 20), fine(n)] + [UInt8](repeating: UInt8(n % 256), count: 3072) }
    try Data(bytes).write(to: URL(fileURLWithPath: path))
  }

  @Test func readsFineLabelsAndNormalises() throws {
    let directory = temporaryDirectory()
    try writeCIFAR100("\(directory)/train.bin", count: 5, fine: { UInt8($0 * 7) })
    let data = try CIFAR.load(.cifar100, directory: directory, split: .train)
    #expect(data.count == 5 && data.labels == [0, 7, 14, 21, 28] && data.classes == 100)
    var generator = SeededGenerator(seed: 0)
    let batch = data.batch([1], augmentation: .none, generator: &generator)
    #expect(batch.images.shape == [1, 3, 32, 32])
    #expect(abs(Double(batch.images.scalars[0]) - (1 / 255 - 0.4914) / 0.2023) < 1e-5)
  }

  @Test func truncatedAndMissingFilesAreNamed() throws {
    let directory = temporaryDirectory()
    #expect { try CIFAR.load(.cifar100, directory: directory, split: .train) } throws: {
      "\($0)".contains("\(directory)/train.bin") && "\($0)".contains("missing")
    }
    try Data([UInt8](repeating: 1, count: 3074 * 2 - 100)).write(to: URL(fileURLWithPath: "\(directory)/train.bin"))
    #expect { try CIFAR.load(.cifar100, directory: directory, split: .train) } throws: {
      "\($0)".contains("train.bin") && "\($0)".contains("truncated")
    }
    try writeCIFAR100("\(directory)/train.bin", count: 2, fine: { _ in 150 })
    #expect { try CIFAR.load(.cifar100, directory: directory, split: .train) } throws: { "\($0)".contains("label 150") }
    #expect { try CIFAR.load(.cifar10, directory: "/no/cifar", split: .train) } throws: {
      "\($0)".contains("/no/cifar")
    }
  }

  @Test func augmentationCropsWithBlackPaddingAndFlips() throws {
    // One 1×4×4 image with pixel value = column index · 50.
    let image = LabeledImages(
      name: "t", pixels: (0..<16).map { UInt8(($0 % 4) * 50) }, labels: [0], channels: 1, height: 4, width: 4,
      classes: 2, mean: [0], standardDeviation: [1 / 255.0])
    var generator = SeededGenerator(seed: 1)
    var sawShift = false
    var sawFlip = false
    for _ in 0..<50 {
      let row = Array(
        image.batch([0], augmentation: Augmentation(cropPadding: 1, horizontalFlip: true), generator: &generator).images
          .scalars[4..<8])
      // Every row is the original row shifted by at most one, possibly mirrored, with 0 padding.
      let original: [Float] = [0, 50, 100, 150]
      let mirrored = Array(original.reversed())
      let candidates: [[Float]] = [original, mirrored].flatMap { r -> [[Float]] in
        [r, [0] + Array(r.prefix(3)), Array(r.suffix(3)) + [0]]
      }
      #expect(candidates.contains(row), "\(row)")
      if row != original && row != mirrored { sawShift = true }
      if row.first! > row.last! { sawFlip = true }
    }
    #expect(sawShift && sawFlip)
  }
}

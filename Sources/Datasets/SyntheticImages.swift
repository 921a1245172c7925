import TensorCore

/// A seeded synthetic dataset of any shape and class count that a network can learn: each
/// class has a smooth random template (a few random blobs); an image is its class's template,
/// randomly shifted by up to two pixels, plus pixel noise. For tests and benchmarks.
public enum SyntheticImages {
  public static func make(
    count: Int, classes: Int, channels: Int = 1, height: Int = 32, width: Int = 32, seed: UInt64
  ) -> LabeledImages {
    var generator = SeededGenerator(seed: seed)
    // Templates in [0, 1]: three Gaussian blobs per class and channel.
    var templates = [[Double]](repeating: [], count: classes)
    for k in 0..<classes {
      var template = [Double](repeating: 0.2, count: channels * height * width)
      for c in 0..<channels {
        for _ in 0..<3 {
          let (cy, cx) = (generator.nextUniform(0, Double(height)), generator.nextUniform(0, Double(width)))
          let radius = generator.nextUniform(2, Double(max(3, height / 4)))
          for y in 0..<height {
            for x in 0..<width {
              let d2 = (Double(y) - cy) * (Double(y) - cy) + (Double(x) - cx) * (Double(x) - cx)
              template[(c * height + y) * width + x] += 0.8 * _exp(-d2 / (2 * radius * radius))
            }
          }
        }
      }
      templates[k] = template
    }
    var pixels = [UInt8]()
    pixels.reserveCapacity(count * channels * height * width)
    var labels = [Int]()
    for _ in 0..<count {
      let k = Int(generator.next() % UInt64(classes))
      labels.append(k)
      let (dy, dx) = (Int(generator.next() % 5) - 2, Int(generator.next() % 5) - 2)
      for c in 0..<channels {
        for y in 0..<height {
          for x in 0..<width {
            let (sy, sx) = (min(max(y + dy, 0), height - 1), min(max(x + dx, 0), width - 1))
            let value = templates[k][(c * height + sy) * width + sx] + 0.15 * generator.nextNormal()
            pixels.append(UInt8(max(0, min(255, (value * 200).rounded()))))
          }
        }
      }
    }
    return LabeledImages(
      name: "synthetic", pixels: pixels, labels: labels, channels: channels, height: height, width: width,
      classes: classes, mean: Array(repeating: 0.35, count: channels),
      standardDeviation: Array(repeating: 0.3, count: channels))
  }
}

#if canImport(Glibc)
  import Glibc
  private func _exp(_ x: Double) -> Double { Glibc.exp(x) }
#else
  import Foundation
  private func _exp(_ x: Double) -> Double { Foundation.exp(x) }
#endif

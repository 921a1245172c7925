import TensorCore

/// How training images are perturbed before normalisation (the paper's setup): random crop with
/// zero padding, horizontal flip, and optional Gaussian noise added after normalisation.
/// Validation and test images are only normalised.
public struct Augmentation: Codable, Equatable, Sendable {
  /// Zero padding on each side before a random crop back to the original size (0: no crop).
  public var cropPadding: Int
  public var horizontalFlip: Bool
  /// Standard deviation of the Gaussian noise added after normalisation (0: none).
  public var noise: Double

  public init(cropPadding: Int = 0, horizontalFlip: Bool = false, noise: Double = 0) {
    self.cropPadding = cropPadding
    self.horizontalFlip = horizontalFlip
    self.noise = noise
  }

  public static let none = Augmentation()
}

extension LabeledImages {
  /// A normalised batch [n, C, H, W] of the images at `indices`, augmented with draws from
  /// `generator` (nothing is drawn when `augmentation` is `.none`).
  ///
  /// Pixel p of channel c becomes (p/255 − mean_c) / std_c; a padded (black) pixel is p = 0.
  public func batch(
    _ indices: [Int], augmentation: Augmentation, generator: inout SeededGenerator
  ) -> (images: Tensor<Float>, labels: [Int]) {
    let (c, h, w) = (channels, height, width)
    let scale = standardDeviation.map { Float(1 / (255 * $0)) }
    let shift = zip(mean, standardDeviation).map { Float(-$0 / $1) }
    var offsets: [(dy: Int, dx: Int, flip: Bool)] = []
    for _ in indices {
      let pad = augmentation.cropPadding
      let dy = pad > 0 ? Int(generator.next() % UInt64(2 * pad + 1)) - pad : 0
      let dx = pad > 0 ? Int(generator.next() % UInt64(2 * pad + 1)) - pad : 0
      let flip = augmentation.horizontalFlip && generator.next() & 1 == 1
      offsets.append((dy, dx, flip))
    }
    var images = pixels.withUnsafeBufferPointer { source in
      Tensor<Float>(shape: [indices.count, c, h, w]) { target in
        for (n, index) in indices.enumerated() {
          let (dy, dx, flip) = offsets[n]
          for channel in 0..<c {
            let plane = source.baseAddress! + index * imageSize + channel * h * w
            let out = target.baseAddress! + (n * c + channel) * h * w
            let (a, b) = (scale[channel], shift[channel])
            for y in 0..<h {
              let sy = y + dy
              for x in 0..<w {
                let sx = (flip ? w - 1 - x : x) + dx
                let inside = sy >= 0 && sy < h && sx >= 0 && sx < w
                out[y * w + x] = (inside ? Float(plane[sy * w + sx]) : 0) * a + b
              }
            }
          }
        }
      }
    }
    if augmentation.noise > 0 {
      let sigma = augmentation.noise
      images = images.mapped { $0 + Float(sigma * generator.nextNormal()) }
    }
    return (images, indices.map { labels[$0] })
  }
}

/// How a 4-D activation [N, C, H, W] is laid out in memory.
///
/// `.nchw` is PyTorch's (and every file's) layout. `.blocked16` is oneDNN's `nChw16c`: the
/// channels in blocks of 16, each block stored pixel by pixel with its 16 channels side by side,
///
///     offset(n, c, h, w) = ((n · C/16 + c/16) · H·W + h·W + w) · 16 + c mod 16,
///
/// the layout oneDNN's AVX-512 convolutions compute in. Convolution outputs stay in it through
/// the layers that understand it (BatchNorm, activations, residual adds), so that only the
/// network's edges pay a reorder; `Tape.value` hands every other reader `.nchw`. Only tensors
/// of rank 4 whose C is a multiple of 16 are ever blocked (no padding: the element count is the
/// shape's).
///
/// `.blockedPlanes` is for tensors of series numbers built from Floats (H·v's dual numbers):
/// the tensor's coefficient planes one after another, each a `.blocked16` Float tensor (a dual
/// tensor of n numbers: n values, then n tangents). oneDNN then reads and writes the planes in
/// place, and a chain of convolutions and activations never splits or interleaves them
/// (`DualPlanes`). Element i of `scalars` is then not number i: only the primitives that know
/// the layout get it (`Tape.storedValue(_:keepingPlanes:)`); `Tensor.inLayout` does not convert
/// it, the tape does (`Tape.converted`).
public enum TensorLayout: Sendable, Equatable {
  case nchw
  case blocked16
  case blockedPlanes

  /// The lanes of a channel block.
  public static let blockSize = 16

  /// The channels that lie side by side in memory: 1 in NCHW, 16 in `.blocked16` (a tensor of
  /// coefficient planes has none: its kernels work plane by plane).
  @inlinable public var channelLanes: Int {
    precondition(self != .blockedPlanes, "TensorLayout: a tensor of coefficient planes has no channel lanes")
    return self == .blocked16 ? TensorLayout.blockSize : 1
  }
}

/// A [N, C, H, W] tensor's storage as groups of channels that lie side by side: in group g,
/// the value of pixel p (row-major, 0..<H·W) of the group's channel `lane` is at
/// `base(g) + p · lanes + lane`. NCHW has one channel per group (lanes 1: a channel's pixels
/// are contiguous), `.blocked16` sixteen. Kernels that work per channel (BatchNorm) walk the
/// groups, so one loop serves both layouts, reads memory in order, and adds the values of a
/// channel in the same order in either layout.
public struct ChannelGroups: Sendable {
  /// Channels per group.
  public let lanes: Int
  public let channels: Int
  public let pixels: Int
  /// N · C / lanes.
  public let count: Int

  public init(shape: [Int], layout: TensorLayout) {
    precondition(shape.count == 4, "ChannelGroups: expects [N, C, H, W], got \(shape)")
    lanes = layout.channelLanes
    channels = shape[1]
    pixels = shape[2] * shape[3]
    count = shape[0] * channels / lanes
  }

  /// The storage offset of group g's first value.
  @inlinable public func base(_ g: Int) -> Int { g * pixels * lanes }
  /// The image group g belongs to.
  @inlinable public func image(_ g: Int) -> Int { g / (channels / lanes) }
  /// The channel of group g's lane 0.
  @inlinable public func firstChannel(_ g: Int) -> Int { g % (channels / lanes) * lanes }
}

extension Tensor {
  /// The same values in `target` layout (the tensor itself when it is already in it).
  public func inLayout(_ target: TensorLayout) -> Tensor {
    guard target != layout else { return self }
    precondition(
      layout != .blockedPlanes && target != .blockedPlanes, "Tensor.inLayout: coefficient planes convert on the tape")
    precondition(rank == 4, "Tensor.inLayout: only [N, C, H, W] tensors are blocked, got \(shape)")
    let (n, c, pixels) = (shape[0], shape[1], shape[2] * shape[3])
    let b = TensorLayout.blockSize
    precondition(c % b == 0, "Tensor.inLayout: \(c) channels are not a multiple of \(b)")
    let toBlocked = target == .blocked16
    var result = scalars.withUnsafeBufferPointer { source in
      Tensor(shape: shape) { out in
        // One (image, channel block) per task: H·W·16 values, read and written contiguously
        // on one side and in 16 interleaved streams on the other.
        parallelElements(n * c / b, grain: max(1, (1 << 15) / (pixels * b))) { blocks in
          for block in blocks {
            let blocked = block * pixels * b
            let plain = block * b * pixels  // (image · C + block's first channel) · H·W
            for lane in 0..<b {
              for p in 0..<pixels {
                if toBlocked {
                  out[blocked + p * b + lane] = source[plain + lane * pixels + p]
                } else {
                  out[plain + lane * pixels + p] = source[blocked + p * b + lane]
                }
              }
            }
          }
        }
      }
    }
    result.layout = target
    return result
  }
}

import TensorCore

/// H·v's dual tensors as value and tangent planes, the Float tensors oneDNN convolves.
///
/// Where a dual convolution's output would be blocked, the tape keeps it as planes
/// (`TensorLayout.blockedPlanes`): the convolutions read and write them in place
/// (`DualPlanes+Convolution`), leaky ReLUs and residual adds work on them
/// (`DualPlanes+Elementwise`), and only a primitive that reads dual numbers one by one (a
/// pooling, BatchNorm, the loss) gets them interleaved (`Tape.converted`). Elsewhere (before a
/// BatchNorm, whose kernels read NCHW) a dual convolution splits its operands and interleaves
/// its result (`SeriesConvolution`). Both conversions run 16 numbers per step: a dual number is
/// two adjacent Floats (value, tangent), so 16 of them are one `SIMD32<Float>` whose even lanes
/// are the values and odd lanes the tangents.
///
/// (Splitting an NCHW tensor into blocked planes and interleaving blocked planes into an NCHW
/// one in the same pass, so that oneDNN would not reorder around the plane convolutions of a
/// BatchNorm network, was tried: in 16×16 tiles it ran as slowly as oneDNN's reorders on
/// ResNet-20 BN+residual's H·v, with vector gathers 1.6× slower. BENCHMARKS.md, step 5.)
public enum DualPlanes {
  typealias Lanes = SIMD16<Float>
  typealias Pairs = SIMD32<Float>

  /// The value and tangent planes, in `t`'s layout; nil for a plane that is zero everywhere
  /// (−0 counts as zero, NaN does not: `!= 0`).
  static func split(_ t: Tensor<Dual<Float>>) -> (value: Tensor<Float>?, tangent: Tensor<Float>?) {
    var tangent = Tensor<Float>(zeros: [0])
    var nonzero = (value: false, tangent: false)
    let value = t.scalars.withUnsafeBytes { source in
      Tensor<Float>(shape: t.shape, layout: t.layout) { values in
        tangent = Tensor<Float>(shape: t.shape, layout: t.layout) { tangents in
          nonzero = split(source, count: t.count, values: values.baseAddress!, tangents: tangents.baseAddress!)
        }
      }
    }
    return (nonzero.value ? value : nil, nonzero.tangent ? tangent : nil)
  }

  /// Splits `count` dual numbers at `source` into `values` and `tangents`, 16 per step, and says
  /// whether each plane holds a non-zero.
  private static func split(
    _ source: UnsafeRawBufferPointer, count: Int, values: UnsafeMutablePointer<Float>,
    tangents: UnsafeMutablePointer<Float>
  ) -> (value: Bool, tangent: Bool) {
    precondition(MemoryLayout<Dual<Float>>.stride == 8, "DualPlanes: a Dual<Float> is not two adjacent Floats")
    let workers = max(1, min(ComputeThreads.count, count >> 15))
    var nonzero = [(value: Bool, tangent: Bool)](repeating: (false, false), count: workers)
    nonzero.withUnsafeMutableBufferPointer { flags in
      parallelChunks(count, maximumWorkers: workers) { range, worker in
        var (anyValue, anyTangent) = (SIMDMask<Lanes.MaskStorage>(), SIMDMask<Lanes.MaskStorage>())
        var e = range.lowerBound
        while e + 16 <= range.upperBound {
          let pairs = source.loadUnaligned(fromByteOffset: e * 8, as: Pairs.self)
          let (v, d) = (pairs.evenHalf, pairs.oddHalf)
          UnsafeMutableRawPointer(values + e).storeBytes(of: v, as: Lanes.self)
          UnsafeMutableRawPointer(tangents + e).storeBytes(of: d, as: Lanes.self)
          anyValue = anyValue .| (v .!= 0)
          anyTangent = anyTangent .| (d .!= 0)
          e += 16
        }
        var (tailValue, tailTangent) = (false, false)
        while e < range.upperBound {
          let (v, d) = (
            source.load(fromByteOffset: e * 8, as: Float.self), source.load(fromByteOffset: e * 8 + 4, as: Float.self)
          )
          (values[e], tangents[e]) = (v, d)
          tailValue = tailValue || v != 0
          tailTangent = tailTangent || d != 0
          e += 1
        }
        flags[worker] = (any(anyValue) || tailValue, any(anyTangent) || tailTangent)
      }
    }
    return (nonzero.contains { $0.value }, nonzero.contains { $0.tangent })
  }

  /// The dual tensor whose value is the sum of `values` and tangent the sum of `tangents`
  /// (each summed left to right, as `+=` would; none: zero), in `layout`, the planes' own.
  static func interleave(
    values: [Tensor<Float>], tangents: [Tensor<Float>], shape: [Int], layout: TensorLayout
  ) -> Tensor<Dual<Float>> {
    precondition(
      (values + tangents).allSatisfy { $0.layout == layout && $0.shape == shape },
      "DualPlanes: planes not of \(shape) in \(layout)")
    return SeriesConvolution.withPlanePointers((values + tangents).map { Optional($0) }[...], []) { pointers in
      let planes = pointers.map { $0! }
      return Tensor<Dual<Float>>(shape: shape, layout: layout) { out in
        interleave(
          values: Array(planes[..<values.count]), tangents: Array(planes[values.count...]), count: out.count,
          into: UnsafeMutableRawPointer(out.baseAddress!))
      }
    }
  }

  /// Writes `count` dual numbers to `target`, value e = Σ values[i][e] and tangent e =
  /// Σ tangents[i][e] (left to right), 16 per step.
  private static func interleave(
    values v: [UnsafePointer<Float>], tangents d: [UnsafePointer<Float>], count: Int,
    into target: UnsafeMutableRawPointer
  ) {
    parallelElements(count) { range in
      var e = range.lowerBound
      while e + 16 <= range.upperBound {
        var pairs = Pairs()
        pairs.evenHalf = sum16(v, at: e)
        pairs.oddHalf = sum16(d, at: e)
        target.storeBytes(of: pairs, toByteOffset: e * 8, as: Pairs.self)
        e += 16
      }
      while e < range.upperBound {
        target.storeBytes(of: sum(v, at: e), toByteOffset: e * 8, as: Float.self)
        target.storeBytes(of: sum(d, at: e), toByteOffset: e * 8 + 4, as: Float.self)
        e += 1
      }
    }
  }

  /// The same dual numbers as a tensor of coefficient planes (`.blockedPlanes`: the values,
  /// then the tangents), from a `.blocked16` tensor.
  static func planar(_ t: Tensor<Dual<Float>>) -> Tensor<Dual<Float>> {
    precondition(t.layout == .blocked16, "DualPlanes.planar: expects a .blocked16 tensor, got \(t.layout)")
    return t.scalars.withUnsafeBytes { source in
      Tensor<Dual<Float>>(shape: t.shape, layout: .blockedPlanes) { out in
        let planes = UnsafeMutableRawPointer(out.baseAddress!).assumingMemoryBound(to: Float.self)
        _ = split(source, count: t.count, values: planes, tangents: planes + t.count)
      }
    }
  }

  /// The same dual numbers as a `.blocked16` tensor, from a tensor of coefficient planes.
  static func interleaved(_ t: Tensor<Dual<Float>>) -> Tensor<Dual<Float>> {
    precondition(t.layout == .blockedPlanes, "DualPlanes.interleaved: expects .blockedPlanes, got \(t.layout)")
    return withPlanes(t) { value, tangent in
      Tensor<Dual<Float>>(shape: t.shape, layout: .blocked16) { out in
        interleave(
          values: [value], tangents: [tangent], count: t.count, into: UnsafeMutableRawPointer(out.baseAddress!))
      }
    }
  }

  /// Runs `body` with the value and tangent planes of a `.blockedPlanes` tensor.
  static func withPlanes<R>(
    _ t: Tensor<Dual<Float>>, _ body: (_ value: UnsafePointer<Float>, _ tangent: UnsafePointer<Float>) -> R
  ) -> R {
    t.scalars.withUnsafeBytes { bytes in
      let value = bytes.baseAddress!.assumingMemoryBound(to: Float.self)
      return body(value, value + t.count)
    }
  }

  /// A `.blockedPlanes` tensor of `shape` whose planes `body` writes (it must write every
  /// number of both).
  static func planarTensor(
    shape: [Int], _ body: (_ value: UnsafeMutablePointer<Float>, _ tangent: UnsafeMutablePointer<Float>) -> Void
  ) -> Tensor<Dual<Float>> {
    Tensor<Dual<Float>>(shape: shape, layout: .blockedPlanes) { out in
      let value = UnsafeMutableRawPointer(out.baseAddress!).assumingMemoryBound(to: Float.self)
      body(value, value + out.count)
    }
  }

  /// Σ planes[i][e], left to right (zero for no plane).
  @inline(__always)
  private static func sum(_ planes: [UnsafePointer<Float>], at e: Int) -> Float {
    guard let first = planes.first else { return 0 }
    var total = first[e]
    for p in planes.dropFirst() { total += p[e] }
    return total
  }

  /// Σ planes[i][e..<e+16], left to right (zero for no plane).
  @inline(__always)
  private static func sum16(_ planes: [UnsafePointer<Float>], at e: Int) -> Lanes {
    guard let first = planes.first else { return Lanes() }
    var total = UnsafeRawPointer(first + e).loadUnaligned(as: Lanes.self)
    for p in planes.dropFirst() { total += UnsafeRawPointer(p + e).loadUnaligned(as: Lanes.self) }
    return total
  }
}

import TensorCore

/// A tensor of `Dual<Float>` split into its value and tangent planes, and planes interleaved back
/// into one, 16 numbers per step: H·v's convolutions run on the planes (`SeriesConvolution`), so
/// each dual convolution splits its operands and interleaves its result. A dual number is two
/// adjacent Floats (value, tangent), so 16 of them are one `SIMD32<Float>` whose even lanes are
/// the values and odd lanes the tangents. One pass each way, instead of one per coefficient.
///
/// (Splitting an NCHW tensor into blocked planes and interleaving blocked planes into an NCHW
/// one in the same pass, so that oneDNN would not reorder around the plane convolutions of a
/// BatchNorm network, was tried: in 16×16 tiles it ran as slowly as oneDNN's reorders on
/// ResNet-20 BN+residual's H·v, with vector gathers 1.6× slower. BENCHMARKS.md, step 5.)
enum DualPlanes {
  typealias Lanes = SIMD16<Float>
  typealias Pairs = SIMD32<Float>

  /// The value and tangent planes, in `t`'s layout; nil for a plane that is zero everywhere
  /// (−0 counts as zero, NaN does not: `!= 0`).
  static func split(_ t: Tensor<Dual<Float>>) -> (value: Tensor<Float>?, tangent: Tensor<Float>?) {
    precondition(MemoryLayout<Dual<Float>>.stride == 8, "DualPlanes: a Dual<Float> is not two adjacent Floats")
    let count = t.count
    let workers = max(1, min(ComputeThreads.count, count >> 15))
    var nonzero = [(value: Bool, tangent: Bool)](repeating: (false, false), count: workers)
    var tangent = Tensor<Float>(zeros: [0])
    let value = t.scalars.withUnsafeBytes { source in
      nonzero.withUnsafeMutableBufferPointer { flags in
        Tensor<Float>(shape: t.shape, layout: t.layout) { values in
          tangent = Tensor<Float>(shape: t.shape, layout: t.layout) { tangents in
            parallelChunks(count, maximumWorkers: workers) { range, worker in
              var (anyValue, anyTangent) = (SIMDMask<Lanes.MaskStorage>(), SIMDMask<Lanes.MaskStorage>())
              var e = range.lowerBound
              while e + 16 <= range.upperBound {
                let pairs = source.loadUnaligned(fromByteOffset: e * 8, as: Pairs.self)
                let (v, d) = (pairs.evenHalf, pairs.oddHalf)
                UnsafeMutableRawPointer(values.baseAddress! + e).storeBytes(of: v, as: Lanes.self)
                UnsafeMutableRawPointer(tangents.baseAddress! + e).storeBytes(of: d, as: Lanes.self)
                anyValue = anyValue .| (v .!= 0)
                anyTangent = anyTangent .| (d .!= 0)
                e += 16
              }
              var (tailValue, tailTangent) = (false, false)
              while e < range.upperBound {
                let (v, d) = (
                  source.load(fromByteOffset: e * 8, as: Float.self),
                  source.load(fromByteOffset: e * 8 + 4, as: Float.self)
                )
                (values[e], tangents[e]) = (v, d)
                tailValue = tailValue || v != 0
                tailTangent = tailTangent || d != 0
                e += 1
              }
              flags[worker] = (any(anyValue) || tailValue, any(anyTangent) || tailTangent)
            }
          }
        }
      }
    }
    return (
      nonzero.contains { $0.value } ? value : nil, nonzero.contains { $0.tangent } ? tangent : nil
    )
  }

  /// The dual tensor whose value is the sum of `values` and tangent the sum of `tangents`
  /// (each summed left to right, as `+=` would; none: zero), in `layout`, the planes' own.
  static func interleave(
    values: [Tensor<Float>], tangents: [Tensor<Float>], shape: [Int], layout: TensorLayout
  ) -> Tensor<Dual<Float>> {
    precondition(
      (values + tangents).allSatisfy { $0.layout == layout && $0.shape == shape },
      "DualPlanes: planes not of \(shape) in \(layout)")
    let count = shape.reduce(1, *)
    return SeriesConvolution.withPlanePointers((values + tangents).map { Optional($0) }[...], []) { pointers in
      let planes = pointers.map { $0! }
      let (v, d) = (Array(planes[..<values.count]), Array(planes[values.count...]))
      return Tensor<Dual<Float>>(shape: shape, layout: layout) { out in
        let target = UnsafeMutableRawPointer(out.baseAddress!)
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
            out[e] = Dual(sum(v, at: e), tangent: sum(d, at: e))
            e += 1
          }
        }
      }
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

import Foundation
import TensorCore
import TraceIO

/// Counts float32 values into `LogHistogramBins` from their bits, without a logarithm.
///
/// For x ≥ 0 the order of floats is the order of their bit patterns as integers, so a bin
/// edge is a bit pattern. The top 16 bits of |x| (exponent and 7 mantissa bits) pick one of
/// 32,768 buckets, each spanning a factor of at most 1 + 2⁻⁷; with at most 64 bins per decade
/// (a factor 10^(1/64) ≈ 1.037 between edges) a bucket holds at most one edge. A table gives
/// each bucket the slot of its smallest value; one comparison with that slot's upper edge
/// moves the values past the edge into the next slot:
///
///     slot = table[|x| >> 16];  if |x| ≥ upper[slot] { slot += 1 }
///
/// Slots: zero, below range, the bins, above range, ±infinity, NaN (bucket 0 holds 0 and
/// the smallest subnormals; the exponent-all-ones buckets hold the infinities and the NaNs).
/// The sign bit of each value is added to a second array per slot: the negatives of each slot.
public struct LogHistogramCounter: Sendable {
  public let bins: LogHistogramBins
  private let table: [UInt16]
  private let upper: [UInt32]
  private var slots: Int { upper.count }
  // The slots around the bins.
  private static let zeroSlot = 0
  private static let belowSlot = 1
  private var aboveSlot: Int { bins.count + 2 }
  private var infinitySlot: Int { bins.count + 3 }
  private var nanSlot: Int { bins.count + 4 }

  public init(bins: LogHistogramBins) {
    precondition(bins.problem == nil, "LogHistogramCounter: \(bins.problem ?? "")")
    self.bins = bins
    // edgeBits[j]: the smallest float ≥ 10^edge(j), as bits.
    let edgeBits: [UInt32] = bins.edges.map { log10Edge in
      let exact = Foundation.pow(10, log10Edge)
      var f = Float(exact)
      if Double(f) < exact { f = f.nextUp }
      return f.bitPattern
    }
    let infinity = Float.infinity.bitPattern
    // upper[s]: the first bit pattern of slot s + 1 (NaN, the last slot, has none).
    let upper: [UInt32] = [1] + edgeBits + [infinity, infinity + 1, UInt32.max]
    self.upper = upper
    var table = [UInt16](repeating: 0, count: 1 << 15)
    var slot = 0
    for bucket in 0..<(1 << 15) {
      let lowest = UInt32(bucket) << 16
      while slot + 1 < upper.count && lowest >= upper[slot] { slot += 1 }
      table[bucket] = UInt16(slot)
      // At most one edge inside a bucket: the comparison moves a value one slot at most.
      precondition(
        slot + 1 >= upper.count || lowest | 0xffff < upper[slot + 1], "LogHistogramCounter: two edges in one bucket")
    }
    self.table = table
  }

  /// The histogram of `values`.
  public func histogram(of values: UnsafeBufferPointer<Float>) -> LogHistogram {
    var tally = Tally(slots: slots)
    add(values, to: &tally)
    return histogram(tally)
  }

  /// The histogram of a tensor, in either layout (a histogram ignores the order), counted in
  /// parallel slices.
  public func histogram(of tensor: Tensor<Float>) -> LogHistogram {
    tensor.scalars.withUnsafeBufferPointer { x in
      let workers = max(1, min(ComputeThreads.count, x.count >> 16))
      var tallies = [Tally](repeating: Tally(slots: slots), count: workers)
      tallies.withUnsafeMutableBufferPointer { t in
        parallelChunks(x.count, maximumWorkers: workers) { range, worker in
          add(UnsafeBufferPointer(rebasing: x[range]), to: &t[worker])
        }
      }
      return histogram(tallies.dropFirst().reduce(into: tallies[0]) { $0.merge($1) })
    }
  }

  /// The histogram of after − before (the update), formed in slices on the stack.
  public func histogram(ofDifference after: Tensor<Float>, _ before: Tensor<Float>) -> LogHistogram {
    precondition(after.count == before.count, "LogHistogramCounter: tensors of \(after.count) and \(before.count)")
    var tally = Tally(slots: slots)
    after.scalars.withUnsafeBufferPointer { a in
      before.scalars.withUnsafeBufferPointer { b in
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 4096) { slice in
          var start = 0
          while start < a.count {
            let n = min(4096, a.count - start)
            for i in 0..<n { slice[i] = a[start + i] - b[start + i] }
            add(UnsafeBufferPointer(rebasing: slice[0..<n]), to: &tally)
            start += n
          }
        }
      }
    }
    return histogram(tally)
  }

  /// Counts per slot and negatives per slot.
  struct Tally {
    var counts: [Int]
    var negatives: [Int]
    init(slots: Int) { (counts, negatives) = ([Int](repeating: 0, count: slots), [Int](repeating: 0, count: slots)) }
    mutating func merge(_ other: Tally) {
      for s in counts.indices {
        counts[s] += other.counts[s]
        negatives[s] += other.negatives[s]
      }
    }
  }

  private func add(_ values: UnsafeBufferPointer<Float>, to tally: inout Tally) {
    table.withUnsafeBufferPointer { table in
      upper.withUnsafeBufferPointer { upper in
        tally.counts.withUnsafeMutableBufferPointer { counts in
          tally.negatives.withUnsafeMutableBufferPointer { negatives in
            for value in values {
              let bits = value.bitPattern
              let magnitude = bits & 0x7fff_ffff
              var slot = Int(table[Int(magnitude >> 16)])
              if magnitude >= upper[slot] { slot += 1 }
              counts[slot] += 1
              negatives[slot] += Int(bits >> 31)
            }
          }
        }
      }
    }
  }

  private func histogram(_ tally: Tally) -> LogHistogram {
    var specials = [Int](repeating: 0, count: HistogramSpecial.allCases.count)
    specials[HistogramSpecial.zero.rawValue] = tally.counts[Self.zeroSlot]
    specials[HistogramSpecial.belowRange.rawValue] = tally.counts[Self.belowSlot]
    specials[HistogramSpecial.aboveRange.rawValue] = tally.counts[aboveSlot]
    specials[HistogramSpecial.nan.rawValue] = tally.counts[nanSlot]
    specials[HistogramSpecial.negativeInfinity.rawValue] = tally.negatives[infinitySlot]
    specials[HistogramSpecial.positiveInfinity.rawValue] = tally.counts[infinitySlot] - tally.negatives[infinitySlot]
    specials[HistogramSpecial.negative.rawValue] = tally.negatives[Self.belowSlot...aboveSlot].reduce(0, +)
    return LogHistogram(bins: bins, counts: Array(tally.counts[2..<(2 + bins.count)]), specials: specials)
  }
}

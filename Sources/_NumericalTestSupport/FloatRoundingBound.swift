// Float32 tolerances that follow from the computation, on whatever CPU and BLAS kernel runs it.
//
// A float32 evaluation F̃(w, x) of an exact function F differs from F(w, x) by its rounding error
// e(w, x). How large e can be depends on the network (deep BatchNorm networks amplify rounding
// by orders of magnitude), on the batch, and on the kernel that sums the products (OpenBLAS picks
// Haswell, SkylakeX or Cooperlake code by CPU; each sums in another order). No constant measured
// once on one machine bounds it everywhere.
//
// What does bound it is the same computation's own sensitivity, measured where it runs: shuffle
// the batch (the mean loss and the batch statistics do not depend on the order of the examples,
// but every sum over the batch is then taken in another order), move every weight and every
// pixel by one unit in the last place (up or down at random: the low bits of every product
// change), and evaluate again in float32. The change F̃(w', x') − F̃(w, x) =
// [F(w') − F(w)] + [e(w') − e(w)] holds the amplification of float32-sized perturbations of the
// inputs and the difference of two rounding errors made in different orders on different low
// bits, of the size of |e| or more. So |e| is of the order of that spread, and a small multiple
// of the largest of a few spreads bounds it. A wrong derivative is off by
// O(1) relative and stays far outside such a bound unless the network's own float32 rounding is
// O(1), which the spread then says.

import Foundation
import TensorCore

/// One compared component (a parameter's gradient, a scalar such as gᵀHg): its float32 error
/// against the exact reference and the bound that error must meet.
public struct FloatRoundingCheck: Sendable, CustomStringConvertible {
  public var name: String
  /// ‖float32 − reference‖ / scale.
  public var error: Double
  /// The largest distance, over the perturbed samples, of a float32 result from the float32
  /// result and of an exact result from the exact one, divided by the scale.
  public var spread: Double
  /// `FloatRoundingBound.factor` × the largest spread of any component, at least
  /// `FloatRoundingBound.floor`.
  public var bound: Double
  public var holds: Bool { error <= bound }
  public var description: String {
    "\(name): error \(error.formatted3), bound \(bound.formatted3) (spread \(spread.formatted3))"
  }
}

/// Compares a float32 computation against an exact reference with bounds from its measured
/// rounding sensitivity (see the top of this file).
public enum FloatRoundingBound {
  /// One-ulp-perturbed evaluations per check.
  public static let samples = 4
  /// Bound = factor × the largest spread. The error is one draw of a rounding error of about
  /// spread/√2; 4× the largest of three spreads leaves room for a draw several times the typical
  /// one (measured ratios error/spread stay below 1.5 on every variant and kernel; BENCHMARKS.md).
  public static let factor = 4.0
  /// No float32 result beats a few units in its last place: 8 · 2⁻²⁴ relative.
  public static let floor = 8.0 * Double(Float.ulpOfOne) / 2

  /// Every nonzero element moved one unit in the last place, up or down at random; zeros stay
  /// zero (their rounding is exact).
  public static func perturbedByOneULP(_ tensor: Tensor<Float>, using generator: inout SeededGenerator)
    -> Tensor<Float>
  {
    Tensor(
      shape: tensor.shape,
      scalars: tensor.scalars.map { x in
        guard x != 0 else { return x }
        return generator.next() & 1 == 0 ? x.nextUp : x.nextDown
      })
  }

  public static func perturbedByOneULP(_ tensors: NamedTensors<Float>, using generator: inout SeededGenerator)
    -> NamedTensors<Float>
  {
    var result = NamedTensors<Float>()
    for (name, tensor) in tensors.entries { result.append(perturbedByOneULP(tensor, using: &generator), named: name) }
    return result
  }

  /// The batch in another order: image `order[i]` becomes image i.
  public static func reordered(_ images: Tensor<Float>, _ order: [Int]) -> Tensor<Float> {
    let size = images.count / images.shape[0]
    var scalars = [Float]()
    scalars.reserveCapacity(images.count)
    for source in order { scalars += images.scalars[(source * size)..<((source + 1) * size)] }
    return Tensor(shape: images.shape, scalars: scalars)
  }

  /// Compares a float32 computation with its exact (Double) counterpart at (weights, images,
  /// labels), with bounds from `samples` perturbations of the inputs (the batch shuffled, every
  /// weight and pixel moved one ulp) evaluated by both.
  ///
  /// The float32 cloud measures rounding and its amplification. The exact cloud measures the
  /// function's own jumps within one ulp of the inputs: a pre-activation within rounding distance
  /// of the leaky ReLU's kink takes either slope, and which one float32 rounding picks is
  /// chance (vgg38 BN+residual has such units: its gradient jumps by 0.7% between neighbouring
  /// float32 inputs, in Double too).
  /// - Parameters:
  ///   - names: one name per component.
  ///   - scales: what each component's distance is divided by; nil: the exact value's own norm.
  ///     A component that is zero in exact arithmetic needs another scale (the whole gradient's).
  ///   - exact: the computation in Double (its inputs are widened from the float32 ones).
  ///   - float32: the computation under test, returning its components in the same order.
  public static func check(
    names: [String], scales: [Double]? = nil,
    weights: NamedTensors<Float>, images: Tensor<Float>, labels: [Int], seed: UInt64 = 0x5eed,
    exact: (NamedTensors<Double>, Tensor<Double>, [Int]) -> [[Double]],
    float32: (NamedTensors<Float>, Tensor<Float>, [Int]) -> [[Double]]
  ) -> [FloatRoundingCheck] {
    func wide(_ w: NamedTensors<Float>, _ x: Tensor<Float>, _ y: [Int]) -> [[Double]] {
      exact(w.converted(to: Double.self), x.converted(), y)
    }
    let reference = wide(weights, images, labels)
    let value = float32(weights, images, labels)
    precondition(reference.count == names.count && value.count == names.count, "one value per component")
    let scales = scales ?? reference.map { norm($0) }
    var spreads = Array(repeating: 0.0, count: names.count)
    var generator = SeededGenerator(seed: seed)
    for _ in 0..<samples {
      let order = Array(labels.indices).shuffled(using: &generator)
      let w = perturbedByOneULP(weights, using: &generator)
      let x = perturbedByOneULP(reordered(images, order), using: &generator)
      let y = order.map { labels[$0] }
      let (rounded, jumped) = (float32(w, x, y), wide(w, x, y))
      for i in names.indices {
        spreads[i] = max(
          spreads[i], distance(rounded[i], value[i]) / scales[i], distance(jumped[i], reference[i]) / scales[i])
      }
    }
    // A jump at one unit moves every component that depends on it, by the most near the unit,
    // and the samples need not cross the same units as the tested evaluation: each component is
    // held to the network's largest spread, not only its own.
    let bound = max(floor, factor * (spreads.max() ?? 0))
    return names.indices.map { i in
      FloatRoundingCheck(
        name: names[i], error: distance(value[i], reference[i]) / scales[i], spread: spreads[i], bound: bound)
    }
  }

  public static func norm(_ x: [Double]) -> Double { x.reduce(0) { $0 + $1 * $1 }.squareRoot() }

  public static func distance(_ a: [Double], _ b: [Double]) -> Double {
    precondition(a.count == b.count, "components of different lengths")
    return zip(a, b).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot()
  }
}

extension Double {
  fileprivate var formatted3: String { String(format: "%.3g", self) }
}

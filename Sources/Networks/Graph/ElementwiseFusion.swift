import Foundation

/// Chains of element-wise layers that the executor runs as one pass over memory: a BatchNorm
/// or an add whose output only a leaky ReLU (or ReLU) reads becomes one primitive
/// (`Tape.batchNorm(…, leakyReLUSlope:)`, `Tape.addLeakyReLU`) that writes the activation
/// directly; the intermediate is never stored. Recognised once from the model description, for
/// every family and for model files alike. Each fused primitive does the arithmetic of the
/// layers apart, so fusion changes no bit (`ElementwiseFusionTests`).
public enum ElementwiseFusion {
  /// Whether forward passes fuse the chains (false when `GRADTRACE_FUSION=off`, for A/B
  /// measurements; tests override it per task).
  public static var isEnabled: Bool { override ?? enabledByDefault }
  @TaskLocal public static var override: Bool?
  private static let enabledByDefault = ProcessInfo.processInfo.environment["GRADTRACE_FUSION"] != "off"

  /// How the executor runs one layer.
  public enum Step: Sendable, Equatable {
    /// On its own.
    case alone
    /// With the leaky ReLU of this slope that reads it (a BatchNorm or an add).
    case withLeakyReLU(slope: Double)
    /// A leaky ReLU already applied by the layer it reads: its output is that layer's.
    case applied
  }

  /// Per layer, how it runs. A BatchNorm or add at p fuses with the leaky ReLU at q when q reads
  /// only p, nothing else reads p, p ends no block (a trace records block outputs) and the
  /// slope is ≥ 0 (the add's pullback reads its mask off the output).
  static func plan(
    operations: [Operation], inputIndices: [[Int]], endsBlock: [Bool]
  ) -> [Step] {
    var readers = [Int](repeating: 0, count: operations.count)
    for indices in inputIndices { for source in indices where source >= 0 { readers[source] += 1 } }
    var steps = [Step](repeating: .alone, count: operations.count)
    for (q, operation) in operations.enumerated() {
      guard case .leakyReLU(let slope) = operation, slope >= 0, inputIndices[q].count == 1 else { continue }
      let p = inputIndices[q][0]
      guard p >= 0, readers[p] == 1, !endsBlock[p], steps[p] == .alone else { continue }
      switch operations[p] {
      case .batchNorm, .add:
        steps[p] = .withLeakyReLU(slope: slope)
        steps[q] = .applied
      default: continue
      }
    }
    return steps
  }
}

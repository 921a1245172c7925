import Dispatch
import Synchronization

/// Where a pass spends its time, by kind of work: what `gradtrace bench --profile` prints.
///
/// Code that does a distinct kind of work wraps it in `KernelProfile.measure(kind)`; while a
/// profile is active for the calling task (`KernelProfile.$active.withValue(profile) { … }`),
/// each call adds its elapsed time to its kind. Measurements nest, and each kind is charged
/// its *own* time: a convolution kernel measured inside the convolution layer's measurement is
/// subtracted from the layer's, so the kinds add up to the time measured and nothing counts
/// twice. With no active profile a measurement costs one task-local read.
///
/// Only the thread that drives the pass measures (the kinds are whole layers and kernels);
/// the workers inside a kernel are covered by its measurement.
public final class KernelProfile: Sendable {
  /// The time and work charged to one kind.
  public struct Entry: Sendable, Equatable {
    /// Seconds of the kind's own time (nested measurements subtracted).
    public var seconds = 0.0
    /// How many measurements were charged, not counting one nested in a measurement of the same
    /// kind (a convolution layer and the kernels it runs are one call).
    public var calls = 0
    /// Floating-point operations the measurements declared (convolutions), 0 otherwise.
    public var flops = 0.0
  }

  /// The profile the current task charges its measurements to, if any.
  @TaskLocal public static var active: KernelProfile?

  private struct State {
    var entries: [String: Entry] = [:]
    /// For each measurement in progress, innermost last: its kind and the time its nested
    /// measurements took.
    var open: [(kind: String, nested: Double)] = []
  }
  private let state = Mutex(State())

  public init() {}

  /// What has been charged so far, by kind.
  public var entries: [String: Entry] { state.withLock { $0.entries } }

  /// Runs `body`, charging its time (less that of measurements nested in it) and `flops` to
  /// `kind` when a profile is active.
  @inline(__always) @discardableResult
  public static func measure<T>(_ kind: @autoclosure () -> String, flops: Double = 0, _ body: () -> T) -> T {
    guard let profile = active else { return body() }
    return profile.measure(kind(), flops: flops, body)
  }

  private func measure<T>(_ kind: String, flops: Double, _ body: () -> T) -> T {
    state.withLock { $0.open.append((kind, 0)) }
    let start = DispatchTime.now().uptimeNanoseconds
    let result = body()
    let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    state.withLock { state in
      let nested = state.open.removeLast().nested
      if !state.open.isEmpty { state.open[state.open.count - 1].nested += elapsed }
      state.entries[kind, default: Entry()].seconds += elapsed - nested
      state.entries[kind, default: Entry()].flops += flops
      if !state.open.contains(where: { $0.kind == kind }) { state.entries[kind, default: Entry()].calls += 1 }
    }
    return result
  }
}

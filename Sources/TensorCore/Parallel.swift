import CBLAS
import CMalloc
import Dispatch

/// How many threads the kernels may use.
///
/// The kernels split a batch across threads that each call a single-threaded GEMM on a few
/// images: for the convolution's skinny shapes this beats OpenBLAS's own threading, and keeps
/// each thread's im2col buffer in cache. OpenBLAS itself is therefore pinned to one thread.
public enum ComputeThreads {
  nonisolated(unsafe) private static var configured = 1

  /// A per-task override of the thread count (tests use it so that concurrent tests do not
  /// change each other's setting).
  @TaskLocal public static var override: Int?

  /// The number of worker threads the kernels split work across.
  public static var count: Int { override ?? configured }

  /// Sets the number of worker threads (at least 1) and pins OpenBLAS to one thread.
  ///
  /// Also asks glibc to keep freed memory for reuse: a training step allocates and frees
  /// activations of ~10 MB each, which glibc would otherwise map fresh from the kernel every
  /// time, and the kernel's page zeroing then cost a quarter of the step (measured with perf).
  public static func set(_ threads: Int) {
    precondition(threads >= 1, "ComputeThreads.set: need at least one thread, got \(threads)")
    configured = threads
    openblas_set_num_threads(1)
    gt_retain_freed_memory()
  }
}

/// Runs `body(range, worker)` on disjoint, contiguous chunks covering `0..<total`, one chunk per
/// worker, concurrently when more than one thread is configured.
@inlinable
public func parallelChunks(
  _ total: Int, maximumWorkers: Int = ComputeThreads.count,
  _ body: (Range<Int>, Int) -> Void
) {
  let workers = max(1, min(maximumWorkers, total))
  if workers == 1 {
    body(0..<total, 0)
    return
  }
  // The chunks are disjoint, so the workers never touch the same elements: the closure is
  // safe to share even though its captures (buffer pointers) are not `Sendable`.
  withoutActuallyEscaping(body) { body in
    let shared = UncheckedSendable(body)
    DispatchQueue.concurrentPerform(iterations: workers) { worker in
      let start = total * worker / workers
      let end = total * (worker + 1) / workers
      shared.value(start..<end, worker)
    }
  }
}

/// Carries a value across a concurrency boundary whose safety the caller guarantees.
@usableFromInline
struct UncheckedSendable<Value>: @unchecked Sendable {
  @usableFromInline let value: Value
  @usableFromInline init(_ value: Value) { self.value = value }
}

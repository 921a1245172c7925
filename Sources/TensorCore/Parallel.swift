import CBLAS
import CMalloc
import CDNNL

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
  runWorkers(workers) { worker in
    body(total * worker / workers..<total * (worker + 1) / workers, worker)
  }
}

/// Runs `body(range)` on contiguous ranges covering `0..<count`, one per worker, each at least
/// `grain` elements long: element-wise work on a large tensor runs on every thread, a small one
/// stays on the calling thread (a parallel region costs a few microseconds).
@inlinable
public func parallelElements(_ count: Int, grain: Int = 1 << 15, _ body: (Range<Int>) -> Void) {
  parallelChunks(count, maximumWorkers: min(ComputeThreads.count, max(1, count / grain))) { range, _ in
    body(range)
  }
}

/// Runs `body(worker)` for every worker in `0..<workers` concurrently, on the OpenMP team that
/// oneDNN's convolutions use (`gt_parallel`): one pool of threads for all of gradtrace's work.
public func runWorkers(_ workers: Int, _ body: (Int) -> Void) {
  // The workers touch disjoint data (the callers' contract), so sharing the non-escaping
  // closure with them through a pointer is safe; it does not outlive this call.
  withoutActuallyEscaping(body) { body in
    var job = body
    withUnsafeMutablePointer(to: &job) { pointer in
      gt_parallel(
        Int32(workers),
        { context, worker in
          context!.assumingMemoryBound(to: ((Int) -> Void).self).pointee(Int(worker))
        }, pointer)
    }
  }
}

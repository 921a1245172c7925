// The thread pool gradtrace's own kernels share with oneDNN: libgomp's OpenMP team.
#ifndef GT_PARALLEL_H
#define GT_PARALLEL_H

#ifdef __cplusplus
extern "C" {
#endif

/// Runs `body(context, worker)` once for every worker in 0..<workers, on up to `workers`
/// threads of the OpenMP team oneDNN's convolutions run on; returns when all have finished.
/// The calling thread is one of them. A smaller team (a call from inside a parallel region)
/// runs several workers per thread, so every worker index still runs exactly once.
void gt_parallel(int workers, void (*body)(void *context, int worker), void *context);

#ifdef __cplusplus
}
#endif

#endif

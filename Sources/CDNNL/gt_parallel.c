// See include/gt_parallel.h.
//
// Why one pool: oneDNN's convolutions run on libgomp's threads, which spin for a while after
// each parallel region waiting for the next one. Kernels of our own on a second pool (Dispatch's
// worker threads) would then compete with those spinning threads for the same two cores. Running
// them as OpenMP regions instead means a worker that finished a convolution picks up the next
// BatchNorm or activation chunk at once, and no core ever runs two pools.
//
// Clang does not compile `#pragma omp` against libgomp, so this calls libgomp's entry point
// directly: GOMP_parallel is the stable ABI GCC emits for `#pragma omp parallel` (libgomp ≥ 4.9).
#include "gt_parallel.h"

extern void GOMP_parallel(void (*fn)(void *), void *data, unsigned num_threads, unsigned flags);
extern int omp_get_thread_num(void);
extern int omp_get_num_threads(void);

typedef struct {
  void (*body)(void *, int);
  void *context;
  int workers;
} job;

static void run_share(void *data) {
  const job *j = data;
  int team = omp_get_num_threads();
  for (int worker = omp_get_thread_num(); worker < j->workers; worker += team) j->body(j->context, worker);
}

void gt_parallel(int workers, void (*body)(void *context, int worker), void *context) {
  if (workers <= 1) {
    if (workers == 1) body(context, 0);
    return;
  }
  job j = {body, context, workers};
  GOMP_parallel(run_share, &j, (unsigned)workers, 0);
}

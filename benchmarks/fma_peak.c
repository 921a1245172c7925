// The machine's float32 FMA peak: each thread runs 12 independent chains of AVX-512 fused
// multiply-adds (16 lanes each) on registers, so nothing waits on memory or on an FMA's
// latency; FLOPs = 2 per lane per FMA. Prints GFLOP/s for 1 thread and for every thread count
// given on the command line. Build and run: `make fma-peak` (or
// `cc -O2 -mavx512f -mfma -pthread benchmarks/fma_peak.c -o fma_peak && ./fma_peak 1 2`).
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

enum { CHAINS = 12, ITERATIONS = 200000000 / CHAINS };

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

static void *spin(void *out) {
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  // Written out so that every chain stays in a register at any optimisation level.
  __m512 c0 = _mm512_set1_ps(0), c1 = _mm512_set1_ps(1), c2 = _mm512_set1_ps(2), c3 = _mm512_set1_ps(3);
  __m512 c4 = _mm512_set1_ps(4), c5 = _mm512_set1_ps(5), c6 = _mm512_set1_ps(6), c7 = _mm512_set1_ps(7);
  __m512 c8 = _mm512_set1_ps(8), c9 = _mm512_set1_ps(9), c10 = _mm512_set1_ps(10), c11 = _mm512_set1_ps(11);
  for (long i = 0; i < ITERATIONS; i++) {
    c0 = _mm512_fmadd_ps(c0, a, b), c1 = _mm512_fmadd_ps(c1, a, b), c2 = _mm512_fmadd_ps(c2, a, b);
    c3 = _mm512_fmadd_ps(c3, a, b), c4 = _mm512_fmadd_ps(c4, a, b), c5 = _mm512_fmadd_ps(c5, a, b);
    c6 = _mm512_fmadd_ps(c6, a, b), c7 = _mm512_fmadd_ps(c7, a, b), c8 = _mm512_fmadd_ps(c8, a, b);
    c9 = _mm512_fmadd_ps(c9, a, b), c10 = _mm512_fmadd_ps(c10, a, b), c11 = _mm512_fmadd_ps(c11, a, b);
  }
  __m512 all = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(c0, c1), _mm512_add_ps(c2, c3)),
                             _mm512_add_ps(_mm512_add_ps(c4, c5), _mm512_add_ps(c6, c7)));
  all = _mm512_add_ps(all, _mm512_add_ps(_mm512_add_ps(c8, c9), _mm512_add_ps(c10, c11)));
  float sum = _mm512_reduce_add_ps(all);  // keeps the chains alive
  *(float *)out = sum;
  return NULL;
}

int main(int argc, char **argv) {
  for (int arg = 1; arg < argc || arg == 1; arg++) {
    int threads = argc > 1 ? atoi(argv[arg]) : 1;
    if (threads < 1 || threads > 256) return fprintf(stderr, "fma_peak: bad thread count '%s'\n", argv[arg]), 64;
    double best = 0;
    for (int repeat = 0; repeat < 5; repeat++) {
      pthread_t ids[256];
      float sink[256];
      double start = now();
      for (int t = 0; t < threads; t++) pthread_create(&ids[t], NULL, spin, &sink[t]);
      for (int t = 0; t < threads; t++) pthread_join(ids[t], NULL);
      double gflops = 2.0 * 16 * CHAINS * (double)ITERATIONS * threads / (now() - start) / 1e9;
      if (gflops > best) best = gflops;
    }
    printf("%d thread%s: %.0f GFLOP/s (best of 5)\n", threads, threads == 1 ? "" : "s", best);
  }
  return 0;
}

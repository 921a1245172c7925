// oneDNN's own speed on one convolution geometry, away from gradtrace: N 100, C → O channels,
// H×H maps, 3×3, stride 1, pad 1, activations in nChw16c, weights in the layout the primitive
// picks, aligned buffers reused on every call (so the data stays in cache): the best of R runs
// of forward, backward data and backward weights, with GFLOP/s. What gradtrace's profile rows
// for the same geometry reach is to be compared with this. Build and run: `make onednn-conv`
// (or `cc -O2 benchmarks/onednn_convolution.c -ldnnl -o onednn_convolution &&
// OMP_NUM_THREADS=2 ./onednn_convolution 16 16 32 15`: C, O, H, R).
#include <oneapi/dnnl/dnnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define CHECK(call)                                       \
  do {                                                    \
    if ((call) != dnnl_success) {                         \
      fprintf(stderr, "oneDNN call failed: %s\n", #call); \
      exit(1);                                            \
    }                                                     \
  } while (0)

static dnnl_engine_t engine;
static dnnl_stream_t stream;

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

// A memory object of `desc` on a 64-byte aligned buffer of small non-zero values.
static dnnl_memory_t memory(const dnnl_memory_desc_t *desc) {
  size_t bytes = dnnl_memory_desc_get_size(desc);
  float *data = aligned_alloc(64, (bytes + 63) / 64 * 64);
  for (size_t i = 0; i < bytes / sizeof(float); i++) data[i] = (float)(i % 13) * 0.01f;
  dnnl_memory_t m;
  CHECK(dnnl_memory_create(&m, desc, engine, data));
  return m;
}

// Milliseconds of the fastest of `repeats` runs.
static double fastest(dnnl_primitive_t primitive, dnnl_exec_arg_t *args, int repeats) {
  double best = 1e30;
  for (int r = 0; r < repeats; r++) {
    double start = now();
    CHECK(dnnl_primitive_execute(primitive, stream, 3, args));
    CHECK(dnnl_stream_wait(stream));
    double elapsed = now() - start;
    if (elapsed < best) best = elapsed;
  }
  return best * 1e3;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: %s C O H [repeats]\n", argv[0]);
    return 2;
  }
  int c = atoi(argv[1]), o = atoi(argv[2]), h = atoi(argv[3]), repeats = argc > 4 ? atoi(argv[4]) : 20, n = 100;
  CHECK(dnnl_engine_create(&engine, dnnl_cpu, 0));
  CHECK(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags));
  dnnl_dims_t src_dims = {n, c, h, h}, weight_dims = {o, c, 3, 3}, dst_dims = {n, o, h, h};
  dnnl_dims_t strides = {1, 1}, padding = {1, 1};
  dnnl_memory_desc_t src, dst, weights;
  CHECK(dnnl_memory_desc_init_by_tag(&src, 4, src_dims, dnnl_f32, dnnl_nChw16c));
  CHECK(dnnl_memory_desc_init_by_tag(&dst, 4, dst_dims, dnnl_f32, dnnl_nChw16c));
  CHECK(dnnl_memory_desc_init_by_tag(&weights, 4, weight_dims, dnnl_f32, dnnl_format_tag_any));
  dnnl_convolution_desc_t forward_desc, data_desc, weights_desc;
  dnnl_primitive_desc_t forward_pd, data_pd, weights_pd;
  CHECK(dnnl_convolution_forward_desc_init(&forward_desc, dnnl_forward_training, dnnl_convolution_direct, &src,
                                           &weights, NULL, &dst, strides, padding, padding));
  CHECK(dnnl_primitive_desc_create(&forward_pd, &forward_desc, NULL, engine, NULL));
  CHECK(dnnl_convolution_backward_data_desc_init(&data_desc, dnnl_convolution_direct, &src, &weights, &dst, strides,
                                                 padding, padding));
  CHECK(dnnl_primitive_desc_create(&data_pd, &data_desc, NULL, engine, forward_pd));
  CHECK(dnnl_convolution_backward_weights_desc_init(&weights_desc, dnnl_convolution_direct, &src, &weights, NULL,
                                                    &dst, strides, padding, padding));
  CHECK(dnnl_primitive_desc_create(&weights_pd, &weights_desc, NULL, engine, forward_pd));
  dnnl_primitive_t forward, backward_data, backward_weights;
  CHECK(dnnl_primitive_create(&forward, forward_pd));
  CHECK(dnnl_primitive_create(&backward_data, data_pd));
  CHECK(dnnl_primitive_create(&backward_weights, weights_pd));
  dnnl_memory_t x = memory(&src), y = memory(&dst);
  dnnl_memory_t w = memory(dnnl_primitive_desc_query_md(forward_pd, dnnl_query_weights_md, 0));
  dnnl_memory_t w_data = memory(dnnl_primitive_desc_query_md(data_pd, dnnl_query_weights_md, 0));
  dnnl_memory_t dw = memory(dnnl_primitive_desc_query_md(weights_pd, dnnl_query_diff_weights_md, 0));
  dnnl_exec_arg_t forward_args[3] = {{DNNL_ARG_SRC, x}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_DST, y}};
  dnnl_exec_arg_t data_args[3] = {{DNNL_ARG_DIFF_DST, y}, {DNNL_ARG_WEIGHTS, w_data}, {DNNL_ARG_DIFF_SRC, x}};
  dnnl_exec_arg_t weights_args[3] = {{DNNL_ARG_SRC, x}, {DNNL_ARG_DIFF_DST, y}, {DNNL_ARG_DIFF_WEIGHTS, dw}};
  double gflop = 2.0 * n * c * o * 9 * h * h / 1e9;
  double f = fastest(forward, forward_args, repeats), d = fastest(backward_data, data_args, repeats),
         g = fastest(backward_weights, weights_args, repeats);
  printf("%d→%d channels, %d×%d: forward %.3f ms (%.0f GFLOP/s), backward data %.3f ms (%.0f), backward weights "
         "%.3f ms (%.0f)\n",
         c, o, h, h, f, gflop / f * 1e3, d, gflop / d * 1e3, g, gflop / g * 1e3);
  return 0;
}

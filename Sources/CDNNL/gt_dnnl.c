// See include/gt_dnnl.h. Each geometry's primitive descriptors and primitives are created once;
// every call wraps the caller's buffers (NCHW or nChw16c activations, OIHW filters), reorders
// those whose layout differs from the one oneDNN chose (format "any": nChw16c-style blocks on
// AVX-512) and writes the result back in the layout the caller asked for. An activation already
// in oneDNN's layout is used in place: gradtrace keeps convolution outputs blocked through
// BatchNorm, activations and residual adds, so most calls reorder only the filters. Blocked
// buffers are allocated per call, so memory does not grow with the number of geometries (a
// DenseNet has dozens). Calls are serialised by one lock: oneDNN runs each
// convolution on all of its threads anyway. Every primitive takes a scratchpad allocated by the
// call ("user" scratchpad mode): oneDNN's own global scratchpad is per creating thread, and a
// primitive created on one thread and run on another (as Swift's tasks do) wrote through NULL.
#include "gt_dnnl.h"

#include <oneapi/dnnl/dnnl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern void omp_set_num_threads(int);

static dnnl_engine_t engine;
static dnnl_stream_t stream;
static dnnl_status_t engine_status = dnnl_success;
static pthread_once_t engine_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void create_engine(void) {
  engine_status = dnnl_engine_create(&engine, dnnl_cpu, 0);
  if (engine_status == dnnl_success) engine_status = dnnl_stream_create(&stream, engine, dnnl_stream_default_flags);
}

/// One tensor argument of a primitive: the caller's layouts and the primitive's. An activation
/// comes from the caller in one of two layouts, plain (index 0: nchw) or channel-blocked
/// (index 1: nChw16c, available when its channel count is a multiple of 16); filters are plain.
typedef struct {
  int layouts;  // 1 (plain only) or 2
  dnnl_memory_desc_t user[2];
  dnnl_memory_desc_t inner;
  int same[2];
  dnnl_primitive_t to_inner[2];  // reorder user → inner (inputs), NULL when same
  dnnl_primitive_t to_user[2];   // reorder inner → user (outputs), NULL when same
} port;

struct gt_convolution {
  int has_bias;
  dnnl_primitive_desc_t forward_pd, data_pd, weights_pd;
  dnnl_primitive_t forward, backward_data, backward_weights;
  port forward_src, forward_weights, forward_dst;
  port data_diff_dst, data_weights, data_diff_src;
  port weights_src, weights_diff_dst, weights_diff_weights;
  dnnl_memory_desc_t bias;
  dnnl_primitive_attr_t attr;
};

/// Attributes asking for a caller-allocated scratchpad.
static dnnl_primitive_attr_t user_scratchpad(void) {
  dnnl_primitive_attr_t attr = NULL;
  if (dnnl_primitive_attr_create(&attr) != dnnl_success) return NULL;
  dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
  return attr;
}

/// The scratchpad a primitive needs (its size may be 0).
static const dnnl_memory_desc_t *scratchpad_desc(dnnl_primitive_t primitive) {
  const_dnnl_primitive_desc_t pd;
  dnnl_primitive_get_primitive_desc(primitive, &pd);
  return dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
}

/// Runs `primitive` with `args` plus a scratchpad allocated for this call.
static dnnl_status_t execute(dnnl_primitive_t primitive, int nargs, const dnnl_exec_arg_t *args) {
  const dnnl_memory_desc_t *desc = scratchpad_desc(primitive);
  size_t size = desc ? dnnl_memory_desc_get_size(desc) : 0;
  dnnl_exec_arg_t all[8];
  for (int i = 0; i < nargs; i++) all[i] = args[i];
  void *buffer = NULL;
  dnnl_memory_t scratchpad = NULL;
  dnnl_status_t s = dnnl_success;
  if (size > 0) {
    buffer = aligned_alloc(64, (size + 63) / 64 * 64);
    if (!buffer) return dnnl_out_of_memory;
    s = dnnl_memory_create(&scratchpad, desc, engine, buffer);
    all[nargs++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, scratchpad};
  }
  if (s == dnnl_success) s = dnnl_primitive_execute(primitive, stream, nargs, all);
  if (s == dnnl_success) s = dnnl_stream_wait(stream);
  if (scratchpad) dnnl_memory_destroy(scratchpad);
  free(buffer);
  return s;
}

static dnnl_status_t make_reorder(const dnnl_memory_desc_t *from, const dnnl_memory_desc_t *to, dnnl_primitive_t *out) {
  dnnl_primitive_desc_t pd;
  dnnl_primitive_attr_t attr = user_scratchpad();
  dnnl_status_t status = dnnl_reorder_primitive_desc_create(&pd, from, engine, to, engine, attr);
  dnnl_primitive_attr_destroy(attr);
  if (status != dnnl_success) return status;
  status = dnnl_primitive_create(out, pd);
  dnnl_primitive_desc_destroy(pd);
  return status;
}

/// Fills a port from the layout `pd` chose for `what`, creating the reorders the direction
/// needs from (or to) each of the caller's layouts; `blocked` is NULL for a plain-only argument.
static dnnl_status_t make_port(port *p, const dnnl_memory_desc_t *plain, const dnnl_memory_desc_t *blocked,
                               const_dnnl_primitive_desc_t pd, dnnl_query_t what, int is_output) {
  p->layouts = blocked ? 2 : 1;
  p->user[0] = *plain;
  if (blocked) p->user[1] = *blocked;
  p->inner = *dnnl_primitive_desc_query_md(pd, what, 0);
  for (int i = 0; i < p->layouts; i++) {
    p->same[i] = dnnl_memory_desc_equal(&p->user[i], &p->inner);
    p->to_inner[i] = NULL;
    p->to_user[i] = NULL;
    if (p->same[i]) continue;
    dnnl_status_t s = is_output ? make_reorder(&p->inner, &p->user[i], &p->to_user[i])
                                : make_reorder(&p->user[i], &p->inner, &p->to_inner[i]);
    if (s != dnnl_success) return s;
  }
  return dnnl_success;
}

static void destroy_port(port *p) {
  for (int i = 0; i < 2; i++) {
    if (p->to_inner[i]) dnnl_primitive_destroy(p->to_inner[i]);
    if (p->to_user[i]) dnnl_primitive_destroy(p->to_user[i]);
  }
}

void gt_convolution_destroy(gt_convolution *c) {
  if (!c) return;
  port *ports[] = {&c->forward_src, &c->forward_weights, &c->forward_dst, &c->data_diff_dst, &c->data_weights,
                   &c->data_diff_src, &c->weights_src, &c->weights_diff_dst, &c->weights_diff_weights};
  for (size_t i = 0; i < sizeof ports / sizeof *ports; i++) destroy_port(ports[i]);
  if (c->forward) dnnl_primitive_destroy(c->forward);
  if (c->backward_data) dnnl_primitive_destroy(c->backward_data);
  if (c->backward_weights) dnnl_primitive_destroy(c->backward_weights);
  if (c->forward_pd) dnnl_primitive_desc_destroy(c->forward_pd);
  if (c->data_pd) dnnl_primitive_desc_destroy(c->data_pd);
  if (c->weights_pd) dnnl_primitive_desc_destroy(c->weights_pd);
  if (c->attr) dnnl_primitive_attr_destroy(c->attr);
  free(c);
}

gt_convolution *gt_convolution_create(
    int n, int c, int h, int w, int o, int k, int stride, int padding, int has_bias, int threads, char *error,
    size_t error_size) {
  pthread_once(&engine_once, create_engine);
  omp_set_num_threads(threads);
  if (engine_status != dnnl_success) {
    snprintf(error, error_size, "oneDNN: no CPU engine (status %d)", (int)engine_status);
    return NULL;
  }
  int oh = (h + 2 * padding - k) / stride + 1, ow = (w + 2 * padding - k) / stride + 1;
  dnnl_dims_t src_dims = {n, c, h, w}, weights_dims = {o, c, k, k}, dst_dims = {n, o, oh, ow}, bias_dims = {o};
  dnnl_dims_t strides = {stride, stride}, pad = {padding, padding};
  dnnl_memory_desc_t src, weights, dst, any_src, any_weights, any_dst, blocked_src, blocked_dst;
  gt_convolution *conv = calloc(1, sizeof *conv);
  conv->has_bias = has_bias;
  dnnl_status_t s = dnnl_success;
#define CHECK(call, what)                                                                     \
  do {                                                                                        \
    s = (call);                                                                               \
    if (s != dnnl_success) {                                                                  \
      snprintf(error, error_size, "oneDNN refused %s (status %d) for input [%d, %d, %d, %d], filter " \
               "[%d, %d, %d, %d], stride %d, padding %d", what, (int)s, n, c, h, w, o, c, k, k, stride, padding); \
      gt_convolution_destroy(conv);                                                           \
      return NULL;                                                                            \
    }                                                                                         \
  } while (0)
  CHECK(dnnl_memory_desc_init_by_tag(&src, 4, src_dims, dnnl_f32, dnnl_nchw), "the input layout");
  CHECK(dnnl_memory_desc_init_by_tag(&weights, 4, weights_dims, dnnl_f32, dnnl_oihw), "the filter layout");
  CHECK(dnnl_memory_desc_init_by_tag(&dst, 4, dst_dims, dnnl_f32, dnnl_nchw), "the output layout");
  CHECK(dnnl_memory_desc_init_by_tag(&conv->bias, 1, bias_dims, dnnl_f32, dnnl_x), "the bias layout");
  CHECK(dnnl_memory_desc_init_by_tag(&blocked_src, 4, src_dims, dnnl_f32, dnnl_nChw16c), "the blocked input layout");
  CHECK(dnnl_memory_desc_init_by_tag(&blocked_dst, 4, dst_dims, dnnl_f32, dnnl_nChw16c), "the blocked output layout");
  const dnnl_memory_desc_t *src_blocked = c % 16 == 0 ? &blocked_src : NULL;
  const dnnl_memory_desc_t *dst_blocked = o % 16 == 0 ? &blocked_dst : NULL;
  CHECK(dnnl_memory_desc_init_by_tag(&any_src, 4, src_dims, dnnl_f32, dnnl_format_tag_any), "an input layout");
  CHECK(dnnl_memory_desc_init_by_tag(&any_weights, 4, weights_dims, dnnl_f32, dnnl_format_tag_any), "a filter layout");
  CHECK(dnnl_memory_desc_init_by_tag(&any_dst, 4, dst_dims, dnnl_f32, dnnl_format_tag_any), "an output layout");

  dnnl_convolution_desc_t desc;
  conv->attr = user_scratchpad();
  dnnl_primitive_attr_t attr = conv->attr;
  CHECK(dnnl_convolution_forward_desc_init(&desc, dnnl_forward_training, dnnl_convolution_direct, &any_src,
                                           &any_weights, has_bias ? &conv->bias : NULL, &any_dst, strides, pad, pad),
        "the forward convolution");
  CHECK(dnnl_primitive_desc_create(&conv->forward_pd, &desc, attr, engine, NULL), "the forward convolution");
  CHECK(dnnl_convolution_backward_data_desc_init(&desc, dnnl_convolution_direct, &any_src, &any_weights, &any_dst,
                                                 strides, pad, pad),
        "the backward-data convolution");
  CHECK(dnnl_primitive_desc_create(&conv->data_pd, &desc, attr, engine, conv->forward_pd),
        "the backward-data convolution");
  CHECK(dnnl_convolution_backward_weights_desc_init(&desc, dnnl_convolution_direct, &any_src, &any_weights,
                                                    has_bias ? &conv->bias : NULL, &any_dst, strides, pad, pad),
        "the backward-weights convolution");
  CHECK(dnnl_primitive_desc_create(&conv->weights_pd, &desc, attr, engine, conv->forward_pd),
        "the backward-weights convolution");

  CHECK(make_port(&conv->forward_src, &src, src_blocked, conv->forward_pd, dnnl_query_src_md, 0), "an input reorder");
  CHECK(make_port(&conv->forward_weights, &weights, NULL, conv->forward_pd, dnnl_query_weights_md, 0),
        "a filter reorder");
  CHECK(make_port(&conv->forward_dst, &dst, dst_blocked, conv->forward_pd, dnnl_query_dst_md, 1),
        "an output reorder");
  CHECK(make_port(&conv->data_diff_dst, &dst, dst_blocked, conv->data_pd, dnnl_query_diff_dst_md, 0),
        "a gradient reorder");
  CHECK(make_port(&conv->data_weights, &weights, NULL, conv->data_pd, dnnl_query_weights_md, 0), "a filter reorder");
  CHECK(make_port(&conv->data_diff_src, &src, src_blocked, conv->data_pd, dnnl_query_diff_src_md, 1),
        "an input-gradient reorder");
  CHECK(make_port(&conv->weights_src, &src, src_blocked, conv->weights_pd, dnnl_query_src_md, 0),
        "an input reorder");
  CHECK(make_port(&conv->weights_diff_dst, &dst, dst_blocked, conv->weights_pd, dnnl_query_diff_dst_md, 0),
        "a gradient reorder");
  CHECK(make_port(&conv->weights_diff_weights, &weights, NULL, conv->weights_pd, dnnl_query_diff_weights_md, 1),
        "a filter-gradient reorder");
  CHECK(dnnl_primitive_create(&conv->forward, conv->forward_pd), "the forward convolution");
  CHECK(dnnl_primitive_create(&conv->backward_data, conv->data_pd), "the backward-data convolution");
  CHECK(dnnl_primitive_create(&conv->backward_weights, conv->weights_pd), "the backward-weights convolution");
#undef CHECK
  return conv;
}

/// A memory object over `data` in `desc`'s layout (no allocation).
static dnnl_status_t wrap(dnnl_memory_t *memory, const dnnl_memory_desc_t *desc, const void *data) {
  return dnnl_memory_create(memory, desc, engine, (void *)data);
}

/// The memory a primitive reads or writes for port `p`: the caller's buffer when the layouts
/// agree, else a fresh blocked buffer (filled from the caller's for an input).
typedef struct {
  dnnl_memory_t user, inner;
  void *buffer;
} bound;

static dnnl_status_t bind(bound *b, const port *p, int layout, const void *data, int is_output) {
  b->buffer = NULL;
  b->inner = NULL;
  b->user = NULL;
  if (layout < 0 || layout >= p->layouts) return dnnl_invalid_arguments;
  dnnl_status_t s = wrap(&b->user, &p->user[layout], data);
  if (s != dnnl_success || p->same[layout]) {
    b->inner = b->user;
    return s;
  }
  size_t size = dnnl_memory_desc_get_size(&p->inner);
  b->buffer = aligned_alloc(64, (size + 63) / 64 * 64);
  if (!b->buffer) return dnnl_out_of_memory;
  s = wrap(&b->inner, &p->inner, b->buffer);
  if (s != dnnl_success || is_output) return s;
  dnnl_exec_arg_t args[] = {{DNNL_ARG_FROM, b->user}, {DNNL_ARG_TO, b->inner}};
  return execute(p->to_inner[layout], 2, args);
}

/// Writes an output port back to the caller's layout and releases what `bind` made.
static dnnl_status_t unbind(bound *b, const port *p, int layout, int is_output, dnnl_status_t status) {
  if (status == dnnl_success && is_output && !p->same[layout]) {
    dnnl_exec_arg_t args[] = {{DNNL_ARG_FROM, b->inner}, {DNNL_ARG_TO, b->user}};
    status = execute(p->to_user[layout], 2, args);
  }
  if (b->inner && b->inner != b->user) dnnl_memory_destroy(b->inner);
  if (b->user) dnnl_memory_destroy(b->user);
  free(b->buffer);
  return status;
}

/// Runs `primitive` with three bound ports (two inputs, one output) and an optional extra
/// argument in the caller's layout (the bias or its gradient).
static int run(dnnl_primitive_t primitive, const port *ports[3], int kinds[3], const void *data[3],
               const int layouts[3], int extra_kind, const dnnl_memory_desc_t *extra_desc, const void *extra,
               int threads) {
  pthread_mutex_lock(&lock);
  omp_set_num_threads(threads);
  bound bound_ports[3] = {{0}};
  dnnl_memory_t extra_memory = NULL;
  dnnl_status_t s = dnnl_success;
  int bound_count = 0;
  for (; bound_count < 3 && s == dnnl_success; bound_count++)
    s = bind(&bound_ports[bound_count], ports[bound_count], layouts[bound_count], data[bound_count],
             bound_count == 2);
  if (s == dnnl_success && extra) s = wrap(&extra_memory, extra_desc, extra);
  if (s == dnnl_success) {
    dnnl_exec_arg_t args[4] = {{kinds[0], bound_ports[0].inner}, {kinds[1], bound_ports[1].inner},
                               {kinds[2], bound_ports[2].inner}, {extra_kind, extra_memory}};
    s = execute(primitive, extra ? 4 : 3, args);
  }
  for (int i = bound_count - 1; i >= 0; i--) s = unbind(&bound_ports[i], ports[i], layouts[i], i == 2, s);
  if (extra_memory) dnnl_memory_destroy(extra_memory);
  pthread_mutex_unlock(&lock);
  return (int)s;
}

int gt_convolution_output_blocked(const gt_convolution *c) {
  return c->forward_dst.layouts == 2 && c->forward_dst.same[1];
}

int gt_convolution_input_blocked(const gt_convolution *c) {
  return c->forward_src.layouts == 2 && c->forward_src.same[1];
}

int gt_convolution_forward(gt_convolution *c, const float *x, int x_layout, const float *w, const float *b, float *y,
                           int y_layout, int threads) {
  const port *ports[3] = {&c->forward_src, &c->forward_weights, &c->forward_dst};
  int kinds[3] = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST};
  const void *data[3] = {x, w, y};
  const int layouts[3] = {x_layout, 0, y_layout};
  return run(c->forward, ports, kinds, data, layouts, DNNL_ARG_BIAS, &c->bias, c->has_bias ? b : NULL, threads);
}

int gt_convolution_backward_data(gt_convolution *c, const float *dy, int dy_layout, const float *w, float *dx,
                                 int dx_layout, int threads) {
  const port *ports[3] = {&c->data_diff_dst, &c->data_weights, &c->data_diff_src};
  int kinds[3] = {DNNL_ARG_DIFF_DST, DNNL_ARG_WEIGHTS, DNNL_ARG_DIFF_SRC};
  const void *data[3] = {dy, w, dx};
  const int layouts[3] = {dy_layout, 0, dx_layout};
  return run(c->backward_data, ports, kinds, data, layouts, 0, NULL, NULL, threads);
}

int gt_convolution_backward_weights(gt_convolution *c, const float *x, int x_layout, const float *dy, int dy_layout,
                                    float *dw, float *db, int threads) {
  const port *ports[3] = {&c->weights_src, &c->weights_diff_dst, &c->weights_diff_weights};
  int kinds[3] = {DNNL_ARG_SRC, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_WEIGHTS};
  const void *data[3] = {x, dy, dw};
  const int layouts[3] = {x_layout, dy_layout, 0};
  return run(c->backward_weights, ports, kinds, data, layouts, DNNL_ARG_DIFF_BIAS, &c->bias, c->has_bias ? db : NULL,
             threads);
}

// gradtrace's bridge to oneDNN's convolutions (Debian's libdnnl-dev, the C API of
// oneapi/dnnl/dnnl.h): float32 forward, backward-data and backward-weights convolutions on
// activations held as NCHW or as oneDNN's nChw16c and filters as OIHW, computed in the layouts
// oneDNN chooses.
#ifndef GT_DNNL_H
#define GT_DNNL_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// The primitives of one convolution geometry, created once and reused.
typedef struct gt_convolution gt_convolution;

/// Creates the primitives for input [n, c, h, w], filter [o, c, k, k], stride and padding, to
/// run on `threads` OpenMP threads: oneDNN splits its work (and so orders its sums) by the
/// thread count it is created for, which otherwise is the number of cores the process may run
/// on, so a process bound to one core (mpirun's default) would compute other bits.
/// Returns NULL and writes a message into `error` when oneDNN refuses.
gt_convolution *gt_convolution_create(
    int n, int c, int h, int w, int o, int k, int stride, int padding, int has_bias, int threads,
    char *error, size_t error_size);

void gt_convolution_destroy(gt_convolution *convolution);

/// Whether the convolution computes its output (its input) in the channel-blocked layout
/// nChw16c: then an activation handed over in that layout needs no reorder.
int gt_convolution_output_blocked(const gt_convolution *convolution);
int gt_convolution_input_blocked(const gt_convolution *convolution);

/// Every call runs on `threads` OpenMP threads. An activation's `*_layout` says how the caller
/// holds it: 0 plain (NCHW), 1 channel-blocked (nChw16c; only for a channel count that is a
/// multiple of 16, else the call fails with dnnl_invalid_arguments). Filters are OIHW.
///
/// y = conv(x, w) (+ b). Returns 0, or a oneDNN status.
int gt_convolution_forward(
    gt_convolution *convolution, const float *x, int x_layout, const float *w, const float *b, float *y,
    int y_layout, int threads);

/// dx = conv_transpose(dY, w). Returns 0, or a oneDNN status.
int gt_convolution_backward_data(
    gt_convolution *convolution, const float *dy, int dy_layout, const float *w, float *dx, int dx_layout,
    int threads);

/// dw = Σ dy ⋆ x, and db = Σ dy (required when the convolution has a bias). Returns 0, or a
/// oneDNN status.
int gt_convolution_backward_weights(
    gt_convolution *convolution, const float *x, int x_layout, const float *dy, int dy_layout, float *dw,
    float *db, int threads);

#ifdef __cplusplus
}
#endif

#endif

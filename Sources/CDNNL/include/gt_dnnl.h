// gradtrace's bridge to oneDNN's convolutions (Debian's libdnnl-dev, the C API of
// oneapi/dnnl/dnnl.h): float32 forward, backward-data and backward-weights convolutions on
// PyTorch-layout tensors (activations NCHW, filters OIHW), computed in oneDNN's blocked layout.
#ifndef GT_DNNL_H
#define GT_DNNL_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// The primitives of one convolution geometry, created once and reused.
typedef struct gt_convolution gt_convolution;

/// Creates the primitives for input [n, c, h, w], filter [o, c, k, k], stride and padding.
/// Returns NULL and writes a message into `error` when oneDNN refuses.
gt_convolution *gt_convolution_create(
    int n, int c, int h, int w, int o, int k, int stride, int padding, int has_bias,
    char *error, size_t error_size);

void gt_convolution_destroy(gt_convolution *convolution);

/// Every call runs on `threads` OpenMP threads.
///
/// y = conv(x, w) (+ b). Returns 0, or a oneDNN status.
int gt_convolution_forward(
    gt_convolution *convolution, const float *x, const float *w, const float *b, float *y, int threads);

/// dx = conv_transpose(dy, w). Returns 0, or a oneDNN status.
int gt_convolution_backward_data(
    gt_convolution *convolution, const float *dy, const float *w, float *dx, int threads);

/// dw = Σ dy ⋆ x, and db = Σ dy (required when the convolution has a bias). Returns 0, or a
/// oneDNN status.
int gt_convolution_backward_weights(
    gt_convolution *convolution, const float *x, const float *dy, float *dw, float *db, int threads);

#ifdef __cplusplus
}
#endif

#endif

/*
 * qcc_kernels.h - the fixed-point kernel library of qcc.
 *
 * One function per op variant, parameters in a struct, <stdint.h> types, no allocation, no
 * globals, no floating point (except the optional quantize/dequantize boundary helpers in
 * qcc_boundary.c). Tensors are dense, row-major (NCHW for convolutions and pooling).
 * Activations are int8 ("s8") or int16 ("s16"); weights are int8, or int4 packed two per byte
 * (weight_bits = 4; the layout is in qcc_int4.h); biases int32. Each kernel's arithmetic is the one of docs/arithmetic.md,
 * and the tests check every kernel byte for byte against qcc's numpy reference executor.
 *
 * Kernels never allocate: the few that need temporary memory (the GEMM-based convolution and
 * fully connected layers) take a scratch pointer whose size the code generator computes
 * (QCC_CONV_GEMM_SCRATCH, QCC_FC_SCRATCH).
 */
#ifndef QCC_KERNELS_H
#define QCC_KERNELS_H

#include <stdint.h>
#include <stddef.h>

#include "qcc_arith.h"

#define QCC_MAX_DIMS 8

/* ---- requantization parameters of an accumulating op (docs/arithmetic.md 2.5) ---------------- */

typedef struct {
    const int32_t *multiplier; /* one per output channel (per_channel = 1) or one in total */
    const int32_t *shift;
    int32_t per_channel;
    int32_t rounding;          /* QCC_ROUND_DOUBLE or QCC_ROUND_SINGLE (32-bit accumulators) */
    int32_t acc64;             /* 1: int64 accumulator, TFLite's int64 rule */
    int32_t out_zp;
    int32_t qmin;
    int32_t qmax;
} qcc_requant_t;

/* ---- convolutions (qcc_conv.c) ----------------------------------------------------------------
 * x: [batch][in_c][in_size...], y: [batch][out_c][out_size...]; up to three spatial axes, given
 * as (d, h, w) with unused leading axes of size 1. pad[] are the begin pads (the end pads are
 * implied by out_size). acc = bias + sum (x - in_zp) * w over in-bounds taps; padding adds 0. */

typedef struct {
    int32_t batch, in_c, out_c, groups;
    int32_t in_size[3], out_size[3], kernel[3], stride[3], dilation[3], pad[3];
    int32_t in_zp;
    const int8_t *weight;      /* generic / depthwise / transpose: [out_c][in_c/groups][kd][kh][kw] */
    int32_t weight_bits;       /* 4: weight holds those values packed two per byte (qcc_int4.h); else 8 */
    const int32_t *bias;       /* [out_c] or NULL */
    /* qcc_conv_gemm_s8 / _s16 only: weight is [groups][rows_per_group][k_stride]; a row runs over
     * K (QCC_CONV_GEMM_K) in c4 order when in_c/groups is a multiple of 4 or 3 (QCC_C4_ORDER;
     * qcc_vnni.h: channels in groups of 4, then kd, kh, kw, then the channel within the group),
     * else channel-major, then kd, kh, kw; rows beyond out_c/groups and columns beyond K are zero
     * (k_stride is a multiple of 16, rows_per_group of 4); tile = output pixels per packed panel (even, <= 64; the
     * stride-1 depthwise kernel: output rows per band); the
     * kernel sums (x + 128) * w, so bias holds bias - (128 + in_zp) * sum_k w modulo 2^32
     * (qcc_simd.h). */
    int32_t k_stride, rows_per_group, tile;
    qcc_requant_t rq;
} qcc_conv_t;

/* The GEMM convolution weights' reduction order for cig = in_c/groups (see weight above): c4 when
 * cig is a multiple of 4, or 3 (an RGB stem: one zero channel buys the panel-free stride-2 path). */
#define QCC_C4_ORDER(cig) ((cig) % 4 == 0 || (cig) == 3)
/* K, the length of a GEMM convolution's weight row before padding to k_stride: in c4 order the
 * channels of a last partial group count as 4 (their weights are 0). */
#define QCC_CONV_GEMM_K(cig, taps) (QCC_C4_ORDER(cig) ? ((cig) + 3) / 4 * 4 * (taps) : (cig) * (taps))

/* Bytes of scratch qcc_conv_gemm_s8 / _s16 need: an int16 panel, or a u8 one of tile rounded up to
 * 16 pixels (the VNNI paths); with 4-bit weights, 4 * k_stride more after it for the unpacked
 * block of 4 weight rows (QCC_W4_BLOCK). */
#define QCC_CONV_GEMM_SCRATCH(tile, k_stride) \
    ((size_t)(k_stride) * (2 * (size_t)(tile) > ((size_t)(tile) + 15) / 16 * 16 ? 2 * (size_t)(tile) : ((size_t)(tile) + 15) / 16 * 16))
#define QCC_W4_BLOCK(k_stride) ((size_t)4 * (size_t)(k_stride))

void qcc_conv_s8(const qcc_conv_t *p, const int8_t *x, int8_t *y);       /* any shape; acc32 or acc64 */
void qcc_conv_s16(const qcc_conv_t *p, const int16_t *x, int16_t *y);    /* any shape; acc64 */
void qcc_conv_gemm_s8(const qcc_conv_t *p, const int8_t *x, int8_t *y, int16_t *scratch); /* acc32 */
/* qcc_conv_gemm_s8's panel-free path on VNNI builds (qcc_conv_direct.c): computes the convolution
 * and returns 1 when it applies (2-D, c4 order, kernel larger than 1x1, strides up to 4, a band of
 * output rows fits the scratch), else 0. */
int32_t qcc_conv_direct_s8(const qcc_conv_t *p, const int8_t *x, int8_t *y, int16_t *scratch);
/* Bytes of scratch of the stride-1 depthwise kernel: int32 accumulators for rows output rows of
 * the padded width pw = out_w + (kw - 1) * dilation_w (plus 8), then the input band of rows + extra
 * rows (extra = (kh - 1) * dilation_h) of pw bytes (plus 64 for whole-vector reads). */
#define QCC_DW_BAND_SCRATCH(rows, pw, extra) \
    ((size_t)4 * ((size_t)(rows) * (size_t)(pw) + 8) + ((size_t)(rows) + (size_t)(extra)) * (size_t)(pw) + 64)
void qcc_conv_gemm_s16(const qcc_conv_t *p, const int16_t *x, int16_t *y, int16_t *scratch); /* in_zp 0, acc64 */
/* groups == in_c, 2-D, acc32; scratch of at least QCC_DW_VECTOR_SCRATCH (qcc_depthwise.h) bytes and,
 * at stride 1, QCC_DW_BAND_SCRATCH bytes for bands of tile output rows (NULL: the row kernel) */
void qcc_conv_depthwise_s8(const qcc_conv_t *p, const int8_t *x, int8_t *y, int16_t *scratch);
/* Transposed convolution (gather form): weight rearranged to [out_c][in_c/groups][k...]; an input
 * position i feeds output o = i * stride - pad + k * dilation. */
void qcc_conv_transpose_s8(const qcc_conv_t *p, const int8_t *x, int8_t *y);
void qcc_conv_transpose_s16(const qcc_conv_t *p, const int16_t *x, int16_t *y);

/* ---- fully connected and matrix products (qcc_gemm.c) ----------------------------------------- */

typedef struct {
    int32_t m, n, k;
    int32_t a_row_stride, a_col_stride; /* element (i, kk) of a is a[i * a_row_stride + kk * a_col_stride] */
    int32_t in_zp;
    const int8_t *weight;       /* [n_rows][k_stride], row j = output column j; zero padded */
    int32_t weight_bits;        /* 4: packed two per byte (qcc_int4.h); else 8 */
    const int32_t *bias;        /* [n] or NULL; qcc_fc_s8: bias - (128 + in_zp) * sum_k w modulo 2^32 */
    int32_t k_stride;           /* >= k; qcc_fc_s8: a multiple of 16 */
    int32_t n_rows;             /* qcc_fc_s8: n rounded up to a multiple of 4 */
    qcc_requant_t rq;           /* per output column */
} qcc_fc_t;

/* qcc_fc_s8's scratch: the shifted activation row, then with 4-bit weights QCC_W4_BLOCK more. */
#define QCC_FC_SCRATCH(k_stride) ((size_t)2 * (size_t)(k_stride))

void qcc_fc_s8(const qcc_fc_t *p, const int8_t *a, int8_t *y, int16_t *scratch); /* acc32 */
void qcc_fc_generic_s8(const qcc_fc_t *p, const int8_t *a, int8_t *y);          /* acc32 or acc64 */
void qcc_fc_generic_s16(const qcc_fc_t *p, const int16_t *a, int16_t *y);       /* acc64 */

typedef struct {
    int32_t batches, m, n, k;
    const int32_t *a_offset;   /* [batches]: element offset of each batch's a matrix ([m][k]) */
    const int32_t *b_offset;   /* [batches]: element offset of each batch's b matrix ([k][n]) */
    int32_t a_zp, b_zp;
    qcc_requant_t rq;          /* per output column or one */
} qcc_matmul_t;

void qcc_matmul_s8(const qcc_matmul_t *p, const int8_t *a, const int8_t *b, int8_t *y);
void qcc_matmul_s16(const qcc_matmul_t *p, const int16_t *a, const int16_t *b, int16_t *y);

/* ---- layers that return their int32 accumulator (qcc_accumulator.c; docs/arithmetic.md 3.20) ----
 * A conv / fully connected layer whose result is a graph output under outputs=accumulator: y holds
 * acc = bias + sum (x - in_zp) * w clamped per output channel, no requantization (rq is unused). */

typedef struct {
    qcc_conv_t conv;           /* geometry, weights ([out_c][in_c/groups][k...]) and bias as for qcc_conv_s8 */
    const int32_t *acc_min;    /* [out_c]: a fused clamp's bounds on the accumulator */
    const int32_t *acc_max;
} qcc_conv_acc_t;

typedef struct {
    qcc_fc_t fc;               /* as for qcc_fc_generic_s8: weight [n][k_stride], bias [n] or NULL */
    const int32_t *acc_min;    /* [n] */
    const int32_t *acc_max;
} qcc_fc_acc_t;

void qcc_conv_acc_s8(const qcc_conv_acc_t *p, const int8_t *x, int32_t *y);
void qcc_fc_acc_s8(const qcc_fc_acc_t *p, const int8_t *a, int32_t *y);

/* ---- element-wise ops (qcc_elementwise.c) ------------------------------------------------------
 * Broadcasting binary ops iterate the (contiguous) result; a_stride / b_stride give each operand's
 * element stride per result axis (0 on a broadcast axis). A result may overwrite an operand of the
 * same shape (in place). */

typedef struct {
    int32_t ndim; /* >= 1 */
    int32_t dims[QCC_MAX_DIMS];
    int32_t a_stride[QCC_MAX_DIMS];
    int32_t b_stride[QCC_MAX_DIMS];
} qcc_bcast_t;

typedef struct {
    qcc_bcast_t shape;
    int32_t a_zp, b_zp, left_shift;
    int32_t a_multiplier, a_shift, b_multiplier, b_shift;
    int32_t multiplier, shift, subtract;
    int32_t rounding, out_zp, qmin, qmax;
    /* qcc_add_s8: each operand's rescaled value R((q - zp) << left_shift) for q = -128..127,
     * precomputed (index q + 128; b_table already negated for a subtraction) */
    const int32_t *a_table;
    const int32_t *b_table;
} qcc_add_t;

void qcc_add_s8(const qcc_add_t *p, const int8_t *a, const int8_t *b, int8_t *y);
void qcc_add_s16(const qcc_add_t *p, const int16_t *a, const int16_t *b, int16_t *y);

typedef struct {
    qcc_bcast_t shape;
    int32_t a_zp, b_zp, multiplier, shift;
    int32_t rounding, out_zp, qmin, qmax;
} qcc_mul_t;

void qcc_mul_s8(const qcc_mul_t *p, const int8_t *a, const int8_t *b, int8_t *y);
void qcc_mul_s16(const qcc_mul_t *p, const int16_t *a, const int16_t *b, int16_t *y);

/* ---- binary ops between two activations (qcc_binary.c; docs/arithmetic.md 3.14-3.16) -------- */

typedef struct {
    qcc_bcast_t shape;
    int32_t a_zp, b_zp, multiplier, shift; /* shift in [-16, 31], or multiplier 0 */
    int32_t out_zp, qmin, qmax;
} qcc_div_t;

void qcc_div_s8(const qcc_div_t *p, const int8_t *a, const int8_t *b, int8_t *y);
void qcc_div_s16(const qcc_div_t *p, const int16_t *a, const int16_t *b, int16_t *y);

typedef struct {
    qcc_bcast_t shape;
    int32_t a_zp, a_multiplier, a_shift, b_zp, b_multiplier, b_shift;
    int32_t rounding, out_zp, qmin, qmax;
    int32_t take_min; /* 0: max, 1: min */
    /* s8: each operand requantized to the result's parameters for q = -128..127 (index q + 128),
     * precomputed; NULL for s16 */
    const int16_t *a_table;
    const int16_t *b_table;
} qcc_max_min_t;

void qcc_max_min_s8(const qcc_max_min_t *p, const int8_t *a, const int8_t *b, int8_t *y);
void qcc_max_min_s16(const qcc_max_min_t *p, const int16_t *a, const int16_t *b, int16_t *y);

typedef struct {
    qcc_bcast_t shape;
    const int8_t *table; /* [256][256]: the result for (a + 128, b + 128) */
} qcc_lut2_t;

void qcc_lut2_s8(const qcc_lut2_t *p, const int8_t *a, const int8_t *b, int8_t *y);

typedef struct {
    int32_t count;
    int32_t in_zp, multiplier, shift;
    int32_t rounding, out_zp, qmin, qmax;
    const int16_t *table; /* int8 input: the result for q = -128..127 (index q + 128), precomputed */
} qcc_requantize_t;

void qcc_requantize_s8_s8(const qcc_requantize_t *p, const int8_t *x, int8_t *y);
void qcc_requantize_s8_s16(const qcc_requantize_t *p, const int8_t *x, int16_t *y);
void qcc_requantize_s16_s8(const qcc_requantize_t *p, const int16_t *x, int8_t *y);
void qcc_requantize_s16_s16(const qcc_requantize_t *p, const int16_t *x, int16_t *y);

/* requantize with one (in_zp, multiplier, shift, out_zp) per index c along an axis: the tensor is
 * seen as [outer, channels, inner] (docs/arithmetic.md 3.17, joined graph outputs). */
typedef struct {
    int32_t outer, channels, inner;
    const int32_t *in_zp, *multiplier, *shift, *out_zp;
    int32_t rounding, qmin, qmax;
} qcc_requantize_axis_t;

void qcc_requantize_axis_s8(const qcc_requantize_axis_t *p, const int8_t *x, int8_t *y);
void qcc_requantize_axis_s16(const qcc_requantize_axis_t *p, const int16_t *x, int16_t *y);

typedef struct {
    int32_t count;
    const int8_t *table;   /* 256 entries, indexed by q + 128 */
} qcc_lut_s8_t;

typedef struct {
    int32_t count;
    const int16_t *table;  /* 513 entries, interpolated (docs/arithmetic.md 3.7) */
} qcc_lut_s16_t;

void qcc_lut_s8(const qcc_lut_s8_t *p, const int8_t *x, int8_t *y);
void qcc_lut_s16(const qcc_lut_s16_t *p, const int16_t *x, int16_t *y);

typedef struct {
    int32_t count;
    int32_t lo, hi;        /* ONNX Clip order: max first, then min (lo > hi gives hi) */
} qcc_clip_t;

void qcc_clip_s8(const qcc_clip_t *p, const int8_t *x, int8_t *y);
void qcc_clip_s16(const qcc_clip_t *p, const int16_t *x, int16_t *y);

/* PRelu (docs/arithmetic.md 3.12): shape.a_stride are x's strides (contiguous), shape.b_stride
 * index the slope-shaped parameter arrays. */
typedef struct {
    qcc_bcast_t shape;
    int32_t in_zp, multiplier, shift;
    const int32_t *neg_multiplier;
    const int32_t *neg_shift;
    const int8_t *neg_sign;
    int32_t rounding, out_zp, qmin, qmax;
} qcc_prelu_t;

void qcc_prelu_s8(const qcc_prelu_t *p, const int8_t *x, int8_t *y);

/* ---- pooling and reductions (qcc_pool.c) ------------------------------------------------------- */

typedef struct {
    int32_t planes; /* batch * channels */
    int32_t in_size[3], out_size[3], kernel[3], stride[3], dilation[3], pad_begin[3], pad_end[3];
    int32_t count_include_pad; /* average pool: padded taps count and add zp */
    int32_t zp;
} qcc_pool_t;

void qcc_max_pool_s8(const qcc_pool_t *p, const int8_t *x, int8_t *y);
void qcc_max_pool_s16(const qcc_pool_t *p, const int16_t *x, int16_t *y);
void qcc_avg_pool_s8(const qcc_pool_t *p, const int8_t *x, int8_t *y);
void qcc_avg_pool_s16(const qcc_pool_t *p, const int16_t *x, int16_t *y);

/* Reductions: the result is contiguous over out_dims; out_stride are the input strides of the
 * kept axes; red_dims / red_stride the reduced axes. */
typedef struct {
    int32_t out_ndim;
    int32_t out_dims[QCC_MAX_DIMS];
    int32_t out_stride[QCC_MAX_DIMS];
    int32_t red_ndim;
    int32_t red_dims[QCC_MAX_DIMS];
    int32_t red_stride[QCC_MAX_DIMS];
    int32_t count; /* number of reduced elements per result */
    /* mean only (docs/arithmetic.md 3.5): */
    int32_t in_zp, multiplier, shift, rounding, out_zp, qmin, qmax;
} qcc_reduce_t;

void qcc_mean_s8(const qcc_reduce_t *p, const int8_t *x, int8_t *y);
void qcc_mean_s16(const qcc_reduce_t *p, const int16_t *x, int16_t *y);
void qcc_reduce_max_s8(const qcc_reduce_t *p, const int8_t *x, int8_t *y);
void qcc_reduce_max_s16(const qcc_reduce_t *p, const int16_t *x, int16_t *y);

/* ---- softmax, LRN, layer norm, linear resize (qcc_special.c) ----------------------------------- */

typedef struct {
    int32_t outer, n, inner;  /* rows of n elements, element stride inner */
    const int32_t *table;     /* 256 entries E[d] */
} qcc_softmax_t;

void qcc_softmax_s8(const qcc_softmax_t *p, const int8_t *x, int8_t *y);

typedef struct {
    int32_t batch, channels, spatial, size;
    int32_t in_zp, square_shift;
    const int16_t *table;     /* 513 entries */
    int32_t multiplier, shift, rounding, out_zp, qmin, qmax;
} qcc_lrn_t;

void qcc_lrn_s8(const qcc_lrn_t *p, const int8_t *x, int8_t *y);

typedef struct {
    int32_t rows, n;
    int32_t in_zp;
    int64_t eps;
    const int32_t *multiplier;  /* [n] */
    const int32_t *shift;       /* [n] */
    const int8_t *gamma_sign;   /* [n] */
    const int32_t *beta;        /* [n] */
    int32_t rounding, out_zp, qmin, qmax;
} qcc_layer_norm_t;

void qcc_layer_norm_s8(const qcc_layer_norm_t *p, const int8_t *x, int8_t *y);

/* Linear resize of one axis ([outer][l_in][inner] -> [outer][l_out][inner]) or two axes
 * ([outer][l_in0][mid][l_in1][inner]); index / weight hold (idx0, idx1) / (w0, w1) per result
 * position, the first axis's rows first (docs/arithmetic.md 3.9). */
typedef struct {
    int32_t naxes;  /* 1 or 2 */
    int32_t outer, l_in0, l_out0, mid, l_in1, l_out1, inner;
    const int32_t *index;
    const int16_t *weight;
} qcc_resize_t;

void qcc_resize_linear_s8(const qcc_resize_t *p, const int8_t *x, int8_t *y);

/* ---- data movement (qcc_copy.c) ---------------------------------------------------------------
 * y[out_offset + sum_i idx_i * out_stride[i]] = x[in_offset + sum_i off_i(idx_i)] over the box
 * dims, with off_i(j) = in_table[i][j] if in_table[i] is not NULL, else j * in_step[i].
 * Transpose, slice, split, concat (one call per operand), pad, gather, expand, tile and
 * nearest resize are all this one kernel with different tables. Offsets count elements. */
typedef struct {
    int32_t ndim;      /* >= 1 */
    int32_t elem_size; /* bytes per element: 1, 2 or 4 */
    int32_t dims[QCC_MAX_DIMS];
    int32_t out_stride[QCC_MAX_DIMS];
    int32_t out_offset;
    int32_t in_step[QCC_MAX_DIMS];
    int32_t in_offset;
    const int32_t *in_table[QCC_MAX_DIMS];
} qcc_copy_t;

void qcc_copy(const qcc_copy_t *p, const void *x, void *y);
void qcc_fill_s8(int8_t *y, int32_t count, int32_t value);
void qcc_fill_s16(int16_t *y, int32_t count, int32_t value);

/* ---- float boundary helpers (qcc_boundary.c; the only floating point in the library) ----------
 * quantize: q = clamp(nearbyintf(x / scale), qmin - zp, qmax - zp) + zp, computed in float32
 * (ONNX QuantizeLinear, ties to even); returns the number of NaN inputs (written as zp).
 * dequantize: y = (float)(q - zp) * scale. */
int32_t qcc_quantize_f32_s8(const float *x, int8_t *q, int32_t count, float scale, int32_t zp);
int32_t qcc_quantize_f32_s8_range(const float *x, int8_t *q, int32_t count, float scale, int32_t zp,
                                  int32_t qmin, int32_t qmax);
int32_t qcc_quantize_f32_s16(const float *x, int16_t *q, int32_t count, float scale, int32_t zp);
void qcc_dequantize_s8_f32(const int8_t *q, float *y, int32_t count, float scale, int32_t zp);
void qcc_dequantize_s16_f32(const int16_t *q, float *y, int32_t count, float scale, int32_t zp);
/* per-axis dequantize of a joined graph output seen as [outer, channels, inner]:
 * y = (float)(q - zp[c]) * scale[c] (docs/arithmetic.md 3.17). */
void qcc_dequantize_axis_s8_f32(const int8_t *q, float *y, int32_t outer, int32_t channels, int32_t inner,
                                const float *scale, const int32_t *zp);
void qcc_dequantize_axis_s16_f32(const int16_t *q, float *y, int32_t outer, int32_t channels, int32_t inner,
                                 const float *scale, const int32_t *zp);
/* int32 accumulator outputs (docs/arithmetic.md 3.20): (float)(q - zp) rounds to nearest float32. */
void qcc_dequantize_s32_f32(const int32_t *q, float *y, int32_t count, float scale, int32_t zp);
void qcc_dequantize_axis_s32_f32(const int32_t *q, float *y, int32_t outer, int32_t channels, int32_t inner,
                                 const float *scale, const int32_t *zp);

/* ---- integer data (qcc_integer.c, docs/arithmetic.md 3.18) -----------------------------------
 * Plain integers whose values are the reals (an integer graph input, a comparison's 0/1): uint8
 * (and bool), int8, int16, int32 or int64, told apart by a QCC_PLAIN_* kind. */
enum { QCC_PLAIN_U8 = 0, QCC_PLAIN_S8 = 1, QCC_PLAIN_S16 = 2, QCC_PLAIN_S32 = 3, QCC_PLAIN_S64 = 4 };

typedef struct {
    int32_t count, in_kind, in_min, in_max;
    int32_t multiplier, shift, rounding, out_zp, qmin, qmax;
    int32_t out_size; /* 1: int8 result, 2: int16 */
} qcc_from_int_t;

/* y = requantize(clamp(x, in_min, in_max)), M = 1 / s_out */
void qcc_from_int(const qcc_from_int_t *p, const void *x, void *y);

typedef struct {
    int32_t outer, axis_len, count, inner; /* data [outer][axis_len][inner], count indices */
    int32_t elem_size, index_kind;
} qcc_gather_t;

/* y[o][j][:] = data[o][indices[j]][:] (negative indices count from the end) */
void qcc_gather_rows(const qcc_gather_t *p, const void *data, const void *indices, void *y);

typedef struct {
    int32_t count, kind;   /* kind: QCC_PLAIN_* of both x and y */
    int32_t lo, hi;        /* ONNX Clip order: max first, then min (lo > hi gives hi) */
} qcc_clip_plain_t;

/* y = min(max(x, lo), hi) on plain integer data (an index clamped before a gather) */
void qcc_clip_plain(const qcc_clip_plain_t *p, const void *x, void *y);

/* ---- helpers shared by the kernel files (one definition, static inline) ---------------------- */

/* Element i of an int8 (es == 1) or int16 (es == 2) tensor. */
static inline int32_t qcc_load_elem(const void *x, size_t i, int32_t es)
{
    return es == 1 ? (int32_t)((const int8_t *)x)[i] : (int32_t)((const int16_t *)x)[i];
}

/* Store an already clamped value as element i of an int8 or int16 tensor. */
static inline void qcc_store_elem(void *y, size_t i, int32_t es, int32_t v)
{
    if (es == 1) {
        ((int8_t *)y)[i] = (int8_t)v;
    } else {
        ((int16_t *)y)[i] = (int16_t)v;
    }
}

/* The output stage of one accumulator of output channel `channel` (docs/arithmetic.md section 2.5). */
static inline int32_t qcc_requant_one(const qcc_requant_t *rq, int32_t channel, int64_t acc)
{
    const int32_t c = rq->per_channel ? channel : 0;
    if (rq->acc64) {
        return qcc_requant64(acc, rq->multiplier[c], rq->shift[c], rq->out_zp, rq->qmin, rq->qmax);
    }
    return qcc_requant32((int32_t)acc, rq->multiplier[c], rq->shift[c], rq->rounding, rq->out_zp, rq->qmin,
                         rq->qmax);
}

/* Walks the result of a broadcast row by row: for each row (all axes but the last), the element
 * offsets of both operands at its start. */
typedef struct {
    int32_t idx[QCC_MAX_DIMS];
    size_t a, b;
} qcc_bcast_cursor;

static inline size_t qcc_bcast_rows(const qcc_bcast_t *s)
{
    size_t rows = 1;
    int32_t i;
    for (i = 0; i + 1 < s->ndim; i++) {
        rows *= (size_t)s->dims[i];
    }
    return rows;
}

static inline void qcc_bcast_start(qcc_bcast_cursor *c)
{
    int32_t i;
    for (i = 0; i < QCC_MAX_DIMS; i++) {
        c->idx[i] = 0;
    }
    c->a = 0;
    c->b = 0;
}

static inline void qcc_bcast_advance(const qcc_bcast_t *s, qcc_bcast_cursor *c)
{
    int32_t i;
    for (i = s->ndim - 2; i >= 0; i--) {
        c->idx[i]++;
        c->a += (size_t)s->a_stride[i];
        c->b += (size_t)s->b_stride[i];
        if (c->idx[i] < s->dims[i]) {
            return;
        }
        c->a -= (size_t)s->a_stride[i] * (size_t)s->dims[i];
        c->b -= (size_t)s->b_stride[i] * (size_t)s->dims[i];
        c->idx[i] = 0;
    }
}

#endif /* QCC_KERNELS_H */

/*
 * qcc_depthwise.h - the vector path of the int8 depthwise convolution (qcc_depthwise.c) and the
 * size of its scratch, which the code generator reserves in the arena (rules_compute.py mirrors
 * these formulas in depthwise_vector_scratch).
 */
#ifndef QCC_DEPTHWISE_H
#define QCC_DEPTHWISE_H

#include "qcc_kernels.h"

#define QCC_DW_VECTOR_MAX_KH 16
#define QCC_DW_VECTOR_MAX_KW 16
/* Band row width: output columns 0 .. ow - 1 read band columns up to (ow - 1) * sw + (kw - 1) * dw. */
#define QCC_DW_VECTOR_WIDTH(ow, kw, sw, dw) (((ow) - 1) * (sw) + ((kw) - 1) * (dw) + 1)
/* Input rows a band of nr output rows reads. */
#define QCC_DW_VECTOR_ROWS(nr, kh, sh, dh) (((nr) - 1) * (sh) + ((kh) - 1) * (dh) + 1)
/* Scratch bytes for bands of rows output rows: int32 accumulators, then the u8 band and 64 bytes
 * that whole-vector loads from its last row may touch. */
#define QCC_DW_VECTOR_SCRATCH(rows, ow, pw, band_rows) ((size_t)4 * (size_t)(rows) * (size_t)(ow) + (size_t)(band_rows) * (size_t)(pw) + 64)

/* groups == in_c, 2-D, acc32, scratch of QCC_DW_VECTOR_SCRATCH bytes for bands of p->tile output
 * rows: computes y and returns 1 on builds with AVX-512 VBMI + VNNI + BW and a shape it takes,
 * else returns 0 and touches nothing (the caller runs the row kernel). */
int qcc_depthwise_vector_s8(const qcc_conv_t *p, const int8_t *x, int8_t *y, int16_t *scratch);

#endif

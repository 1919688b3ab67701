/*
 * qcc_special.c - int8 ops with an integer definition of their own: softmax (docs/arithmetic.md
 * 3.8), linear resize (3.9), layer normalization (3.10) and LRN (3.11).
 */
#include "qcc_kernels.h"

/* ---- softmax --------------------------------------------------------------------------------- */

void qcc_softmax_s8(const qcc_softmax_t *p, const int8_t *x, int8_t *y)
{
    int32_t o, i, j;
    for (o = 0; o < p->outer; o++) {
        for (i = 0; i < p->inner; i++) {
            const size_t base = (size_t)o * p->n * p->inner + i;
            int32_t m = INT8_MIN;
            int64_t total = 0, reciprocal;
            for (j = 0; j < p->n; j++) {
                const int32_t v = x[base + (size_t)j * p->inner];
                m = v > m ? v : m;
            }
            for (j = 0; j < p->n; j++) {
                total += p->table[m - x[base + (size_t)j * p->inner]];
            }
            reciprocal = ((int64_t)1 << 38) / total;
            for (j = 0; j < p->n; j++) {
                const size_t at = base + (size_t)j * p->inner;
                const int64_t e = p->table[m - x[at]];
                const int64_t v = ((e * reciprocal + ((int64_t)1 << 29)) >> 30) - 128;
                y[at] = (int8_t)(v < 127 ? v : 127);
            }
        }
    }
}

/* ---- linear resize --------------------------------------------------------------------------- */

void qcc_resize_linear_s8(const qcc_resize_t *p, const int8_t *x, int8_t *y)
{
    int32_t o, a, m, b, i;
    size_t out = 0;
    if (p->naxes == 1) {
        for (o = 0; o < p->outer; o++) {
            const int8_t *xo = x + (size_t)o * p->l_in0 * p->inner;
            for (a = 0; a < p->l_out0; a++) {
                const int8_t *r0 = xo + (size_t)p->index[2 * a] * p->inner;
                const int8_t *r1 = xo + (size_t)p->index[2 * a + 1] * p->inner;
                const int32_t w0 = p->weight[2 * a], w1 = p->weight[2 * a + 1];
                for (i = 0; i < p->inner; i++) {
                    y[out++] = (int8_t)qcc_rdbpot(w0 * r0[i] + w1 * r1[i], 11);
                }
            }
        }
        return;
    }
    for (o = 0; o < p->outer; o++) {
        const int8_t *xo = x + (size_t)o * p->l_in0 * p->mid * p->l_in1 * p->inner;
        for (a = 0; a < p->l_out0; a++) {
            const int32_t *ia = p->index + 2 * a;
            const int16_t *wa = p->weight + 2 * a;
            for (m = 0; m < p->mid; m++) {
                for (b = 0; b < p->l_out1; b++) {
                    const int32_t *ib = p->index + 2 * (p->l_out0 + b);
                    const int16_t *wb = p->weight + 2 * (p->l_out0 + b);
                    const int8_t *c00 = xo + (((size_t)ia[0] * p->mid + m) * p->l_in1 + ib[0]) * p->inner;
                    const int8_t *c01 = xo + (((size_t)ia[0] * p->mid + m) * p->l_in1 + ib[1]) * p->inner;
                    const int8_t *c10 = xo + (((size_t)ia[1] * p->mid + m) * p->l_in1 + ib[0]) * p->inner;
                    const int8_t *c11 = xo + (((size_t)ia[1] * p->mid + m) * p->l_in1 + ib[1]) * p->inner;
                    /* int16 * int16 promotes to int, which may be 16 bits: widen first (each product <= 2^22) */
                    const int32_t w00 = (int32_t)wa[0] * wb[0], w01 = (int32_t)wa[0] * wb[1];
                    const int32_t w10 = (int32_t)wa[1] * wb[0], w11 = (int32_t)wa[1] * wb[1];
                    for (i = 0; i < p->inner; i++) {
                        const int32_t acc = w00 * c00[i] + w01 * c01[i] + w10 * c10[i] + w11 * c11[i];
                        y[out++] = (int8_t)qcc_rdbpot(acc, 22);
                    }
                }
            }
        }
    }
}

/* ---- layer normalization --------------------------------------------------------------------- */

void qcc_layer_norm_s8(const qcc_layer_norm_t *p, const int8_t *x, int8_t *y)
{
    int32_t r, i;
    for (r = 0; r < p->rows; r++) {
        const int8_t *xr = x + (size_t)r * p->n;
        int8_t *yr = y + (size_t)r * p->n;
        int32_t s1 = 0, pw = 0;
        int64_t v = 0, t;
        uint64_t root = 1;
        for (i = 0; i < p->n; i++) {
            s1 += xr[i] - p->in_zp;
        }
        for (i = 0; i < p->n; i++) {
            const int64_t d = (int64_t)p->n * (xr[i] - p->in_zp) - s1;
            v += d * d;
        }
        t = v + p->eps;
        if (t != 0) {
            /* (62 - b) / 2 rounded down, but never negative: T >= 2^62 (bit length 63) is not scaled */
            const int32_t b = qcc_bit_length((uint64_t)t);
            pw = b >= 62 ? 0 : (62 - b) >> 1;
            root = qcc_isqrt((uint64_t)t << (2 * pw));
        }
        for (i = 0; i < p->n; i++) {
            const int64_t d = (int64_t)p->n * (xr[i] - p->in_zp) - s1;
            const int64_t u = t == 0 ? 0 : qcc_rounding_divide(d * ((int64_t)1 << (pw + 30)), (int64_t)root);
            const int32_t acc = (int32_t)(p->gamma_sign[i] * u);
            yr[i] = (int8_t)qcc_requant32(acc, p->multiplier[i], p->shift[i], p->rounding, p->out_zp + p->beta[i], p->qmin,
                                          p->qmax);
        }
    }
}

/* ---- local response normalization ------------------------------------------------------------ */

#define QCC_LRN_TILE 64

void qcc_lrn_s8(const qcc_lrn_t *p, const int8_t *x, int8_t *y)
{
    const int32_t below = (p->size - 1) / 2;
    int32_t b, s0, c, j, k;
    for (b = 0; b < p->batch; b++) {
        const size_t base = (size_t)b * p->channels * p->spatial;
        for (s0 = 0; s0 < p->spatial; s0 += QCC_LRN_TILE) {
            const int32_t cols = p->spatial - s0 < QCC_LRN_TILE ? p->spatial - s0 : QCC_LRN_TILE;
            for (c = 0; c < p->channels; c++) {
                const int32_t first = c - below < 0 ? 0 : c - below;
                const int32_t end = c - below + p->size > p->channels ? p->channels : c - below + p->size;
                int32_t sums[QCC_LRN_TILE];
                for (k = 0; k < cols; k++) {
                    sums[k] = 0;
                }
                for (j = first; j < end; j++) {
                    const int8_t *xj = x + base + (size_t)j * p->spatial + s0;
                    for (k = 0; k < cols; k++) {
                        const int32_t d = xj[k] - p->in_zp;
                        sums[k] += d * d;
                    }
                }
                for (k = 0; k < cols; k++) {
                    const size_t at = base + (size_t)c * p->spatial + s0 + k;
                    const int32_t d = x[at] - p->in_zp;
                    int32_t u = sums[k] >> p->square_shift;
                    int32_t f;
                    u = u < 65535 ? u : 65535;
                    f = qcc_lut16(p->table, u - 32768);
                    y[at] = (int8_t)qcc_requant32(d * f, p->multiplier, p->shift, p->rounding, p->out_zp, p->qmin,
                                                  p->qmax);
                }
            }
        }
    }
}

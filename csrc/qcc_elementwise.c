/*
 * qcc_elementwise.c - element-wise integer ops: Add/Sub and Mul of two activations with
 * broadcasting (docs/arithmetic.md 3.3, 3.4), requantize (3.6) and per-axis requantize (3.17), lookup tables (3.7), clip (3.6)
 * and PRelu (3.12).
 *
 * int8 inputs take only 256 values, so per-input arithmetic that does not depend on the other
 * operand (Add's input rescale, Requantize) is precomputed by the code generator into tables with
 * the reference's own helpers; the kernels look it up and run the output stage over chunks.
 *
 * Every kernel reads element i of its operands before it writes element i of the result, so a
 * result may share memory with a same-shaped operand.
 */
#include "qcc_kernels.h"

#if defined(__AVX512VBMI__) && defined(__AVX512BW__)
#include <immintrin.h>
#endif

/* ---- add / sub ------------------------------------------------------------------------------- */

static int32_t add_one(const qcc_add_t *p, int32_t qa, int32_t qb)
{
    const int32_t scale = (int32_t)1 << p->left_shift; /* int may be 16 bits; left_shift <= 23 (verifier) */
    const int64_t ra = qcc_mul32((qa - p->a_zp) * scale, p->a_multiplier, p->a_shift, p->rounding);
    const int64_t rb = qcc_mul32((qb - p->b_zp) * scale, p->b_multiplier, p->b_shift, p->rounding);
    const int64_t sum = p->subtract ? ra - rb : ra + rb;
    return qcc_requant32((int32_t)sum, p->multiplier, p->shift, p->rounding, p->out_zp, p->qmin, p->qmax);
}

static void add_generic(const qcc_add_t *p, const void *a, const void *b, void *y, int32_t es)
{
    const size_t rows = qcc_bcast_rows(&p->shape);
    const int32_t inner = p->shape.dims[p->shape.ndim - 1];
    const size_t sa = (size_t)p->shape.a_stride[p->shape.ndim - 1], sb = (size_t)p->shape.b_stride[p->shape.ndim - 1];
    qcc_bcast_cursor c;
    size_t r, o = 0;
    int32_t j;
    qcc_bcast_start(&c);
    for (r = 0; r < rows; r++) {
        for (j = 0; j < inner; j++, o++) {
            qcc_store_elem(y, o, es, add_one(p, qcc_load_elem(a, c.a + j * sa, es), qcc_load_elem(b, c.b + j * sb, es)));
        }
        qcc_bcast_advance(&p->shape, &c);
    }
}

#define QCC_CHUNK 64

/* int8: the rescaled operands come from the precomputed tables; the sums of a chunk go through
 * the (vectorizable) row output stage. */
void qcc_add_s8(const qcc_add_t *p, const int8_t *a, const int8_t *b, int8_t *y)
{
    const size_t rows = qcc_bcast_rows(&p->shape);
    const int32_t inner = p->shape.dims[p->shape.ndim - 1];
    const size_t sa = (size_t)p->shape.a_stride[p->shape.ndim - 1], sb = (size_t)p->shape.b_stride[p->shape.ndim - 1];
    const int32_t *ta = p->a_table + 128, *tb = p->b_table + 128;
    int32_t sum[QCC_CHUNK];
    qcc_bcast_cursor c;
    size_t r, o = 0;
    int32_t j0, j;
    qcc_bcast_start(&c);
    for (r = 0; r < rows; r++) {
        const int8_t *ar = a + c.a, *br = b + c.b;
        for (j0 = 0; j0 < inner; j0 += QCC_CHUNK) {
            const int32_t n = inner - j0 < QCC_CHUNK ? inner - j0 : QCC_CHUNK;
            if (sa == 1 && sb == 1) {
                for (j = 0; j < n; j++) {
                    sum[j] = ta[ar[j0 + j]] + tb[br[j0 + j]];
                }
            } else {
                for (j = 0; j < n; j++) {
                    sum[j] = ta[ar[(j0 + j) * sa]] + tb[br[(j0 + j) * sb]];
                }
            }
            qcc_requant_row_s8(sum, n, p->multiplier, p->shift, p->rounding, p->out_zp, p->qmin, p->qmax, y + o, 1);
            o += (size_t)n;
        }
        qcc_bcast_advance(&p->shape, &c);
    }
}

void qcc_add_s16(const qcc_add_t *p, const int16_t *a, const int16_t *b, int16_t *y)
{
    add_generic(p, a, b, y, 2);
}

/* ---- mul ------------------------------------------------------------------------------------- */

static void mul_generic(const qcc_mul_t *p, const void *a, const void *b, void *y, int32_t es)
{
    const size_t rows = qcc_bcast_rows(&p->shape);
    const int32_t inner = p->shape.dims[p->shape.ndim - 1];
    const size_t sa = (size_t)p->shape.a_stride[p->shape.ndim - 1], sb = (size_t)p->shape.b_stride[p->shape.ndim - 1];
    qcc_bcast_cursor c;
    size_t r, o = 0;
    int32_t j;
    qcc_bcast_start(&c);
    for (r = 0; r < rows; r++) {
        for (j = 0; j < inner; j++, o++) {
            const int32_t acc = (qcc_load_elem(a, c.a + j * sa, es) - p->a_zp) * (qcc_load_elem(b, c.b + j * sb, es) - p->b_zp);
            qcc_store_elem(y, o, es, qcc_requant32(acc, p->multiplier, p->shift, p->rounding, p->out_zp, p->qmin, p->qmax));
        }
        qcc_bcast_advance(&p->shape, &c);
    }
}

void qcc_mul_s8(const qcc_mul_t *p, const int8_t *a, const int8_t *b, int8_t *y)
{
    const size_t rows = qcc_bcast_rows(&p->shape);
    const int32_t inner = p->shape.dims[p->shape.ndim - 1];
    const size_t sa = (size_t)p->shape.a_stride[p->shape.ndim - 1], sb = (size_t)p->shape.b_stride[p->shape.ndim - 1];
    int32_t prod[QCC_CHUNK];
    qcc_bcast_cursor c;
    size_t r, o = 0;
    int32_t j0, j;
    qcc_bcast_start(&c);
    for (r = 0; r < rows; r++) {
        const int8_t *ar = a + c.a, *br = b + c.b;
        for (j0 = 0; j0 < inner; j0 += QCC_CHUNK) {
            const int32_t n = inner - j0 < QCC_CHUNK ? inner - j0 : QCC_CHUNK;
            for (j = 0; j < n; j++) {
                prod[j] = ((int32_t)ar[(j0 + j) * sa] - p->a_zp) * ((int32_t)br[(j0 + j) * sb] - p->b_zp);
            }
            qcc_requant_row_s8(prod, n, p->multiplier, p->shift, p->rounding, p->out_zp, p->qmin, p->qmax, y + o, 1);
            o += (size_t)n;
        }
        qcc_bcast_advance(&p->shape, &c);
    }
}

void qcc_mul_s16(const qcc_mul_t *p, const int16_t *a, const int16_t *b, int16_t *y)
{
    mul_generic(p, a, b, y, 2);
}

/* ---- requantize ------------------------------------------------------------------------------ */

static void requantize_generic(const qcc_requantize_t *p, const void *x, int32_t xs, void *y, int32_t ys)
{
    int32_t i;
    for (i = 0; i < p->count; i++) {
        const int32_t acc = qcc_load_elem(x, (size_t)i, xs) - p->in_zp;
        qcc_store_elem(y, (size_t)i, ys, qcc_requant32(acc, p->multiplier, p->shift, p->rounding, p->out_zp, p->qmin, p->qmax));
    }
}

void qcc_requantize_s8_s8(const qcc_requantize_t *p, const int8_t *x, int8_t *y)
{
    int32_t i;
    for (i = 0; i < p->count; i++) {
        y[i] = (int8_t)p->table[(int32_t)x[i] + 128];
    }
}

void qcc_requantize_s8_s16(const qcc_requantize_t *p, const int8_t *x, int16_t *y)
{
    int32_t i;
    for (i = 0; i < p->count; i++) {
        y[i] = p->table[(int32_t)x[i] + 128];
    }
}

void qcc_requantize_s16_s8(const qcc_requantize_t *p, const int16_t *x, int8_t *y)
{
    requantize_generic(p, x, 2, y, 1);
}

void qcc_requantize_s16_s16(const qcc_requantize_t *p, const int16_t *x, int16_t *y)
{
    requantize_generic(p, x, 2, y, 2);
}

static void requantize_axis_generic(const qcc_requantize_axis_t *p, const void *x, void *y, int32_t es)
{
    int32_t o, c, i;
    size_t k = 0;
    for (o = 0; o < p->outer; o++) {
        for (c = 0; c < p->channels; c++) {
            for (i = 0; i < p->inner; i++, k++) {
                const int32_t acc = qcc_load_elem(x, k, es) - p->in_zp[c];
                qcc_store_elem(y, k, es, qcc_requant32(acc, p->multiplier[c], p->shift[c], p->rounding, p->out_zp[c], p->qmin, p->qmax));
            }
        }
    }
}

void qcc_requantize_axis_s8(const qcc_requantize_axis_t *p, const int8_t *x, int8_t *y)
{
    requantize_axis_generic(p, x, y, 1);
}

void qcc_requantize_axis_s16(const qcc_requantize_axis_t *p, const int16_t *x, int16_t *y)
{
    requantize_axis_generic(p, x, y, 2);
}

/* ---- lookup tables --------------------------------------------------------------------------- */

void qcc_lut_s8(const qcc_lut_s8_t *p, const int8_t *x, int8_t *y)
{
    int32_t i = 0;
#if defined(__AVX512VBMI__) && defined(__AVX512BW__)
    /* the table in four registers: x ^ 0x80 = x + 128 is the index; vpermi2b looks up its low 7
     * bits in entries 0-127 and in 128-255, bit 7 picks one of the two, 64 values per step */
    const __m512i t0 = _mm512_loadu_si512((const void *)p->table), t1 = _mm512_loadu_si512((const void *)(p->table + 64));
    const __m512i t2 = _mm512_loadu_si512((const void *)(p->table + 128)), t3 = _mm512_loadu_si512((const void *)(p->table + 192));
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    for (; i < p->count; i += 64) {
        const __mmask64 live = p->count - i >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << (p->count - i)) - 1u);
        const __m512i index = _mm512_xor_si512(_mm512_maskz_loadu_epi8(live, (const void *)(x + i)), flip);
        const __m512i low = _mm512_permutex2var_epi8(t0, index, t1), high = _mm512_permutex2var_epi8(t2, index, t3);
        _mm512_mask_storeu_epi8((void *)(y + i), live, _mm512_mask_blend_epi8(_mm512_movepi8_mask(index), low, high));
    }
#endif
    for (; i < p->count; i++) {
        y[i] = p->table[(int32_t)x[i] + 128];
    }
}

void qcc_lut_s16(const qcc_lut_s16_t *p, const int16_t *x, int16_t *y)
{
    int32_t i;
    for (i = 0; i < p->count; i++) {
        y[i] = (int16_t)qcc_lut16(p->table, x[i]);
    }
}

/* ---- clip ------------------------------------------------------------------------------------ */

void qcc_clip_s8(const qcc_clip_t *p, const int8_t *x, int8_t *y)
{
    int32_t i;
    for (i = 0; i < p->count; i++) {
        const int32_t v = x[i] < p->lo ? p->lo : x[i];
        y[i] = (int8_t)(v > p->hi ? p->hi : v);
    }
}

void qcc_clip_s16(const qcc_clip_t *p, const int16_t *x, int16_t *y)
{
    int32_t i;
    for (i = 0; i < p->count; i++) {
        const int32_t v = x[i] < p->lo ? p->lo : x[i];
        y[i] = (int16_t)(v > p->hi ? p->hi : v);
    }
}

/* ---- prelu ----------------------------------------------------------------------------------- */

void qcc_prelu_s8(const qcc_prelu_t *p, const int8_t *x, int8_t *y)
{
    const size_t rows = qcc_bcast_rows(&p->shape);
    const int32_t inner = p->shape.dims[p->shape.ndim - 1];
    const size_t sa = (size_t)p->shape.a_stride[p->shape.ndim - 1], sb = (size_t)p->shape.b_stride[p->shape.ndim - 1];
    qcc_bcast_cursor c;
    size_t r, o = 0;
    int32_t j;
    qcc_bcast_start(&c);
    for (r = 0; r < rows; r++) {
        for (j = 0; j < inner; j++, o++) {
            const int32_t d = (int32_t)x[c.a + j * sa] - p->in_zp;
            const size_t e = c.b + j * sb;
            int32_t v;
            if (d >= 0) {
                v = qcc_requant32(d, p->multiplier, p->shift, p->rounding, p->out_zp, p->qmin, p->qmax);
            } else {
                v = qcc_requant32(p->neg_sign[e] * d, p->neg_multiplier[e], p->neg_shift[e], p->rounding, p->out_zp,
                                  p->qmin, p->qmax);
            }
            y[o] = (int8_t)v;
        }
        qcc_bcast_advance(&p->shape, &c);
    }
}

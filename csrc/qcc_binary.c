/*
 * qcc_binary.c - integer ops between two activations that are neither sums nor products, with
 * broadcasting: Div (docs/arithmetic.md 3.14), Max / Min (3.15) and the two-input table used for
 * Pow (3.16).
 *
 * One walker visits the broadcast result in order and calls the op's element function, so the
 * broadcasting logic exists once. Every kernel reads element i of its operands before it writes
 * element i of the result, so a result may share memory with a same-shaped operand.
 */
#include "qcc_kernels.h"

typedef int32_t (*binary_elem_fn)(const void *params, int32_t qa, int32_t qb);

/* y[o] = fn(a[...], b[...]) over the broadcast result; es: element size of a, b and y (1 or 2). */
static void binary_walk(const qcc_bcast_t *shape, binary_elem_fn fn, const void *params, const void *a, const void *b,
                        void *y, int32_t es)
{
    const size_t rows = qcc_bcast_rows(shape);
    const int32_t inner = shape->dims[shape->ndim - 1];
    const size_t sa = (size_t)shape->a_stride[shape->ndim - 1], sb = (size_t)shape->b_stride[shape->ndim - 1];
    qcc_bcast_cursor c;
    size_t r, o = 0;
    int32_t j;
    qcc_bcast_start(&c);
    for (r = 0; r < rows; r++) {
        for (j = 0; j < inner; j++, o++) {
            const int32_t qa = qcc_load_elem(a, c.a + (size_t)j * sa, es);
            const int32_t qb = qcc_load_elem(b, c.b + (size_t)j * sb, es);
            qcc_store_elem(y, o, es, fn(params, qa, qb));
        }
        qcc_bcast_advance(shape, &c);
    }
}

/* ---- div ------------------------------------------------------------------------------------- */

/* round(a * m / (b * 2^(31 - shift))) half away from zero, + out_zp, clamped; b == 0 saturates by
 * the sign of a and 0 / 0 gives out_zp. |a * m| < 2^46 and |b| * 2^(31 - shift) <= 2^62. */
static int32_t div_one(const void *params, int32_t qa, int32_t qb)
{
    const qcc_div_t *p = (const qcc_div_t *)params;
    const int32_t a = qa - p->a_zp, b = qb - p->b_zp;
    int64_t numerator, denominator;
    if (b == 0) {
        return a > 0 ? p->qmax : (a < 0 ? p->qmin : qcc_clamp32(p->out_zp, p->qmin, p->qmax));
    }
    numerator = (int64_t)(b < 0 ? -a : a) * p->multiplier;
    denominator = (int64_t)(b < 0 ? -b : b) << (31 - p->shift);
    return (int32_t)qcc_clamp64(qcc_rounding_divide(numerator, denominator) + p->out_zp, p->qmin, p->qmax);
}

void qcc_div_s8(const qcc_div_t *p, const int8_t *a, const int8_t *b, int8_t *y)
{
    binary_walk(&p->shape, div_one, p, a, b, y, 1);
}

void qcc_div_s16(const qcc_div_t *p, const int16_t *a, const int16_t *b, int16_t *y)
{
    binary_walk(&p->shape, div_one, p, a, b, y, 2);
}

/* ---- max / min ------------------------------------------------------------------------------- */

/* Both operands requantized to the result's parameters (the q.requantize rule, clamped inside),
 * then the larger (or smaller). int8 reads the precomputed requantized values. */
static int32_t max_min_one(const void *params, int32_t qa, int32_t qb)
{
    const qcc_max_min_t *p = (const qcc_max_min_t *)params;
    int32_t ra, rb;
    if (p->a_table != NULL) {
        ra = p->a_table[qa + 128];
        rb = p->b_table[qb + 128];
    } else {
        ra = qcc_requant32(qa - p->a_zp, p->a_multiplier, p->a_shift, p->rounding, p->out_zp, p->qmin, p->qmax);
        rb = qcc_requant32(qb - p->b_zp, p->b_multiplier, p->b_shift, p->rounding, p->out_zp, p->qmin, p->qmax);
    }
    if (p->take_min) {
        return ra < rb ? ra : rb;
    }
    return ra > rb ? ra : rb;
}

void qcc_max_min_s8(const qcc_max_min_t *p, const int8_t *a, const int8_t *b, int8_t *y)
{
    binary_walk(&p->shape, max_min_one, p, a, b, y, 1);
}

void qcc_max_min_s16(const qcc_max_min_t *p, const int16_t *a, const int16_t *b, int16_t *y)
{
    binary_walk(&p->shape, max_min_one, p, a, b, y, 2);
}

/* ---- two-input table ------------------------------------------------------------------------- */

static int32_t lut2_one(const void *params, int32_t qa, int32_t qb)
{
    const qcc_lut2_t *p = (const qcc_lut2_t *)params;
    return p->table[(size_t)(qa + 128) * 256 + (size_t)(qb + 128)];
}

void qcc_lut2_s8(const qcc_lut2_t *p, const int8_t *a, const int8_t *b, int8_t *y)
{
    binary_walk(&p->shape, lut2_one, p, a, b, y, 1);
}

/*
 * qcc_pool.c - pooling and reductions: max pool, average pool (docs/arithmetic.md 3.5, 3.6),
 * mean (3.5) and reduce-max / global max pool (3.6).
 *
 * Pool windows: along each spatial axis, output o starts at o * stride - pad_begin and has
 * kernel taps dilation apart. Taps inside the input always count; taps on the explicit padding
 * count only for an average pool with count_include_pad (each adds zp); taps beyond the
 * padding (added by ceil_mode) never count. Max pool ignores every tap outside the input.
 */
#include "qcc_kernels.h"

/* Taps of output position o along one axis: how many lie inside the input and how many inside
 * the padded box [-pad_begin, size + pad_end). */
static void axis_counts(const qcc_pool_t *p, int32_t axis, int32_t o, int32_t *inside, int32_t *boxed)
{
    const int32_t start = o * p->stride[axis] - p->pad_begin[axis];
    int32_t t, in = 0, box = 0;
    for (t = 0; t < p->kernel[axis]; t++) {
        const int32_t pos = start + t * p->dilation[axis];
        in += pos >= 0 && pos < p->in_size[axis];
        box += pos >= -p->pad_begin[axis] && pos < p->in_size[axis] + p->pad_end[axis];
    }
    *inside = in;
    *boxed = box;
}

static void pool_generic(const qcc_pool_t *p, const void *x, void *y, int32_t es, int is_max)
{
    const int32_t id = p->in_size[0], ih = p->in_size[1], iw = p->in_size[2];
    const int32_t od = p->out_size[0], oh = p->out_size[1], ow = p->out_size[2];
    const size_t in_plane = (size_t)id * ih * iw, out_plane = (size_t)od * oh * ow;
    const int32_t lowest = es == 1 ? INT8_MIN : INT16_MIN;
    const int32_t vmin = es == 1 ? INT8_MIN : INT16_MIN, vmax = es == 1 ? INT8_MAX : INT16_MAX;
    int32_t plane, z, r, q, a, b, c;
    for (plane = 0; plane < p->planes; plane++) {
        const size_t xb = (size_t)plane * in_plane;
        size_t o = (size_t)plane * out_plane;
        for (z = 0; z < od; z++) {
            const int32_t z0 = z * p->stride[0] - p->pad_begin[0];
            int32_t in_z, box_z;
            axis_counts(p, 0, z, &in_z, &box_z);
            for (r = 0; r < oh; r++) {
                const int32_t r0 = r * p->stride[1] - p->pad_begin[1];
                int32_t in_r, box_r;
                axis_counts(p, 1, r, &in_r, &box_r);
                for (q = 0; q < ow; q++, o++) {
                    const int32_t q0 = q * p->stride[2] - p->pad_begin[2];
                    int64_t sum = 0;
                    int32_t best = lowest;
                    for (a = 0; a < p->kernel[0]; a++) {
                        const int32_t zi = z0 + a * p->dilation[0];
                        if (zi < 0 || zi >= id) {
                            continue;
                        }
                        for (b = 0; b < p->kernel[1]; b++) {
                            const int32_t yi = r0 + b * p->dilation[1];
                            if (yi < 0 || yi >= ih) {
                                continue;
                            }
                            for (c = 0; c < p->kernel[2]; c++) {
                                const int32_t xi = q0 + c * p->dilation[2];
                                int32_t v;
                                if (xi < 0 || xi >= iw) {
                                    continue;
                                }
                                v = qcc_load_elem(x, xb + ((size_t)zi * ih + yi) * iw + xi, es);
                                sum += v;
                                best = v > best ? v : best;
                            }
                        }
                    }
                    if (is_max) {
                        qcc_store_elem(y, o, es, best);
                    } else {
                        int32_t in_q, box_q;
                        int64_t n_in, n_box, n, avg;
                        axis_counts(p, 2, q, &in_q, &box_q);
                        n_in = (int64_t)in_z * in_r * in_q;
                        n_box = (int64_t)box_z * box_r * box_q;
                        n = n_in;
                        if (p->count_include_pad) {
                            sum += (int64_t)p->zp * (n_box - n_in);
                            n = n_box;
                        }
                        avg = n > 0 ? qcc_rounding_divide(sum, n) : 0;
                        qcc_store_elem(y, o, es, (int32_t)qcc_clamp64(avg, vmin, vmax));
                    }
                }
            }
        }
    }
}

void qcc_max_pool_s8(const qcc_pool_t *p, const int8_t *x, int8_t *y)
{
    pool_generic(p, x, y, 1, 1);
}

void qcc_max_pool_s16(const qcc_pool_t *p, const int16_t *x, int16_t *y)
{
    pool_generic(p, x, y, 2, 1);
}

void qcc_avg_pool_s8(const qcc_pool_t *p, const int8_t *x, int8_t *y)
{
    pool_generic(p, x, y, 1, 0);
}

void qcc_avg_pool_s16(const qcc_pool_t *p, const int16_t *x, int16_t *y)
{
    pool_generic(p, x, y, 2, 0);
}

/* ---- reductions ------------------------------------------------------------------------------ */

/* Advances an N-d counter over dims; returns the change of the element offset. */
static int64_t counter_step(int32_t ndim, const int32_t *dims, const int32_t *stride, int32_t *idx)
{
    int64_t delta = 0;
    int32_t i;
    for (i = ndim - 1; i >= 0; i--) {
        idx[i]++;
        delta += stride[i];
        if (idx[i] < dims[i]) {
            return delta;
        }
        delta -= (int64_t)stride[i] * dims[i];
        idx[i] = 0;
    }
    return delta;
}

static size_t count_of(int32_t ndim, const int32_t *dims)
{
    size_t n = 1;
    int32_t i;
    for (i = 0; i < ndim; i++) {
        n *= (size_t)dims[i];
    }
    return n;
}

static void reduce_generic(const qcc_reduce_t *p, const void *x, void *y, int32_t es, int is_max)
{
    const size_t outs = count_of(p->out_ndim, p->out_dims), reds = count_of(p->red_ndim, p->red_dims);
    const int32_t lowest = es == 1 ? INT8_MIN : INT16_MIN;
    int32_t oidx[QCC_MAX_DIMS] = {0};
    int64_t base = 0;
    size_t o, r;
    for (o = 0; o < outs; o++) {
        int32_t ridx[QCC_MAX_DIMS] = {0};
        int64_t at = base, sum = 0;
        int32_t best = lowest;
        for (r = 0; r < reds; r++) {
            const int32_t v = qcc_load_elem(x, (size_t)at, es);
            sum += v - p->in_zp;
            best = v > best ? v : best;
            at += counter_step(p->red_ndim, p->red_dims, p->red_stride, ridx);
        }
        if (is_max) {
            qcc_store_elem(y, o, es, best);
        } else {
            /* docs/arithmetic.md 3.5: the sum requantized once, M = s_in / (count * s_out); the
             * quantize pass proved |sum| fits int32 */
            qcc_store_elem(y, o, es, qcc_requant32((int32_t)sum, p->multiplier, p->shift, p->rounding, p->out_zp, p->qmin,
                                               p->qmax));
        }
        base += counter_step(p->out_ndim, p->out_dims, p->out_stride, oidx);
    }
}

void qcc_mean_s8(const qcc_reduce_t *p, const int8_t *x, int8_t *y)
{
    reduce_generic(p, x, y, 1, 0);
}

void qcc_mean_s16(const qcc_reduce_t *p, const int16_t *x, int16_t *y)
{
    reduce_generic(p, x, y, 2, 0);
}

void qcc_reduce_max_s8(const qcc_reduce_t *p, const int8_t *x, int8_t *y)
{
    reduce_generic(p, x, y, 1, 1);
}

void qcc_reduce_max_s16(const qcc_reduce_t *p, const int16_t *x, int16_t *y)
{
    reduce_generic(p, x, y, 2, 1);
}

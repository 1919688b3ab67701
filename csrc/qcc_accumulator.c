/*
 * qcc_accumulator.c - convolutions and fully connected layers that return their int32 accumulator
 * (docs/arithmetic.md 3.20, the scheme's outputs=accumulator).
 *
 *   qcc_conv_acc_s8   acc = bias + sum (x - in_zp) * w over the in-bounds taps of each output,
 *                     clamped to [acc_min[c], acc_max[c]], stored as int32
 *   qcc_fc_acc_s8     acc = bias + sum_k (a - in_zp) * w, the same clamp per output column
 *
 * These run only for layers whose result is a graph output, so they are the portable loops: the
 * accumulator is summed in int64 (it fits int32: the quantize pass proved it) and no requantization
 * follows. Weights may be packed 4-bit (qcc_int4.h), read one by index.
 */
#include "qcc_int4.h"
#include "qcc_kernels.h"

static int32_t clamp_acc(int64_t acc, int32_t lo, int32_t hi)
{
    return acc < lo ? lo : (acc > hi ? hi : (int32_t)acc);
}

/* bias + sum of one output position's taps (z, r, col) of output channel co in batch n. */
static int64_t conv_tap_sum(const qcc_conv_t *p, const int8_t *x, int32_t n, int32_t co, int32_t z, int32_t r, int32_t col)
{
    const int32_t cig = p->in_c / p->groups, g = co / (p->out_c / p->groups);
    const int32_t id = p->in_size[0], ih = p->in_size[1], iw = p->in_size[2];
    const int32_t kd = p->kernel[0], kh = p->kernel[1], kw = p->kernel[2];
    const size_t in_plane = (size_t)id * ih * iw;
    int64_t acc = p->bias ? p->bias[co] : 0;
    int32_t ci, a, b, c;
    for (ci = 0; ci < cig; ci++) {
        const int8_t *plane = x + ((size_t)n * p->in_c + (size_t)g * cig + ci) * in_plane;
        for (a = 0; a < kd; a++) {
            const int32_t zi = z * p->stride[0] - p->pad[0] + a * p->dilation[0];
            for (b = 0; b < kh && zi >= 0 && zi < id; b++) {
                const int32_t yi = r * p->stride[1] - p->pad[1] + b * p->dilation[1];
                for (c = 0; c < kw && yi >= 0 && yi < ih; c++) {
                    const int32_t xi = col * p->stride[2] - p->pad[2] + c * p->dilation[2];
                    const size_t tap = (size_t)co * cig * kd * kh * kw + (size_t)(((ci * kd + a) * kh + b) * kw + c);
                    if (xi >= 0 && xi < iw) {
                        acc += (int64_t)qcc_weight_at(p->weight, p->weight_bits, tap) * (plane[((size_t)zi * ih + yi) * iw + xi] - p->in_zp);
                    }
                }
            }
        }
    }
    return acc;
}

void qcc_conv_acc_s8(const qcc_conv_acc_t *p, const int8_t *x, int32_t *y)
{
    const qcc_conv_t *cv = &p->conv;
    const int32_t od = cv->out_size[0], oh = cv->out_size[1], ow = cv->out_size[2];
    size_t o = 0;
    int32_t n, co, z, r, col;
    for (n = 0; n < cv->batch; n++) {
        for (co = 0; co < cv->out_c; co++) {
            for (z = 0; z < od; z++) {
                for (r = 0; r < oh; r++) {
                    for (col = 0; col < ow; col++, o++) {
                        y[o] = clamp_acc(conv_tap_sum(cv, x, n, co, z, r, col), p->acc_min[co], p->acc_max[co]);
                    }
                }
            }
        }
    }
}

void qcc_fc_acc_s8(const qcc_fc_acc_t *p, const int8_t *a, int32_t *y)
{
    const qcc_fc_t *fc = &p->fc;
    int32_t i, j, kk;
    for (i = 0; i < fc->m; i++) {
        for (j = 0; j < fc->n; j++) {
            const size_t w = (size_t)j * fc->k_stride; /* this column's first weight */
            int64_t acc = fc->bias ? fc->bias[j] : 0;
            for (kk = 0; kk < fc->k; kk++) {
                const size_t at = (size_t)i * fc->a_row_stride + (size_t)kk * fc->a_col_stride;
                acc += (int64_t)qcc_weight_at(fc->weight, fc->weight_bits, w + (size_t)kk) * (a[at] - fc->in_zp);
            }
            y[(size_t)i * fc->n + j] = clamp_acc(acc, p->acc_min[j], p->acc_max[j]);
        }
    }
}

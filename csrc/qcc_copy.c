/*
 * qcc_copy.c - data movement: one strided/tabled copy kernel and fills (docs/arithmetic.md 3.6).
 *
 * The code generator expresses transpose, slice, split, concat, pad, gather, expand, tile and
 * nearest resize as copies whose source offset is a sum of per-axis terms (an affine step or a
 * table), so none of them needs a kernel of its own. Values are moved, never computed.
 */
#include "qcc_kernels.h"

#include <string.h>

static int64_t in_term(const qcc_copy_t *p, int32_t axis, int32_t i)
{
    return p->in_table[axis] != NULL ? (int64_t)p->in_table[axis][i] : (int64_t)i * p->in_step[axis];
}

static void copy_row(const qcc_copy_t *p, const uint8_t *x, uint8_t *y, int64_t in_at, int64_t out_at)
{
    const int32_t last = p->ndim - 1, n = p->dims[last], es = p->elem_size;
    const int32_t *table = p->in_table[last];
    const int32_t out_step = p->out_stride[last];
    int32_t j;
    if (table == NULL && p->in_step[last] == 1 && out_step == 1) {
        memcpy(y + out_at * es, x + in_at * es, (size_t)n * (size_t)es);
        return;
    }
    for (j = 0; j < n; j++) {
        const int64_t src = in_at + (table != NULL ? (int64_t)table[j] : (int64_t)j * p->in_step[last]);
        const int64_t dst = out_at + (int64_t)j * out_step;
        if (es == 1) {
            y[dst] = x[src];
        } else if (es == 2) {
            ((uint16_t *)(void *)y)[dst] = ((const uint16_t *)(const void *)x)[src];
        } else {
            memcpy(y + dst * es, x + src * es, (size_t)es);
        }
    }
}

void qcc_copy(const qcc_copy_t *p, const void *x, void *y)
{
    const uint8_t *xb = (const uint8_t *)x;
    uint8_t *yb = (uint8_t *)y;
    int32_t idx[QCC_MAX_DIMS] = {0};
    int32_t i;
    for (i = 0; i < p->ndim; i++) {
        if (p->dims[i] == 0) {
            return;
        }
    }
    for (;;) {
        int64_t in_at = p->in_offset, out_at = p->out_offset;
        for (i = 0; i + 1 < p->ndim; i++) {
            in_at += in_term(p, i, idx[i]);
            out_at += (int64_t)idx[i] * p->out_stride[i];
        }
        copy_row(p, xb, yb, in_at, out_at);
        for (i = p->ndim - 2; i >= 0; i--) {
            if (++idx[i] < p->dims[i]) {
                break;
            }
            idx[i] = 0;
        }
        if (i < 0) {
            return;
        }
    }
}

void qcc_fill_s8(int8_t *y, int32_t count, int32_t value)
{
    memset(y, (int8_t)value, (size_t)count);
}

void qcc_fill_s16(int16_t *y, int32_t count, int32_t value)
{
    int32_t i;
    for (i = 0; i < count; i++) {
        y[i] = (int16_t)value;
    }
}

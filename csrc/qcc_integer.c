/*
 * qcc_integer.c - integer data as the model receives it (docs/arithmetic.md 3.18): byte values,
 * token ids, 0/1 flags. q.from_int turns such data into an activation (clamp, then the output
 * stage of 2.5); the run-time gather looks rows of an activation up by such indices (an
 * embedding lookup).
 */
#include <string.h>

#include "qcc_kernels.h"

/* Element i of plain integer data of the given kind (QCC_PLAIN_*). */
static int64_t load_plain(const void *x, size_t i, int32_t kind)
{
    switch (kind) {
    case QCC_PLAIN_U8:
        return (int64_t)((const uint8_t *)x)[i];
    case QCC_PLAIN_S8:
        return (int64_t)((const int8_t *)x)[i];
    case QCC_PLAIN_S16:
        return (int64_t)((const int16_t *)x)[i];
    case QCC_PLAIN_S32:
        return (int64_t)((const int32_t *)x)[i];
    default:
        return ((const int64_t *)x)[i];
    }
}

/* Store v, which fits the kind, as element i of plain integer data. */
static void store_plain(void *y, size_t i, int32_t kind, int64_t v)
{
    switch (kind) {
    case QCC_PLAIN_U8:
        ((uint8_t *)y)[i] = (uint8_t)v;
        break;
    case QCC_PLAIN_S8:
        ((int8_t *)y)[i] = (int8_t)v;
        break;
    case QCC_PLAIN_S16:
        ((int16_t *)y)[i] = (int16_t)v;
        break;
    case QCC_PLAIN_S32:
        ((int32_t *)y)[i] = (int32_t)v;
        break;
    default:
        ((int64_t *)y)[i] = v;
        break;
    }
}

void qcc_from_int(const qcc_from_int_t *p, const void *x, void *y)
{
    int32_t i;
    for (i = 0; i < p->count; i++) {
        int64_t v = load_plain(x, (size_t)i, p->in_kind);
        v = v < p->in_min ? p->in_min : (v > p->in_max ? p->in_max : v);
        qcc_store_elem(y, (size_t)i, p->out_size,
                       qcc_requant32((int32_t)v, p->multiplier, p->shift, p->rounding, p->out_zp, p->qmin, p->qmax));
    }
}

void qcc_gather_rows(const qcc_gather_t *p, const void *data, const void *indices, void *y)
{
    const size_t row = (size_t)p->inner * (size_t)p->elem_size;
    int32_t o, j;
    for (o = 0; o < p->outer; o++) {
        for (j = 0; j < p->count; j++) {
            int64_t k = load_plain(indices, (size_t)j, p->index_kind);
            if (k < 0) {
                k += p->axis_len;
            }
            /* an index outside [-n, n) is invalid input (the reference refuses it); never read
             * outside the data for one */
            k = k < 0 ? 0 : (k >= p->axis_len ? p->axis_len - 1 : k);
            memcpy((uint8_t *)y + ((size_t)o * (size_t)p->count + (size_t)j) * row,
                   (const uint8_t *)data + ((size_t)o * (size_t)p->axis_len + (size_t)k) * row, row);
        }
    }
}

void qcc_clip_plain(const qcc_clip_plain_t *p, const void *x, void *y)
{
    int32_t i;
    for (i = 0; i < p->count; i++) {
        int64_t v = load_plain(x, (size_t)i, p->kind);
        v = v < p->lo ? p->lo : v;
        store_plain(y, (size_t)i, p->kind, v > p->hi ? p->hi : v);
    }
}

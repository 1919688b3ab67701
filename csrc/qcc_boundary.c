/*
 * qcc_boundary.c - the optional float <-> integer helpers at a model's boundary (docs/arithmetic.md
 * 1.2). The only floating point in the library; the integer
 * kernels never call it.
 *
 * quantize: v = nearbyintf(x / scale) in float32 (ties to even under the default rounding mode),
 * clamped to [qmin - zp, qmax - zp] as a float before the conversion (so +-inf and huge values
 * saturate instead of being undefined), then + zp. NaN has no quantized value: it is written as
 * zp and counted. NaN and infinity are told apart on the bit pattern, so that fast-math builds
 * (-Ofast, -ffast-math) keep this behaviour. Requires FLT_EVAL_METHOD == 0 (SSE, Arm), as numpy's
 * float32 arithmetic.
 * dequantize: (float)(q - zp) * scale; a joined graph output (docs/arithmetic.md 3.17) has one
 * scale and zero point per index c of one axis, the tensor seen as [outer, channels, inner].
 */
#include "qcc_kernels.h"

#include <math.h>
#include <string.h>

/* The IEEE-754 binary32 bit pattern of x. NaN and infinity are recognised on it (exponent all
 * ones) rather than with 'x != x' or isnan()/isinf(): -ffast-math, -Ofast and -ffinite-math-only
 * let the compiler assume neither exists and delete such tests, and then NaN reached the
 * float -> int conversion, which is undefined. An integer test on the bits cannot be removed. */
static uint32_t float_bits(float x)
{
    uint32_t bits;
    memcpy(&bits, &x, sizeof bits);
    return bits;
}

#define QCC_F32_ABS_MASK 0x7FFFFFFFu
#define QCC_F32_INF_BITS 0x7F800000u
#define QCC_F32_SIGN_BIT 0x80000000u

static int32_t quantize_one(float x, float scale, int32_t zp, int32_t qmin, int32_t qmax, int32_t *nan_count)
{
    const float lo = (float)(qmin - zp), hi = (float)(qmax - zp);
    float v;
    uint32_t bits;
    if ((float_bits(x) & QCC_F32_ABS_MASK) > QCC_F32_INF_BITS) {
        (*nan_count)++;
        return zp;
    }
    v = nearbyintf(x / scale);
    /* x is not NaN and scale is finite and > 0, so v is a number or +-inf (x infinite, or x / scale
     * past FLT_MAX): infinity saturates by its sign without a float comparison. */
    bits = float_bits(v);
    if ((bits & QCC_F32_ABS_MASK) == QCC_F32_INF_BITS) {
        return (bits & QCC_F32_SIGN_BIT) != 0 ? qmin : qmax;
    }
    v = v < lo ? lo : (v > hi ? hi : v);
    return (int32_t)v + zp;
}

int32_t qcc_quantize_f32_s8(const float *x, int8_t *q, int32_t count, float scale, int32_t zp)
{
    int32_t i, nans = 0;
    for (i = 0; i < count; i++) {
        q[i] = (int8_t)quantize_one(x[i], scale, zp, QCC_ACT8_MIN, QCC_ACT8_MAX, &nans);
    }
    return nans;
}

/* An int8 input on a narrower grid (b < 8 bits, docs/arithmetic.md 3.19): the same rule, clamped
 * to that grid's [qmin, qmax]. */
int32_t qcc_quantize_f32_s8_range(const float *x, int8_t *q, int32_t count, float scale, int32_t zp,
                                  int32_t qmin, int32_t qmax)
{
    int32_t i, nans = 0;
    for (i = 0; i < count; i++) {
        q[i] = (int8_t)quantize_one(x[i], scale, zp, qmin, qmax, &nans);
    }
    return nans;
}

int32_t qcc_quantize_f32_s16(const float *x, int16_t *q, int32_t count, float scale, int32_t zp)
{
    int32_t i, nans = 0;
    for (i = 0; i < count; i++) {
        q[i] = (int16_t)quantize_one(x[i], scale, zp, QCC_ACT16_MIN, QCC_ACT16_MAX, &nans);
    }
    return nans;
}

void qcc_dequantize_s8_f32(const int8_t *q, float *y, int32_t count, float scale, int32_t zp)
{
    int32_t i;
    for (i = 0; i < count; i++) {
        y[i] = (float)((int32_t)q[i] - zp) * scale;
    }
}

void qcc_dequantize_s16_f32(const int16_t *q, float *y, int32_t count, float scale, int32_t zp)
{
    int32_t i;
    for (i = 0; i < count; i++) {
        y[i] = (float)((int32_t)q[i] - zp) * scale;
    }
}

/* es = 1, 2 or 4 (int32 accumulator outputs); the difference is taken in int64, as an int32
   value minus its zero point can leave int32. */
static void dequantize_axis(const void *q, int32_t es, float *y, int32_t outer, int32_t channels, int32_t inner,
                            const float *scale, const int32_t *zp)
{
    int32_t o, c, i;
    size_t k = 0;
    for (o = 0; o < outer; o++) {
        for (c = 0; c < channels; c++) {
            for (i = 0; i < inner; i++, k++) {
                int64_t v = es == 4 ? (int64_t)((const int32_t *)q)[k] : (int64_t)qcc_load_elem(q, k, es);
                y[k] = (float)(v - zp[c]) * scale[c];
            }
        }
    }
}

void qcc_dequantize_axis_s8_f32(const int8_t *q, float *y, int32_t outer, int32_t channels, int32_t inner,
                                const float *scale, const int32_t *zp)
{
    dequantize_axis(q, 1, y, outer, channels, inner, scale, zp);
}

void qcc_dequantize_axis_s16_f32(const int16_t *q, float *y, int32_t outer, int32_t channels, int32_t inner,
                                 const float *scale, const int32_t *zp)
{
    dequantize_axis(q, 2, y, outer, channels, inner, scale, zp);
}

/* int32 accumulator outputs: the difference in int64 (exact), then float32 as the reference does. */
void qcc_dequantize_s32_f32(const int32_t *q, float *y, int32_t count, float scale, int32_t zp)
{
    int32_t i;
    for (i = 0; i < count; i++) {
        y[i] = (float)((int64_t)q[i] - zp) * scale;
    }
}

void qcc_dequantize_axis_s32_f32(const int32_t *q, float *y, int32_t outer, int32_t channels, int32_t inner,
                                 const float *scale, const int32_t *zp)
{
    dequantize_axis(q, 4, y, outer, channels, inner, scale, zp);
}

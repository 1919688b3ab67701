/*
 * qcc_arith.h - the integer arithmetic of qcc (docs/arithmetic.md),
 * as static inline functions shared by every kernel.
 *
 * Everything here is exact integer arithmetic on <stdint.h> types; no floating point.
 * The exact-width types are two's complement by C99 7.18.1.1, so '&' on negative values is
 * well defined. Right shifts of negative values are implementation-defined in C99, so
 * floor division by a power of two is written portably (qcc_asr64 / qcc_asr32); compilers turn
 * it into one arithmetic shift. Left shifts of negative values are undefined, so scaling up is
 * written as a multiplication.
 *
 * The functions mirror qcc.arith.fixedpoint one for one; that module is the reference
 * and the tests compare the two with exact equality.
 */
#ifndef QCC_ARITH_H
#define QCC_ARITH_H

#include <stdint.h>
#include <string.h>
#if defined(__AVX2__)
#include <immintrin.h>
#endif

/* Activation ranges (docs/arithmetic.md): int8 asymmetric, int16 symmetric and restricted.
 * qcc.arith.fixedpoint.activation_range is the definition; a test compares these with it. */
#define QCC_ACT8_MIN (-128)
#define QCC_ACT8_MAX 127
#define QCC_ACT16_MIN (-32767)
#define QCC_ACT16_MAX 32767

/* Requantization rounding modes (the target's choice; docs/arithmetic.md 2.3). */
#define QCC_ROUND_DOUBLE 0
#define QCC_ROUND_SINGLE 1

/* floor(x / 2^k) for 0 <= k <= 63, whatever the sign of x. */
static inline int64_t qcc_asr64(int64_t x, int32_t k)
{
    return x < 0 ? ~(~x >> k) : x >> k;
}

/* floor(x / 2^k) for 0 <= k <= 31. */
static inline int32_t qcc_asr32(int32_t x, int32_t k)
{
    return x < 0 ? ~(~x >> k) : x >> k;
}

static inline int64_t qcc_clamp64(int64_t v, int64_t lo, int64_t hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}

static inline int32_t qcc_clamp32(int32_t v, int32_t lo, int32_t hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}

/* gemmlowp SaturatingRoundingDoublingHighMul: floor((a*b + 2^30) / 2^31), ties toward +inf,
 * except INT32_MIN * INT32_MIN -> INT32_MAX (docs/arithmetic.md 2.1). */
static inline int32_t qcc_srdhm(int32_t a, int32_t b)
{
    if (a == INT32_MIN && b == INT32_MIN) {
        return INT32_MAX;
    }
    return (int32_t)qcc_asr64((int64_t)a * (int64_t)b + ((int64_t)1 << 30), 31);
}

/* gemmlowp RoundingDivideByPOT: x / 2^e, nearest, ties away from zero; 0 <= e <= 31
 * (docs/arithmetic.md 2.2). */
static inline int32_t qcc_rdbpot(int32_t x, int32_t e)
{
    const int64_t mask = ((int64_t)1 << e) - 1;
    const int64_t rem = (int64_t)x & mask;
    const int64_t thr = (mask >> 1) + (x < 0 ? 1 : 0);
    return (int32_t)(qcc_asr64((int64_t)x, e) + (rem > thr ? 1 : 0));
}

/* The double-rounding 32-bit rule: SRDHM(acc * 2^max(shift, 0), m), then RDBPOT by max(-shift, 0).
 * The quantize pass proves acc * 2^max(shift, 0) fits int32. */
static inline int64_t qcc_mul_double(int32_t acc, int32_t multiplier, int32_t shift)
{
    const int32_t left = shift > 0 ? shift : 0;
    const int32_t right = shift > 0 ? 0 : -shift;
    const int32_t x = (int32_t)((int64_t)acc * ((int64_t)1 << left));
    return (int64_t)qcc_rdbpot(qcc_srdhm(x, multiplier), right);
}

/* The single-rounding 32-bit rule: (acc * m + 2^(t-1)) >> t with t = 31 - shift, in int64,
 * ties toward +inf; the result is not narrowed (docs/arithmetic.md 2.3). */
static inline int64_t qcc_mul_single(int32_t acc, int32_t multiplier, int32_t shift)
{
    const int32_t t = 31 - shift;
    return qcc_asr64((int64_t)acc * (int64_t)multiplier + ((int64_t)1 << (t - 1)), t);
}

static inline int64_t qcc_mul32(int32_t acc, int32_t multiplier, int32_t shift, int32_t rounding)
{
    return rounding == QCC_ROUND_SINGLE ? qcc_mul_single(acc, multiplier, shift)
                                        : qcc_mul_double(acc, multiplier, shift);
}

/* TFLite's int64-accumulator rule, both modes: the multiplier rounded to 15 bits,
 * (acc * m15 + 2^(t-1)) >> t with t = 15 - shift (docs/arithmetic.md 2.4). */
static inline int64_t qcc_mul64(int64_t acc, int32_t multiplier, int32_t shift)
{
    const int64_t m15 = multiplier < 0x7FFF0000 ? ((int64_t)multiplier + 32768) >> 16 : 0x7FFF;
    const int32_t t = 15 - shift;
    return qcc_asr64(acc * m15 + ((int64_t)1 << (t - 1)), t);
}

/* Output stage (docs/arithmetic.md 2.5): scaled value + zero point, clamped, in int64. */
static inline int32_t qcc_requant32(int32_t acc, int32_t multiplier, int32_t shift, int32_t rounding,
                                    int32_t out_zp, int32_t qmin, int32_t qmax)
{
    return (int32_t)qcc_clamp64(qcc_mul32(acc, multiplier, shift, rounding) + out_zp, qmin, qmax);
}

static inline int32_t qcc_requant64(int64_t acc, int32_t multiplier, int32_t shift,
                                    int32_t out_zp, int32_t qmin, int32_t qmax)
{
    return (int32_t)qcc_clamp64(qcc_mul64(acc, multiplier, shift) + out_zp, qmin, qmax);
}

/* The output stage over a row of int32 accumulators sharing one (multiplier, shift) - the
 * common case of one output channel. Written without data-dependent branches so that compilers
 * vectorize it; the multiplier is never INT32_MIN (it lies in [0, 2^31 - 1]), so SRDHM's
 * saturation case cannot occur here. */
#if defined(__AVX2__)
/* Eight lanes of the output stage with AVX2. 64-bit products come from vpmuldq on the even and
 * the odd lanes; floor shifts of negative int64 values use ~(~x >> t) (AVX2 has no 64-bit
 * arithmetic shift); results are clamped before narrowing, so nothing wraps. Equal, lane by lane,
 * to qcc_requant32. */
static inline __m256i qcc_asr64_avx2(__m256i x, __m128i t)
{
    const __m256i sign = _mm256_cmpgt_epi64(_mm256_setzero_si256(), x);
    return _mm256_xor_si256(_mm256_srl_epi64(_mm256_xor_si256(x, sign), t), sign);
}

static inline __m256i qcc_clamp64_avx2(__m256i v, __m256i lo, __m256i hi)
{
    v = _mm256_blendv_epi8(v, lo, _mm256_cmpgt_epi64(lo, v));
    return _mm256_blendv_epi8(v, hi, _mm256_cmpgt_epi64(v, hi));
}

static inline __m256i qcc_requant8_avx2(__m256i acc, int32_t multiplier, int32_t shift, int32_t rounding, int32_t out_zp,
                                        int32_t qmin, int32_t qmax)
{
    const __m256i m = _mm256_set1_epi32(multiplier);
    __m256i even, odd, v;
    if (rounding == QCC_ROUND_SINGLE) {
        const int32_t t = 31 - shift;
        const __m128i tt = _mm_cvtsi32_si128(t);
        const __m256i nudge = _mm256_set1_epi64x((int64_t)1 << (t - 1));
        const __m256i lo = _mm256_set1_epi64x((int64_t)qmin - out_zp), hi = _mm256_set1_epi64x((int64_t)qmax - out_zp);
        even = qcc_clamp64_avx2(qcc_asr64_avx2(_mm256_add_epi64(_mm256_mul_epi32(acc, m), nudge), tt), lo, hi);
        odd = qcc_clamp64_avx2(qcc_asr64_avx2(_mm256_add_epi64(_mm256_mul_epi32(_mm256_srli_epi64(acc, 32), m), nudge), tt), lo, hi);
        v = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
        return _mm256_add_epi32(v, _mm256_set1_epi32(out_zp));
    } else {
        const int32_t left = shift > 0 ? shift : 0, right = shift > 0 ? 0 : -shift;
        const __m256i nudge = _mm256_set1_epi64x((int64_t)1 << 30);
        const __m256i mask = _mm256_set1_epi32((int32_t)(((int64_t)1 << right) - 1));
        const __m256i x = _mm256_sllv_epi32(acc, _mm256_set1_epi32(left));
        __m256i high, rem, thr;
        /* SRDHM: bits 31..62 of x * m + 2^30 (the result fits int32) */
        even = _mm256_srli_epi64(_mm256_add_epi64(_mm256_mul_epi32(x, m), nudge), 31);
        odd = _mm256_slli_epi64(_mm256_add_epi64(_mm256_mul_epi32(_mm256_srli_epi64(x, 32), m), nudge), 1);
        high = _mm256_blend_epi32(even, odd, 0xAA);
        /* RDBPOT */
        rem = _mm256_and_si256(high, mask);
        thr = _mm256_sub_epi32(_mm256_srli_epi32(mask, 1), _mm256_srai_epi32(high, 31));
        v = _mm256_sub_epi32(_mm256_sra_epi32(high, _mm_cvtsi32_si128(right)), _mm256_cmpgt_epi32(rem, thr));
        /* clamp before adding the zero point, so that nothing wraps */
        v = _mm256_min_epi32(_mm256_max_epi32(v, _mm256_set1_epi32(qmin - out_zp)), _mm256_set1_epi32(qmax - out_zp));
        return _mm256_add_epi32(v, _mm256_set1_epi32(out_zp));
    }
}
#endif

static inline void qcc_requant_row_s8(const int32_t *acc, int32_t n, int32_t multiplier, int32_t shift,
                                      int32_t rounding, int32_t out_zp, int32_t qmin, int32_t qmax,
                                      int8_t *y, int32_t y_stride)
{
    int32_t j = 0;
#if defined(__AVX2__)
    if (y_stride == 1) {
        for (; j + 8 <= n; j += 8) {
            const __m256i v = qcc_requant8_avx2(_mm256_loadu_si256((const __m256i *)(const void *)(acc + j)), multiplier, shift,
                                                rounding, out_zp, qmin, qmax);
            const __m256i w = _mm256_packs_epi16(_mm256_packs_epi32(v, v), _mm256_setzero_si256());
            const int32_t lo = _mm_cvtsi128_si32(_mm256_castsi256_si128(w));
            const int32_t hi = _mm_cvtsi128_si32(_mm256_extracti128_si256(w, 1));
            memcpy(y + j, &lo, 4);
            memcpy(y + j + 4, &hi, 4);
        }
    }
#endif
    if (rounding == QCC_ROUND_SINGLE) {
        const int32_t t = 31 - shift;
        const int64_t nudge = (int64_t)1 << (t - 1);
        for (; j < n; j++) {
            const int64_t v = qcc_asr64((int64_t)acc[j] * multiplier + nudge, t) + out_zp;
            y[j * y_stride] = (int8_t)(v < qmin ? qmin : (v > qmax ? qmax : v));
        }
    } else {
        const int32_t left = shift > 0 ? shift : 0;
        const int32_t right = shift > 0 ? 0 : -shift;
        const int64_t mask = ((int64_t)1 << right) - 1;
        const int64_t half = mask >> 1;
        for (; j < n; j++) {
            const int64_t x = (int64_t)acc[j] * ((int64_t)1 << left);
            const int64_t high = qcc_asr64(x * multiplier + ((int64_t)1 << 30), 31);
            const int64_t v = qcc_asr64(high, right) + ((high & mask) > half + (high < 0 ? 1 : 0) ? 1 : 0) + out_zp;
            y[j * y_stride] = (int8_t)(v < qmin ? qmin : (v > qmax ? qmax : v));
        }
    }
}

/* Average-pool / mean division: acc / n rounded to nearest, ties away from zero (C division
 * truncates toward zero; docs/arithmetic.md 3.5). n >= 1. */
static inline int64_t qcc_rounding_divide(int64_t acc, int64_t n)
{
    const int64_t half = n / 2;
    return acc > 0 ? (acc + half) / n : (acc - half) / n;
}

/* Interpolated lookup of an int16 value in a 513-entry table (docs/arithmetic.md 3.7). */
static inline int32_t qcc_lut16(const int16_t *table, int32_t q)
{
    const int32_t u = q + 32768;
    const int32_t i = u >> 7;
    const int32_t f = u & 127;
    const int32_t base = table[i];
    const int32_t slope = (int32_t)table[i + 1] - base;
    return base + qcc_asr32(slope * f + 64, 7);
}

/* Number of bits of a non-negative value (0 for 0). */
static inline int32_t qcc_bit_length(uint64_t x)
{
    int32_t n = 0;
    while (x != 0) {
        n++;
        x >>= 1;
    }
    return n;
}

/* floor(sqrt(x)) for every uint64 x, exactly (bit-by-bit method; 2^62 is the largest power of four
 * that fits, so the first bit is right for any x). */
static inline uint64_t qcc_isqrt(uint64_t x)
{
    uint64_t result = 0;
    uint64_t bit = (uint64_t)1 << 62;
    while (bit > x) {
        bit >>= 2;
    }
    while (bit != 0) {
        if (x >= result + bit) {
            x -= result + bit;
            result = (result >> 1) + bit;
        } else {
            result >>= 1;
        }
        bit >>= 2;
    }
    return result;
}

#endif /* QCC_ARITH_H */

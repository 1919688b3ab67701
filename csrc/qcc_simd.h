/*
 * qcc_simd.h - the vector path the int8 dot-product kernels (qcc_conv.c, qcc_gemm.c) compile to,
 * chosen once at compile time from the compiler's target macros:
 *
 *   QCC_VNNI 512   AVX-512 VNNI + BW: vpdpbusd on 512-bit vectors (16 int32 lanes)
 *   QCC_VNNI 256   AVX-VNNI, or AVX-512 VNNI + VL: vpdpbusd on 256-bit vectors (8 lanes)
 *   QCC_VNNI 0     no VNNI: the AVX2 vpmaddwd kernels when __AVX2__, else portable C
 *
 * Flags for a standalone build (the generated Makefile's CFLAGS): -march=native picks the best
 * path of the build machine; -mavx512vnni -mavx512bw (or -march=icelake-server and later) the
 * 512-bit path; -mavxvnni -mavx2 (or -march=alderlake) the 256-bit one; -mavx2 -mfma the AVX2 path;
 * nothing the portable one. Every path gives the same bytes (tests/backends/c/test_vnni_paths.py).
 *
 * The VNNI paths multiply unsigned activations by signed weights, so the kernels shift int8
 * activations to u8 (x + 128; padding becomes zp + 128) on every path and the code generator
 * folds -(128 + zp) * sum_k w into the bias (docs/arithmetic.md 3.1). vpdpbusd (not the
 * saturating vpdpbusds) sums in int32 modulo 2^32, and so do the other paths (unsigned
 * arithmetic in portable C): the partial sums may wrap, but the final sum is bias + sum (x - zp) w,
 * which the quantize pass proves fits int32, and arithmetic modulo 2^32 gives it exactly.
 */
#ifndef QCC_SIMD_H
#define QCC_SIMD_H

#include <stdint.h>
#include <string.h>

#include "qcc_arith.h"

#if defined(__AVX512VNNI__) && defined(__AVX512BW__)
#include <immintrin.h>
#define QCC_VNNI 512
#define QCC_VLANES 16 /* int32 lanes per vector */
#define QCC_VMAX_NV 4 /* pixel vectors per micro-kernel block (4 x 4 accumulators of 32 registers) */
typedef __m512i qcc_v_t;
#define QCC_V_ZERO() _mm512_setzero_si512()
#define QCC_V_LOAD(p) _mm512_loadu_si512((const void *)(p))
#define QCC_V_STORE(p, v) _mm512_storeu_si512((void *)(p), (v))
#define QCC_V_SET1(i) _mm512_set1_epi32(i)
#define QCC_V_DPBUSD(acc, u, s) _mm512_dpbusd_epi32((acc), (u), (s))
#define QCC_V_SUM(v) _mm512_reduce_add_epi32(v)
#elif defined(__AVXVNNI__) || (defined(__AVX512VNNI__) && defined(__AVX512VL__))
#include <immintrin.h>
#define QCC_VNNI 256
#define QCC_VLANES 8
#define QCC_VMAX_NV 3 /* 4 x 3 accumulators: 16 registers without AVX-512 */
typedef __m256i qcc_v_t;
#define QCC_V_ZERO() _mm256_setzero_si256()
#define QCC_V_LOAD(p) _mm256_loadu_si256((const __m256i *)(const void *)(p))
#define QCC_V_STORE(p, v) _mm256_storeu_si256((__m256i *)(void *)(p), (v))
#define QCC_V_SET1(i) _mm256_set1_epi32(i)
#if defined(__AVXVNNI__)
#define QCC_V_DPBUSD(acc, u, s) _mm256_dpbusd_avx_epi32((acc), (u), (s))
#else
#define QCC_V_DPBUSD(acc, u, s) _mm256_dpbusd_epi32((acc), (u), (s))

#endif
static inline int32_t qcc_v_sum(__m256i v)
{
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}
#define QCC_V_SUM(v) qcc_v_sum(v)
#else
#define QCC_VNNI 0

#endif

/* Four consecutive bytes as one int32 (for a broadcast; memcpy: no alignment assumed). */
static inline int32_t qcc_load4(const void *p)
{
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* The int32 whose two's complement bits are u: the result of int32 arithmetic modulo 2^32,
 * written without the implementation-defined unsigned-to-signed conversion. */
static inline int32_t qcc_wrap_i32(uint32_t u)
{
    return u <= (uint32_t)INT32_MAX ? (int32_t)u : -(int32_t)(~u) - 1;
}


#if QCC_VNNI == 512
/* y[j] = the int8 output stage of docs/arithmetic.md 2.5 (qcc_requant_row_s8's arithmetic, 16
 * lanes per step and the tail under a mask) applied to acc[j] + bias, j < n; the bias is added
 * modulo 2^32 (the sum is the proven int32 accumulator). */
static inline void qcc_requant_row16_s8(const int32_t *acc, int32_t n, int32_t bias, int32_t multiplier, int32_t shift,
                                        int32_t rounding, int32_t out_zp, int32_t qmin, int32_t qmax, int8_t *y)
{
    const __m512i m = _mm512_set1_epi32(multiplier), b = _mm512_set1_epi32(bias), zp = _mm512_set1_epi32(out_zp);
    int32_t j;
    for (j = 0; j < n; j += 16) {
        const __mmask16 live = n - j >= 16 ? (__mmask16)0xFFFF : (__mmask16)(((uint32_t)1 << (n - j)) - 1u);
        const __m512i a = _mm512_add_epi32(_mm512_maskz_loadu_epi32(live, acc + j), b);
        __m512i v;
        if (rounding == QCC_ROUND_SINGLE) { /* (a * m + 2^(t-1)) >> t, clamped, in 64-bit lanes */
            const int32_t t = 31 - shift;
            const __m128i tt = _mm_cvtsi32_si128(t);
            const __m512i nudge = _mm512_set1_epi64((int64_t)1 << (t - 1));
            const __m512i lo = _mm512_set1_epi64((int64_t)qmin - out_zp), hi = _mm512_set1_epi64((int64_t)qmax - out_zp);
            const __m512i even = _mm512_sra_epi64(_mm512_add_epi64(_mm512_mul_epi32(a, m), nudge), tt);
            const __m512i odd = _mm512_sra_epi64(_mm512_add_epi64(_mm512_mul_epi32(_mm512_srli_epi64(a, 32), m), nudge), tt);
            v = _mm512_mask_blend_epi32((__mmask16)0xAAAA, _mm512_min_epi64(_mm512_max_epi64(even, lo), hi),
                                        _mm512_slli_epi64(_mm512_min_epi64(_mm512_max_epi64(odd, lo), hi), 32));
        } else { /* SRDHM (bits 31..62 of x * m + 2^30), then RDBPOT by right */
            const int32_t left = shift > 0 ? shift : 0, right = shift > 0 ? 0 : -shift;
            const __m512i nudge = _mm512_set1_epi64((int64_t)1 << 30);
            const __m512i mask = _mm512_set1_epi32((int32_t)(((int64_t)1 << right) - 1));
            const __m512i x = _mm512_sllv_epi32(a, _mm512_set1_epi32(left));
            const __m512i even = _mm512_srli_epi64(_mm512_add_epi64(_mm512_mul_epi32(x, m), nudge), 31);
            const __m512i odd = _mm512_slli_epi64(_mm512_add_epi64(_mm512_mul_epi32(_mm512_srli_epi64(x, 32), m), nudge), 1);
            const __m512i high = _mm512_mask_blend_epi32((__mmask16)0xAAAA, even, odd);
            const __m512i rem = _mm512_and_si512(high, mask);
            const __m512i thr = _mm512_sub_epi32(_mm512_srli_epi32(mask, 1), _mm512_srai_epi32(high, 31));
            v = _mm512_sra_epi32(high, _mm_cvtsi32_si128(right));
            v = _mm512_mask_add_epi32(v, _mm512_cmpgt_epi32_mask(rem, thr), v, _mm512_set1_epi32(1));
            v = _mm512_min_epi32(_mm512_max_epi32(v, _mm512_set1_epi32(qmin - out_zp)), _mm512_set1_epi32(qmax - out_zp));
        }
        _mm512_mask_cvtepi32_storeu_epi8(y + j, live, _mm512_add_epi32(v, zp)); /* in qmin .. qmax: narrowing is exact */
    }
}
#endif

#endif

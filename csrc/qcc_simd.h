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

#endif

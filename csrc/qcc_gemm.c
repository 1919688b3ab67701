/*
 * qcc_gemm.c - fully connected layers (Gemm with constant weights) and products of two
 * activations (MatMul), docs/arithmetic.md 3.1 and 3.2.
 *
 *   qcc_fc_s8          int8, int32 accumulators: each row of a is shifted to x + 128 into a
 *                      zero-padded scratch row (u8 for the VNNI paths, int16 otherwise), then dot
 *                      products with 4 weight rows at a time: vpdpbusd (qcc_simd.h), AVX2 vpmaddwd,
 *                      or portable C; the bias carries -(128 + zp) * sum w (see qcc_simd.h).
 *   qcc_fc_generic_*   any strides, int64 accumulators (int16 activations, or int8 whose
 *                      reduction needs 64 bits).
 *   qcc_matmul_*       (a - a_zp) @ (b - b_zp) per batch, int64 accumulators.
 *
 * 4-bit weights (weight_bits == 4) are packed two per byte (qcc_int4.h): qcc_fc_s8 unpacks 4 rows
 * at a time after its activation row in the scratch, the generic kernels read them by index.
 */
#include "qcc_int4.h"
#include "qcc_kernels.h"
#include "qcc_simd.h"

#include <string.h>

#if QCC_VNNI
/* acc[r] = sum_i w_r[i] * u[i] for 4 weight rows and one u8 row; k a multiple of 16. Lanes hold
 * partial sums over k; one horizontal sum per row at the end (all modulo 2^32). */
static void dot_4x1_u8(const int8_t *w, int32_t ldw, const uint8_t *u, int32_t k, int32_t *acc)
{
    qcc_v_t s0 = QCC_V_ZERO(), s1 = QCC_V_ZERO(), s2 = QCC_V_ZERO(), s3 = QCC_V_ZERO();
    const int32_t step = 4 * QCC_VLANES;
    int32_t i = 0, r;
    for (; i + step <= k; i += step) {
        const qcc_v_t x = QCC_V_LOAD(u + i);
        s0 = QCC_V_DPBUSD(s0, x, QCC_V_LOAD(w + i));
        s1 = QCC_V_DPBUSD(s1, x, QCC_V_LOAD(w + ldw + i));
        s2 = QCC_V_DPBUSD(s2, x, QCC_V_LOAD(w + 2 * ldw + i));
        s3 = QCC_V_DPBUSD(s3, x, QCC_V_LOAD(w + 3 * ldw + i));
    }
    acc[0] = QCC_V_SUM(s0);
    acc[1] = QCC_V_SUM(s1);
    acc[2] = QCC_V_SUM(s2);
    acc[3] = QCC_V_SUM(s3);
    for (r = 0; r < 4; r++) { /* the last k % step values (fewer than one vector) */
        const int8_t *wr = w + (size_t)r * ldw;
        uint32_t t = (uint32_t)acc[r];
        int32_t j;
        for (j = i; j < k; j++) {
            t += (uint32_t)(wr[j] * (int32_t)u[j]);
        }
        acc[r] = qcc_wrap_i32(t);
    }
}
#elif defined(__AVX2__)
#include <immintrin.h>

/* acc[r] = sum_i w_r[i] * b[i] for 4 weight rows (int8) and one int16 row; k a multiple of 16. */
static void dot_4x1(const int8_t *w, int32_t ldw, const int16_t *b, int32_t k, int32_t *acc)
{
    __m256i s0 = _mm256_setzero_si256(), s1 = _mm256_setzero_si256();
    __m256i s2 = _mm256_setzero_si256(), s3 = _mm256_setzero_si256();
    int32_t i;
    for (i = 0; i < k; i += 16) {
        const __m256i x = _mm256_loadu_si256((const __m256i *)(const void *)(b + i));
        s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(w + i))), x));
        s1 = _mm256_add_epi32(s1, _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(w + ldw + i))), x));
        s2 = _mm256_add_epi32(s2, _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(w + 2 * ldw + i))), x));
        s3 = _mm256_add_epi32(s3, _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(w + 3 * ldw + i))), x));
    }
    {
        const __m256i u = _mm256_hadd_epi32(_mm256_hadd_epi32(s0, s1), _mm256_hadd_epi32(s2, s3));
        _mm_storeu_si128((__m128i *)(void *)acc, _mm_add_epi32(_mm256_castsi256_si128(u), _mm256_extracti128_si256(u, 1)));
    }
}
#else
/* acc[r] = sum_i w_r[i] * b[i] for 4 weight rows (int8) and one int16 row, modulo 2^32. */
static void dot_4x1(const int8_t *w, int32_t ldw, const int16_t *b, int32_t k, int32_t *acc)
{
    const int8_t *w0 = w, *w1 = w + ldw, *w2 = w + 2 * ldw, *w3 = w + 3 * ldw;
    uint32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int32_t i;
    for (i = 0; i < k; i++) {
        const int32_t x = b[i];
        s0 += (uint32_t)(w0[i] * x);
        s1 += (uint32_t)(w1[i] * x);
        s2 += (uint32_t)(w2[i] * x);
        s3 += (uint32_t)(w3[i] * x);
    }
    acc[0] = qcc_wrap_i32(s0);
    acc[1] = qcc_wrap_i32(s1);
    acc[2] = qcc_wrap_i32(s2);
    acc[3] = qcc_wrap_i32(s3);
}
#endif

void qcc_fc_s8(const qcc_fc_t *p, const int8_t *a, int8_t *y, int16_t *scratch)
{
    int8_t *wbuf = (int8_t *)(void *)scratch + QCC_FC_SCRATCH(p->k_stride); /* 4-bit weights, unpacked */
    int32_t i, kk, j, r;
#if QCC_VNNI
    uint8_t *row_u8 = (uint8_t *)(void *)scratch;
    memset(row_u8, 0, (size_t)p->k_stride);
#else
    memset(scratch, 0, sizeof(int16_t) * (size_t)p->k_stride);
#endif
    for (i = 0; i < p->m; i++) {
        const int8_t *row = a + (size_t)i * p->a_row_stride;
        for (kk = 0; kk < p->k; kk++) { /* x + 128: the kernels' unsigned operand (0 .. 255) */
#if QCC_VNNI
            row_u8[kk] = (uint8_t)(row[(size_t)kk * p->a_col_stride] + 128);
#else
            scratch[kk] = (int16_t)(row[(size_t)kk * p->a_col_stride] + 128);
#endif
        }
        for (j = 0; j < p->n; j += 4) {
            const int8_t *w = qcc_weight_run(p->weight, p->weight_bits, (size_t)j * p->k_stride, QCC_W4_BLOCK(p->k_stride), wbuf);
            int32_t acc[4];
#if QCC_VNNI
            dot_4x1_u8(w, p->k_stride, row_u8, p->k_stride, acc);
#else
            dot_4x1(w, p->k_stride, scratch, p->k_stride, acc);
#endif
            for (r = 0; r < 4 && j + r < p->n; r++) { /* the full accumulator fits int32 (proven): exact modulo 2^32 */
                const int32_t total = qcc_wrap_i32((uint32_t)acc[r] + (p->bias ? (uint32_t)p->bias[j + r] : 0u));
                y[(size_t)i * p->n + j + r] = (int8_t)qcc_requant_one(&p->rq, j + r, total);
            }
        }
    }
}

static void fc_generic(const qcc_fc_t *p, const void *a, void *y, int32_t es)
{
    int32_t i, j, kk;
    for (i = 0; i < p->m; i++) {
        for (j = 0; j < p->n; j++) {
            const size_t w = (size_t)j * p->k_stride; /* this column's first weight */
            int64_t acc = p->bias ? p->bias[j] : 0;
            for (kk = 0; kk < p->k; kk++) {
                const size_t at = (size_t)i * p->a_row_stride + (size_t)kk * p->a_col_stride;
                acc += (int64_t)qcc_weight_at(p->weight, p->weight_bits, w + (size_t)kk) * (qcc_load_elem(a, at, es) - p->in_zp);
            }
            qcc_store_elem(y, (size_t)i * p->n + j, es, qcc_requant_one(&p->rq, j, acc));
        }
    }
}

void qcc_fc_generic_s8(const qcc_fc_t *p, const int8_t *a, int8_t *y)
{
    fc_generic(p, a, y, 1);
}

void qcc_fc_generic_s16(const qcc_fc_t *p, const int16_t *a, int16_t *y)
{
    fc_generic(p, a, y, 2);
}

static void matmul_generic(const qcc_matmul_t *p, const void *a, const void *b, void *y, int32_t es)
{
    int32_t t, i, j, kk;
    for (t = 0; t < p->batches; t++) {
        const size_t ao = (size_t)p->a_offset[t], bo = (size_t)p->b_offset[t];
        for (i = 0; i < p->m; i++) {
            for (j = 0; j < p->n; j++) {
                int64_t acc = 0;
                for (kk = 0; kk < p->k; kk++) {
                    const int32_t av = qcc_load_elem(a, ao + (size_t)i * p->k + kk, es) - p->a_zp;
                    const int32_t bv = qcc_load_elem(b, bo + (size_t)kk * p->n + j, es) - p->b_zp;
                    acc += (int64_t)av * bv;
                }
                qcc_store_elem(y, ((size_t)t * p->m + i) * p->n + j, es, qcc_requant_one(&p->rq, j, acc));
            }
        }
    }
}

void qcc_matmul_s8(const qcc_matmul_t *p, const int8_t *a, const int8_t *b, int8_t *y)
{
    matmul_generic(p, a, b, y, 1);
}

void qcc_matmul_s16(const qcc_matmul_t *p, const int16_t *a, const int16_t *b, int16_t *y)
{
    matmul_generic(p, a, b, y, 2);
}

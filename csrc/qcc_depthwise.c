/*
 * qcc_depthwise.c - the vector path of the int8 depthwise convolution (docs/arithmetic.md 3.1).
 *
 * Why a separate path: a depthwise output sums only kh * kw products of one channel, so the GEMM
 * micro-kernels do not apply, and the portable row kernel (qcc_conv.c) spends four to five vector
 * instructions per tap and 16 outputs (widen, 32-bit multiply, add). Here one 64-byte load, one
 * byte permutation (vpermb) and one vpdpbusd do four taps of one kernel row for 16 outputs of one
 * row: the permutation gives lane j the 4 input bytes of output j's taps 4g .. 4g + 3
 * (byte t at sw * j + t * dw from the load), vpdpbusd multiplies them with those 4 weights of the
 * channel, broadcast, and adds. Any stride and dilation with 15 * sw + 3 * dw < 64 works the same
 * way (3x3 and 5x5 at stride 1 and 2 in practice); other shapes return 0 and take the row kernel.
 *
 * Data: per channel, a band of input rows is copied into the arena's scratch as u8 x + 128 with
 * zp + 128 on the padding (as the GEMM panel, qcc_simd.h), so the sum is
 * sum (x + 128) w = sum (x - zp) w + (128 + zp) sum w and the accumulators start at
 * bias - (128 + zp) sum w, modulo 2^32 (the true accumulator fits int32: proven by the quantize
 * pass). The int32 accumulators of the band's output rows (contiguous in the output: NCHW) go
 * through one output stage, qcc_requant_row16_s8.
 *
 * Compiled only with AVX-512 VBMI, VNNI and BW (QCC_VNNI == 512 and __AVX512VBMI__); on every
 * other build qcc_depthwise_vector_s8 returns 0. tests/backends/c/test_depthwise_paths.py checks
 * that both paths give the numpy reference's bytes.
 */
#include "qcc_depthwise.h"

#include "qcc_int4.h"
#include "qcc_simd.h"

#include <string.h>

#if QCC_VNNI == 512 && defined(__AVX512VBMI__)
#define QCC_DW_VECTOR 1
#else
#define QCC_DW_VECTOR 0
#endif

#if QCC_DW_VECTOR

#define QCC_DW_GROUPS ((QCC_DW_VECTOR_MAX_KW + 3) / 4) /* groups of 4 taps per kernel row */

/* The accumulators of output rows [r0, r0 + nr) of one channel over its u8 band, for kh kernel
 * rows of `groups` groups of 4 taps: always inlined with constant kh and groups for the common
 * kernels, so the loops unroll and the broadcast weights stay in registers. */
static inline __attribute__((always_inline)) void band_rows_k(const qcc_conv_t *p, const uint8_t *band, int32_t pw, int32_t nr,
                                                              int32_t base, const int32_t *wq, __m512i idx, int32_t *acc,
                                                              int32_t kh, int32_t groups)
{
    const int32_t ow = p->out_size[2];
    const int32_t sh = p->stride[1], sw = p->stride[2], dh = p->dilation[1], dw = p->dilation[2];
    const __m512i start = _mm512_set1_epi32(base);
    __m512i wv[QCC_DW_VECTOR_MAX_KH * QCC_DW_GROUPS];
    int32_t t, o0, b, g;
    for (b = 0; b < kh * groups; b++) {
        wv[b] = _mm512_set1_epi32(wq[b]);
    }
    for (t = 0; t < nr; t++) {
        for (o0 = 0; o0 < ow; o0 += 16) {
            const __mmask16 live = ow - o0 >= 16 ? (__mmask16)0xFFFF : (__mmask16)(((uint32_t)1 << (ow - o0)) - 1u);
            __m512i a = start;
            for (b = 0; b < kh; b++) {
                const uint8_t *src = band + (size_t)(t * sh + b * dh) * (size_t)pw + (size_t)sw * (size_t)o0;
                for (g = 0; g < groups; g++) {
                    const __m512i v = _mm512_loadu_si512((const void *)(src + (size_t)4 * (size_t)g * (size_t)dw));
                    a = _mm512_dpbusd_epi32(a, _mm512_permutexvar_epi8(idx, v), wv[b * groups + g]);
                }
            }
            _mm512_mask_storeu_epi32((void *)(acc + (size_t)t * (size_t)ow + (size_t)o0), live, a);
        }
    }
}

static void band_rows(const qcc_conv_t *p, const uint8_t *band, int32_t pw, int32_t nr, int32_t base, const int32_t *wq,
                      __m512i idx, int32_t *acc)
{
    const int32_t kh = p->kernel[1], groups = (p->kernel[2] + 3) / 4;
    if (kh == 3 && groups == 1) {
        band_rows_k(p, band, pw, nr, base, wq, idx, acc, 3, 1);
    } else if (kh == 5 && groups == 2) {
        band_rows_k(p, band, pw, nr, base, wq, idx, acc, 5, 2);
    } else {
        band_rows_k(p, band, pw, nr, base, wq, idx, acc, kh, groups);
    }
}

/* Band row i <- input row y0 + i of the plane as x + 128, columns shifted by the left pad; rows
 * and columns outside the input hold zp + 128. */
static void fill_band(const qcc_conv_t *p, const int8_t *plane, int32_t y0, int32_t rows, int32_t pw, uint8_t *band)
{
    const int32_t ih = p->in_size[1], iw = p->in_size[2], pad = p->pad[2];
    const uint8_t fill = (uint8_t)(p->in_zp + 128);
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    const int8_t *src;
    int32_t i, c;
    for (i = 0; i < rows; i++) {
        const int32_t yi = y0 + i;
        uint8_t *row = band + (size_t)i * (size_t)pw;
        const int32_t c0 = pad < 0 ? 0 : (pad > pw ? pw : pad);
        const int32_t c1 = pad + iw < c0 ? c0 : (pad + iw > pw ? pw : pad + iw);
        if (yi < 0 || yi >= ih) {
            memset(row, fill, (size_t)pw);
            continue;
        }
        src = plane + (size_t)yi * (size_t)iw; /* input column c - pad is band column c */
        memset(row, fill, (size_t)c0);
        for (c = c0; c < c1; c += 64) { /* x + 128 = x ^ 0x80, 64 bytes at a time */
            const __mmask64 live = c1 - c >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << (c1 - c)) - 1u);
            const __m512i v = _mm512_maskz_loadu_epi8(live, (const void *)(src + (c - pad)));
            _mm512_mask_storeu_epi8((void *)(row + c), live, _mm512_xor_si512(v, flip));
        }
        memset(row + c1, fill, (size_t)(pw - c1));
    }
}

int qcc_depthwise_vector_s8(const qcc_conv_t *p, const int8_t *x, int8_t *y, int16_t *scratch)
{
    const int32_t mult = p->out_c / p->in_c;
    const int32_t ih = p->in_size[1], iw = p->in_size[2];
    const int32_t oh = p->out_size[1], ow = p->out_size[2];
    const int32_t kh = p->kernel[1], kw = p->kernel[2];
    const int32_t sh = p->stride[1], sw = p->stride[2], dh = p->dilation[1], dw = p->dilation[2];
    const int32_t pw = QCC_DW_VECTOR_WIDTH(ow, kw, sw, dw);
    const int32_t nr_max = p->tile;
    int32_t *acc = (int32_t *)(void *)scratch;
    uint8_t *band = (uint8_t *)(void *)(acc + (size_t)nr_max * (size_t)ow);
    int32_t wq[QCC_DW_VECTOR_MAX_KH * QCC_DW_GROUPS]; /* kernel row b, group g: 4 weight bytes */
    uint8_t lanes[64];
    __m512i idx;
    int32_t n, co, j, t;
    if (scratch == NULL || nr_max < 1 || kh > QCC_DW_VECTOR_MAX_KH || kw > QCC_DW_VECTOR_MAX_KW || 15 * sw + 3 * dw > 63) {
        return 0;
    }
    for (j = 0; j < 16; j++) { /* lane j, byte t: output j's tap t of the group */
        for (t = 0; t < 4; t++) {
            lanes[4 * j + t] = (uint8_t)(sw * j + t * dw);
        }
    }
    idx = _mm512_loadu_si512((const void *)lanes);
    /* whole 64-byte loads from the last band row read up to 63 bytes past it: keep them defined */
    memset(band + (size_t)QCC_DW_VECTOR_ROWS(nr_max, kh, sh, dh) * (size_t)pw, 0, 64);
    for (n = 0; n < p->batch; n++) {
        for (co = 0; co < p->out_c; co++) {
            const int8_t *plane = x + ((size_t)n * p->in_c + (size_t)(co / mult)) * (size_t)ih * (size_t)iw;
            int8_t *out = y + ((size_t)n * p->out_c + co) * (size_t)oh * (size_t)ow;
            const size_t wc = (size_t)co * (size_t)kh * (size_t)kw; /* this channel's first weight */
            const int32_t q = p->rq.per_channel ? co : 0;
            const int32_t groups = (kw + 3) / 4;
            uint32_t wsum = 0;
            int32_t b, k, r0;
            memset(wq, 0, sizeof wq);
            for (b = 0; b < kh; b++) {
                for (k = 0; k < kw; k++) {
                    const int32_t w = qcc_weight_at(p->weight, p->weight_bits, wc + (size_t)(b * kw + k));
                    uint32_t *lane = (uint32_t *)(void *)&wq[b * groups + k / 4];
                    *lane |= (uint32_t)(uint8_t)(int8_t)w << (8 * (k % 4)); /* tap k is byte k % 4; taps past kw stay 0 */
                    wsum += (uint32_t)w;
                }
            }
            for (r0 = 0; r0 < oh; r0 += nr_max) {
                const int32_t nr = oh - r0 < nr_max ? oh - r0 : nr_max;
                const uint32_t bias = p->bias ? (uint32_t)p->bias[co] : 0u;
                const int32_t base = qcc_wrap_i32(bias - (uint32_t)(128 + p->in_zp) * wsum);
                fill_band(p, plane, r0 * sh - p->pad[1], QCC_DW_VECTOR_ROWS(nr, kh, sh, dh), pw, band);
                band_rows(p, band, pw, nr, base, wq, idx, acc);
                qcc_requant_row16_s8(acc, nr * ow, 0, p->rq.multiplier[q], p->rq.shift[q], p->rq.rounding, p->rq.out_zp,
                                     p->rq.qmin, p->rq.qmax, out + (size_t)r0 * (size_t)ow);
            }
        }
    }
    return 1;
}

#else

int qcc_depthwise_vector_s8(const qcc_conv_t *p, const int8_t *x, int8_t *y, int16_t *scratch)
{
    (void)p;
    (void)x;
    (void)y;
    (void)scratch;
    return 0;
}

#endif

/*
 * qcc_vnni.h - the u8 x s8 micro-kernel of the VNNI paths and the layout it reads, shared by the
 * panel GEMM (qcc_conv.c) and the direct stride-1 convolution (qcc_conv_direct.c).
 *
 * The u8 operand is a set of "groups", each a run of pixel slots of 4 bytes: byte t of a slot is
 * x + 128 of reduction index 4g + t at that pixel, so one 32-bit lane of a vector load is one
 * pixel's 4 reduction values, and vpdpbusd against 4 weights of one output channel broadcast to
 * every lane adds 4 products to each pixel's int32 sum. When its channels per group are a
 * multiple of 4, a GEMM convolution's reduction index runs over channels in groups of 4, then
 * kernel taps, then the channel within the group ("c4 order", the weight layout of
 * qcc_conv_gemm_*), so a group of 4 reduction values is 4 channels at one tap: for a stride-1
 * convolution every tap's operand is the same interleaved input shifted by a constant, and no
 * panel has to be built.
 */
#ifndef QCC_VNNI_H
#define QCC_VNNI_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "qcc_kernels.h"
#include "qcc_simd.h"

#define QCC_MAX_PANEL 64 /* output pixels per micro-kernel call (4 vectors of 16 lanes) */

/* dst[4j + t] = x_t[j * step] + 128 for the nc (<= 4) channel rows x_t = s + t * plane, 0 for
 * t >= nc: n pixel slots of the u8 layout above, from every step-th input column (the stride of a
 * 1x1 convolution; 1 and 2 have vector loops). */
static inline void qcc_interleave4_u8(const int8_t *s, size_t plane, int32_t step, int32_t nc, int32_t n, uint8_t *dst)
{
    int32_t j = 0, t;
#if defined(__AVX2__)
    if (step == 1 || step == 2) {
        const __m128i flip = _mm_set1_epi8((char)0x80); /* x ^ 0x80 = x + 128 as a byte */
        const __m128i even = _mm_set1_epi16(0x00FF);
        /* 16 pixels per step; with step 2 the even bytes of 32 columns, the last of which
         * (2j + 31) must stay below the last one needed, 2(n - 1): one vector fewer */
        for (; j + 16 + (step == 2) <= n; j += 16) {
            __m128i r[4];
            for (t = 0; t < 4; t++) {
                const int8_t *row = s + (size_t)t * plane + (size_t)j * (size_t)step;
                __m128i v;
                if (t >= nc) { /* a channel the group lacks */
                    r[t] = _mm_setzero_si128();
                    continue;
                }
                v = _mm_loadu_si128((const __m128i *)(const void *)row);
                if (step == 2) {
                    const __m128i hi = _mm_loadu_si128((const __m128i *)(const void *)(row + 16));
                    v = _mm_packus_epi16(_mm_and_si128(v, even), _mm_and_si128(hi, even));
                }
                r[t] = _mm_xor_si128(v, flip);
            }
            {
                const __m128i a = _mm_unpacklo_epi8(r[0], r[1]), b = _mm_unpackhi_epi8(r[0], r[1]);
                const __m128i c = _mm_unpacklo_epi8(r[2], r[3]), d = _mm_unpackhi_epi8(r[2], r[3]);
                _mm_storeu_si128((__m128i *)(void *)(dst + 4 * j), _mm_unpacklo_epi16(a, c));
                _mm_storeu_si128((__m128i *)(void *)(dst + 4 * j + 16), _mm_unpackhi_epi16(a, c));
                _mm_storeu_si128((__m128i *)(void *)(dst + 4 * j + 32), _mm_unpacklo_epi16(b, d));
                _mm_storeu_si128((__m128i *)(void *)(dst + 4 * j + 48), _mm_unpackhi_epi16(b, d));
            }
        }
    }
#endif
    for (; j < n; j++) {
        for (t = 0; t < 4; t++) {
            dst[4 * j + t] = t < nc ? (uint8_t)(s[(size_t)t * plane + (size_t)j * (size_t)step] + 128) : 0;
        }
    }
}

/* out[0 .. n) = the int8 outputs of one channel from its n dot products acc (overwritten): bias
 * added modulo 2^32 (the full accumulator fits int32, proven by the quantize pass), then the
 * output stage of docs/arithmetic.md 2.5, 16 lanes at a time on the 512-bit path. */
static inline void qcc_requant_channel_s8(const qcc_requant_t *rq, int32_t channel, uint32_t bias, int32_t *acc, int32_t n,
                                          int8_t *out)
{
    const int32_t c = rq->per_channel ? channel : 0;
#if QCC_VNNI == 512
    qcc_requant_row16_s8(acc, n, qcc_wrap_i32(bias), rq->multiplier[c], rq->shift[c], rq->rounding, rq->out_zp, rq->qmin,
                         rq->qmax, out);
#else
    int32_t j;
    for (j = 0; j < n; j++) {
        acc[j] = qcc_wrap_i32((uint32_t)acc[j] + bias);
    }
    qcc_requant_row_s8(acc, n, rq->multiplier[c], rq->shift[c], rq->rounding, rq->out_zp, rq->qmin, rq->qmax, out, 1);
#endif
}

#if QCC_VNNI
/* out[r][v * lanes + l] = sum over the reduction of u8 * w_r for 4 weight rows (stride ldw) and nv
 * pixel vectors (a constant where it is called, so the accumulators stay in registers). The
 * reduction runs over ngroups groups of ntaps taps: tap t of group g is the u8 operand at
 * src + g * group_bytes + tap_off[t], its weights the 4 bytes at w + (g * ntaps + t) * 4 (the c4
 * order). A packed panel is the case ntaps = 1, tap_off = {0}. All sums modulo 2^32. */
static inline __attribute__((always_inline)) void qcc_vnni_4xn(const int8_t *w, size_t ldw, const uint8_t *src, int32_t ngroups,
                                                               size_t group_bytes, const int32_t *tap_off, int32_t ntaps,
                                                               int32_t nv, int32_t out[4][QCC_MAX_PANEL])
{
    qcc_v_t acc[4][QCC_VMAX_NV], x[QCC_VMAX_NV];
    const int8_t *wk = w; /* the 4 weights of the current reduction step in row 0 */
    int32_t g, t, r, v;
    for (r = 0; r < 4; r++) {
        for (v = 0; v < nv; v++) {
            acc[r][v] = QCC_V_ZERO();
        }
    }
    for (g = 0; g < ngroups; g++) {
        const uint8_t *pg = src + (size_t)g * group_bytes;
        for (t = 0; t < ntaps; t++, wk += 4) {
            const uint8_t *pt = pg + tap_off[t];
            for (v = 0; v < nv; v++) {
                x[v] = QCC_V_LOAD(pt + (size_t)v * QCC_VLANES * 4);
            }
            for (r = 0; r < 4; r++) {
                const qcc_v_t wr = QCC_V_SET1(qcc_load4(wk + (size_t)r * ldw));
                for (v = 0; v < nv; v++) {
                    acc[r][v] = QCC_V_DPBUSD(acc[r][v], x[v], wr);
                }
            }
        }
    }
    for (r = 0; r < 4; r++) {
        for (v = 0; v < nv; v++) {
            QCC_V_STORE(out[r] + v * QCC_VLANES, acc[r][v]);
        }
    }
}

/* acc_rows[r][0 .. npad) = qcc_vnni_4xn over npad pixels (a multiple of the vector width, at
 * most QCC_MAX_PANEL) in blocks of QCC_VMAX_NV vectors. */
static inline void qcc_vnni_rows(const int8_t *w, size_t ldw, const uint8_t *src, int32_t ngroups, size_t group_bytes,
                                 const int32_t *tap_off, int32_t ntaps, int32_t npad, int32_t acc_rows[4][QCC_MAX_PANEL])
{
    const int32_t nvec = npad / QCC_VLANES;
    int32_t v0;
    for (v0 = 0; v0 < nvec; v0 += QCC_VMAX_NV) {
        const uint8_t *pv = src + (size_t)v0 * QCC_VLANES * 4;
        int32_t(*out)[QCC_MAX_PANEL] = (int32_t(*)[QCC_MAX_PANEL])(void *)(acc_rows[0] + v0 * QCC_VLANES);
        switch (nvec - v0 < QCC_VMAX_NV ? nvec - v0 : QCC_VMAX_NV) {
        case 1:
            qcc_vnni_4xn(w, ldw, pv, ngroups, group_bytes, tap_off, ntaps, 1, out);
            break;
        case 2:
            qcc_vnni_4xn(w, ldw, pv, ngroups, group_bytes, tap_off, ntaps, 2, out);
            break;
#if QCC_VMAX_NV >= 4
        case 4:
            qcc_vnni_4xn(w, ldw, pv, ngroups, group_bytes, tap_off, ntaps, 4, out);
            break;
#endif
        default:
            qcc_vnni_4xn(w, ldw, pv, ngroups, group_bytes, tap_off, ntaps, 3, out);
            break;
        }
    }
}
#endif

#endif

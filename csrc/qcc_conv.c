/*
 * qcc_conv.c - integer convolutions (docs/arithmetic.md 3.1).
 *
 *   qcc_conv_gemm_s8       int8, int32 accumulators: a tile of output pixels is packed into a panel
 *                          of x + 128 (im2col of the tile, zp + 128 on padding; the bias carries
 *                          -(128 + zp) * sum w, qcc_simd.h) and multiplied with the weight matrix:
 *                          with VNNI a u8 panel in groups of 4 reduction values and the 4-row x
 *                          64-pixel vpdpbusd micro-kernel of qcc_vnni.h (4 consecutive weights of a
 *                          row are one broadcast 32-bit lane); else an int16 panel and a 4x2
 *                          dot-product micro-kernel (AVX2 vpmaddwd, or portable C). 1x1 convolutions
 *                          use the same path (their panel is a transpose, with a stride a strided
 *                          one). On the VNNI builds larger kernels with weights in c4 order skip the
 *                          panel (qcc_conv_direct.c).
 *   qcc_conv_gemm_s16      int16 activations, int64 accumulators: the int16 panel and a 4x2 dot-product
 *                          micro-kernel (vpdpwssd on the AVX-512 VNNI and AVX-VNNI paths, vpmaddwd on
 *                          AVX2, portable C), the int32 sums widened to int64 every 512 products.
 *   qcc_conv_depthwise_s8  int8, groups == in_c: with AVX-512 VBMI + VNNI the vpermb / vpdpbusd path
 *                          of qcc_depthwise.c; else stride 1 in bands of output rows over a padded
 *                          copy of the input rows (both in the arena's scratch), else per output row,
 *                          one pass per tap over a contiguous row of int32 accumulators.
 *   qcc_conv_s8 / _s16     any shape, groups, dilation, 1 to 3 spatial axes, int32 or int64
 *                          accumulators: the same row scheme with int64 accumulators.
 *   qcc_conv_transpose_*   transposed convolution written as a gather over the taps that reach
 *                          each output.
 *
 * With weight_bits == 4 the weights are packed two per byte (qcc_int4.h): the row kernels read each
 * weight by index, the GEMM kernels unpack 4 weight rows at a time into their scratch.
 *
 * Bit-exactness does not depend on the summation order: every partial sum is bounded by the
 * quantize pass's accumulator proof (|x - zp| <= X, |w| <= W, at most K terms).
 */
#include "qcc_depthwise.h"
#include "qcc_int4.h"
#include "qcc_kernels.h"
#include "qcc_simd.h"
#include "qcc_vnni.h"

#include <string.h>
#if defined(__AVX2__)
#include <immintrin.h>
#endif

#define QCC_ROW_TILE 64   /* accumulators per row pass (stack: 64 * 8 bytes) */

/* Output positions o in [0, n_out) whose tap o * stride + offset lies in [0, n_in): [*lo, *hi). */
static void valid_range(int32_t n_out, int32_t n_in, int32_t stride, int32_t offset, int32_t *lo, int32_t *hi)
{
    int32_t a = 0, b = n_out;
    if (offset < 0) {
        a = stride == 1 ? -offset : (-offset + stride - 1) / stride; /* no division in the common case: */
    }                                                                 /* the panel packer calls this per tap */
    if (n_in - 1 - offset < 0) {
        b = 0;
    } else {
        const int32_t last = (stride == 1 ? n_in - 1 - offset : (n_in - 1 - offset) / stride) + 1;
        b = last < n_out ? last : n_out;
    }
    *lo = a < b ? a : b;
    *hi = b;
}

/* ---- generic convolution --------------------------------------------------------------------- */

static void conv_generic(const qcc_conv_t *p, const void *x, void *y, int32_t es)
{
    const int32_t cig = p->in_c / p->groups, cog = p->out_c / p->groups;
    const int32_t id = p->in_size[0], ih = p->in_size[1], iw = p->in_size[2];
    const int32_t od = p->out_size[0], oh = p->out_size[1], ow = p->out_size[2];
    const int32_t kd = p->kernel[0], kh = p->kernel[1], kw = p->kernel[2];
    const int32_t in_plane = id * ih * iw, out_plane = od * oh * ow;
    const int32_t ktaps = kd * kh * kw;
    int64_t acc[QCC_ROW_TILE];
    int32_t n, co, z, r, x0;
    for (n = 0; n < p->batch; n++) {
        for (co = 0; co < p->out_c; co++) {
            const int32_t g = co / cog;
            const size_t wc = (size_t)co * cig * ktaps; /* this channel's first weight */
            const int64_t bias = p->bias ? p->bias[co] : 0;
            for (z = 0; z < od; z++) {
                for (r = 0; r < oh; r++) {
                    for (x0 = 0; x0 < ow; x0 += QCC_ROW_TILE) {
                        const int32_t cols = ow - x0 < QCC_ROW_TILE ? ow - x0 : QCC_ROW_TILE;
                        int32_t ci, a, b, c, j;
                        for (j = 0; j < cols; j++) {
                            acc[j] = bias;
                        }
                        for (ci = 0; ci < cig; ci++) {
                            const size_t xbase = ((size_t)n * p->in_c + (size_t)g * cig + ci) * in_plane;
                            for (a = 0; a < kd; a++) {
                                const int32_t zi = z * p->stride[0] - p->pad[0] + a * p->dilation[0];
                                if (zi < 0 || zi >= id) {
                                    continue;
                                }
                                for (b = 0; b < kh; b++) {
                                    const int32_t yi = r * p->stride[1] - p->pad[1] + b * p->dilation[1];
                                    if (yi < 0 || yi >= ih) {
                                        continue;
                                    }
                                    for (c = 0; c < kw; c++) {
                                        const int32_t w = qcc_weight_at(p->weight, p->weight_bits, wc + (size_t)(((ci * kd + a) * kh + b) * kw + c));
                                        const int32_t off = c * p->dilation[2] - p->pad[2] + x0 * p->stride[2];
                                        const size_t row = xbase + ((size_t)zi * ih + yi) * iw;
                                        int32_t lo, hi;
                                        valid_range(cols, iw, p->stride[2], off, &lo, &hi);
                                        if (w == 0) {
                                            continue;
                                        }
                                        for (j = lo; j < hi; j++) {
                                            const int32_t v = qcc_load_elem(x, row + (size_t)(j * p->stride[2] + off), es);
                                            acc[j] += (int64_t)w * (v - p->in_zp);
                                        }
                                    }
                                }
                            }
                        }
                        for (j = 0; j < cols; j++) {
                            const size_t o = ((size_t)n * p->out_c + co) * out_plane + ((size_t)z * oh + r) * ow + x0 + j;
                            qcc_store_elem(y, o, es, qcc_requant_one(&p->rq, co, acc[j]));
                        }
                    }
                }
            }
        }
    }
}

void qcc_conv_s8(const qcc_conv_t *p, const int8_t *x, int8_t *y)
{
    conv_generic(p, x, y, 1);
}

void qcc_conv_s16(const qcc_conv_t *p, const int16_t *x, int16_t *y)
{
    conv_generic(p, x, y, 2);
}

/* ---- depthwise ------------------------------------------------------------------------------- */

#define QCC_DW_TILE 256 /* int32 accumulators per pass: several output rows when they are short */
#define QCC_DW_MAX_KW 16

/* Stride 1: a band of p->tile output rows at once over a padded copy of the input rows it reads,
 * so each tap is one flat loop over the band (the padded width makes the tap's input offset
 * constant); the few accumulators that fall in the padding columns are computed and ignored.
 * Both buffers live in the arena (scratch, QCC_DW_BAND_SCRATCH bytes): the int32 accumulators
 * first, then the input band. */
static void depthwise_band_s8(const qcc_conv_t *p, const int8_t *x, int8_t *y, int16_t *scratch)
{
    const int32_t mult = p->out_c / p->in_c;
    const int32_t ih = p->in_size[1], iw = p->in_size[2];
    const int32_t oh = p->out_size[1], ow = p->out_size[2];
    const int32_t kh = p->kernel[1], kw = p->kernel[2];
    const int32_t dh = p->dilation[1], dw = p->dilation[2];
    const int32_t pw = ow + (kw - 1) * dw;
    const int32_t extra = (kh - 1) * dh;
    const int32_t zp = p->in_zp;
    const int32_t nr_max = p->tile;
    int32_t *acc = (int32_t *)(void *)scratch;
    int8_t *band = (int8_t *)(void *)(acc + (size_t)nr_max * (size_t)pw + 8);
    int32_t n, co;
    for (n = 0; n < p->batch; n++) {
        for (co = 0; co < p->out_c; co++) {
            const int8_t *plane = x + ((size_t)n * p->in_c + co / mult) * ih * iw;
            int8_t *out = y + ((size_t)n * p->out_c + co) * oh * ow;
            const size_t wc = (size_t)co * kh * kw; /* this channel's first weight */
            const int32_t bias = p->bias ? p->bias[co] : 0;
            const int32_t q = p->rq.per_channel ? co : 0;
            int32_t r0, wsum = 0, t;
            for (t = 0; t < kh * kw; t++) {
                wsum += qcc_weight_at(p->weight, p->weight_bits, wc + (size_t)t);
            }
            for (r0 = 0; r0 < oh; r0 += nr_max) {
                const int32_t nr = oh - r0 < nr_max ? oh - r0 : nr_max;
                const int32_t span = (nr - 1) * pw + ow;
                const int32_t span8 = (span + 7) & ~7; /* whole vectors; the extra values are ignored */
                /* the band holds raw x and zp on padding, so sum w (x - zp) = sum w x - zp sum w
                 * over every tap (|x| <= 128 keeps the partial sums within the pass's bound) */
                const int32_t base = bias - zp * wsum;
                int32_t b, k, o;
                /* band row t holds input row r0 - pad + t; band column c holds input column c - pad */
                memset(band, zp, (size_t)((nr + extra) * pw + 64));
                for (t = 0; t < nr + extra; t++) {
                    const int32_t yi = r0 - p->pad[1] + t;
                    int32_t c0 = p->pad[2], c1 = p->pad[2] + iw;
                    if (yi < 0 || yi >= ih) {
                        continue;
                    }
                    c0 = c0 < 0 ? 0 : (c0 > pw ? pw : c0);
                    c1 = c1 < 0 ? 0 : (c1 > pw ? pw : c1);
                    if (c1 > c0) {
                        memcpy(band + (size_t)t * pw + c0, plane + (size_t)yi * iw + (c0 - p->pad[2]), (size_t)(c1 - c0));
                    }
                }
                if (kh == 3 && kw == 3) { /* the common case: all nine taps per output, in registers */
                    const int8_t *s0 = band, *s3 = band + (size_t)dh * pw, *s6 = band + (size_t)2 * dh * pw;
                    const int8_t *wp = p->weight;
                    const int32_t bits = p->weight_bits;
                    const int32_t w0 = qcc_weight_at(wp, bits, wc), w1 = qcc_weight_at(wp, bits, wc + 1),
                                  w2 = qcc_weight_at(wp, bits, wc + 2), w3 = qcc_weight_at(wp, bits, wc + 3),
                                  w4 = qcc_weight_at(wp, bits, wc + 4), w5 = qcc_weight_at(wp, bits, wc + 5),
                                  w6 = qcc_weight_at(wp, bits, wc + 6), w7 = qcc_weight_at(wp, bits, wc + 7),
                                  w8 = qcc_weight_at(wp, bits, wc + 8);
                    for (o = 0; o < span8; o++) {
                        acc[o] = base + w0 * s0[o] + w1 * s0[o + dw] + w2 * s0[o + 2 * dw] + w3 * s3[o] + w4 * s3[o + dw] +
                                 w5 * s3[o + 2 * dw] + w6 * s6[o] + w7 * s6[o + dw] + w8 * s6[o + 2 * dw];
                    }
                } else {
                    for (o = 0; o < span8; o++) {
                        acc[o] = base;
                    }
                    for (b = 0; b < kh; b++) {
                        for (k = 0; k < kw; k++) {
                            const int32_t w = qcc_weight_at(p->weight, p->weight_bits, wc + (size_t)(b * kw + k));
                            const int8_t *src = band + (size_t)b * dh * pw + (size_t)k * dw;
                            for (o = 0; o < span8; o++) {
                                acc[o] += w * src[o];
                            }
                        }
                    }
                }
                /* one output stage over the whole band (padding columns included), then the rows */
                qcc_requant_row_s8(acc, span8, p->rq.multiplier[q], p->rq.shift[q], p->rq.rounding, p->rq.out_zp,
                                   p->rq.qmin, p->rq.qmax, band, 1);
                for (t = 0; t < nr; t++) {
                    memcpy(out + (size_t)(r0 + t) * ow, band + (size_t)t * pw, (size_t)ow);
                }
            }
        }
    }
}

void qcc_conv_depthwise_s8(const qcc_conv_t *p, const int8_t *x, int8_t *y, int16_t *scratch)
{
    const int32_t mult = p->out_c / p->in_c;
    const int32_t ih = p->in_size[1], iw = p->in_size[2];
    const int32_t oh = p->out_size[1], ow = p->out_size[2];
    const int32_t kh = p->kernel[1], kw = p->kernel[2];
    const int32_t sh = p->stride[1], sw = p->stride[2];
    const int32_t zp = p->in_zp;
    int32_t acc[QCC_DW_TILE];
    int32_t lo[QCC_DW_MAX_KW], hi[QCC_DW_MAX_KW];
    int32_t n, co, x0, c;
    if (qcc_depthwise_vector_s8(p, x, y, scratch)) { /* AVX-512 VBMI + VNNI builds (qcc_depthwise.c) */
        return;
    }
    if (sh == 1 && sw == 1 && scratch != NULL) {
        depthwise_band_s8(p, x, y, scratch);
        return;
    }
    for (x0 = 0; x0 < ow; x0 += QCC_DW_TILE) {
        const int32_t cols = ow - x0 < QCC_DW_TILE ? ow - x0 : QCC_DW_TILE;
        /* whole rows fit: several rows per pass, requantized together (they are contiguous) */
        const int32_t rows_per_pass = cols == ow ? QCC_DW_TILE / ow : 1;
        for (c = 0; c < kw && c < QCC_DW_MAX_KW; c++) {
            valid_range(cols, iw, sw, c * p->dilation[2] - p->pad[2] + x0 * sw, &lo[c], &hi[c]);
        }
        for (n = 0; n < p->batch; n++) {
            for (co = 0; co < p->out_c; co++) {
                const int8_t *plane = x + ((size_t)n * p->in_c + co / mult) * ih * iw;
                int8_t *out = y + ((size_t)n * p->out_c + co) * oh * ow;
                const size_t wc = (size_t)co * kh * kw; /* this channel's first weight */
                const int32_t bias = p->bias ? p->bias[co] : 0;
                const int32_t q = p->rq.per_channel ? co : 0;
                int32_t r0;
                for (r0 = 0; r0 < oh; r0 += rows_per_pass) {
                    const int32_t nr = oh - r0 < rows_per_pass ? oh - r0 : rows_per_pass;
                    int32_t rr, b, k, j;
                    for (j = 0; j < nr * cols; j++) {
                        acc[j] = bias;
                    }
                    for (rr = 0; rr < nr; rr++) {
                        int32_t *arow = acc + rr * cols;
                        for (b = 0; b < kh; b++) {
                            const int32_t yi = (r0 + rr) * sh - p->pad[1] + b * p->dilation[1];
                            const int8_t *row;
                            if (yi < 0 || yi >= ih) {
                                continue;
                            }
                            row = plane + (size_t)yi * iw;
                            for (k = 0; k < kw; k++) {
                                const int32_t w = qcc_weight_at(p->weight, p->weight_bits, wc + (size_t)(b * kw + k));
                                const int32_t off = k * p->dilation[2] - p->pad[2] + x0 * sw;
                                int32_t a, e;
                                if (k < QCC_DW_MAX_KW) {
                                    a = lo[k];
                                    e = hi[k];
                                } else {
                                    valid_range(cols, iw, sw, off, &a, &e);
                                }
                                if (sw == 1) {
                                    const int8_t *src = row + off;
                                    for (j = a; j < e; j++) {
                                        arow[j] += w * ((int32_t)src[j] - zp);
                                    }
                                } else {
                                    for (j = a; j < e; j++) {
                                        arow[j] += w * ((int32_t)row[j * sw + off] - zp);
                                    }
                                }
                            }
                        }
                    }
                    qcc_requant_row_s8(acc, nr * cols, p->rq.multiplier[q], p->rq.shift[q], p->rq.rounding, p->rq.out_zp,
                                       p->rq.qmin, p->rq.qmax, out + (size_t)r0 * ow + x0, 1);
                }
            }
        }
    }
}

/* ---- GEMM-based convolution ------------------------------------------------------------------ */

/* Writes nt (<= 8) k-major rows of np values into panel columns k0 .. k0 + nt of rows 0 .. np. */
static void transpose_rows(int16_t rows[8][QCC_MAX_PANEL], int32_t nt, int32_t np, int16_t *panel, size_t ks, int32_t k0)
{
    int32_t j = 0, t;
#if defined(__AVX2__)
    if (nt == 8) {
        for (; j + 16 <= np; j += 16) { /* an 8 x 16 block: unpack epi16 / epi32 / epi64 per 128-bit lane */
            __m256i r[8], a[8], b[8];
            for (t = 0; t < 8; t++) {
                r[t] = _mm256_loadu_si256((const __m256i *)(const void *)(rows[t] + j));
            }
            for (t = 0; t < 4; t++) {
                a[2 * t] = _mm256_unpacklo_epi16(r[2 * t], r[2 * t + 1]);
                a[2 * t + 1] = _mm256_unpackhi_epi16(r[2 * t], r[2 * t + 1]);
            }
            b[0] = _mm256_unpacklo_epi32(a[0], a[2]);
            b[1] = _mm256_unpackhi_epi32(a[0], a[2]);
            b[2] = _mm256_unpacklo_epi32(a[1], a[3]);
            b[3] = _mm256_unpackhi_epi32(a[1], a[3]);
            b[4] = _mm256_unpacklo_epi32(a[4], a[6]);
            b[5] = _mm256_unpackhi_epi32(a[4], a[6]);
            b[6] = _mm256_unpacklo_epi32(a[5], a[7]);
            b[7] = _mm256_unpackhi_epi32(a[5], a[7]);
            for (t = 0; t < 4; t++) {
                const __m256i lo = _mm256_unpacklo_epi64(b[t], b[t + 4]);
                const __m256i hi = _mm256_unpackhi_epi64(b[t], b[t + 4]);
                int16_t *d0 = panel + (size_t)(j + 2 * t) * ks + k0;
                int16_t *d1 = panel + (size_t)(j + 2 * t + 1) * ks + k0;
                _mm_storeu_si128((__m128i *)(void *)d0, _mm256_castsi256_si128(lo));
                _mm_storeu_si128((__m128i *)(void *)(d0 + 8 * ks), _mm256_extracti128_si256(lo, 1));
                _mm_storeu_si128((__m128i *)(void *)d1, _mm256_castsi256_si128(hi));
                _mm_storeu_si128((__m128i *)(void *)(d1 + 8 * ks), _mm256_extracti128_si256(hi, 1));
            }
        }
    }
#endif
    for (; j < np; j++) {
        for (t = 0; t < nt; t++) {
            panel[(size_t)j * ks + k0 + t] = rows[t][j];
        }
    }
}

/* The u8 panel of the VNNI paths: group g of 4 consecutive taps (k = 4g .. 4g + 3) holds npad
 * pixel slots of 4 bytes, byte t of slot j = x + 128 of tap 4g + t at pixel j (zp + 128 on
 * padding), so one 32-bit lane of a vector load is one pixel's 4 taps: the u8 operand of vpdpbusd
 * against 4 weights of one output channel broadcast to every lane. Taps beyond K (their weights
 * are 0) and pixel slots np .. npad hold 0. */
static void write_taps_u8(int16_t rows[8][QCC_MAX_PANEL], int32_t nt, int32_t np, int32_t npad, uint8_t *dst)
{
    int32_t j = 0, t;
#if QCC_VNNI
    if (nt == 4) {
        for (; j + 8 <= np; j += 8) { /* values are 0 .. 255: packus narrows exactly */
            const __m128i r01 = _mm_packus_epi16(_mm_loadu_si128((const __m128i *)(const void *)(rows[0] + j)),
                                                 _mm_loadu_si128((const __m128i *)(const void *)(rows[1] + j)));
            const __m128i r23 = _mm_packus_epi16(_mm_loadu_si128((const __m128i *)(const void *)(rows[2] + j)),
                                                 _mm_loadu_si128((const __m128i *)(const void *)(rows[3] + j)));
            const __m128i a = _mm_unpacklo_epi8(r01, _mm_srli_si128(r01, 8));
            const __m128i b = _mm_unpacklo_epi8(r23, _mm_srli_si128(r23, 8));
            _mm_storeu_si128((__m128i *)(void *)(dst + 4 * j), _mm_unpacklo_epi16(a, b));
            _mm_storeu_si128((__m128i *)(void *)(dst + 4 * j + 16), _mm_unpackhi_epi16(a, b));
        }
    }
#endif
    for (; j < np; j++) {
        for (t = 0; t < 4; t++) {
            dst[4 * j + t] = t < nt ? (uint8_t)rows[t][j] : 0;
        }
    }
    memset(dst + 4 * np, 0, (size_t)(4 * (npad - np)));
}

/* Writes nt tap rows of np values into the panel at tap k0: the int16 panel (8 taps at a time)
 * or, with u8panel, the u8 one (4 taps at a time, k0 a multiple of 4). */
static void write_taps(int16_t rows[8][QCC_MAX_PANEL], int32_t nt, int32_t np, int16_t *panel, size_t ks, int32_t k0,
                       uint8_t *u8panel, int32_t npad)
{
    if (u8panel != NULL) {
        write_taps_u8(rows, nt, np, npad, u8panel + (size_t)(k0 / 4) * (size_t)npad * 4);
    } else {
        transpose_rows(rows, nt, np, panel, ks, k0);
    }
}

#if QCC_VNNI
/* The u8 panel (layout of write_taps_u8) of a 1x1x1 convolution whose taps all fall inside the
 * input: the 4 channel rows of a group are interleaved as they are. contiguous: stride 1, output
 * pixel = input pixel (any number of spatial axes), one run for the whole panel; else a 2-D one
 * with a stride, one run per output row, every stride-th value of one input row. */
static void pack_pointwise_u8(const qcc_conv_t *p, const int8_t *xg, int contiguous, int32_t p0, int32_t np, int32_t npad,
                              uint8_t *panel)
{
    const int32_t cig = p->in_c / p->groups, iw = p->in_size[2], ow = p->out_size[2];
    const int32_t sh = p->stride[1], sw = p->stride[2];
    const size_t in_plane = (size_t)p->in_size[0] * (size_t)p->in_size[1] * (size_t)iw;
    int32_t ci, j;
    for (ci = 0; ci < cig; ci += 4) {
        const int32_t nc = cig - ci < 4 ? cig - ci : 4;
        uint8_t *dst = panel + (size_t)(ci / 4) * (size_t)npad * 4;
        for (j = 0; j < np;) {
            const int32_t y = (p0 + j) / ow, x = (p0 + j) % ow;
            const int32_t len = contiguous || ow - x > np - j ? np - j : ow - x;
            const size_t at = contiguous ? (size_t)(p0 + j) : (size_t)y * (size_t)sh * (size_t)iw + (size_t)x * (size_t)sw;
            qcc_interleave4_u8(xg + (size_t)ci * in_plane + at, in_plane, sw, nc, len, dst + 4 * (size_t)j);
            j += len;
        }
        memset(dst + 4 * np, 0, (size_t)(4 * (npad - np)));
    }
}
#endif

/* The output pixels of a panel as runs that share one output row (the same input rows,
 * consecutive columns): run r covers panel pixels j[r] .. j[r] + len[r], output (z, y, x[r] ...). */
typedef struct {
    int32_t n;
    int32_t j[QCC_MAX_PANEL], len[QCC_MAX_PANEL], x[QCC_MAX_PANEL], y[QCC_MAX_PANEL], z[QCC_MAX_PANEL];
} pixel_runs_t;

/* dst[j] = x - sub of the input channel at element offset plane that tap (a, b, c) reads for panel
 * pixel j, fill (zp - sub) where the tap falls on padding. */
static void gather_tap(const qcc_conv_t *p, const void *xg, int32_t es, size_t plane, int32_t a, int32_t b, int32_t c,
                       const pixel_runs_t *runs, int32_t sub, int16_t fill, int16_t *dst)
{
    const int32_t id = p->in_size[0], ih = p->in_size[1], iw = p->in_size[2];
    const int32_t sw = p->stride[2];
    int32_t r, t;
    for (r = 0; r < runs->n; r++) {
        const int32_t zi = runs->z[r] * p->stride[0] - p->pad[0] + a * p->dilation[0];
        const int32_t yi = runs->y[r] * p->stride[1] - p->pad[1] + b * p->dilation[1];
        const int32_t off = runs->x[r] * sw - p->pad[2] + c * p->dilation[2];
        const int inside = zi >= 0 && zi < id && yi >= 0 && yi < ih;
        const size_t row = plane + ((size_t)(inside ? zi : 0) * ih + (inside ? yi : 0)) * iw;
        int16_t *out = dst + runs->j[r];
        int32_t lo = 0, hi = 0;
        if (inside) {
            valid_range(runs->len[r], iw, sw, off, &lo, &hi);
        }
        for (t = 0; t < lo; t++) {
            out[t] = fill;
        }
        if (es == 1) {
            const int8_t *src = (const int8_t *)xg + row + off;
            if (sw == 1) {
                for (t = lo; t < hi; t++) {
                    out[t] = (int16_t)(src[t] - sub);
                }
            } else {
                t = lo;
#if defined(__AVX2__)
                if (sw == 2) { /* 16 outputs from 32 bytes: the even ones, sign-extended */
                    const __m256i s = _mm256_set1_epi16((int16_t)sub);
                    for (; t + 17 <= hi; t += 16) { /* reads up to src[2t + 31] <= src[2 (hi - 1)] */
                        const __m256i v = _mm256_loadu_si256((const __m256i *)(const void *)(src + 2 * t));
                        _mm256_storeu_si256((__m256i *)(void *)(out + t),
                                            _mm256_sub_epi16(_mm256_srai_epi16(_mm256_slli_epi16(v, 8), 8), s));
                    }
                }
#endif
                for (; t < hi; t++) {
                    out[t] = (int16_t)(src[t * sw] - sub);
                }
            }
        } else {
            const int16_t *src = (const int16_t *)xg + row + off;
            for (t = lo; t < hi; t++) {
                out[t] = (int16_t)(src[t * sw] - sub);
            }
        }
        for (t = hi > lo ? hi : lo; t < runs->len[r]; t++) {
            out[t] = fill;
        }
    }
}

/* Packs output pixels [p0, p0 + np) of one batch element and group into panel rows of k_stride
 * int16 values: row j holds (x - sub) for the K taps output pixel p0 + j reads in the weights'
 * order (qcc_kernels.h: c4 order, 0 for the channels a last group of 4 lacks, or channel-major,
 * then kd, kh, kw), zp - sub where a tap falls on padding; columns K .. k_stride stay as they are.
 * With u8panel (the VNNI paths, sub = -128) the values go to the u8 layout of pack_pointwise_u8
 * instead (npad pixel slots per group of 4 taps). */
static void pack_panel(const qcc_conv_t *p, const void *xg, int32_t es, int32_t p0, int32_t np, int16_t *panel, int32_t sub,
                       uint8_t *u8panel, int32_t npad)
{
    const int32_t cig = p->in_c / p->groups;
    const int32_t id = p->in_size[0], ih = p->in_size[1], iw = p->in_size[2];
    const int32_t oh = p->out_size[1], ow = p->out_size[2];
    const int32_t kd = p->kernel[0], kh = p->kernel[1], kw = p->kernel[2];
    const int32_t sw = p->stride[2];
    const int32_t in_plane = id * ih * iw;
    const int32_t zp = p->in_zp;
    const int16_t fill = (int16_t)(zp - sub);
    const int32_t flush = u8panel != NULL ? 4 : 8; /* taps per write into the panel */
    const size_t ks = (size_t)p->k_stride;
    const int32_t quad = QCC_C4_ORDER(cig) ? 4 : 1;
    int32_t j, ci, cg, a, b, c, k;
    const int pointwise = kd == 1 && kh == 1 && kw == 1 && p->stride[0] == 1 && p->stride[1] == 1 && sw == 1 &&
                          p->pad[0] == 0 && p->pad[1] == 0 && p->pad[2] == 0 && p->out_size[0] == id && oh == ih && ow == iw;
#if QCC_VNNI
    if (u8panel != NULL && es == 1 &&
        (pointwise || (kd == 1 && kh == 1 && kw == 1 && id == 1 && p->pad[1] == 0 && p->pad[2] == 0 &&
                       (oh - 1) * p->stride[1] < ih && (ow - 1) * sw < iw))) { /* no tap on padding (end pads add some) */
        pack_pointwise_u8(p, (const int8_t *)xg, pointwise, p0, np, npad, u8panel);
        return;
    }
#endif
    if (pointwise) {
        /* the panel is a transpose of a [cig][np] block of the input, done 8 channels at a time
         * (8 input rows read in step, 8 contiguous panel values written per pixel) */
        for (ci = 0; ci < cig; ci += 8) {
            const int32_t nc = cig - ci < 8 ? cig - ci : 8;
            const size_t at = (size_t)ci * in_plane + p0;
            j = 0;
#if defined(__AVX2__)
            if (es == 1 && nc == 8) {
                /* 8 channels x 16 pixels per step: widen, remove zp, transpose in registers */
                const __m256i z = _mm256_set1_epi16((int16_t)sub);
                for (; j + 16 <= np; j += 16) {
                    const int8_t *s = (const int8_t *)xg + at + j;
                    __m256i r[8], a[8], b[8];
                    int32_t t;
                    for (t = 0; t < 8; t++) {
                        r[t] = _mm256_sub_epi16(_mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(s + (size_t)t * in_plane))), z);
                    }
                    for (t = 0; t < 4; t++) {
                        a[2 * t] = _mm256_unpacklo_epi16(r[2 * t], r[2 * t + 1]);
                        a[2 * t + 1] = _mm256_unpackhi_epi16(r[2 * t], r[2 * t + 1]);
                    }
                    b[0] = _mm256_unpacklo_epi32(a[0], a[2]);
                    b[1] = _mm256_unpackhi_epi32(a[0], a[2]);
                    b[2] = _mm256_unpacklo_epi32(a[1], a[3]);
                    b[3] = _mm256_unpackhi_epi32(a[1], a[3]);
                    b[4] = _mm256_unpacklo_epi32(a[4], a[6]);
                    b[5] = _mm256_unpackhi_epi32(a[4], a[6]);
                    b[6] = _mm256_unpacklo_epi32(a[5], a[7]);
                    b[7] = _mm256_unpackhi_epi32(a[5], a[7]);
                    for (t = 0; t < 4; t++) {
                        const __m256i lo = _mm256_unpacklo_epi64(b[t], b[t + 4]);
                        const __m256i hi = _mm256_unpackhi_epi64(b[t], b[t + 4]);
                        int16_t *d0 = panel + (size_t)(j + 2 * t) * ks + ci;
                        int16_t *d1 = panel + (size_t)(j + 2 * t + 1) * ks + ci;
                        _mm_storeu_si128((__m128i *)(void *)d0, _mm256_castsi256_si128(lo));
                        _mm_storeu_si128((__m128i *)(void *)(d0 + 8 * ks), _mm256_extracti128_si256(lo, 1));
                        _mm_storeu_si128((__m128i *)(void *)d1, _mm256_castsi256_si128(hi));
                        _mm_storeu_si128((__m128i *)(void *)(d1 + 8 * ks), _mm256_extracti128_si256(hi, 1));
                    }
                }
            }
#endif
            if (es == 1 && nc == 8) {
                const int8_t *s0 = (const int8_t *)xg + at;
                for (; j < np; j++) {
                    int16_t *dst = panel + (size_t)j * ks + ci;
                    const int8_t *s = s0 + j;
                    dst[0] = (int16_t)(s[0] - sub);
                    dst[1] = (int16_t)(s[in_plane] - sub);
                    dst[2] = (int16_t)(s[2 * (size_t)in_plane] - sub);
                    dst[3] = (int16_t)(s[3 * (size_t)in_plane] - sub);
                    dst[4] = (int16_t)(s[4 * (size_t)in_plane] - sub);
                    dst[5] = (int16_t)(s[5 * (size_t)in_plane] - sub);
                    dst[6] = (int16_t)(s[6 * (size_t)in_plane] - sub);
                    dst[7] = (int16_t)(s[7 * (size_t)in_plane] - sub);
                }
            } else {
                for (; j < np; j++) {
                    int16_t *dst = panel + (size_t)j * ks + ci;
                    for (k = 0; k < nc; k++) {
                        const size_t from = at + (size_t)k * in_plane + j;
                        dst[k] = (int16_t)((es == 1 ? ((const int8_t *)xg)[from] : ((const int16_t *)xg)[from]) - sub);
                    }
                }
            }
        }
        return;
    }
    /* runs of pixels that share one output row: the same input rows, consecutive columns */
    {
        pixel_runs_t runs;
        int16_t rows[8][QCC_MAX_PANEL];
        int32_t nt = 0, k0 = 0;
        runs.n = 0;
        for (j = 0; j < np; runs.n++) {
            const int32_t pix = p0 + j, r = runs.n;
            runs.j[r] = j;
            runs.x[r] = pix % ow;
            runs.y[r] = (pix / ow) % oh;
            runs.z[r] = pix / (ow * oh);
            runs.len[r] = ow - runs.x[r] < np - j ? ow - runs.x[r] : np - j;
            j += runs.len[r];
        }
        /* one k-major row of np values per tap (contiguous, vectorizable), transposed into the
         * panel 8 (int16) or 4 (u8) taps at a time; quad channels per tap (c4 order or not) */
        for (cg = 0; cg < cig; cg += quad) {
            for (a = 0; a < kd; a++) {
                for (b = 0; b < kh; b++) {
                    for (c = 0; c < kw; c++) {
                        for (ci = cg; ci < cg + quad; ci++) {
                            if (ci < cig) {
                                gather_tap(p, xg, es, (size_t)ci * in_plane, a, b, c, &runs, sub, fill, rows[nt]);
                            } else { /* a channel the last group of 4 lacks: its weights are 0 */
                                memset(rows[nt], 0, sizeof(int16_t) * (size_t)np);
                            }
                            if (++nt == flush) {
                                write_taps(rows, nt, np, panel, ks, k0, u8panel, npad);
                                k0 += nt;
                                nt = 0;
                            }
                        }
                    }
                }
            }
        }
        if (nt > 0) {
            write_taps(rows, nt, np, panel, ks, k0, u8panel, npad);
        }
    }
}

#if QCC_VNNI == 512
/* no dot_4x2: the int8 kernel uses qcc_vnni_rows, the int16 one dot_4x2_s16 (below) */
#elif defined(__AVX2__)
/* lanes of s += the two adjacent int16 products of a and x: one vpdpwssd on the AVX-VNNI and
 * AVX-512 VL paths, else vpmaddwd then vpaddd (the same int32 sums, modulo 2^32) */
#if QCC_VNNI == 256 && defined(__AVXVNNI__)
#define QCC_MADD_ACC(s, a, x) _mm256_dpwssd_avx_epi32((s), (a), (x))
#elif QCC_VNNI == 256
#define QCC_MADD_ACC(s, a, x) _mm256_dpwssd_epi32((s), (a), (x))
#else
#define QCC_MADD_ACC(s, a, x) _mm256_add_epi32((s), _mm256_madd_epi16((a), (x)))
#endif

/* acc[2r + c] = sum_i w_r[i] * b_c[i] for 4 weight rows (int8) and 2 panel rows (int16); k is a
 * multiple of 16. vpmaddwd sums adjacent products exactly (|x| <= 32767 or 0 <= x <= 255 with
 * |w| <= 128) into int32 lanes, whose sums are taken modulo 2^32 (qcc_simd.h). */
static void dot_4x2(const int8_t *w, int32_t ldw, const int16_t *b0, const int16_t *b1, int32_t k, int32_t *acc)
{
    __m256i s00 = _mm256_setzero_si256(), s01 = _mm256_setzero_si256();
    __m256i s10 = _mm256_setzero_si256(), s11 = _mm256_setzero_si256();
    __m256i s20 = _mm256_setzero_si256(), s21 = _mm256_setzero_si256();
    __m256i s30 = _mm256_setzero_si256(), s31 = _mm256_setzero_si256();
    int32_t i;
    for (i = 0; i < k; i += 16) {
        const __m256i x0 = _mm256_loadu_si256((const __m256i *)(const void *)(b0 + i));
        const __m256i x1 = _mm256_loadu_si256((const __m256i *)(const void *)(b1 + i));
        __m256i a = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(w + i)));
        s00 = QCC_MADD_ACC(s00, a, x0);
        s01 = QCC_MADD_ACC(s01, a, x1);
        a = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(w + ldw + i)));
        s10 = QCC_MADD_ACC(s10, a, x0);
        s11 = QCC_MADD_ACC(s11, a, x1);
        a = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(w + 2 * ldw + i)));
        s20 = QCC_MADD_ACC(s20, a, x0);
        s21 = QCC_MADD_ACC(s21, a, x1);
        a = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(w + 3 * ldw + i)));
        s30 = QCC_MADD_ACC(s30, a, x0);
        s31 = QCC_MADD_ACC(s31, a, x1);
    }
    {
        const __m256i u0 = _mm256_hadd_epi32(_mm256_hadd_epi32(s00, s01), _mm256_hadd_epi32(s10, s11));
        const __m256i u1 = _mm256_hadd_epi32(_mm256_hadd_epi32(s20, s21), _mm256_hadd_epi32(s30, s31));
        _mm_storeu_si128((__m128i *)(void *)acc, _mm_add_epi32(_mm256_castsi256_si128(u0), _mm256_extracti128_si256(u0, 1)));
        _mm_storeu_si128((__m128i *)(void *)(acc + 4), _mm_add_epi32(_mm256_castsi256_si128(u1), _mm256_extracti128_si256(u1, 1)));
    }
}
#else
/* acc[2r + c] = sum_i w_r[i] * b_c[i] for 4 weight rows (int8) and 2 panel rows (int16). */
static void dot_4x2(const int8_t *w, int32_t ldw, const int16_t *b0, const int16_t *b1, int32_t k, int32_t *acc)
{
    const int8_t *w0 = w, *w1 = w + ldw, *w2 = w + 2 * ldw, *w3 = w + 3 * ldw;
    uint32_t s00 = 0, s01 = 0, s10 = 0, s11 = 0, s20 = 0, s21 = 0, s30 = 0, s31 = 0; /* modulo 2^32, as the vector paths */
    int32_t i;
    for (i = 0; i < k; i++) {
        const int32_t x0 = b0[i], x1 = b1[i];
        const int32_t a0 = w0[i], a1 = w1[i], a2 = w2[i], a3 = w3[i];
        s00 += (uint32_t)(a0 * x0);
        s01 += (uint32_t)(a0 * x1);
        s10 += (uint32_t)(a1 * x0);
        s11 += (uint32_t)(a1 * x1);
        s20 += (uint32_t)(a2 * x0);
        s21 += (uint32_t)(a2 * x1);
        s30 += (uint32_t)(a3 * x0);
        s31 += (uint32_t)(a3 * x1);
    }
    acc[0] = qcc_wrap_i32(s00);
    acc[1] = qcc_wrap_i32(s01);
    acc[2] = qcc_wrap_i32(s10);
    acc[3] = qcc_wrap_i32(s11);
    acc[4] = qcc_wrap_i32(s20);
    acc[5] = qcc_wrap_i32(s21);
    acc[6] = qcc_wrap_i32(s30);
    acc[7] = qcc_wrap_i32(s31);
}
#endif

#if QCC_VNNI == 512
/* dot_4x2 on 512-bit vectors with vpdpwssd (32 int16 products per step, two per int32 lane): the
 * int16 kernel's dot products on the AVX-512 VNNI path. k is a multiple of 16; a final half vector
 * is loaded under a mask (zeros beyond k). Each accumulator is folded to 256 bits and the eight
 * reduced together as in dot_4x2; all sums modulo 2^32, exact for a chunk (QCC_S16_CHUNK). */
static void dot_4x2_s16(const int8_t *w, int32_t ldw, const int16_t *b0, const int16_t *b1, int32_t k, int32_t *acc)
{
    __m512i s[8];
    __m256i h[8];
    int32_t i, r;
    for (r = 0; r < 8; r++) {
        s[r] = _mm512_setzero_si512();
    }
    for (i = 0; i < k; i += 32) {
        const __mmask32 live = k - i >= 32 ? (__mmask32)0xFFFFFFFFu : (__mmask32)0xFFFFu; /* k - i is 16 at the end */
        const __m512i x0 = _mm512_maskz_loadu_epi16(live, b0 + i), x1 = _mm512_maskz_loadu_epi16(live, b1 + i);
        for (r = 0; r < 4; r++) {
            const __m512i a = _mm512_cvtepi8_epi16(_mm512_castsi512_si256(_mm512_maskz_loadu_epi8((__mmask64)live, w + (size_t)r * ldw + i)));
            s[2 * r] = _mm512_dpwssd_epi32(s[2 * r], a, x0);
            s[2 * r + 1] = _mm512_dpwssd_epi32(s[2 * r + 1], a, x1);
        }
    }
    for (r = 0; r < 8; r++) {
        h[r] = _mm256_add_epi32(_mm512_castsi512_si256(s[r]), _mm512_extracti64x4_epi64(s[r], 1));
    }
    {
        const __m256i u0 = _mm256_hadd_epi32(_mm256_hadd_epi32(h[0], h[1]), _mm256_hadd_epi32(h[2], h[3]));
        const __m256i u1 = _mm256_hadd_epi32(_mm256_hadd_epi32(h[4], h[5]), _mm256_hadd_epi32(h[6], h[7]));
        _mm_storeu_si128((__m128i *)(void *)acc, _mm_add_epi32(_mm256_castsi256_si128(u0), _mm256_extracti128_si256(u0, 1)));
        _mm_storeu_si128((__m128i *)(void *)(acc + 4), _mm_add_epi32(_mm256_castsi256_si128(u1), _mm256_extracti128_si256(u1, 1)));
    }
}
#else
/* the int16 kernel's dot products: vpdpwssd inside dot_4x2 on the AVX-VNNI path, else vpmaddwd or C */
static void dot_4x2_s16(const int8_t *w, int32_t ldw, const int16_t *b0, const int16_t *b1, int32_t k, int32_t *acc)
{
    dot_4x2(w, ldw, b0, b1, k, acc);
}
#endif


/* acc_rows[r][j] = the dot products of 4 weight rows of one group with panel pixels 0 .. np, by the
 * path this file was compiled for: the u8 panel (VNNI) or the int16 one (AVX2 / portable). */
static void gemm_rows_s8(const qcc_conv_t *p, const int8_t *w, const int16_t *panel, int32_t kq, int32_t np, int32_t npad,
                         int32_t acc_rows[4][QCC_MAX_PANEL])
{
#if QCC_VNNI
    static const int32_t one_tap[1] = {0};
    (void)np;
    qcc_vnni_rows(w, (size_t)p->k_stride, (const uint8_t *)(const void *)panel, kq, (size_t)npad * 4, one_tap, 1, npad, acc_rows);
#else
    int32_t j, r;
    (void)kq;
    (void)npad;
    for (j = 0; j < np; j += 2) {
        const int16_t *b0 = panel + (size_t)j * p->k_stride;
        const int16_t *b1 = j + 1 < np ? b0 + p->k_stride : b0;
        int32_t acc[8];
        dot_4x2(w, p->k_stride, b0, b1, p->k_stride, acc);
        for (r = 0; r < 4; r++) {
            acc_rows[r][j] = acc[2 * r];
            acc_rows[r][j + 1] = acc[2 * r + 1];
        }
    }
#endif
}

void qcc_conv_gemm_s8(const qcc_conv_t *p, const int8_t *x, int8_t *y, int16_t *scratch)
{
    const int32_t cig = p->in_c / p->groups, cog = p->out_c / p->groups;
    const int32_t taps = p->kernel[0] * p->kernel[1] * p->kernel[2];
    const int32_t kq = (QCC_CONV_GEMM_K(cig, taps) + 3) / 4; /* groups of 4 values of the u8 panel */
    const int32_t in_plane = p->in_size[0] * p->in_size[1] * p->in_size[2];
    const int32_t pixels = p->out_size[0] * p->out_size[1] * p->out_size[2];
    const int32_t tile = p->tile < QCC_MAX_PANEL ? p->tile : QCC_MAX_PANEL;
    int32_t acc_rows[4][QCC_MAX_PANEL];
    int8_t *wbuf = (int8_t *)(void *)scratch + QCC_CONV_GEMM_SCRATCH(p->tile, p->k_stride); /* 4-bit weights, unpacked */
    int32_t n, g, p0;
#if QCC_VNNI
    if (qcc_conv_direct_s8(p, x, y, scratch)) { /* no panel (qcc_conv_direct.c) */
        return;
    }
#else
    const int32_t ktotal = cig * taps;
    int32_t j;
    /* columns K .. k_stride of the int16 panel stay zero (their weights are zero too) */
    for (j = 0; j < tile; j++) {
        memset(scratch + (size_t)j * p->k_stride + ktotal, 0, sizeof(int16_t) * (size_t)(p->k_stride - ktotal));
    }
#endif
    for (n = 0; n < p->batch; n++) {
        for (g = 0; g < p->groups; g++) {
            const int8_t *xg = x + ((size_t)n * p->in_c + (size_t)g * cig) * in_plane;
            for (p0 = 0; p0 < pixels; p0 += tile) {
                const int32_t np = pixels - p0 < tile ? pixels - p0 : tile;
                int32_t row;
#if QCC_VNNI
                const int32_t npad = (np + QCC_VLANES - 1) / QCC_VLANES * QCC_VLANES;
                pack_panel(p, xg, 1, p0, np, scratch, -128, (uint8_t *)(void *)scratch, npad);
#else
                const int32_t npad = np;
                pack_panel(p, xg, 1, p0, np, scratch, -128, NULL, 0);
#endif
                for (row = 0; row < cog; row += 4) {
                    const int8_t *w = qcc_weight_run(p->weight, p->weight_bits, ((size_t)g * p->rows_per_group + row) * p->k_stride,
                                                     QCC_W4_BLOCK(p->k_stride), wbuf);
                    int32_t r;
                    gemm_rows_s8(p, w, scratch, kq, np, npad, acc_rows);
                    for (r = 0; r < 4 && row + r < cog; r++) {
                        const int32_t co = g * cog + row + r;
                        qcc_requant_channel_s8(&p->rq, co, p->bias ? (uint32_t)p->bias[co] : 0u, acc_rows[r], np,
                                               y + ((size_t)n * p->out_c + co) * pixels + p0);
                    }
                }
            }
        }
    }
}

#define QCC_S16_CHUNK 512 /* int16 x int8 products summed in int32 before widening: 512 * 32767 * 128 < 2^31 */

void qcc_conv_gemm_s16(const qcc_conv_t *p, const int16_t *x, int16_t *y, int16_t *scratch)
{
    const int32_t cig = p->in_c / p->groups, cog = p->out_c / p->groups;
    const int32_t ktotal = cig * p->kernel[0] * p->kernel[1] * p->kernel[2];
    const int32_t in_plane = p->in_size[0] * p->in_size[1] * p->in_size[2];
    const int32_t pixels = p->out_size[0] * p->out_size[1] * p->out_size[2];
    const int32_t tile = p->tile < QCC_MAX_PANEL ? p->tile : QCC_MAX_PANEL;
    int64_t acc_rows[4][QCC_MAX_PANEL];
    int8_t *wbuf = (int8_t *)(void *)scratch + QCC_CONV_GEMM_SCRATCH(p->tile, p->k_stride); /* 4-bit weights, unpacked */
    int32_t n, g, p0, j;
    for (j = 0; j < tile; j++) {
        memset(scratch + (size_t)j * p->k_stride + ktotal, 0, sizeof(int16_t) * (size_t)(p->k_stride - ktotal));
    }
    for (n = 0; n < p->batch; n++) {
        for (g = 0; g < p->groups; g++) {
            const int16_t *xg = x + ((size_t)n * p->in_c + (size_t)g * cig) * in_plane;
            for (p0 = 0; p0 < pixels; p0 += tile) {
                const int32_t np = pixels - p0 < tile ? pixels - p0 : tile;
                int32_t row;
                pack_panel(p, xg, 2, p0, np, scratch, p->in_zp, NULL, 0);
                for (row = 0; row < cog; row += 4) {
                    const int8_t *w = qcc_weight_run(p->weight, p->weight_bits, ((size_t)g * p->rows_per_group + row) * p->k_stride,
                                                     QCC_W4_BLOCK(p->k_stride), wbuf);
                    int32_t r;
                    for (j = 0; j < np; j += 2) {
                        const int16_t *b0 = scratch + (size_t)j * p->k_stride;
                        const int16_t *b1 = j + 1 < np ? b0 + p->k_stride : b0;
                        int64_t sums[8] = {0, 0, 0, 0, 0, 0, 0, 0};
                        int32_t k0, i;
                        /* |x| <= 32767, |w| <= 128: the sum of a chunk of 512 products stays below 2^31 */
                        for (k0 = 0; k0 < p->k_stride; k0 += QCC_S16_CHUNK) {
                            const int32_t len = p->k_stride - k0 < QCC_S16_CHUNK ? p->k_stride - k0 : QCC_S16_CHUNK;
                            int32_t acc[8];
                            dot_4x2_s16(w + k0, p->k_stride, b0 + k0, b1 + k0, len, acc);
                            for (i = 0; i < 8; i++) {
                                sums[i] += acc[i];
                            }
                        }
                        for (r = 0; r < 4; r++) {
                            acc_rows[r][j] = sums[2 * r];
                            acc_rows[r][j + 1] = sums[2 * r + 1];
                        }
                    }
                    for (r = 0; r < 4 && row + r < cog; r++) {
                        const int32_t co = g * cog + row + r;
                        const int64_t bias = p->bias ? p->bias[co] : 0;
                        int16_t *out = y + ((size_t)n * p->out_c + co) * pixels + p0;
                        for (j = 0; j < np; j++) {
                            out[j] = (int16_t)qcc_requant_one(&p->rq, co, acc_rows[r][j] + bias);
                        }
                    }
                }
            }
        }
    }
}

/* ---- transposed convolution ------------------------------------------------------------------ */

/* For output coordinate o along one axis, the taps t (and input coordinates) that reach it:
 * o = i * stride - pad + t * dilation. */
static int32_t transpose_tap_input(int32_t o, int32_t t, int32_t stride, int32_t pad, int32_t dilation, int32_t n_in)
{
    const int32_t num = o + pad - t * dilation;
    if (num < 0 || num % stride != 0 || num / stride >= n_in) {
        return -1;
    }
    return num / stride;
}

static void conv_transpose_generic(const qcc_conv_t *p, const void *x, void *y, int32_t es)
{
    const int32_t cig = p->in_c / p->groups, cog = p->out_c / p->groups;
    const int32_t id = p->in_size[0], ih = p->in_size[1], iw = p->in_size[2];
    const int32_t od = p->out_size[0], oh = p->out_size[1], ow = p->out_size[2];
    const int32_t kd = p->kernel[0], kh = p->kernel[1], kw = p->kernel[2];
    const int32_t in_plane = id * ih * iw, out_plane = od * oh * ow;
    int32_t n, co, z, r, q;
    for (n = 0; n < p->batch; n++) {
        for (co = 0; co < p->out_c; co++) {
            const int32_t g = co / cog;
            const size_t wc = (size_t)co * cig * kd * kh * kw; /* this channel's first weight */
            for (z = 0; z < od; z++) {
                for (r = 0; r < oh; r++) {
                    for (q = 0; q < ow; q++) {
                        int64_t acc = p->bias ? p->bias[co] : 0;
                        int32_t a, b, c, ci;
                        for (a = 0; a < kd; a++) {
                            const int32_t zi = transpose_tap_input(z, a, p->stride[0], p->pad[0], p->dilation[0], id);
                            if (zi < 0) {
                                continue;
                            }
                            for (b = 0; b < kh; b++) {
                                const int32_t yi = transpose_tap_input(r, b, p->stride[1], p->pad[1], p->dilation[1], ih);
                                if (yi < 0) {
                                    continue;
                                }
                                for (c = 0; c < kw; c++) {
                                    const int32_t xi = transpose_tap_input(q, c, p->stride[2], p->pad[2], p->dilation[2], iw);
                                    if (xi < 0) {
                                        continue;
                                    }
                                    for (ci = 0; ci < cig; ci++) {
                                        const size_t xo = ((size_t)n * p->in_c + (size_t)g * cig + ci) * in_plane +
                                                          ((size_t)zi * ih + yi) * iw + xi;
                                        const int32_t w = qcc_weight_at(p->weight, p->weight_bits, wc + (size_t)(((ci * kd + a) * kh + b) * kw + c));
                                        acc += (int64_t)w * (qcc_load_elem(x, xo, es) - p->in_zp);
                                    }
                                }
                            }
                        }
                        qcc_store_elem(y, ((size_t)n * p->out_c + co) * out_plane + ((size_t)z * oh + r) * ow + q, es,
                                   qcc_requant_one(&p->rq, co, acc));
                    }
                }
            }
        }
    }
}

void qcc_conv_transpose_s8(const qcc_conv_t *p, const int8_t *x, int8_t *y)
{
    conv_transpose_generic(p, x, y, 1);
}

void qcc_conv_transpose_s16(const qcc_conv_t *p, const int16_t *x, int16_t *y)
{
    conv_transpose_generic(p, x, y, 2);
}

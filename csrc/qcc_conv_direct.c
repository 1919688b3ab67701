/*
 * qcc_conv_direct.c - qcc_conv_gemm_s8 for stride-1 convolutions on the VNNI builds, without an
 * im2col panel (docs/arithmetic.md 3.1: the same sum (x + 128) * w with the folded bias).
 *
 * Why: on ResNet-50's 3x3 layers the panel path spent about two thirds of its time building the
 * panel (one gather per tap and pixel) and one third in vpdpbusd. With the weights in c4 order
 * (qcc_vnni.h) a group of 4 reduction values is 4 channels at one tap, so a kh x kw convolution is
 * kh * kw 1x1 products of shifted inputs: this path copies a band of input rows once into the u8
 * layout (4 channels interleaved per pixel slot, the convolution's padding written as zp + 128)
 * and the micro-kernel reads every tap straight from it at a constant offset.
 *
 * The constant offset: output pixels are numbered in the band's padded width
 * pw = out_w + (kw - 1) * dilation_w, so output (y, x) of the band is position q = y * pw + x and
 * its tap (b, c) is band position q + b * dilation_h * pw + c * dilation_w. The (kw - 1) * dilation_w
 * positions per row that land in the right padding are computed and dropped.
 *
 * It runs when in_c/groups is a multiple of 4 (the weights are then in c4 order; first layers
 * with 1 or 3 channels keep the panel, whose weights need no padding channels).
 *
 * The band lives in the kernel's scratch (QCC_CONV_GEMM_SCRATCH bytes, sized for the panel path):
 * as many output rows per band as fit; when not even one row fits, the panel path runs instead.
 */
#include "qcc_int4.h"
#include "qcc_kernels.h"
#include "qcc_vnni.h"

#include <string.h>

#if QCC_VNNI

#define QCC_DIRECT_MAX_TAPS 64   /* kh * kw up to 8 x 8: the tap offset table is on the stack */
#define QCC_DIRECT_MAX_STRIDE 4  /* up to 4 x 4 phases */
#define QCC_DIRECT_SLACK 16      /* positions after a group's band: a last partial vector reads up to 15 past */
#define QCC_DIRECT_ROUNDING 32   /* positions odd_lines may add to a group's band (up to 127 bytes) */

/* Where the band of one group of 4 input channels sits in the scratch. With strides (sh, sw) the
 * band holds sh * sw phases: phase (a, b) row i, column j is the padded input at
 * (sh * (r0 + i) + a, sw * j + b), so tap (kb, kc) of output (y, x) is phase
 * (kb * dh % sh, kc * dw % sw) at (y + kb * dh / sh, x + kc * dw / sw): a constant offset again. */
typedef struct {
    int32_t rows;         /* output rows per band */
    int32_t extra;        /* phase rows a band reads beyond its output rows: (kh - 1) * dh / sh */
    int32_t pw;           /* positions per phase row: out_w + (kw - 1) * dw / sw */
    size_t phase_bytes;   /* bytes of one phase: (rows + extra) * pw positions */
    size_t group_bytes;   /* bytes from one group's band to the next */
} band_layout_t;

/* bytes rounded up to an odd number of 64-byte cache lines: the micro-kernel reads the same
 * positions of every group in turn, and a stride of a power of two lines would put them all in
 * a few sets of the L1 cache (measured: 1x1 layers ran at two thirds of the speed with 512-byte
 * group strides). */
static size_t odd_lines(size_t bytes)
{
    const size_t lines = (bytes + 63) / 64;
    return 64 * (lines | 1u);
}

/* The band layout for this convolution, or 0 when the direct path does not apply. */
static int32_t band_layout(const qcc_conv_t *p, band_layout_t *band)
{
    const int32_t cig = p->in_c / p->groups, ngroups = (cig + 3) / 4;
    const int32_t kh = p->kernel[1], kw = p->kernel[2], sh = p->stride[1], sw = p->stride[2];
    const size_t phases = (size_t)sh * (size_t)sw;
    const size_t capacity = QCC_CONV_GEMM_SCRATCH(p->tile, p->k_stride) / (4 * (size_t)ngroups); /* positions per group */
    size_t rows;
    if (!QCC_C4_ORDER(cig) || p->kernel[0] != 1 || p->in_size[0] != 1 || p->out_size[0] != 1 || kh * kw > QCC_DIRECT_MAX_TAPS ||
        sh > QCC_DIRECT_MAX_STRIDE || sw > QCC_DIRECT_MAX_STRIDE || kh * kw == 1) { /* 1x1: the pointwise panel measured faster */
        return 0;
    }
    band->extra = (kh - 1) * p->dilation[1] / sh;
    band->pw = p->out_size[2] + (kw - 1) * p->dilation[2] / sw;
    if (capacity < QCC_DIRECT_SLACK + QCC_DIRECT_ROUNDING + phases * (size_t)(1 + band->extra) * (size_t)band->pw) {
        return 0;
    }
    rows = (capacity - QCC_DIRECT_SLACK - QCC_DIRECT_ROUNDING) / (phases * (size_t)band->pw) - (size_t)band->extra;
    band->rows = rows < (size_t)p->out_size[1] ? (int32_t)rows : p->out_size[1];
    band->phase_bytes = 4 * (size_t)(band->rows + band->extra) * (size_t)band->pw;
    band->group_bytes = odd_lines(phases * band->phase_bytes + 4 * QCC_DIRECT_SLACK);
    return band->group_bytes * (size_t)ngroups <= QCC_CONV_GEMM_SCRATCH(p->tile, p->k_stride);
}

/* The phase (a, b) a tap reads and its offset in bytes from an output's position in that phase. */
static int32_t tap_offset(const qcc_conv_t *p, const band_layout_t *band, int32_t kb, int32_t kc, int32_t *phase)
{
    const int32_t sh = p->stride[1], sw = p->stride[2];
    const int32_t down = kb * p->dilation[1], right = kc * p->dilation[2];
    *phase = down % sh * sw + right % sw;
    return (int32_t)((size_t)*phase * band->phase_bytes) + 4 * (down / sh * band->pw + right / sw);
}

/* Phase (a, b) of every channel group for output rows r0 .. r0 + nr (layout above): x + 128,
 * zp + 128 where the padded input lies outside the input; only the phases some tap reads
 * (used[a * sw + b]); then QCC_DIRECT_SLACK zero positions after the last phase. */
static void pack_band(const qcc_conv_t *p, const int8_t *xg, int32_t r0, int32_t nr, const band_layout_t *band, const uint8_t *used,
                      uint8_t *dst)
{
    const int32_t cig = p->in_c / p->groups;
    const int32_t ih = p->in_size[1], iw = p->in_size[2], pw = band->pw;
    const int32_t sh = p->stride[1], sw = p->stride[2];
    const size_t in_plane = (size_t)ih * (size_t)iw;
    const int fill = p->in_zp + 128;
    int32_t ci, a, b, t;
    for (ci = 0; ci < cig; ci += 4) {
        uint8_t *gdst = dst + (size_t)(ci / 4) * band->group_bytes;
        for (a = 0; a < sh; a++) {
            for (b = 0; b < sw; b++) {
                /* band columns c0 .. c1 hold input columns sw * c + b - pad_w inside 0 .. iw */
                const int32_t first = p->pad[2] - b, c0 = first <= 0 ? 0 : (first + sw - 1) / sw;
                const int32_t c1 = (iw + first + sw - 1) / sw < pw ? (iw + first + sw - 1) / sw : pw;
                uint8_t *phase = gdst + (size_t)(a * sw + b) * band->phase_bytes;
                if (!used[a * sw + b]) {
                    continue;
                }
                for (t = 0; t < nr + band->extra; t++) {
                    const int32_t yi = sh * (r0 + t) + a - p->pad[1];
                    uint8_t *row = phase + 4 * (size_t)t * (size_t)pw;
                    if (yi < 0 || yi >= ih || c1 <= c0) {
                        memset(row, fill, 4 * (size_t)pw);
                        continue;
                    }
                    memset(row, fill, 4 * (size_t)c0);
                    qcc_interleave4_u8(xg + (size_t)ci * in_plane + (size_t)yi * (size_t)iw + (sw * c0 - first), in_plane, sw,
                                       cig - ci < 4 ? cig - ci : 4, c1 - c0, row + 4 * (size_t)c0);
                    memset(row + 4 * (size_t)c1, fill, 4 * (size_t)(pw - c1));
                }
            }
        }
        memset(gdst + (size_t)sh * (size_t)sw * band->phase_bytes, 0, 4 * QCC_DIRECT_SLACK);
    }
}

/* Copies the outputs of band positions [q0, q0 + n) (staged[i] is position q0 + i) to their rows of
 * out (out_w values per row), dropping the positions in the padding columns. */
static void scatter_positions(const int8_t *staged, int32_t q0, int32_t n, int32_t pw, int32_t ow, int8_t *out)
{
    const int32_t end = q0 + n;
    int32_t q = q0;
    while (q < end) {
        const int32_t yq = q / pw, xq = q - yq * pw;
        int32_t len;
        if (xq >= ow) {
            q = (yq + 1) * pw;
            continue;
        }
        len = ow - xq < end - q ? ow - xq : end - q;
        memcpy(out + (size_t)yq * ow + xq, staged + (q - q0), (size_t)len);
        q += len;
    }
}

int32_t qcc_conv_direct_s8(const qcc_conv_t *p, const int8_t *x, int8_t *y, int16_t *scratch)
{
    const int32_t cig = p->in_c / p->groups, cog = p->out_c / p->groups, ngroups = (cig + 3) / 4;
    const int32_t kh = p->kernel[1], kw = p->kernel[2], taps = kh * kw;
    const int32_t oh = p->out_size[1], ow = p->out_size[2];
    const size_t in_plane = (size_t)p->in_size[1] * (size_t)p->in_size[2], pixels = (size_t)oh * (size_t)ow;
    uint8_t *bytes = (uint8_t *)(void *)scratch;
    int8_t *wbuf = (int8_t *)(void *)scratch + QCC_CONV_GEMM_SCRATCH(p->tile, p->k_stride); /* 4-bit weights, unpacked */
    int32_t tap_off[QCC_DIRECT_MAX_TAPS];
    uint8_t used[QCC_DIRECT_MAX_STRIDE * QCC_DIRECT_MAX_STRIDE] = {0};
    int32_t acc_rows[4][QCC_MAX_PANEL];
    int8_t staged[QCC_MAX_PANEL];
    band_layout_t band;
    int32_t n, g, r0, b, c;
    if (!band_layout(p, &band)) {
        return 0;
    }
    for (b = 0; b < kh; b++) {
        for (c = 0; c < kw; c++) {
            int32_t phase;
            tap_off[b * kw + c] = tap_offset(p, &band, b, c, &phase);
            used[phase] = 1;
        }
    }
    for (n = 0; n < p->batch; n++) {
        for (g = 0; g < p->groups; g++) {
            const int8_t *xg = x + ((size_t)n * p->in_c + (size_t)g * cig) * in_plane;
            for (r0 = 0; r0 < oh; r0 += band.rows) {
                const int32_t nr = oh - r0 < band.rows ? oh - r0 : band.rows;
                const int32_t positions = (nr - 1) * band.pw + ow; /* the last row's padding columns are skipped */
                int32_t q0;
                pack_band(p, xg, r0, nr, &band, used, bytes);
                for (q0 = 0; q0 < positions; q0 += QCC_MAX_PANEL) {
                    const int32_t nq = positions - q0 < QCC_MAX_PANEL ? positions - q0 : QCC_MAX_PANEL;
                    const int32_t npad = (nq + QCC_VLANES - 1) / QCC_VLANES * QCC_VLANES;
                    int32_t row, r;
                    for (row = 0; row < cog; row += 4) {
                        const int8_t *w = qcc_weight_run(p->weight, p->weight_bits, ((size_t)g * p->rows_per_group + row) * p->k_stride,
                                                         QCC_W4_BLOCK(p->k_stride), wbuf);
                        qcc_vnni_rows(w, (size_t)p->k_stride, bytes + 4 * (size_t)q0, ngroups, band.group_bytes, tap_off, taps,
                                      npad, acc_rows);
                        for (r = 0; r < 4 && row + r < cog; r++) {
                            const int32_t co = g * cog + row + r;
                            qcc_requant_channel_s8(&p->rq, co, p->bias ? (uint32_t)p->bias[co] : 0u, acc_rows[r], nq, staged);
                            scatter_positions(staged, q0, nq, band.pw, ow, y + ((size_t)n * p->out_c + co) * pixels + (size_t)r0 * ow);
                        }
                    }
                }
            }
        }
    }
    return 1;
}

#else

int32_t qcc_conv_direct_s8(const qcc_conv_t *p, const int8_t *x, int8_t *y, int16_t *scratch)
{
    (void)p;
    (void)x;
    (void)y;
    (void)scratch;
    return 0; /* the panel path (int16 panel, vpmaddwd or portable C) */
}

#endif

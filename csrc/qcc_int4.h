/*
 * qcc_int4.h - 4-bit weights packed two per byte (docs/arithmetic.md 3.1, "Packed 4-bit weights").
 *
 * Storage rule: a kernel's weight array, in its usual element order, holds weight i in byte i / 2:
 * the low nibble (bits 0-3) when i is even, the high nibble (bits 4-7) when i is odd, each a
 * 4-bit two's complement value (-8 .. 7; qcc's 4-bit weights are -7 .. 7). An odd count leaves
 * the high nibble of the last byte 0. This is the order of ONNX's INT4 tensors.
 *
 * The kernels read such an array in one of two ways, with the same values:
 *   qcc_weight_at    one weight by index: the kernels that load each weight once per row of
 *                    outputs (depthwise, generic and transposed convolution, generic fully connected)
 *   qcc_weight_run   a run of weights as int8: the GEMM kernels unpack a block of 4 weight rows at a
 *                    time into their scratch (QCC_W4_BLOCK bytes), then run their int8 micro-kernels
 */
#ifndef QCC_INT4_H
#define QCC_INT4_H

#include <stddef.h>
#include <stdint.h>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

/* The 4-bit two's complement value in the low 4 bits of v, sign-extended (no shift of a negative
 * value, no out-of-range conversion). */
static inline int32_t qcc_s4_extend(int32_t v)
{
    return ((v & 15) ^ 8) - 8;
}

/* Weight i of a packed array. */
static inline int32_t qcc_s4_at(const int8_t *packed, size_t i)
{
    const int32_t byte = (uint8_t)packed[i >> 1];
    return qcc_s4_extend((i & 1u) ? byte >> 4 : byte);
}

/* Weight i of a kernel's weight array: packed when bits == 4, one int8 per weight otherwise. */
static inline int32_t qcc_weight_at(const int8_t *weight, int32_t bits, size_t i)
{
    return bits == 4 ? qcc_s4_at(weight, i) : weight[i];
}

/* out[0 .. n) = weights first .. first + n of a packed array, as int8. */
static inline void qcc_unpack_s4(const int8_t *packed, size_t first, size_t n, int8_t *out)
{
    size_t i = 0;
#if defined(__AVX2__)
    if ((first & 1u) == 0) { /* 32 weights from 16 bytes: byte b becomes the int16 lane (b & 15) | (b >> 4) << 8 */
        const uint8_t *src = (const uint8_t *)(const void *)packed + first / 2;
        const __m256i low = _mm256_set1_epi16(0x000F), high = _mm256_set1_epi16(0x0F00), eight = _mm256_set1_epi8(8);
        for (; i + 32 <= n; i += 32) {
            const __m256i b = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(src + i / 2)));
            const __m256i nibbles = _mm256_or_si256(_mm256_and_si256(b, low), _mm256_and_si256(_mm256_slli_epi16(b, 4), high));
            _mm256_storeu_si256((__m256i *)(void *)(out + i), _mm256_sub_epi8(_mm256_xor_si256(nibbles, eight), eight));
        }
    }
#endif
    for (; i < n; i++) {
        out[i] = (int8_t)qcc_s4_at(packed, first + i);
    }
}

/* Weights first .. first + n of a kernel's weight array as int8: the array itself when it holds
 * one weight per byte, else unpacked into buf (n bytes). */
static inline const int8_t *qcc_weight_run(const int8_t *weight, int32_t bits, size_t first, size_t n, int8_t *buf)
{
    if (bits != 4) {
        return weight + first;
    }
    qcc_unpack_s4(weight, first, n, buf);
    return buf;
}

#endif

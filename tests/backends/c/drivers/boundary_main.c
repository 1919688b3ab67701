/*
 * boundary_main.c - runs the boundary quantize helper on a file of float32 values (a test driver):
 *     ./boundary IN.f32 OUT.bin COUNT SCALE ZP BITS
 * SCALE is a C99 float literal (hexadecimal keeps it exact), BITS is 2..8 or 16 (below 8: int8
 * storage clamped to the BITS-bit grid). Writes COUNT int8 or int16 values and prints the helper's
 * NaN count.
 */
#include <stdio.h>
#include <stdlib.h>

#include "qcc_kernels.h"

int main(int argc, char **argv)
{
    FILE *f;
    float *x;
    void *q;
    int32_t count, zp, bits, nans;
    float scale;
    size_t width;
    if (argc != 7) {
        fprintf(stderr, "usage: %s IN.f32 OUT.bin COUNT SCALE ZP BITS\n", argv[0]);
        return 2;
    }
    count = (int32_t)strtol(argv[3], NULL, 10);
    scale = strtof(argv[4], NULL);
    zp = (int32_t)strtol(argv[5], NULL, 10);
    bits = (int32_t)strtol(argv[6], NULL, 10);
    width = bits <= 8 ? 1 : 2;
    x = (float *)malloc(sizeof(float) * (size_t)count);
    q = malloc(width * (size_t)count);
    f = fopen(argv[1], "rb");
    if (x == NULL || q == NULL || f == NULL || fread(x, sizeof(float), (size_t)count, f) != (size_t)count) {
        fprintf(stderr, "cannot read %s\n", argv[1]);
        return 1;
    }
    fclose(f);
    if (bits == 16) {
        nans = qcc_quantize_f32_s16(x, (int16_t *)q, count, scale, zp);
    } else if (bits == 8) {
        nans = qcc_quantize_f32_s8(x, (int8_t *)q, count, scale, zp);
    } else {
        nans = qcc_quantize_f32_s8_range(x, (int8_t *)q, count, scale, zp, -(1 << (bits - 1)), (1 << (bits - 1)) - 1);
    }
    f = fopen(argv[2], "wb");
    if (f == NULL || fwrite(q, width, (size_t)count, f) != (size_t)count || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s\n", argv[2]);
        return 1;
    }
    printf("%ld\n", (long)nans);
    free(x);
    free(q);
    return 0;
}

/* Random block weights (see rand_weights.h). Field offsets from ggml's
 * ggml-common.h, written here independently of src/gpu_types.c. */
#include "rand_weights.h"

#include <stdlib.h>
#include <string.h>

#include "quant.h"

static uint64_t next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static float uniform(uint64_t *s, float lo, float hi)
{
    return lo + (hi - lo) * (float)((next(s) >> 40) * (1.0 / 16777216.0));
}

static void put_f16(uint8_t *p, float v)
{
    uint16_t h = pdvm_f32_to_f16(v);
    memcpy(p, &h, 2);
}

/* Byte offsets of a block's f16 fields: the scale, the min (-1: none). */
static void f16_fields(uint32_t type, int *a, int *b)
{
    *a = 0;
    *b = -1;
    switch (type) {
    case PDVM_TYPE_Q4_1: case PDVM_TYPE_Q5_1: case PDVM_TYPE_Q4_K: case PDVM_TYPE_Q5_K: *b = 2; break;
    case PDVM_TYPE_Q2_K: *a = 80, *b = 82; break;
    case PDVM_TYPE_Q3_K: *a = 108; break;
    case PDVM_TYPE_Q6_K: *a = 208; break;
    default: break;
    }
}

static void plain_value(uint32_t type, uint64_t *s, uint8_t *dst)
{
    float v = uniform(s, -1.0f, 1.0f);
    if (type == PDVM_TYPE_F32) {
        memcpy(dst, &v, 4);
    } else if (type == PDVM_TYPE_F16) {
        put_f16(dst, v);
    } else { /* bf16: the top half of the float */
        uint32_t bits;
        memcpy(&bits, &v, 4);
        dst[0] = (uint8_t)(bits >> 16);
        dst[1] = (uint8_t)(bits >> 24);
    }
}

uint8_t *rand_weights(uint32_t type, uint32_t n_in, uint32_t n_out, uint64_t seed,
                      uint64_t *row_bytes)
{
    if (pdvm_type_row_bytes(type, n_in, row_bytes) != PDVM_OK) return NULL;
    uint64_t bytes = *row_bytes * n_out, s = seed * 7919 + type;
    uint8_t *w = malloc(bytes + 1);
    if (!w) return NULL;
    uint32_t be = pdvm_type_block_elems(type), bb = pdvm_type_block_bytes(type);
    if (be == 1) {
        for (uint64_t o = 0; o < bytes; o += bb) plain_value(type, &s, w + o);
        return w;
    }
    int fa, fb;
    f16_fields(type, &fa, &fb);
    for (uint64_t o = 0; o < bytes; o += bb) {
        for (uint32_t i = 0; i < bb; i++) w[o + i] = (uint8_t)next(&s);
        float d = uniform(&s, 0.05f, 0.15f) * (next(&s) & 1 ? -1.0f : 1.0f);
        put_f16(w + o + fa, d);
        if (fb >= 0) put_f16(w + o + fb, uniform(&s, -0.15f, 0.15f));
    }
    return w;
}

float *rand_weights_decode(uint32_t type, const uint8_t *w, uint64_t row_bytes, uint32_t n_in,
                           uint32_t n_out)
{
    float *f = malloc((size_t)n_in * n_out * sizeof *f);
    if (!f) return NULL;
    for (uint32_t r = 0; r < n_out; r++)
        pdvm_dequant_row(type, w + r * row_bytes, f + (size_t)r * n_in, n_in);
    return f;
}

/* IEEE 754 binary16 and bfloat16 conversions, done on the bits so the
 * result does not depend on the compiler's float environment. */
#include <string.h>

#include "quant.h"

static float from_bits(uint32_t b)
{
    float f;
    memcpy(&f, &b, sizeof f);
    return f;
}

float pdvm_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1Fu, man = h & 0x3FFu;
    if (exp == 0) {
        /* Zero or subnormal: man * 2^-24 is exact in float. */
        float v = (float)man * 0x1p-24f;
        return sign ? -v : v;
    }
    if (exp == 31) return from_bits(sign | 0x7F800000u | (man << 13));
    return from_bits(sign | ((exp + 112u) << 23) | (man << 13));
}

/* Round x >> shift to nearest, ties to even. */
static uint32_t shift_rne(uint32_t x, unsigned shift)
{
    uint32_t q = x >> shift, rem = x & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (q & 1u))) q++;
    return q;
}

uint16_t pdvm_f32_to_f16(float f)
{
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    uint32_t ax = x & 0x7FFFFFFFu;
    if (ax > 0x7F800000u) return sign | 0x7E00u | (uint16_t)((ax >> 13) & 0x3FFu); /* NaN */
    if (ax >= 0x47800000u) return sign | 0x7C00u; /* >= 65536: infinity */
    if (ax >= 0x38800000u) {                      /* normal half range */
        uint32_t h = shift_rne(ax - (112u << 23), 13);
        return sign | (uint16_t)(h > 0x7C00u ? 0x7C00u : h);
    }
    /* Subnormal half: round(value * 2^24); carries into the smallest
     * normal encoding on their own. */
    uint32_t e = ax >> 23;
    if (e < 102) return sign; /* below half the smallest subnormal */
    uint32_t mant = (ax & 0x7FFFFFu) | 0x800000u;
    return sign | (uint16_t)shift_rne(mant, 126u - e);
}

float pdvm_bf16_to_f32(uint16_t h) { return from_bits((uint32_t)h << 16); }

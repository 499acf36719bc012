/* One decoder per ggml block format (layouts from ggml-common.h). The
 * arithmetic mirrors ggml's dequantize_row_* operation for operation, in
 * the same order and precision, so results are bit-identical: the products
 * are float * float with no fused multiply-add (C11 mode keeps
 * -ffp-contract=off under GCC). */
#include <string.h>

#include "quant.h"
#include "quant_impl.h"

#define QK_K 256

static float half_at(const uint8_t *p) { return pdvm_f16_to_f32((uint16_t)(p[0] | (p[1] << 8))); }

static uint32_t u32_at(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

/* block_q4_0 { half d; u8 qs[16]; }: low nibbles are elements 0..15. */
void pdvm_dq_q4_0(const uint8_t *b, float *y)
{
    const float d = half_at(b);
    const uint8_t *qs = b + 2;
    for (int j = 0; j < 16; j++) {
        const int x0 = (qs[j] & 0x0F) - 8, x1 = (qs[j] >> 4) - 8;
        y[j] = x0 * d;
        y[j + 16] = x1 * d;
    }
}

/* block_q4_1 { half d, m; u8 qs[16]; } */
void pdvm_dq_q4_1(const uint8_t *b, float *y)
{
    const float d = half_at(b), m = half_at(b + 2);
    const uint8_t *qs = b + 4;
    for (int j = 0; j < 16; j++) {
        const int x0 = qs[j] & 0x0F, x1 = qs[j] >> 4;
        y[j] = x0 * d + m;
        y[j + 16] = x1 * d + m;
    }
}

/* block_q5_0 { half d; u8 qh[4]; u8 qs[16]; }: bit j of qh is the fifth
 * bit of element j. */
void pdvm_dq_q5_0(const uint8_t *b, float *y)
{
    const float d = half_at(b);
    const uint32_t qh = u32_at(b + 2);
    const uint8_t *qs = b + 6;
    for (int j = 0; j < 16; j++) {
        const uint8_t xh0 = ((qh >> j) << 4) & 0x10, xh1 = (qh >> (j + 12)) & 0x10;
        const int32_t x0 = ((qs[j] & 0x0F) | xh0) - 16, x1 = ((qs[j] >> 4) | xh1) - 16;
        y[j] = x0 * d;
        y[j + 16] = x1 * d;
    }
}

/* block_q5_1 { half d, m; u8 qh[4]; u8 qs[16]; } */
void pdvm_dq_q5_1(const uint8_t *b, float *y)
{
    const float d = half_at(b), m = half_at(b + 2);
    const uint32_t qh = u32_at(b + 4);
    const uint8_t *qs = b + 8;
    for (int j = 0; j < 16; j++) {
        const uint8_t xh0 = ((qh >> j) << 4) & 0x10, xh1 = (qh >> (j + 12)) & 0x10;
        const int x0 = (qs[j] & 0x0F) | xh0, x1 = (qs[j] >> 4) | xh1;
        y[j] = x0 * d + m;
        y[j + 16] = x1 * d + m;
    }
}

/* block_q8_0 { half d; i8 qs[32]; } */
void pdvm_dq_q8_0(const uint8_t *b, float *y)
{
    const float d = half_at(b);
    for (int j = 0; j < 32; j++) y[j] = (int8_t)b[2 + j] * d;
}

/* block_q2_K { u8 scales[16]; u8 qs[64]; half d, dmin; }: each scale byte is
 * a 4-bit scale (low) and 4-bit min (high) for 16 elements. */
void pdvm_dq_q2_k(const uint8_t *b, float *y)
{
    const uint8_t *scales = b, *q = b + 16;
    const float d = half_at(b + 80), min = half_at(b + 82);
    int is = 0;
    for (int n = 0; n < QK_K; n += 128) {
        for (int shift = 0; shift < 8; shift += 2) {
            for (int half = 0; half < 32; half += 16) {
                const uint8_t sc = scales[is++];
                const float dl = d * (sc & 0xF), ml = min * (sc >> 4);
                for (int l = 0; l < 16; l++)
                    *y++ = dl * ((int8_t)((q[l + half] >> shift) & 3)) - ml;
            }
        }
        q += 32;
    }
}

/* The twelve q3_K scale bytes hold sixteen 6-bit scales: low nibbles in
 * bytes 0..7, high two bits packed in bytes 8..11. */
static void q3_k_scales(const uint8_t *s12, int8_t out[16])
{
    const uint32_t kmask1 = 0x03030303u, kmask2 = 0x0f0f0f0fu;
    uint32_t aux[4] = {u32_at(s12), u32_at(s12 + 4), u32_at(s12 + 8), 0};
    const uint32_t tmp = aux[2];
    aux[2] = ((aux[0] >> 4) & kmask2) | (((tmp >> 4) & kmask1) << 4);
    aux[3] = ((aux[1] >> 4) & kmask2) | (((tmp >> 6) & kmask1) << 4);
    aux[0] = (aux[0] & kmask2) | (((tmp >> 0) & kmask1) << 4);
    aux[1] = (aux[1] & kmask2) | (((tmp >> 2) & kmask1) << 4);
    for (int i = 0; i < 16; i++) out[i] = (int8_t)(uint8_t)(aux[i / 4] >> (8 * (i % 4)));
}

/* block_q3_K { u8 hmask[32]; u8 qs[64]; u8 scales[12]; half d; } */
void pdvm_dq_q3_k(const uint8_t *b, float *y)
{
    const uint8_t *hm = b, *q = b + 32;
    const float d_all = half_at(b + 108);
    int8_t scales[16];
    q3_k_scales(b + 96, scales);
    int is = 0;
    uint8_t m = 1;
    for (int n = 0; n < QK_K; n += 128) {
        for (int shift = 0; shift < 8; shift += 2, m <<= 1) {
            for (int half = 0; half < 32; half += 16) {
                const float dl = d_all * (scales[is++] - 32);
                for (int l = 0; l < 16; l++)
                    *y++ = dl * ((int8_t)((q[l + half] >> shift) & 3) -
                                 ((hm[l + half] & m) ? 0 : 4));
            }
        }
        q += 32;
    }
}

/* Scale and min j (6 bits each) of the q4_K/q5_K 12-byte scale array. */
static void scale_min_k4(int j, const uint8_t *q, uint8_t *d, uint8_t *m)
{
    if (j < 4) {
        *d = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *d = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j - 0] >> 6) << 4);
    }
}

/* block_q4_K { half d, dmin; u8 scales[12]; u8 qs[128]; } */
void pdvm_dq_q4_k(const uint8_t *b, float *y)
{
    const float d = half_at(b), min = half_at(b + 2);
    const uint8_t *scales = b + 4, *q = b + 16;
    for (int is = 0; is < 8; is += 2, q += 32) {
        uint8_t sc, m;
        scale_min_k4(is, scales, &sc, &m);
        const float d1 = d * sc, m1 = min * m;
        scale_min_k4(is + 1, scales, &sc, &m);
        const float d2 = d * sc, m2 = min * m;
        for (int l = 0; l < 32; l++) *y++ = d1 * (q[l] & 0xF) - m1;
        for (int l = 0; l < 32; l++) *y++ = d2 * (q[l] >> 4) - m2;
    }
}

/* block_q5_K { half d, dmin; u8 scales[12]; u8 qh[32]; u8 qs[128]; } */
void pdvm_dq_q5_k(const uint8_t *b, float *y)
{
    const float d = half_at(b), min = half_at(b + 2);
    const uint8_t *scales = b + 4, *qh = b + 16, *ql = b + 48;
    uint8_t u1 = 1, u2 = 2;
    for (int is = 0; is < 8; is += 2, ql += 32, u1 <<= 2, u2 <<= 2) {
        uint8_t sc, m;
        scale_min_k4(is, scales, &sc, &m);
        const float d1 = d * sc, m1 = min * m;
        scale_min_k4(is + 1, scales, &sc, &m);
        const float d2 = d * sc, m2 = min * m;
        for (int l = 0; l < 32; l++) *y++ = d1 * ((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)) - m1;
        for (int l = 0; l < 32; l++) *y++ = d2 * ((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
    }
}

/* block_q6_K { u8 ql[128]; u8 qh[64]; i8 scales[16]; half d; } */
void pdvm_dq_q6_k(const uint8_t *b, float *y)
{
    const float d = half_at(b + 208);
    const uint8_t *ql = b, *qh = b + 128;
    const int8_t *sc = (const int8_t *)(b + 192);
    for (int n = 0; n < QK_K; n += 128, y += 128, ql += 64, qh += 32, sc += 8) {
        for (int l = 0; l < 32; l++) {
            const int is = l / 16;
            const int8_t q1 = (int8_t)((ql[l + 0] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
            const int8_t q2 = (int8_t)((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
            const int8_t q3 = (int8_t)((ql[l + 0] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
            const int8_t q4 = (int8_t)((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
            y[l + 0] = d * sc[is + 0] * q1;
            y[l + 32] = d * sc[is + 2] * q2;
            y[l + 64] = d * sc[is + 4] * q3;
            y[l + 96] = d * sc[is + 6] * q4;
        }
    }
}

/* The sixteen non-uniform levels of IQ4_NL and IQ4_XS (ggml-common.h's
 * kvalues_iq4nl). */
static const int8_t iq4_levels[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                      1,    13,   25,  38,  53,  69,  89,  113};

/* 16 quant bytes of a 32-element IQ4 group: low nibbles are elements
 * 0..15, high nibbles 16..31. */
static void iq4_group(const uint8_t *qs, float d, float *y)
{
    for (int j = 0; j < 16; j++) {
        y[j] = d * iq4_levels[qs[j] & 0xF];
        y[j + 16] = d * iq4_levels[qs[j] >> 4];
    }
}

/* block_iq4_nl { half d; u8 qs[16]; } */
void pdvm_dq_iq4_nl(const uint8_t *b, float *y) { iq4_group(b + 2, half_at(b), y); }

/* block_iq4_xs { half d; u16 scales_h; u8 scales_l[4]; u8 qs[128]; }: group
 * ib's 6-bit scale is nibble ib%2 of scales_l[ib/2] with bits 2ib, 2ib+1 of
 * scales_h above it, offset by 32. */
void pdvm_dq_iq4_xs(const uint8_t *b, float *y)
{
    const float d = half_at(b);
    const unsigned scales_h = (unsigned)(b[2] | (b[3] << 8));
    const uint8_t *scales_l = b + 4, *qs = b + 8;
    for (int ib = 0; ib < QK_K / 32; ib++, qs += 16, y += 32) {
        const int ls = ((scales_l[ib / 2] >> 4 * (ib % 2)) & 0xF) |
                       (((scales_h >> 2 * ib) & 3) << 4);
        iq4_group(qs, d * (ls - 32), y);
    }
}

// Segment decoders for the tiled matrix-matrix kernels, one per weight
// type: seg_<type>(rowb, g, w) writes the 32 weights of segment g
// (elements 32g .. 32g+31) of the row starting at byte rowb of `wb` into
// w, as floats, with the arithmetic of dot.glsl's dot_<type> (same loads,
// same bit tricks), so that a weight decodes to what the mat-vec kernels
// and ggml's to_float compute. A mat-mat kernel decodes each segment of a
// weight tile once and uses it for every token of the batch tile: the
// decode cost that bounds the mat-vec is paid once per tile, not once per
// token. F32/F16/BF16 rows may end inside a segment: elements past the end
// are 0 (never a read past the row, whose bytes could hold a NaN).
// The includer defines N_IN (row length), WB4 (0 here: no uvec4 view
// needed) and declares `uint wb[]`; dot.glsl brings the shared helpers.

#include "dot.glsl"

// ------------------------------------------------------------ F32, F16, BF16

void seg_f32(uint rowb, uint g, out vec4 w[8])
{
    uint i0 = g * 32u, w0 = (rowb >> 2) + i0;
#if (N_IN % 32) != 0
    if (i0 + 32u > uint(N_IN)) {
        for (uint i = 0u; i < 32u; i++)
            w[i >> 2][i & 3u] = i0 + i < uint(N_IN) ? uintBitsToFloat(wb[w0 + i]) : 0.0;
        return;
    }
#endif
    for (uint k = 0u; k < 8u; k++) w[k] = wb_f32x4(w0 + 4u * k);
}

void seg_f16(uint rowb, uint g, out vec4 w[8])
{
    uint i0 = g * 32u;
#if (N_IN % 32) != 0
    if (i0 + 32u > uint(N_IN)) {
        for (uint i = 0u; i < 32u; i++)
            w[i >> 2][i & 3u] = i0 + i < uint(N_IN) ? wb_f16(rowb + 2u * (i0 + i)) : 0.0;
        return;
    }
#endif
#if (N_IN % 2) == 0
    uint w0 = (rowb >> 2) + g * 16u;
    for (uint k = 0u; k < 8u; k++)
        w[k] = vec4(unpackHalf2x16(wb[w0 + 2u * k]), unpackHalf2x16(wb[w0 + 2u * k + 1u]));
#else
    for (uint k = 0u; k < 8u; k++) {
        uint b = rowb + 2u * (i0 + 4u * k);
        w[k] = vec4(wb_f16(b), wb_f16(b + 2u), wb_f16(b + 4u), wb_f16(b + 6u));
    }
#endif
}

void seg_bf16(uint rowb, uint g, out vec4 w[8])
{
    uint i0 = g * 32u;
#if (N_IN % 32) != 0
    if (i0 + 32u > uint(N_IN)) {
        for (uint i = 0u; i < 32u; i++)
            w[i >> 2][i & 3u] = i0 + i < uint(N_IN) ? deq_bf16(rowb, i0 + i) : 0.0;
        return;
    }
#endif
#if (N_IN % 2) == 0
    uint w0 = (rowb >> 2) + g * 16u;
    for (uint k = 0u; k < 8u; k++)
        w[k] = vec4(bf16x2(wb[w0 + 2u * k]), bf16x2(wb[w0 + 2u * k + 1u]));
#else
    for (uint k = 0u; k < 8u; k++) {
        uint i = i0 + 4u * k;
        w[k] = vec4(deq_bf16(rowb, i), deq_bf16(rowb, i + 1u), deq_bf16(rowb, i + 2u),
                    deq_bf16(rowb, i + 3u));
    }
#endif
}

// ------------------------------------------------- 32-element block types

void seg_q8_0(uint rowb, uint g, out vec4 w[8])
{
    float d = wb_f16(q8_0_scale_byte(rowb, g));
    uint b = rowb + 32u * g;
    uvec4 a = wb_load16(b), c = wb_load16(b + 16u);
    for (uint k = 0u; k < 4u; k++) {
        w[k] = d * bytes_s(a[k]);
        w[4u + k] = d * bytes_s(c[k]);
    }
}

// Element j < 16 of a 4-bit block is the low nibble of quant byte j,
// element j + 16 the high one.
void nib_seg(uvec4 q, float bias, float d, float m, out vec4 w[8])
{
    for (uint k = 0u; k < 4u; k++) {
        w[k] = d * bytes_u(q[k] & 0x0F0F0F0Fu, bias) + m;
        w[4u + k] = d * bytes_u((q[k] >> 4) & 0x0F0F0F0Fu, bias) + m;
    }
}

void seg_q4_0(uint rowb, uint g, out vec4 w[8])
{
    nib_seg(wb_load16(rowb + 16u * g), 8.0, wb_f16(q4_0_scale_byte(rowb, g)), 0.0, w);
}

void seg_q4_1(uint rowb, uint g, out vec4 w[8])
{
    vec2 dm = unpackHalf2x16(wb[(rowb + NB32 * 16u + 4u * g) >> 2]);
    nib_seg(wb_load16_a4(rowb + 16u * g), 0.0, dm.x, dm.y, w);
}

// Q5_0/Q5_1: the nibbles of q with bit e of qh as element e's fifth bit.
void q5_seg(uvec4 q, uint qh, float bias, float d, float m, out vec4 w[8])
{
    for (uint k = 0u; k < 4u; k++) {
        uint lo = (q[k] & 0x0F0F0F0Fu) | q5_high((qh >> (4u * k)) & 15u);
        uint hi = ((q[k] >> 4) & 0x0F0F0F0Fu) | q5_high((qh >> (16u + 4u * k)) & 15u);
        w[k] = d * bytes_u(lo, bias) + m;
        w[4u + k] = d * bytes_u(hi, bias) + m;
    }
}

void seg_q5_0(uint rowb, uint g, out vec4 w[8])
{
    q5_seg(wb_load16(rowb + 16u * g), wb_u32(rowb + NB32 * 16u + 4u * g), 16.0,
           wb_f16(rowb + NB32 * 20u + 2u * g), 0.0, w);
}

void seg_q5_1(uint rowb, uint g, out vec4 w[8])
{
    vec2 dm = unpackHalf2x16(wb[(rowb + NB32 * 20u + 4u * g) >> 2]);
    q5_seg(wb_load16_a4(rowb + 16u * g), wb[(rowb + NB32 * 16u + 4u * g) >> 2], 0.0, dm.x, dm.y, w);
}

void iq4_seg(uvec4 q, float d, out vec4 w[8])
{
    for (uint k = 0u; k < 4u; k++) {
        w[k] = d * iq4_levels(q[k], 0u);
        w[4u + k] = d * iq4_levels(q[k], 4u);
    }
}

void seg_iq4_nl(uint rowb, uint g, out vec4 w[8])
{
    iq4_seg(wb_load16(rowb + 16u * g), wb_f16(q4_0_scale_byte(rowb, g)), w);
}

// ----------------------------------------------------------------- K-quants
// Segment g is group g & 7 of super-block g >> 3; the field addresses are
// dot.glsl's (see there for each layout).

void seg_q2_k(uint rowb, uint g, out vec4 w[8])
{
    uint sb = g >> 3, sh = 2u * (g & 3u), qb = rowb + 32u * (g >> 2);
    uvec4 a = wb_load16_a4(qb), b = wb_load16_a4(qb + 16u);
    uint sc = wb_u16(rowb + NB256 * 64u + 2u * g);
    vec2 dm = unpackHalf2x16(wb[(rowb + NB256 * 80u + 4u * sb) >> 2]);
    float d0 = dm.x * float(sc & 15u), m0 = dm.y * float((sc >> 4) & 15u);
    float d1 = dm.x * float((sc >> 8) & 15u), m1 = dm.y * float(sc >> 12);
    for (uint k = 0u; k < 4u; k++) {
        w[k] = d0 * bytes_u((a[k] >> sh) & 0x03030303u) - m0;
        w[4u + k] = d1 * bytes_u((b[k] >> sh) & 0x03030303u) - m1;
    }
}

void seg_q3_k(uint rowb, uint g, out vec4 w[8])
{
    uint sb = g >> 3, n = (g >> 2) & 1u, j = g & 3u;
    uint sh = 2u * j, hbit = 4u * n + j;
    uint qb = rowb + 32u * (g >> 2), hb = rowb + NB256 * 64u + 32u * (g >> 3);
    uvec4 q0 = wb_load16(qb), q1 = wb_load16(qb + 16u), h0 = wb_load16(hb), h1 = wb_load16(hb + 16u);
    uint scb = rowb + NB256 * 96u + 12u * sb;
    uint lo = wb_u16(scb + 2u * j) >> (4u * n);
    uint hi = wb_u16(scb + 8u + 2u * (j & 1u)) >> (2u * (2u * n + (j >> 1)));
    int sc0 = int((lo & 15u) | ((hi & 3u) << 4)) - 32;
    int sc1 = int(((lo >> 8) & 15u) | (((hi >> 8) & 3u) << 4)) - 32;
    float d = wb_f16(rowb + NB256 * 108u + 2u * sb);
    float d0 = d * float(sc0), d1 = d * float(sc1);
    for (uint k = 0u; k < 4u; k++) {
        uint a = ((q0[k] >> sh) & 0x03030303u) | (((h0[k] >> hbit) & 0x01010101u) << 2);
        uint b = ((q1[k] >> sh) & 0x03030303u) | (((h1[k] >> hbit) & 0x01010101u) << 2);
        w[k] = d0 * bytes_u(a, 4.0);
        w[4u + k] = d1 * bytes_u(b, 4.0);
    }
}

void seg_q4_k(uint rowb, uint g, out vec4 w[8])
{
    uint bb = rowb + (g >> 3) * 144u, sub = g & 7u;
    vec2 dm = unpackHalf2x16(wb[bb >> 2]);
    uint sc, mn;
    q4k_scale_min(bb + 4u, sub, sc, mn);
    uint w0 = (bb + 16u + (sub >> 1) * 32u) >> 2, sh = (sub & 1u) * 4u;
    float d = dm.x * float(sc), m = dm.y * float(mn);
    for (uint k = 0u; k < 8u; k++) w[k] = d * bytes_u((wb[w0 + k] >> sh) & 0x0F0F0F0Fu) - m;
}

void seg_q5_k(uint rowb, uint g, out vec4 w[8])
{
    uint bb = rowb + (g >> 3) * 176u, t = g & 7u, lb = bb + 48u + 32u * (t >> 1);
    uvec4 l0 = wb_load16_a4(lb), l1 = wb_load16_a4(lb + 16u);
    uvec4 h0 = wb_load16_a4(bb + 16u), h1 = wb_load16_a4(bb + 32u);
    vec2 dm = unpackHalf2x16(wb[bb >> 2]);
    uint sc, mn;
    q4k_scale_min(bb + 4u, t, sc, mn);
    uint sh = 4u * (t & 1u);
    float d = dm.x * float(sc), m = dm.y * float(mn);
    for (uint k = 0u; k < 4u; k++) {
        w[k] = d * bytes_u(((l0[k] >> sh) & 0x0F0F0F0Fu) | (((h0[k] >> t) & 0x01010101u) << 4)) - m;
        w[4u + k] = d * bytes_u(((l1[k] >> sh) & 0x0F0F0F0Fu) | (((h1[k] >> t) & 0x01010101u) << 4)) - m;
    }
}

void seg_q6_k(uint rowb, uint g, out vec4 w[8])
{
    uint sb = g >> 3, t = g & 7u, n = t >> 2, k = t & 3u;
    uint lb = rowb + 128u * sb + 64u * n + 32u * (t & 1u);
    uint hb = rowb + NB256 * 128u + 32u * (g >> 2);
    uvec4 l0 = wb_load16(lb), l1 = wb_load16(lb + 16u), h0 = wb_load16(hb), h1 = wb_load16(hb + 16u);
    uint lsh = (k >> 1) * 4u, hsh = 2u * k;
    uint scb = rowb + NB256 * 192u + 16u * sb + 8u * n + 2u * k;
    float d = wb_f16(rowb + NB256 * 208u + 2u * sb);
    float d0 = d * float(wb_s8(scb)), d1 = d * float(wb_s8(scb + 1u));
    for (uint e = 0u; e < 4u; e++) {
        uint a = ((l0[e] >> lsh) & 0x0F0F0F0Fu) | (((h0[e] >> hsh) & 0x03030303u) << 4);
        uint b = ((l1[e] >> lsh) & 0x0F0F0F0Fu) | (((h1[e] >> hsh) & 0x03030303u) << 4);
        w[e] = d0 * bytes_u(a, 32.0);
        w[4u + e] = d1 * bytes_u(b, 32.0);
    }
}

void seg_iq4_xs(uint rowb, uint g, out vec4 w[8])
{
    uint hw = (rowb + NB256 * 128u + 8u * (g >> 3)) >> 2;
    iq4_seg(wb_load16_a4(rowb + 16u * g), iq4_xs_scale(wb[hw], wb[hw + 1u], g & 7u), w);
}

// Segment dot products for matrix-vector kernels, one per weight type:
// dot_<type>(rowb, g, x) = sum over the 32 weights of segment g (elements
// 32g .. 32g+31) of the row starting at byte rowb of `wb`, times x, the
// segment's 32 inputs (xin.glsl's x_seg, loaded once for all the rows a
// lane works on). Every block format splits into whole 32-element segments (Q4_K
// and Q6_K super-blocks hold 8), so a kernel can stride invocations over
// segments whatever the type. Weights are decoded in registers, never
// stored. The includer defines N_IN (row length). F32/F16 rows may end
// inside a segment (then a scalar loop serves the tail); the block types
// cannot.
// Needs the weight arena `wb` declared before inclusion.

#include "wbytes.glsl"
#include "deq.glsl"

#define N_SEG ((N_IN + 31) / 32)


vec4 wb_f32x4(uint w) { return uintBitsToFloat(uvec4(wb[w], wb[w + 1u], wb[w + 2u], wb[w + 3u])); }

// The 4 bytes of a word as unsigned / signed components.
vec4 bytes_u(uint w) { return vec4(uvec4(w, w >> 8, w >> 16, w >> 24) & 0xFFu); }
vec4 bytes_s(uint w)
{
    int v = int(w);
    return vec4(bitfieldExtract(v, 0, 8), bitfieldExtract(v, 8, 8), bitfieldExtract(v, 16, 8),
                bitfieldExtract(v, 24, 8));
}

float dot_f32(uint rowb, uint g, vec4 x[8])
{
    uint i0 = g * 32u;
    uint w0 = (rowb >> 2) + i0;
    float s = 0.0;
#if (N_IN % 32) != 0
    if (i0 + 32u > uint(N_IN)) {
        for (uint i = 0u; i0 + i < uint(N_IN); i++) s += uintBitsToFloat(wb[w0 + i]) * x[i >> 2][i & 3u];
        return s;
    }
#endif
    for (uint k = 0u; k < 8u; k++) s += dot(wb_f32x4(w0 + 4u * k), x[k]);
    return s;
}

float dot_f16(uint rowb, uint g, vec4 x[8])
{
    uint i0 = g * 32u;
    float s = 0.0;
#if (N_IN % 32) != 0
    if (i0 + 32u > uint(N_IN)) {
        for (uint i = 0u; i0 + i < uint(N_IN); i++) s += wb_f16(rowb + 2u * (i0 + i)) * x[i >> 2][i & 3u];
        return s;
    }
#endif
#if (N_IN % 2) == 0
    // Even rows keep every row 4-byte aligned: two halves per word.
    uint w0 = (rowb >> 2) + g * 16u;
    for (uint k = 0u; k < 8u; k++) {
        vec4 h = vec4(unpackHalf2x16(wb[w0 + 2u * k]), unpackHalf2x16(wb[w0 + 2u * k + 1u]));
        s += dot(h, x[k]);
    }
#else
    for (uint k = 0u; k < 8u; k++) {
        uint b = rowb + 2u * (i0 + 4u * k);
        vec4 h = vec4(wb_f16(b), wb_f16(b + 2u), wb_f16(b + 4u), wb_f16(b + 6u));
        s += dot(h, x[k]);
    }
#endif
    return s;
}

float dot_q8_0(uint rowb, uint g, vec4 x[8])
{
    uint bb = rowb + g * 34u;
    uint q[8];
    wb_load8(bb + 2u, q);
    float s = 0.0;
    for (uint k = 0u; k < 8u; k++) s += dot(bytes_s(q[k]), x[k]);
    return wb_f16(bb) * s;
}

float dot_q4_0(uint rowb, uint g, vec4 x[8])
{
    uint bb = rowb + g * 18u;
    uint q[4];
    wb_load4(bb + 2u, q);
    float s = 0.0;
    for (uint k = 0u; k < 4u; k++) {
        s += dot(bytes_u(q[k] & 0x0F0F0F0Fu) - 8.0, x[k]);
        s += dot(bytes_u((q[k] >> 4) & 0x0F0F0F0Fu) - 8.0, x[4u + k]);
    }
    return wb_f16(bb) * s;
}

// Q4_K: segment g is sub-block g & 7 of super-block g >> 3 (144 bytes,
// 4-aligned since 144 is a multiple of 4). y = d1*q - m1, so the dot is
// d1 * sum(q x) - m1 * sum(x).
float dot_q4_k(uint rowb, uint g, vec4 x[8])
{
    uint bb = rowb + (g >> 3) * 144u;
    uint sub = g & 7u;
    vec2 dm = unpackHalf2x16(wb[bb >> 2]);
    uint sc, mn;
    q4k_scale_min(bb + 4u, sub, sc, mn);
    uint w0 = (bb + 16u + (sub >> 1) * 32u) >> 2;
    uint sh = (sub & 1u) * 4u;
    float sq = 0.0, sx = 0.0;
    for (uint k = 0u; k < 8u; k++) {
        sq += dot(bytes_u((wb[w0 + k] >> sh) & 0x0F0F0F0Fu), x[k]);
        sx += dot(x[k], vec4(1.0));
    }
    return dm.x * float(sc) * sq - dm.y * float(mn) * sx;
}

// Q6_K: segment g is quarter k of half n of super-block g >> 3 (210 bytes,
// 2-aligned); its first 16 elements use one int8 scale, the next 16 the
// following one.
float dot_q6_k(uint rowb, uint g, vec4 x[8])
{
    uint bb = rowb + (g >> 3) * 210u;
    uint t = g & 7u;
    uint n = t >> 2;
    uint k = t & 3u;
    uint ql[8], qh[8];
    wb_load8(bb + n * 64u + (k & 1u) * 32u, ql);
    wb_load8(bb + 128u + n * 32u, qh);
    uint lsh = (k >> 1) * 4u;
    uint hsh = 2u * k;
    float s0 = 0.0, s1 = 0.0;
    for (uint w = 0u; w < 8u; w++) {
        uint q = ((ql[w] >> lsh) & 0x0F0F0F0Fu) | (((qh[w] >> hsh) & 0x03030303u) << 4);
        float s = dot(bytes_u(q) - 32.0, x[w]);
        if (w < 4u) s0 += s; else s1 += s;
    }
    uint sb = bb + 192u + n * 8u + 2u * k;
    float d = wb_f16(bb + 208u);
    return d * float(wb_s8(sb)) * s0 + d * float(wb_s8(sb + 1u)) * s1;
}

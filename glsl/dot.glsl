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
// Needs the weight arena `wb` declared before inclusion; with WB4 also its
// uvec4 view `wb4`, for the _v4 variants, which the host picks when the
// row and its start are 16-byte aligned (one 16-byte load where the word
// variants issue four). Q4_0 and Q8_0 rows hold all quants, then all f16
// scales (gpu_repack.h).

#define N_SEG ((N_IN + 31) / 32)
#define ROW_LEN N_IN

#include "wbytes.glsl"
#include "deq.glsl"



vec4 wb_f32x4(uint w) { return uintBitsToFloat(uvec4(wb[w], wb[w + 1u], wb[w + 2u], wb[w + 3u])); }

// The 4 bytes of a word as floats, minus `bias`: 2^23 + b has b in its
// mantissa, so an OR and a subtraction replace an int-to-float conversion
// (a quarter of the FMA rate on NVIDIA; with it the Q4_0 mat-vec stalled
// at 0.78 TB/s on an H200). Exact for every byte.
vec4 bytes_u(uint w, float bias)
{
    uvec4 b = (uvec4(w, w >> 8, w >> 16, w >> 24) & 0xFFu) | 0x4B000000u;
    return uintBitsToFloat(b) - (8388608.0 + bias);
}
vec4 bytes_u(uint w) { return bytes_u(w, 0.0); }
// Signed bytes: b ^ 0x80 is b + 128 in offset binary.
vec4 bytes_s(uint w)
{
    uvec4 b = ((uvec4(w, w >> 8, w >> 16, w >> 24) & 0xFFu) ^ 0x80u) | 0x4B000000u;
    return uintBitsToFloat(b) - 8388736.0;
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

float q8_0_sum(uvec4 a, uvec4 b, vec4 x[8])
{
    return dot(bytes_s(a.x), x[0]) + dot(bytes_s(a.y), x[1]) + dot(bytes_s(a.z), x[2]) +
           dot(bytes_s(a.w), x[3]) + dot(bytes_s(b.x), x[4]) + dot(bytes_s(b.y), x[5]) +
           dot(bytes_s(b.z), x[6]) + dot(bytes_s(b.w), x[7]);
}

// Element j < 16 of a Q4_0 block is the low nibble of quant byte j,
// element j + 16 the high one.
float q4_0_sum(uvec4 q, vec4 x[8])
{
    float s = 0.0;
    for (uint k = 0u; k < 4u; k++) {
        s += dot(bytes_u(q[k] & 0x0F0F0F0Fu, 8.0), x[k]);
        s += dot(bytes_u((q[k] >> 4) & 0x0F0F0F0Fu, 8.0), x[4u + k]);
    }
    return s;
}

float dot_q8_0(uint rowb, uint g, vec4 x[8])
{
    uint b = rowb + 32u * g;
    return wb_f16(q8_0_scale_byte(rowb, g)) * q8_0_sum(wb_load16(b), wb_load16(b + 16u), x);
}

float dot_q4_0(uint rowb, uint g, vec4 x[8])
{
    return wb_f16(q4_0_scale_byte(rowb, g)) * q4_0_sum(wb_load16(rowb + 16u * g), x);
}

#if WB4
float dot_q8_0_v4(uint rowb, uint g, vec4 x[8])
{
    uint i = (rowb >> 4) + 2u * g;
    return wb_f16(q8_0_scale_byte(rowb, g)) * q8_0_sum(wb4[i], wb4[i + 1u], x);
}

float dot_q4_0_v4(uint rowb, uint g, vec4 x[8])
{
    return wb_f16(q4_0_scale_byte(rowb, g)) * q4_0_sum(wb4[(rowb >> 4) + g], x);
}

float dot_f32_v4(uint rowb, uint g, vec4 x[8])
{
#if (N_IN % 32) != 0
    if (g * 32u + 32u > uint(N_IN)) return dot_f32(rowb, g, x);
#endif
    uint i = (rowb >> 4) + 8u * g;
    float s = 0.0;
    for (uint k = 0u; k < 8u; k++) s += dot(uintBitsToFloat(wb4[i + k]), x[k]);
    return s;
}

float dot_f16_v4(uint rowb, uint g, vec4 x[8])
{
#if (N_IN % 32) != 0
    if (g * 32u + 32u > uint(N_IN)) return dot_f16(rowb, g, x);
#endif
    uint i = (rowb >> 4) + 4u * g;
    float s = 0.0;
    for (uint k = 0u; k < 4u; k++) {
        uvec4 w = wb4[i + k];
        s += dot(vec4(unpackHalf2x16(w.x), unpackHalf2x16(w.y)), x[2u * k]);
        s += dot(vec4(unpackHalf2x16(w.z), unpackHalf2x16(w.w)), x[2u * k + 1u]);
    }
    return s;
}
#endif

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

#if WB4
float dot_q4_k_v4(uint rowb, uint g, vec4 x[8])
{
    uint bb = rowb + (g >> 3) * 144u;
    uint sub = g & 7u;
    uvec4 head = wb4[bb >> 4]; // d, dmin, then the 12 scale bytes
    vec2 dm = unpackHalf2x16(head.x);
    uint sc, mn;
    q4k_scale_min(bb + 4u, sub, sc, mn);
    uint i = ((bb + 16u) >> 4) + (sub >> 1) * 2u;
    uvec4 lo = wb4[i], hi = wb4[i + 1u];
    uint sh = (sub & 1u) * 4u;
    float sq = 0.0, sx = 0.0;
    for (uint k = 0u; k < 4u; k++) {
        sq += dot(bytes_u((lo[k] >> sh) & 0x0F0F0F0Fu), x[k]);
        sq += dot(bytes_u((hi[k] >> sh) & 0x0F0F0F0Fu), x[4u + k]);
    }
    for (uint k = 0u; k < 8u; k++) sx += dot(x[k], vec4(1.0));
    return dm.x * float(sc) * sq - dm.y * float(mn) * sx;
}
#endif

// 16 weights of a Q6_K segment: 4 words of low nibbles and 4 of high bit
// pairs, against x[x0 .. x0 + 3].
float q6_k_sum(uvec4 ql, uvec4 qh, uint lsh, uint hsh, vec4 x[8], uint x0)
{
    float s = 0.0;
    for (uint w = 0u; w < 4u; w++) {
        uint q = ((ql[w] >> lsh) & 0x0F0F0F0Fu) | (((qh[w] >> hsh) & 0x03030303u) << 4);
        s += dot(bytes_u(q, 32.0), x[x0 + w]);
    }
    return s;
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
    uint lb = bb + n * 64u + (k & 1u) * 32u, hb = bb + 128u + n * 32u;
    uint lsh = (k >> 1) * 4u;
    uint hsh = 2u * k;
    float s0 = q6_k_sum(wb_load16(lb), wb_load16(hb), lsh, hsh, x, 0u);
    float s1 = q6_k_sum(wb_load16(lb + 16u), wb_load16(hb + 16u), lsh, hsh, x, 4u);
    uint sb = bb + 192u + n * 8u + 2u * k;
    float d = wb_f16(bb + 208u);
    return d * float(wb_s8(sb)) * s0 + d * float(wb_s8(sb + 1u)) * s1;
}

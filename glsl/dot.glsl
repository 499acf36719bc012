// Segment dot products for matrix-vector kernels, one per weight type:
// dot_<type>(rowb, g, x) = sum over the 32 weights of segment g (elements
// 32g .. 32g+31) of the row starting at byte rowb of `wb`, times x, the
// segment's 32 inputs (xin.glsl's x_seg, loaded once for all the rows a
// lane works on). Every block format splits into whole 32-element segments
// (a K-quant super-block holds 8), so a kernel can stride invocations over
// segments whatever the type. Weights are decoded in registers, never
// stored. The includer defines N_IN (row length). F32/F16/BF16 rows may end
// inside a segment (then a scalar loop serves the tail); the block types
// cannot.
// Needs the weight arena `wb` declared before inclusion; with WB4 also its
// uvec4 view `wb4`, for the _v4 variants, which the host picks when the
// row and its start are 16-byte aligned (one 16-byte load where the word
// variants issue four). Rows are in the GPU layout of gpu_types.c: most
// block types hold each field of all blocks in turn, quants first
// (deq.glsl has the field addresses). Each type is one function over the
// loaded quants, called by its word and its uvec4 variant.

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

float sum32(vec4 x[8])
{
    float s = 0.0;
    for (uint k = 0u; k < 8u; k++) s += dot(x[k], vec4(1.0));
    return s;
}

// ------------------------------------------------------------ F32, F16, BF16

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

// Two bfloat16 of a word: each is the top half of a float.
vec2 bf16x2(uint w) { return uintBitsToFloat(uvec2(w << 16, w & 0xFFFF0000u)); }

float dot_bf16(uint rowb, uint g, vec4 x[8])
{
    uint i0 = g * 32u;
    float s = 0.0;
#if (N_IN % 32) != 0
    if (i0 + 32u > uint(N_IN)) {
        for (uint i = 0u; i0 + i < uint(N_IN); i++) s += deq_bf16(rowb, i0 + i) * x[i >> 2][i & 3u];
        return s;
    }
#endif
#if (N_IN % 2) == 0
    uint w0 = (rowb >> 2) + g * 16u;
    for (uint k = 0u; k < 8u; k++)
        s += dot(vec4(bf16x2(wb[w0 + 2u * k]), bf16x2(wb[w0 + 2u * k + 1u])), x[k]);
#else
    for (uint k = 0u; k < 8u; k++) {
        uint i = i0 + 4u * k;
        vec4 h = vec4(deq_bf16(rowb, i), deq_bf16(rowb, i + 1u), deq_bf16(rowb, i + 2u),
                      deq_bf16(rowb, i + 3u));
        s += dot(h, x[k]);
    }
#endif
    return s;
}

// ------------------------------------------------- 32-element block types

float q8_0_sum(uvec4 a, uvec4 b, vec4 x[8])
{
    return dot(bytes_s(a.x), x[0]) + dot(bytes_s(a.y), x[1]) + dot(bytes_s(a.z), x[2]) +
           dot(bytes_s(a.w), x[3]) + dot(bytes_s(b.x), x[4]) + dot(bytes_s(b.y), x[5]) +
           dot(bytes_s(b.z), x[6]) + dot(bytes_s(b.w), x[7]);
}

// Element j < 16 of a 4-bit block is the low nibble of quant byte j,
// element j + 16 the high one; minus bias.
float nib_sum(uvec4 q, float bias, vec4 x[8])
{
    float s = 0.0;
    for (uint k = 0u; k < 4u; k++) {
        s += dot(bytes_u(q[k] & 0x0F0F0F0Fu, bias), x[k]);
        s += dot(bytes_u((q[k] >> 4) & 0x0F0F0F0Fu, bias), x[4u + k]);
    }
    return s;
}

// Bits 0..3 of h to bit 4 of bytes 0..3: the product puts bit k at bit 8k
// (the four shifted copies do not overlap, so nothing carries).
uint q5_high(uint h) { return ((h * 0x00204081u) & 0x01010101u) << 4; }

// Q5_0/Q5_1: the nibbles of q with bit e of qh as element e's fifth bit.
float q5_sum(uvec4 q, uint qh, float bias, vec4 x[8])
{
    float s = 0.0;
    for (uint k = 0u; k < 4u; k++) {
        uint lo = (q[k] & 0x0F0F0F0Fu) | q5_high((qh >> (4u * k)) & 15u);
        uint hi = ((q[k] >> 4) & 0x0F0F0F0Fu) | q5_high((qh >> (16u + 4u * k)) & 15u);
        s += dot(bytes_u(lo, bias), x[k]);
        s += dot(bytes_u(hi, bias), x[4u + k]);
    }
    return s;
}

// The IQ4 levels plus 128, four bytes a word (deq.glsl's IQ4_LEVELS).
const uvec4 IQ4_TABLE = uvec4(0x3F2D1801u, 0x766A5D4Fu, 0xA6998D81u, 0xF1D9C5B5u);

// The levels of the nibbles at bits sh.. of the 4 bytes of w: the table
// word picked by bits 2-3 of each nibble with selects (a dynamically
// indexed constant array serialises a warp on NVIDIA), the byte by bits
// 0-1, then bytes_s's offset-binary conversion.
vec4 iq4_levels(uint w, uint sh)
{
    uvec4 n = (uvec4(w, w >> 8, w >> 16, w >> 24) >> sh) & 15u;
    bvec4 b2 = notEqual(n & 4u, uvec4(0u));
    uvec4 t = mix(mix(uvec4(IQ4_TABLE.x), uvec4(IQ4_TABLE.y), b2),
                  mix(uvec4(IQ4_TABLE.z), uvec4(IQ4_TABLE.w), b2), notEqual(n & 8u, uvec4(0u)));
    uvec4 b = ((t >> ((n & 3u) << 3)) & 0xFFu) | 0x4B000000u;
    return uintBitsToFloat(b) - 8388736.0;
}

float iq4_sum(uvec4 q, vec4 x[8])
{
    float s = 0.0;
    for (uint k = 0u; k < 4u; k++) {
        s += dot(iq4_levels(q[k], 0u), x[k]);
        s += dot(iq4_levels(q[k], 4u), x[4u + k]);
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
    return wb_f16(q4_0_scale_byte(rowb, g)) * nib_sum(wb_load16(rowb + 16u * g), 8.0, x);
}

// Q4_1: y = d q + m, so the dot is d * sum(q x) + m * sum(x). Rows of 20-byte
// blocks are 4-byte aligned.
float q4_1_dot(uvec4 q, uint rowb, uint g, vec4 x[8])
{
    vec2 dm = unpackHalf2x16(wb[(rowb + NB32 * 16u + 4u * g) >> 2]);
    return dm.x * nib_sum(q, 0.0, x) + dm.y * sum32(x);
}
float dot_q4_1(uint rowb, uint g, vec4 x[8]) { return q4_1_dot(wb_load16_a4(rowb + 16u * g), rowb, g, x); }

float q5_0_dot(uvec4 q, uint rowb, uint g, vec4 x[8])
{
    return wb_f16(rowb + NB32 * 20u + 2u * g) * q5_sum(q, wb_u32(rowb + NB32 * 16u + 4u * g), 16.0, x);
}
float dot_q5_0(uint rowb, uint g, vec4 x[8]) { return q5_0_dot(wb_load16(rowb + 16u * g), rowb, g, x); }

// Q5_1: rows of 24-byte blocks are 8-byte aligned.
float q5_1_dot(uvec4 q, uint rowb, uint g, vec4 x[8])
{
    vec2 dm = unpackHalf2x16(wb[(rowb + NB32 * 20u + 4u * g) >> 2]);
    return dm.x * q5_sum(q, wb[(rowb + NB32 * 16u + 4u * g) >> 2], 0.0, x) + dm.y * sum32(x);
}
float dot_q5_1(uint rowb, uint g, vec4 x[8]) { return q5_1_dot(wb_load16_a4(rowb + 16u * g), rowb, g, x); }

float dot_iq4_nl(uint rowb, uint g, vec4 x[8])
{
    return wb_f16(q4_0_scale_byte(rowb, g)) * iq4_sum(wb_load16(rowb + 16u * g), x);
}

#if WB4
float dot_q8_0_v4(uint rowb, uint g, vec4 x[8])
{
    uint i = (rowb >> 4) + 2u * g;
    return wb_f16(q8_0_scale_byte(rowb, g)) * q8_0_sum(wb4[i], wb4[i + 1u], x);
}

float dot_q4_0_v4(uint rowb, uint g, vec4 x[8])
{
    return wb_f16(q4_0_scale_byte(rowb, g)) * nib_sum(wb4[(rowb >> 4) + g], 8.0, x);
}

float dot_q4_1_v4(uint rowb, uint g, vec4 x[8]) { return q4_1_dot(wb4[(rowb >> 4) + g], rowb, g, x); }

float dot_q5_0_v4(uint rowb, uint g, vec4 x[8]) { return q5_0_dot(wb4[(rowb >> 4) + g], rowb, g, x); }

float dot_q5_1_v4(uint rowb, uint g, vec4 x[8]) { return q5_1_dot(wb4[(rowb >> 4) + g], rowb, g, x); }

float dot_iq4_nl_v4(uint rowb, uint g, vec4 x[8])
{
    return wb_f16(q4_0_scale_byte(rowb, g)) * iq4_sum(wb4[(rowb >> 4) + g], x);
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

float dot_bf16_v4(uint rowb, uint g, vec4 x[8])
{
#if (N_IN % 32) != 0
    if (g * 32u + 32u > uint(N_IN)) return dot_bf16(rowb, g, x);
#endif
    uint i = (rowb >> 4) + 4u * g;
    float s = 0.0;
    for (uint k = 0u; k < 4u; k++) {
        uvec4 w = wb4[i + k];
        s += dot(vec4(bf16x2(w.x), bf16x2(w.y)), x[2u * k]);
        s += dot(vec4(bf16x2(w.z), bf16x2(w.w)), x[2u * k + 1u]);
    }
    return s;
}
#endif

// ----------------------------------------------------------------- K-quants
// Segment g is group t = g & 7 of super-block g >> 3.

// Q2_K: segment t = 4n + j takes bits 2j.. of the 32 bytes qs[32n ..] (so
// segments 4n .. 4n+3 share them: at 32 (g >> 2) in the row's quants) and
// scale bytes 2t, 2t + 1 of its super-block (one for each 16 elements).
float q2_k_dot(uvec4 a, uvec4 b, uint rowb, uint g, vec4 x[8])
{
    uint sb = g >> 3, sh = 2u * (g & 3u);
    uint sc = wb_u16(rowb + NB256 * 64u + 2u * g);
    vec2 dm = unpackHalf2x16(wb[(rowb + NB256 * 80u + 4u * sb) >> 2]);
    float s0 = 0.0, s1 = 0.0, x0 = 0.0, x1 = 0.0;
    for (uint k = 0u; k < 4u; k++) {
        s0 += dot(bytes_u((a[k] >> sh) & 0x03030303u), x[k]);
        s1 += dot(bytes_u((b[k] >> sh) & 0x03030303u), x[4u + k]);
        x0 += dot(x[k], vec4(1.0));
        x1 += dot(x[4u + k], vec4(1.0));
    }
    return dm.x * (float(sc & 15u) * s0 + float((sc >> 8) & 15u) * s1) -
           dm.y * (float((sc >> 4) & 15u) * x0 + float(sc >> 12) * x1);
}
float dot_q2_k(uint rowb, uint g, vec4 x[8])
{
    uint qb = rowb + 32u * (g >> 2);
    return q2_k_dot(wb_load16_a4(qb), wb_load16_a4(qb + 16u), rowb, g, x);
}

// Q3_K: segment t = 4n + j: bits 2j.. of qs[32n ..], bit 4n + j of the
// super-block's hmask[0 .. 31] (clear: minus 4), scales 2t and 2t + 1 of
// the 12 packed bytes: low nibbles n of bytes 2j, 2j+1, high bit pairs
// 2n + j/2 of bytes 8 + 2(j&1), 9 + 2(j&1) (deq.glsl's q3k_scale).
float q3_k_dot(uvec4 q0, uvec4 q1, uvec4 h0, uvec4 h1, uint rowb, uint g, vec4 x[8])
{
    uint sb = g >> 3, n = (g >> 2) & 1u, j = g & 3u;
    uint sh = 2u * j, hb = 4u * n + j;
    float s0 = 0.0, s1 = 0.0;
    for (uint k = 0u; k < 4u; k++) {
        uint a = ((q0[k] >> sh) & 0x03030303u) | (((h0[k] >> hb) & 0x01010101u) << 2);
        uint b = ((q1[k] >> sh) & 0x03030303u) | (((h1[k] >> hb) & 0x01010101u) << 2);
        s0 += dot(bytes_u(a, 4.0), x[k]);
        s1 += dot(bytes_u(b, 4.0), x[4u + k]);
    }
    uint scb = rowb + NB256 * 96u + 12u * sb;
    uint lo = wb_u16(scb + 2u * j) >> (4u * n);
    uint hi = wb_u16(scb + 8u + 2u * (j & 1u)) >> (2u * (2u * n + (j >> 1)));
    int sc0 = int((lo & 15u) | ((hi & 3u) << 4)) - 32;
    int sc1 = int(((lo >> 8) & 15u) | (((hi >> 8) & 3u) << 4)) - 32;
    float d = wb_f16(rowb + NB256 * 108u + 2u * sb);
    return d * float(sc0) * s0 + d * float(sc1) * s1;
}
float dot_q3_k(uint rowb, uint g, vec4 x[8])
{
    uint qb = rowb + 32u * (g >> 2), hb = rowb + NB256 * 64u + 32u * (g >> 3);
    return q3_k_dot(wb_load16(qb), wb_load16(qb + 16u), wb_load16(hb), wb_load16(hb + 16u), rowb,
                    g, x);
}

// Q4_K: sub-block g & 7 of super-block g >> 3 (144 bytes, 4-aligned since
// 144 is a multiple of 4). y = d1*q - m1, so the dot is
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

// Q5_K: as Q4_K, plus bit t of each qh[0 .. 31] (176-byte blocks: qh at 16
// and qs at 48 stay 16-byte aligned when the row is).
float q5_k_dot(uvec4 l0, uvec4 l1, uvec4 h0, uvec4 h1, uint bb, uint t, vec4 x[8])
{
    vec2 dm = unpackHalf2x16(wb[bb >> 2]);
    uint sc, mn;
    q4k_scale_min(bb + 4u, t, sc, mn);
    uint sh = 4u * (t & 1u);
    float sq = 0.0;
    for (uint k = 0u; k < 4u; k++) {
        sq += dot(bytes_u(((l0[k] >> sh) & 0x0F0F0F0Fu) | (((h0[k] >> t) & 0x01010101u) << 4)), x[k]);
        sq += dot(bytes_u(((l1[k] >> sh) & 0x0F0F0F0Fu) | (((h1[k] >> t) & 0x01010101u) << 4)),
                  x[4u + k]);
    }
    return dm.x * float(sc) * sq - dm.y * float(mn) * sum32(x);
}
float dot_q5_k(uint rowb, uint g, vec4 x[8])
{
    uint bb = rowb + (g >> 3) * 176u, t = g & 7u, lb = bb + 48u + 32u * (t >> 1);
    return q5_k_dot(wb_load16_a4(lb), wb_load16_a4(lb + 16u), wb_load16_a4(bb + 16u),
                    wb_load16_a4(bb + 32u), bb, t, x);
}

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

// Q6_K: segment t = 4n + k takes ql[64n + 32(k&1) ..] (nibble k>>1) and
// qh[32n ..] (bits 2k) of its super-block; its first 16 elements use int8
// scale 8n + 2k, the next 16 the following one.
float q6_k_dot(uvec4 l0, uvec4 l1, uvec4 h0, uvec4 h1, uint rowb, uint g, vec4 x[8])
{
    uint sb = g >> 3, t = g & 7u, n = t >> 2, k = t & 3u;
    uint lsh = (k >> 1) * 4u, hsh = 2u * k;
    float s0 = q6_k_sum(l0, h0, lsh, hsh, x, 0u);
    float s1 = q6_k_sum(l1, h1, lsh, hsh, x, 4u);
    uint scb = rowb + NB256 * 192u + 16u * sb + 8u * n + 2u * k;
    float d = wb_f16(rowb + NB256 * 208u + 2u * sb);
    return d * float(wb_s8(scb)) * s0 + d * float(wb_s8(scb + 1u)) * s1;
}
float dot_q6_k(uint rowb, uint g, vec4 x[8])
{
    uint t = g & 7u;
    uint lb = rowb + 128u * (g >> 3) + 64u * (t >> 2) + 32u * (t & 1u);
    uint hb = rowb + NB256 * 128u + 32u * (g >> 2);
    return q6_k_dot(wb_load16(lb), wb_load16(lb + 16u), wb_load16(hb), wb_load16(hb + 16u), rowb,
                    g, x);
}

// IQ4_XS: segment g's quants are 16 bytes at 16g (like IQ4_NL), its scale
// in the super-block's 8-byte header after all quants (136-byte blocks:
// rows are 8-byte aligned).
float iq4_xs_dot(uvec4 q, uint rowb, uint g, vec4 x[8])
{
    uint hw = (rowb + NB256 * 128u + 8u * (g >> 3)) >> 2;
    return iq4_xs_scale(wb[hw], wb[hw + 1u], g & 7u) * iq4_sum(q, x);
}
float dot_iq4_xs(uint rowb, uint g, vec4 x[8]) { return iq4_xs_dot(wb_load16_a4(rowb + 16u * g), rowb, g, x); }

#if WB4
float dot_q2_k_v4(uint rowb, uint g, vec4 x[8])
{
    uint i = (rowb >> 4) + 2u * (g >> 2);
    return q2_k_dot(wb4[i], wb4[i + 1u], rowb, g, x);
}

float dot_q3_k_v4(uint rowb, uint g, vec4 x[8])
{
    uint i = (rowb >> 4) + 2u * (g >> 2), h = ((rowb + NB256 * 64u) >> 4) + 2u * (g >> 3);
    return q3_k_dot(wb4[i], wb4[i + 1u], wb4[h], wb4[h + 1u], rowb, g, x);
}

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

float dot_q5_k_v4(uint rowb, uint g, vec4 x[8])
{
    uint bb = rowb + (g >> 3) * 176u, t = g & 7u, i = bb >> 4, l = i + 3u + 2u * (t >> 1);
    return q5_k_dot(wb4[l], wb4[l + 1u], wb4[i + 1u], wb4[i + 2u], bb, t, x);
}

float dot_q6_k_v4(uint rowb, uint g, vec4 x[8])
{
    uint t = g & 7u;
    uint l = (rowb >> 4) + 8u * (g >> 3) + 4u * (t >> 2) + 2u * (t & 1u);
    uint h = ((rowb + NB256 * 128u) >> 4) + 2u * (g >> 2);
    return q6_k_dot(wb4[l], wb4[l + 1u], wb4[h], wb4[h + 1u], rowb, g, x);
}

float dot_iq4_xs_v4(uint rowb, uint g, vec4 x[8]) { return iq4_xs_dot(wb4[(rowb >> 4) + g], rowb, g, x); }
#endif

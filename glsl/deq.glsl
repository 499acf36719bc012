// One weight, decoded from its GGUF block (ggml's layouts, ggml-common.h):
// deq_<type>(rowb, i) is element i of the row that starts at byte rowb of
// `wb`. Same arithmetic as ggml's to_float, so an embedding row decodes to
// the same floats the CPU reference uses.

#include "wbytes.glsl"

float deq_f32(uint rowb, uint i) { return uintBitsToFloat(wb[(rowb >> 2) + i]); }

float deq_f16(uint rowb, uint i) { return wb_f16(rowb + 2u * i); }

// Q8_0 and Q4_0 rows on the GPU hold all blocks' quants, then their f16
// scales (gpu_repack.h); the includer defines ROW_LEN (elements a row).
uint q8_0_scale_byte(uint rowb, uint blk) { return rowb + uint(ROW_LEN / 32) * 32u + 2u * blk; }
uint q4_0_scale_byte(uint rowb, uint blk) { return rowb + uint(ROW_LEN / 32) * 16u + 2u * blk; }

// Q8_0: blocks of 32: f16 d, int8 qs[32]; y = d * q.
float deq_q8_0(uint rowb, uint i)
{
    return wb_f16(q8_0_scale_byte(rowb, i >> 5)) * float(wb_s8(rowb + i));
}

// Q4_0: blocks of 32: f16 d, qs[16]; element j < 16 is the low nibble of
// qs[j], element j + 16 the high one; y = d * (q - 8).
float deq_q4_0(uint rowb, uint i)
{
    uint j = i & 31u;
    uint byte = wb_u8(rowb + (i >> 5) * 16u + (j & 15u));
    uint q = j < 16u ? (byte & 15u) : (byte >> 4);
    return float(int(q) - 8) * wb_f16(q4_0_scale_byte(rowb, i >> 5));
}

// Q4_K scale and min of sub-block j (0..7) from the 12 packed bytes at sb:
// ggml's get_scale_min_k4.
void q4k_scale_min(uint sb, uint j, out uint sc, out uint mn)
{
    if (j < 4u) {
        sc = wb_u8(sb + j) & 63u;
        mn = wb_u8(sb + j + 4u) & 63u;
    } else {
        uint a = wb_u8(sb + j + 4u);
        sc = (a & 15u) | ((wb_u8(sb + j - 4u) >> 6) << 4);
        mn = (a >> 4) | ((wb_u8(sb + j) >> 6) << 4);
    }
}

// Q4_K: 144-byte super-blocks of 256: f16 d, f16 dmin, scales[12], qs[128].
// Each 64 elements use 32 bytes of qs: low nibbles then high nibbles, with
// sub-blocks 2c and 2c+1; y = d*sc * q - dmin*m.
float deq_q4_k(uint rowb, uint i)
{
    uint bb = rowb + (i >> 8) * 144u;
    uint r = i & 255u;
    uint c = r >> 6;
    uint w = r & 63u;
    uint sc, mn;
    q4k_scale_min(bb + 4u, c * 2u + (w >> 5), sc, mn);
    uint byte = wb_u8(bb + 16u + c * 32u + (w & 31u));
    uint q = w < 32u ? (byte & 15u) : (byte >> 4);
    vec2 dm = vec2(wb_f16(bb), wb_f16(bb + 2u));
    return dm.x * float(sc) * float(q) - dm.y * float(mn);
}

// Q6_K: 210-byte super-blocks of 256: ql[128], qh[64], int8 scales[16], f16 d.
// Half n (128 elements) uses ql[64n..], qh[32n..], scales[8n..]; quarter k
// of it takes nibble k>>1 of ql[(k&1)*32 + l] and bits 2k of qh[l].
float deq_q6_k(uint rowb, uint i)
{
    uint bb = rowb + (i >> 8) * 210u;
    uint r = i & 255u;
    uint n = r >> 7;
    uint k = (r >> 5) & 3u;
    uint l = r & 31u;
    uint lo = (wb_u8(bb + n * 64u + (k & 1u) * 32u + l) >> ((k >> 1) * 4u)) & 15u;
    uint hi = (wb_u8(bb + 128u + n * 32u + l) >> (2u * k)) & 3u;
    int q = int(lo | (hi << 4)) - 32;
    float sc = float(wb_s8(bb + 192u + n * 8u + (l >> 4) + 2u * k));
    return wb_f16(bb + 208u) * sc * float(q);
}

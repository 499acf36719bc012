// One weight, decoded from its GPU row (ggml's block layouts,
// ggml-common.h, stored field by field where gpu_types.c says so):
// deq_<type>(rowb, i) is element i of the row that starts at byte rowb of
// `wb`. Same arithmetic as ggml's to_float, so an embedding row decodes to
// the same floats the CPU reference uses. The includer defines ROW_LEN
// (elements a row): a repacked row's later fields start after the earlier
// fields of all its blocks.

#include "wbytes.glsl"

#define NB32 uint(ROW_LEN / 32)
#define NB256 uint(ROW_LEN / 256)

float deq_f32(uint rowb, uint i) { return uintBitsToFloat(wb[(rowb >> 2) + i]); }

float deq_f16(uint rowb, uint i) { return wb_f16(rowb + 2u * i); }

// bfloat16 is the top half of a float.
float deq_bf16(uint rowb, uint i) { return uintBitsToFloat(wb_u16(rowb + 2u * i) << 16); }

// Q8_0 rows: qs[32] of every block, then the f16 scales d; y = d * q.
uint q8_0_scale_byte(uint rowb, uint blk) { return rowb + NB32 * 32u + 2u * blk; }
// Q4_0 and IQ4_NL rows: qs[16] of every block, then the f16 scales.
uint q4_0_scale_byte(uint rowb, uint blk) { return rowb + NB32 * 16u + 2u * blk; }

float deq_q8_0(uint rowb, uint i)
{
    return wb_f16(q8_0_scale_byte(rowb, i >> 5)) * float(wb_s8(rowb + i));
}

// The 4-bit quant of element i of a 32-element group whose 16 quant bytes
// start at qb: element j < 16 is the low nibble of byte j, j + 16 the high.
uint nibble32(uint qb, uint i)
{
    uint j = i & 31u;
    uint byte = wb_u8(qb + (j & 15u));
    return j < 16u ? (byte & 15u) : (byte >> 4);
}

// Q4_0: y = d * (q - 8).
float deq_q4_0(uint rowb, uint i)
{
    uint q = nibble32(rowb + (i >> 5) * 16u, i);
    return float(int(q) - 8) * wb_f16(q4_0_scale_byte(rowb, i >> 5));
}

// Q4_1 rows: qs[16] of every block, then (f16 d, f16 m); y = q * d + m.
float deq_q4_1(uint rowb, uint i)
{
    uint q = nibble32(rowb + (i >> 5) * 16u, i);
    vec2 dm = unpackHalf2x16(wb[(rowb + NB32 * 16u + 4u * (i >> 5)) >> 2]);
    return float(q) * dm.x + dm.y;
}

// Q5_0 rows: qs[16], then qh[4] (bit j: fifth bit of element j), then f16
// d, each of every block; y = d * (q - 16).
float deq_q5_0(uint rowb, uint i)
{
    uint blk = i >> 5;
    uint qh = wb_u32(rowb + NB32 * 16u + 4u * blk);
    uint q = nibble32(rowb + blk * 16u, i) | (((qh >> (i & 31u)) & 1u) << 4);
    return float(int(q) - 16) * wb_f16(rowb + NB32 * 20u + 2u * blk);
}

// Q5_1 rows: qs[16], qh[4], then (f16 d, f16 m); y = q * d + m.
float deq_q5_1(uint rowb, uint i)
{
    uint blk = i >> 5;
    uint qh = wb[(rowb + NB32 * 16u + 4u * blk) >> 2];
    uint q = nibble32(rowb + blk * 16u, i) | (((qh >> (i & 31u)) & 1u) << 4);
    vec2 dm = unpackHalf2x16(wb[(rowb + NB32 * 20u + 4u * blk) >> 2]);
    return float(q) * dm.x + dm.y;
}

// The sixteen IQ4_NL/IQ4_XS levels (ggml's kvalues_iq4nl).
const int IQ4_LEVELS[16] = int[16](-127, -104, -83, -65, -49, -35, -22, -10,
                                   1, 13, 25, 38, 53, 69, 89, 113);

// IQ4_NL rows like Q4_0; y = d * level[q].
float deq_iq4_nl(uint rowb, uint i)
{
    uint q = nibble32(rowb + (i >> 5) * 16u, i);
    return wb_f16(q4_0_scale_byte(rowb, i >> 5)) * float(IQ4_LEVELS[q]);
}

// Q2_K rows: qs[64] of every super-block, then scales[16], then (f16 d,
// f16 dmin). Elements 128n + 32j + w take bits 2j.. of qs[32n + w] and
// scale byte 8n + 2j + w/16 (low nibble: scale, high: min);
// y = d * sc * q - dmin * m.
float deq_q2_k(uint rowb, uint i)
{
    uint sb = i >> 8, r = i & 255u, n = r >> 7, j = (r >> 5) & 3u, w = r & 31u;
    uint q = (wb_u8(rowb + sb * 64u + n * 32u + w) >> (2u * j)) & 3u;
    uint sc = wb_u8(rowb + NB256 * 64u + sb * 16u + n * 8u + 2u * j + (w >> 4));
    vec2 dm = unpackHalf2x16(wb[(rowb + NB256 * 80u + 4u * sb) >> 2]);
    return dm.x * float(sc & 15u) * float(q) - dm.y * float(sc >> 4);
}

// Q3_K 6-bit scale `is` (0..15) from the 12 packed bytes at sb: low four
// bits in nibble is/8 of byte is%8, high two in bits 2(is/4) of byte
// 8 + is%4; ggml then subtracts 32.
int q3k_scale(uint sb, uint is)
{
    uint lo = (wb_u8(sb + (is & 7u)) >> (4u * (is >> 3))) & 15u;
    uint hi = (wb_u8(sb + 8u + (is & 3u)) >> (2u * (is >> 2))) & 3u;
    return int(lo | (hi << 4)) - 32;
}

// Q3_K rows: qs[64], hmask[32], scales[12], f16 d, each of every
// super-block. Element 128n + 32j + w: two bits 2j.. of qs[32n + w], minus
// 4 unless bit 4n + j of hmask[w] is set; scale 8n + 2j + w/16.
float deq_q3_k(uint rowb, uint i)
{
    uint sb = i >> 8, r = i & 255u, n = r >> 7, j = (r >> 5) & 3u, w = r & 31u;
    int q = int((wb_u8(rowb + sb * 64u + n * 32u + w) >> (2u * j)) & 3u);
    uint h = (wb_u8(rowb + NB256 * 64u + sb * 32u + w) >> (4u * n + j)) & 1u;
    float dl = wb_f16(rowb + NB256 * 108u + 2u * sb) *
               float(q3k_scale(rowb + NB256 * 96u + sb * 12u, n * 8u + 2u * j + (w >> 4)));
    return dl * float(q - (h != 0u ? 0 : 4));
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

// Q4_K (as in the file): 144-byte super-blocks of 256: f16 d, f16 dmin,
// scales[12], qs[128]. Each 64 elements use 32 bytes of qs: low nibbles
// then high nibbles, with sub-blocks 2c and 2c+1; y = d*sc * q - dmin*m.
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

// Q5_K (as in the file): 176-byte super-blocks: f16 d, f16 dmin,
// scales[12], qh[32], qs[128]. Like Q4_K, plus bit 2c + h of qh[l] as the
// fifth bit of element 64c + 32h + l.
float deq_q5_k(uint rowb, uint i)
{
    uint bb = rowb + (i >> 8) * 176u;
    uint r = i & 255u, c = r >> 6, h = (r >> 5) & 1u, l = r & 31u;
    uint sc, mn;
    q4k_scale_min(bb + 4u, 2u * c + h, sc, mn);
    uint q = (wb_u8(bb + 48u + c * 32u + l) >> (4u * h)) & 15u;
    q |= ((wb_u8(bb + 16u + l) >> (2u * c + h)) & 1u) << 4;
    vec2 dm = unpackHalf2x16(wb[bb >> 2]);
    return dm.x * float(sc) * float(q) - dm.y * float(mn);
}

// Q6_K rows: ql[128], qh[64], int8 scales[16], f16 d, each of every
// super-block. Half n (128 elements) uses ql[64n..], qh[32n..],
// scales[8n..]; quarter k of it takes nibble k>>1 of ql[(k&1)*32 + l] and
// bits 2k of qh[l].
float deq_q6_k(uint rowb, uint i)
{
    uint sb = i >> 8;
    uint r = i & 255u;
    uint n = r >> 7;
    uint k = (r >> 5) & 3u;
    uint l = r & 31u;
    uint lo = (wb_u8(rowb + sb * 128u + n * 64u + (k & 1u) * 32u + l) >> ((k >> 1) * 4u)) & 15u;
    uint hi = (wb_u8(rowb + NB256 * 128u + sb * 64u + n * 32u + l) >> (2u * k)) & 3u;
    int q = int(lo | (hi << 4)) - 32;
    float sc = float(wb_s8(rowb + NB256 * 192u + sb * 16u + n * 8u + (l >> 4) + 2u * k));
    return wb_f16(rowb + NB256 * 208u + 2u * sb) * sc * float(q);
}

// IQ4_XS group scale of group ib (0..7) from the super-block's header
// words (f16 d | scales_h << 16, scales_l[4]): nibble ib of scales_l with
// bits 2ib of scales_h above it, minus 32; times d.
float iq4_xs_scale(uint w0, uint w1, uint ib)
{
    uint ls = ((w1 >> (4u * ib)) & 15u) | (((w0 >> (16u + 2u * ib)) & 3u) << 4);
    return unpackHalf2x16(w0).x * float(int(ls) - 32);
}

// IQ4_XS rows: qs[128] of every super-block (16 bytes a group of 32, laid
// out like IQ4_NL), then the 8-byte headers (f16 d, u16 scales_h,
// scales_l[4]); y = d * (ls - 32) * level[q].
float deq_iq4_xs(uint rowb, uint i)
{
    uint hw = (rowb + NB256 * 128u + 8u * (i >> 8)) >> 2;
    float dl = iq4_xs_scale(wb[hw], wb[hw + 1u], (i >> 5) & 7u);
    return dl * float(IQ4_LEVELS[nibble32(rowb + (i >> 5) * 16u, i)]);
}

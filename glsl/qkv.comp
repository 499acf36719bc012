// Fused decode step D1: RMSNorm(x) * attn_norm, the Q, K and V
// projections, RoPE on q and k, and the KV-cache write at the current
// position. Heads are numbered in one q|k|v head space and cut into slices
// of SLICE rows; a workgroup computes UNITS consecutive slices, so both
// rows of every RoPE pair and both dimensions of every packed f16 word are
// in the workgroup (UNITS > 1 when heads are small against a workgroup's
// row capacity). Each workgroup recomputes the RMS of x: n_embd reads,
// cheaper than a dispatch. Rows are computed RPW at a time (rows.glsl).
// Defines: WG_SIZE, N_IN (n_embd), HEAD_DIM, N_ROT, ROPE_NEOX, N_HEAD,
// N_HEAD_KV, EPS, SLICE (divides HEAD_DIM), UNITS, ROWS_G,
// TPR_SHARED, X_SHARED, SPLIT (NEOX with n_rot == head_dim: a slice takes
// SLICE/2 dimensions from each half), DOT_Q/K/V and RB_Q/K/V (dot function
// and row bytes of each projection's weight type), WB4 (dot.glsl),
// QKV_ONE_DOT (the three dot functions are the same), HAS_BIAS (Q/K/V
// biases, Qwen2), Q_NORM/K_NORM (per-head RMSNorm of Q/K before RoPE,
// Qwen3 and Gemma 3: needs SLICE == HEAD_DIM), POST_DELTA and X_OUT
// (xin.glsl). Order as llama.cpp: projection, bias, head norm, RoPE.
layout(local_size_x = WG_SIZE) in;

layout(std430, binding = 0) restrict buffer Act { float act[]; };
layout(std430, binding = 1) readonly restrict buffer Weights { uint wb[]; };
#if WB4
layout(std430, binding = 1) readonly restrict buffer Weights4 { uvec4 wb4[]; };
#endif
layout(std430, binding = 2) writeonly restrict buffer KCache { uint kc[]; };
layout(std430, binding = 3) writeonly restrict buffer VCache { uint vc[]; };

uniform uint u_x;        // act: x
uniform uint u_q;        // act: q output (n_head * head_dim)
uniform uint u_cs;       // act: RoPE cos/sin of the current position
uniform uint u_norm;     // wb word: attn_norm copy of this part
uniform uint u_head0;    // first head of this part (q|k|v head space)
uniform uint u_nheads;   // heads in this part
uniform uint u_qb, u_kb, u_vb; // wb byte of the first row of each projection in this part
uniform uint u_qr, u_kr, u_vr; // ... and that row's index in its projection
uniform uint u_kv_k, u_kv_v;   // kc/vc word of the slab holding the position
uniform uint u_kv_stride;      // positions per KV head in that slab
uniform uint u_kv_t;           // position within that slab
uniform uint u_delta, u_post, u_xout; // POST_DELTA, X_OUT (xin.glsl)
uniform uint u_bias;           // wb word of the biases of this part's rows
uniform uint u_qn, u_kn;       // wb words of attn_q_norm, attn_k_norm

#ifndef HAS_BIAS
#define HAS_BIAS 0
#endif
#ifndef Q_NORM
#define Q_NORM 0
#endif
#ifndef K_NORM
#define K_NORM 0
#endif
#if (Q_NORM || K_NORM) && SLICE != HEAD_DIM
#error "head norms need whole heads per slice"
#endif

#define IN_MODE 1
#include "rows.glsl"
#include "wg.glsl"
#include "xin.glsl"
#include "dot.glsl"
#include "rope.glsl"
#include "attn_layout.glsl"

shared float sh_row[UNITS * SLICE];

#define SLICES (HEAD_DIM / SLICE)

// Head-local dimension of local row k of slice s.
uint slice_dim(uint s, uint k)
{
#if SPLIT
    const uint h = uint(SLICE / 2);
    return k < h ? s * h + k : uint(N_ROT / 2) + s * h + (k - h);
#else
    return s * uint(SLICE) + k;
#endif
}

// Local row of the RoPE partner of local row k (dimension d).
uint slice_partner(uint s, uint k, uint d)
{
#if SPLIT
    const uint h = uint(SLICE / 2);
    return k < h ? k + h : k - h;
#else
    return rope_partner(d) - s * uint(SLICE);
#endif
}

// Byte address in wb of a projection's row.
uint row_byte(uint region, uint row)
{
    if (region == 0u) return u_qb + (row - u_qr) * uint(RB_Q);
    if (region == 1u) return u_kb + (row - u_kr) * uint(RB_K);
    return u_vb + (row - u_vr) * uint(RB_V);
}

float seg_dot(uint region, uint rowb, uint g, vec4 xs[8])
{
#if QKV_ONE_DOT
    // One weight type for all three (most files): no branch per row, so
    // the rows' loads can all be issued before the arithmetic.
    return DOT_Q(rowb, g, xs);
#else
    if (region == 0u) return DOT_Q(rowb, g, xs);
    if (region == 1u) return DOT_K(rowb, g, xs);
    return DOT_V(rowb, g, xs);
#endif
}

// Head (q|k|v space) and region (0 q, 1 k, 2 v) of slice unit index su.
void unit_head(uint su, out uint head, out uint region, out uint rhead)
{
    head = u_head0 + su / uint(SLICES);
    region = head < uint(N_HEAD) ? 0u : (head < uint(N_HEAD + N_HEAD_KV) ? 1u : 2u);
    rhead = region == 0u ? head : (region == 1u ? head - uint(N_HEAD) : head - uint(N_HEAD + N_HEAD_KV));
}

// RoPE (q, k) and store of local rows r, r+1 (r even) of the workgroup.
void finish_pair(uint su0, uint r)
{
    uint u = r / uint(SLICE);
    uint k = r - u * uint(SLICE);
    uint su = su0 + u, head, region, rhead;
    unit_head(su, head, region, rhead);
    uint slice = su % uint(SLICES);
    uint base = u * uint(SLICE);
    uint d = slice_dim(slice, k);
    float v0 = sh_row[base + k], v1 = sh_row[base + k + 1u];
    if (region != 2u) {
        float p0 = d < uint(N_ROT) ? sh_row[base + slice_partner(slice, k, d)] : v0;
        float p1 = d + 1u < uint(N_ROT) ? sh_row[base + slice_partner(slice, k + 1u, d + 1u)] : v1;
        v0 = rope_apply(u_cs, d, v0, p0);
        v1 = rope_apply(u_cs, d + 1u, v1, p1);
    }
    if (region == 0u) {
        act[u_q + rhead * uint(HEAD_DIM) + d] = v0;
        act[u_q + rhead * uint(HEAD_DIM) + d + 1u] = v1;
    } else if (region == 1u) {
        kc[kv_word(u_kv_k, u_kv_stride, rhead, u_kv_t) + (d >> 1)] = packHalf2x16(vec2(v0, v1));
    } else {
        vc[kv_word(u_kv_v, u_kv_stride, rhead, u_kv_t) + (d >> 1)] = packHalf2x16(vec2(v0, v1));
    }
}

// Bias of local row r (0 without biases).
float bias(uint su0, uint r)
{
#if HAS_BIAS
    uint su = su0 + r / uint(SLICE);
    uint d = slice_dim(su % uint(SLICES), r % uint(SLICE));
    return uintBitsToFloat(wb[u_bias + (su / uint(SLICES)) * uint(HEAD_DIM) + d]);
#else
    return 0.0;
#endif
}

#if Q_NORM || K_NORM
// RMSNorm of each whole Q or K head in sh_row times its weights: one
// invocation a head (a few heads a workgroup, HEAD_DIM <= 256 each).
void head_norms(uint su0, uint n_rows)
{
    for (uint u = gl_LocalInvocationIndex; u * uint(HEAD_DIM) < n_rows; u += uint(WG_SIZE)) {
        uint head, region, rhead;
        unit_head(su0 + u, head, region, rhead);
        bool on = (Q_NORM != 0 && region == 0u) || (K_NORM != 0 && region == 1u);
        if (!on) continue;
        uint w = region == 0u ? u_qn : u_kn;
        uint base = u * uint(HEAD_DIM);
        float ss = 0.0;
        for (uint d = 0u; d < uint(HEAD_DIM); d++) ss += sh_row[base + d] * sh_row[base + d];
        float r = 1.0 / sqrt(ss / float(HEAD_DIM) + EPS);
        for (uint d = 0u; d < uint(HEAD_DIM); d++)
            sh_row[base + d] = sh_row[base + d] * r * uintBitsToFloat(wb[w + d]);
    }
    memoryBarrierShared();
    barrier();
}
#endif

void main()
{
    uint t = gl_LocalInvocationIndex;
    uint su0 = gl_WorkGroupID.x * uint(UNITS); // first slice unit of this workgroup
    uint n_rows = min(uint(UNITS), u_nheads * uint(SLICES) - su0) * uint(SLICE);
    x_prepare();
#if X_TILES != 1
#error "qkv.comp stages the whole input at once"
#endif
    x_stage(0u);

    for (uint k0 = 0u; k0 < n_rows; k0 += uint(RPW)) {
        uint first = k0 + ROW_GROUP * uint(ROWS_G);
        float acc[ROWS_G];
        uint region[ROWS_G], rowb[ROWS_G];
        for (uint j = 0u; j < uint(ROWS_G); j++) {
            acc[j] = 0.0;
            uint r = min(first + j, n_rows - 1u);
            uint su = su0 + r / uint(SLICE), head, rhead;
            unit_head(su, head, region[j], rhead);
            uint d = slice_dim(su % uint(SLICES), r % uint(SLICE));
            rowb[j] = row_byte(region[j], rhead * uint(HEAD_DIM) + d);
        }
        for (uint g = ROW_LANE; g < uint(N_SEG); g += uint(TPR)) {
            vec4 xs[8];
            x_seg(g, xs);
            for (uint j = 0u; j < uint(ROWS_G); j++) // rows past the end: dropped
                acc[j] += seg_dot(region[j], rowb[j], g, xs);
        }
        rows_reduce(acc);
        float scale = x_scale;
        if (ROW_LANE == 0u)
            for (uint j = 0u; j < uint(ROWS_G); j++)
                if (first + j < n_rows) sh_row[first + j] = acc[j] * scale + bias(su0, first + j);
    }
    memoryBarrierShared();
    barrier();
#if Q_NORM || K_NORM
    head_norms(su0, n_rows);
#endif

    // Pairs of adjacent dimensions (one packed f16 word of the cache each)
    // are finished by one invocation.
    for (uint pr = t; 2u * pr < n_rows; pr += uint(WG_SIZE)) finish_pair(su0, 2u * pr);
}

// Fused decode step D2: attention of one query head over one chunk of the
// cached positions, with online softmax (Milakov & Gimelshein 2018) over
// tiles of TILE positions: a tile's scores and probabilities are kept in
// shared memory, so the two workgroup reductions (max, sum) are paid once
// per TILE positions, not once per WG_SIZE (llvmpipe: 2x faster decode at
// depth 1024). Writes the chunk's partial (max, sum, acc) to act; step D3
// (matvec.comp, IN_MODE 2) combines the chunks. Grouped-query attention:
// query head h reads KV head h / GQA.
// Defines: WG_SIZE, HEAD_DIM, GQA (n_head / n_head_kv), MAX_SLOTS, SCALE,
// SOFTCAP (optional, attn.glsl).
// Grid: (chunks, n_head).
layout(local_size_x = WG_SIZE) in;

layout(std430, binding = 0) restrict buffer Act { float act[]; };
layout(std430, binding = 2) readonly restrict buffer KCache { uint kc[]; };
layout(std430, binding = 3) readonly restrict buffer VCache { uint vc[]; };

uniform uint u_q;         // act: q (RoPE applied)
uniform uint u_part;      // act: partials
uniform uint u_kv_k, u_kv_v, u_kv_stride; // slab base words and positions per KV head
uniform uint u_t0;        // first slab position of this dispatch
uniform uint u_n;         // positions of this dispatch
uniform uint u_chunk;     // positions per chunk
uniform uint u_slot0;     // partial slot of chunk 0

shared float sh_q[HEAD_DIM];
#define TILE (8 * WG_SIZE)
shared float sh_p[TILE];
shared float sh_vsum[2 * WG_SIZE];

float qv(uint i) { return sh_q[i]; }

#define READS_K
#define READS_V
#include "attn.glsl"
#include "wg.glsl"

void main()
{
    uint t = gl_LocalInvocationIndex;
    uint c = gl_WorkGroupID.x;
    uint h = gl_WorkGroupID.y;
    uint kvh = h / uint(GQA);
    uint first = c * u_chunk;
    uint last = min(first + u_chunk, u_n);

    for (uint i = t; i < uint(HEAD_DIM); i += uint(WG_SIZE)) sh_q[i] = act[u_q + h * uint(HEAD_DIM) + i];
    memoryBarrierShared();
    barrier();

    float m = neg_inf();
    float l = 0.0;
    vec2 acc[VPP];
    for (uint k = 0u; k < uint(VPP); k++) acc[k] = vec2(0.0);
    uint g = v_group();

    for (uint tile = first; tile < last; tile += uint(TILE)) {
        uint n = min(uint(TILE), last - tile);
        float smax = neg_inf();
        for (uint i = t; i < n; i += uint(WG_SIZE)) {
            float s = attn_score(kv_word(u_kv_k, u_kv_stride, kvh, u_t0 + tile + i));
            sh_p[i] = s;
            smax = max(smax, s);
        }
        float m_new = max(m, wg_max(smax));
        float alpha = l == 0.0 ? 0.0 : exp(m - m_new);
        float psum = 0.0;
        for (uint i = t; i < n; i += uint(WG_SIZE)) { // own entries only: no barrier needed
            float p = exp(sh_p[i] - m_new);
            sh_p[i] = p;
            psum += p;
        }
        l = l * alpha + wg_sum(psum); // its barriers also publish sh_p
        m = m_new;
        if (g < uint(VG)) {
            for (uint k = 0u; k < uint(VPP); k++) {
                uint pair = v_pair(k);
                if (pair >= uint(V_PAIRS)) break;
                vec2 a = acc[k] * alpha;
                for (uint j = g; j < n; j += uint(VG))
                    a += sh_p[j] * v_load(u_kv_v, u_kv_stride, kvh, u_t0 + tile + j, pair);
                acc[k] = a;
            }
        }
        memoryBarrierShared(); // sh_p read by all before the next tile writes it
        barrier();
    }

    uint base = part_index(u_part, h, u_slot0 + c);
    if (t == 0u) {
        act[base] = m;
        act[base + 1u] = l;
    }
#if VG > 1
    vec2 total = v_group_total(g < uint(VG) ? acc[0] : vec2(0.0));
    if (t < uint(V_PAIRS)) {
        act[base + 2u + 2u * t] = total.x;
        act[base + 3u + 2u * t] = total.y;
    }
#else
    // Only the group writes: with head sizes whose pairs do not divide the
    // workgroup (130..254) the invocations past it hold no sums.
    for (uint k = 0u; k < uint(VPP); k++) {
        uint pair = v_pair(k);
        if (g < uint(VG) && pair < uint(V_PAIRS)) {
            act[base + 2u + 2u * pair] = acc[k].x;
            act[base + 3u + 2u * pair] = acc[k].y;
        }
    }
#endif
}

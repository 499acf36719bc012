// Unfused attention, step 3: att[h] (+)= sum_t p[h][t] v_t over u_n
// positions of one slab. One workgroup per query head of the scores buffer.
// Defines: WG_SIZE, HEAD_DIM, GQA.
layout(local_size_x = WG_SIZE) in;

layout(std430, binding = 0) restrict buffer Act { float act[]; };
layout(std430, binding = 1) readonly restrict buffer Scores { float sc[]; };
layout(std430, binding = 3) readonly restrict buffer VCache { uint vc[]; };

uniform uint u_att;      // act: attention output (n_head * head_dim)
uniform uint u_h0;
uniform uint u_kv_v, u_kv_stride;
uniform uint u_t0, u_n, u_s0, u_sstride;
uniform uint u_accumulate; // 1: add to att (later slabs)

shared float sh_vsum[2 * WG_SIZE];

float qv(uint i) { return 0.0; }

#define READS_V
#include "attn.glsl"

void main()
{
    uint hl = gl_WorkGroupID.x;
    uint h = u_h0 + hl;
    uint kvh = h / uint(GQA);
    uint g = v_group();
    vec2 acc[VPP];
    for (uint k = 0u; k < uint(VPP); k++) {
        acc[k] = vec2(0.0);
        uint pair = v_pair(k);
        if (g >= uint(VG) || pair >= uint(V_PAIRS)) continue;
        for (uint j = g; j < u_n; j += uint(VG))
            acc[k] += sc[hl * u_sstride + u_s0 + j] * v_load(u_kv_v, u_kv_stride, kvh, u_t0 + j, pair);
    }
#if VG > 1
    acc[0] = v_group_total(acc[0]);
    if (gl_LocalInvocationIndex >= uint(V_PAIRS)) return;
#else
    // Invocations past the one group (head sizes whose pairs do not divide
    // the workgroup, 130..254) hold nothing: they must not write zeros over
    // the group's sums.
    if (g >= uint(VG)) return;
#endif
    for (uint k = 0u; k < uint(VPP); k++) {
        uint pair = v_pair(k);
        if (pair >= uint(V_PAIRS)) continue;
        uint o = u_att + h * uint(HEAD_DIM) + 2u * pair;
        vec2 prev = u_accumulate != 0u ? vec2(act[o], act[o + 1u]) : vec2(0.0);
        act[o] = prev.x + acc[k].x;
        act[o + 1u] = prev.y + acc[k].y;
    }
}

// Attention pieces shared by the fused kernel (attn.comp) and the unfused
// ones (attn_scores.comp, attn_wsum.comp). The includer declares the KV
// buffers `kc`/`vc` it reads and defines `float qv(uint i)` (the query).

#include "attn_layout.glsl"

float qv(uint i);

#ifdef READS_K
// q . k_t for the key at word kw, unscaled.
float attn_kdot(uint kw)
{
    float s = 0.0;
    for (uint p = 0u; p < uint(HEAD_DIM / 2); p++) {
        vec2 k = unpackHalf2x16(kc[kw + p]);
        s += qv(2u * p) * k.x + qv(2u * p + 1u) * k.y;
    }
    return s;
}

// The score of the key at word kw: q . k times SCALE (the architecture's
// query scale), soft-capped to SOFTCAP * tanh(s / SOFTCAP) when defined
// (Gemma 2's attention-logit soft-capping).
float attn_score(uint kw)
{
    float s = attn_kdot(kw) * SCALE;
#ifdef SOFTCAP
    float u = s / float(SOFTCAP);
    s = float(SOFTCAP) * (1.0 - 2.0 / (exp(2.0 * u) + 1.0));
#endif
    return s;
}
#endif

// Weighted sums of values: invocations split into VG groups of HEAD_DIM/2
// (one dimension pair each); group g takes positions g, g+VG, ...
// When HEAD_DIM/2 exceeds the workgroup, one group owns VPP pairs each.
#define V_PAIRS (HEAD_DIM / 2)
#if V_PAIRS <= WG_SIZE
#define VG (WG_SIZE / V_PAIRS)
#define VPP 1
#else
#define VG 1
#define VPP ((V_PAIRS + WG_SIZE - 1) / WG_SIZE)
#endif

uint v_group() { return gl_LocalInvocationIndex / uint(V_PAIRS); }
// k-th pair of this invocation (may be >= V_PAIRS: unused).
uint v_pair(uint k) { return gl_LocalInvocationIndex % uint(V_PAIRS) + k * uint(WG_SIZE); }

#ifdef READS_V
vec2 v_load(uint base, uint stride, uint kvh, uint t, uint pair)
{
    return unpackHalf2x16(vc[kv_word(base, stride, kvh, t) + pair]);
}
#endif

#ifdef READS_V
// Sum the groups' partial sums: every invocation stores acc for its pairs
// in sh_vsum (2*WG_SIZE floats, declared by the includer), then invocation
// p < V_PAIRS (first group) returns the total for pair p. Call from all.
vec2 v_group_total(vec2 acc)
{
#if VG > 1
    uint t = gl_LocalInvocationIndex;
    sh_vsum[2u * t] = acc.x;
    sh_vsum[2u * t + 1u] = acc.y;
    memoryBarrierShared();
    barrier();
    vec2 s = vec2(0.0);
    if (t < uint(V_PAIRS)) {
        for (uint g = 0u; g < uint(VG); g++) {
            uint i = g * uint(V_PAIRS) + t;
            s += vec2(sh_vsum[2u * i], sh_vsum[2u * i + 1u]);
        }
    }
    return s;
#else
    return acc;
#endif
}
#endif

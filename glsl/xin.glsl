// Input vectors of the matrix-vector kernels (matvec.comp, qkv.comp).
// IN_MODE 0: x = act[u_x ..]; 1: RMSNorm(act[u_x ..]) * norm weights;
// 2: the combined attention partials at u_x (N_HEAD heads of HEAD_DIM).
// With X_SHARED the whole prepared vector (N_IN floats) is built once per
// workgroup in shared memory; otherwise every read goes to act. For
// IN_MODE 1 the vector is x * weights and the kernel multiplies its sums by
// x_scale = 1/RMS(x) at the end; x_prepare sums x^2 while it stages x and
// reduces that with subgroups and the staging barrier (or reduce.glsl).
// Needs rows.glsl (ROWS_SUBGROUP) and wg.glsl included before. The includer declares `float act[]` (binding 0), optionally
// the vec4 view `vec4 act4[]` of the same buffer (then defines HAVE_ACT4;
// it counts as one more storage block), `uint wb[]`, uniforms u_x and u_norm
// (u_nslots for IN_MODE 2), and defines N_IN, IN_MODE, WG_SIZE (EPS,
// N_HEAD, HEAD_DIM, MAX_SLOTS by mode), and includes attn_layout.glsl's
// needs. Call x_prepare() first, from all invocations.

#include "attn_layout.glsl"

#if IN_MODE == 2
shared float sh_w[N_HEAD * MAX_SLOTS];
#endif
#if X_SHARED
shared vec4 sh_x[(N_IN + 3) / 4];
#endif

float x_raw(uint i) { return act[u_x + i]; }

vec4 x_raw4(uint i)
{
    uint a = u_x + i;
#ifdef HAVE_ACT4
    if ((a & 3u) == 0u) return act4[a >> 2];
#endif
    return vec4(act[a], act[a + 1u], act[a + 2u], act[a + 3u]);
}

#if IN_MODE == 2
// Attention output element j: the chunks' accumulators weighted by their
// share of the softmax (sh_w, from combine_weights).
float x_combined(uint j)
{
    uint h = j / uint(HEAD_DIM);
    uint d = j - h * uint(HEAD_DIM);
    float s = 0.0;
    for (uint c = 0u; c < u_nslots; c++)
        s += sh_w[h * uint(MAX_SLOTS) + c] * act[part_index(u_x, h, c) + 2u + d];
    return s;
}

// exp(m_c - M) / sum_c' exp(m_c' - M) l_c' for every head and chunk.
void combine_weights()
{
    for (uint h = gl_LocalInvocationIndex; h < uint(N_HEAD); h += uint(WG_SIZE)) {
        float mx = neg_inf();
        for (uint c = 0u; c < u_nslots; c++) mx = max(mx, act[part_index(u_x, h, c)]);
        float sum = 0.0;
        for (uint c = 0u; c < u_nslots; c++) {
            uint p = part_index(u_x, h, c);
            sum += exp(act[p] - mx) * act[p + 1u];
        }
        for (uint c = 0u; c < u_nslots; c++)
            sh_w[h * uint(MAX_SLOTS) + c] = exp(act[part_index(u_x, h, c)] - mx) / sum;
    }
    memoryBarrierShared();
    barrier();
}
#endif

float norm_w(uint i) { return uintBitsToFloat(wb[u_norm + i]); }

// Element i of the prepared vector, computed from act (no X_SHARED).
float x_direct(uint i)
{
#if IN_MODE == 0
    return x_raw(i);
#elif IN_MODE == 1
    return x_raw(i) * norm_w(i);
#else
    return x_combined(i);
#endif
}

vec4 x_direct4(uint i)
{
#if IN_MODE == 0
    return x_raw4(i);
#elif IN_MODE == 1
    uint w = u_norm + i;
    return x_raw4(i) * uintBitsToFloat(uvec4(wb[w], wb[w + 1u], wb[w + 2u], wb[w + 3u]));
#else
    return vec4(x_combined(i), x_combined(i + 1u), x_combined(i + 2u), x_combined(i + 3u));
#endif
}

float x_scale = 1.0;

#if IN_MODE == 1 && ROWS_SUBGROUP
shared float sh_ss[WG_SIZE / PDVM_SUBGROUP_SIZE];
#endif

void x_prepare()
{
#if IN_MODE == 2
    combine_weights();
#endif
    float ss = 0.0;
    for (uint i = gl_LocalInvocationIndex; i < uint((N_IN + 3) / 4); i += uint(WG_SIZE)) {
        vec4 raw = vec4(0.0);
#if X_SHARED || IN_MODE == 1
        if (4u * i + 3u < uint(N_IN)) {
            raw = x_raw4(4u * i);
        } else {
            for (uint k = 0u; 4u * i + k < uint(N_IN); k++) raw[k] = x_raw(4u * i + k);
        }
#endif
#if IN_MODE == 1
        ss += dot(raw, raw);
#endif
#if X_SHARED
#if IN_MODE == 0
        sh_x[i] = raw;
#elif IN_MODE == 1
        vec4 w = vec4(0.0);
        for (uint k = 0u; k < 4u && 4u * i + k < uint(N_IN); k++) w[k] = norm_w(4u * i + k);
        sh_x[i] = raw * w;
#else
        vec4 v = vec4(0.0);
        for (uint k = 0u; k < 4u && 4u * i + k < uint(N_IN); k++) v[k] = x_combined(4u * i + k);
        sh_x[i] = v;
#endif
#endif
    }
#if IN_MODE == 1
#if ROWS_SUBGROUP
    ss = subgroupAdd(ss);
    if (subgroupElect()) sh_ss[gl_SubgroupID] = ss;
    memoryBarrierShared();
    barrier();
    ss = 0.0;
    for (uint i = 0u; i < gl_NumSubgroups; i++) ss += sh_ss[i];
#else
    ss = wg_sum(ss); // its barriers also publish sh_x
#endif
    x_scale = 1.0 / sqrt(ss / float(N_IN) + EPS);
#elif X_SHARED
    memoryBarrierShared();
    barrier();
#endif
}

float xin(uint i)
{
#if X_SHARED
    return sh_x[i >> 2][i & 3u];
#else
    return x_direct(i);
#endif
}

vec4 xin4(uint i)
{
#if X_SHARED
    return sh_x[i >> 2];
#else
    return x_direct4(i);
#endif
}

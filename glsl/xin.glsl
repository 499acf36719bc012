// Input vectors of the matrix-vector kernels (matvec.comp, qkv.comp).
// IN_MODE 0: x = act[u_x ..]; 1: RMSNorm(act[u_x ..]) * norm weights;
// 2: the combined attention partials at u_x (N_HEAD heads of HEAD_DIM).
// With X_SHARED the prepared vector is staged in shared memory, X_TILE_SEG
// 32-element segments at a time (X_TILES tiles; the kernel loops over them
// with x_stage), so rows longer than shared memory still read x from it;
// otherwise every read goes to act. In shared memory vec4 k of segment g
// sits at k * X_TILE_SEG + g: lanes that work on consecutive segments read
// consecutive vec4s (a stride of 128 bytes would put all of a subgroup's
// reads in one bank). For
// IN_MODE 1 the vector is x * weights and the kernel multiplies its sums by
// x_scale = 1/RMS(x) at the end, which x_prepare computes.
// POST_DELTA (IN_MODE 1, Gemma's post-norms): the residual is first
// brought up to date, x = act[u_x ..] + RMSNorm(act[u_delta ..]) * post
// weights (wb word u_post), the previous block's update normalised as
// llama.cpp's attn_post_norm/ffn_post_norm do, and then normalised for this
// block; with X_OUT the first workgroup also stores that x at act[u_xout ..]
// for the next residual reader (other workgroups still read u_x, so it
// cannot go back in place).
// Needs rows.glsl (ROWS_SUBGROUP) and wg.glsl included before. The includer declares `float act[]` (binding 0), optionally
// the vec4 view `vec4 act4[]` of the same buffer (then defines HAVE_ACT4;
// it counts as one more storage block), `uint wb[]`, uniforms u_x and u_norm
// (u_nslots for IN_MODE 2), and defines N_IN, IN_MODE, WG_SIZE (EPS,
// N_HEAD, HEAD_DIM, MAX_SLOTS by mode), and includes attn_layout.glsl's
// needs. Call x_prepare() first, then x_stage(tile) before each tile's
// reads, all from uniform control flow.

#include "attn_layout.glsl"

#if IN_MODE == 2
shared float sh_w[N_HEAD * MAX_SLOTS];
#endif
#ifndef X_TILE_SEG
#define X_TILE_SEG ((N_IN + 31) / 32)
#endif
#define X_TILES ((((N_IN + 31) / 32) + X_TILE_SEG - 1) / X_TILE_SEG)
#if X_SHARED
shared vec4 sh_x[8 * X_TILE_SEG];
#endif
#ifndef POST_DELTA
#define POST_DELTA 0
#endif
#ifndef X_OUT
#define X_OUT 0
#endif
uint x_g0 = 0u; // first segment of the staged tile

vec4 act_load4(uint a)
{
#ifdef HAVE_ACT4
    if ((a & 3u) == 0u) return act4[a >> 2];
#endif
    return vec4(act[a], act[a + 1u], act[a + 2u], act[a + 3u]);
}

#if POST_DELTA
float x_dscale = 1.0; // 1 / RMS of the pending update
float x_raw(uint i)
{
    return act[u_x + i] + act[u_delta + i] * x_dscale * uintBitsToFloat(wb[u_post + i]);
}
vec4 x_raw4(uint i)
{
    uint w = u_post + i;
    vec4 post = uintBitsToFloat(uvec4(wb[w], wb[w + 1u], wb[w + 2u], wb[w + 3u]));
    return act_load4(u_x + i) + act_load4(u_delta + i) * x_dscale * post;
}
#else
float x_raw(uint i) { return act[u_x + i]; }
vec4 x_raw4(uint i) { return act_load4(u_x + i); }
#endif

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

// Norm weights i .. i+3, 0 past the end of x.
vec4 norm_w4_pad(uint i)
{
    vec4 w = vec4(0.0);
    for (uint k = 0u; k < 4u && i + k < uint(N_IN); k++) w[k] = norm_w(i + k);
    return w;
}

// Prepared vec4 at element i (i + 3 < N_IN), computed from act.
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

// Element i of the raw input, 0 past its end.
vec4 x_raw4_pad(uint i)
{
    if (i + 3u < uint(N_IN)) return x_raw4(i);
    vec4 raw = vec4(0.0);
    for (uint k = 0u; i + k < uint(N_IN); k++) raw[k] = x_raw(i + k);
    return raw;
}

// Prepared vec4 at element i (a multiple of 4), zeros past the end.
vec4 x_prepared4(uint i)
{
    if (i >= uint(N_IN)) return vec4(0.0);
#if IN_MODE == 0
    return x_raw4_pad(i);
#elif IN_MODE == 1
    return x_raw4_pad(i) * norm_w4_pad(i);
#else
    vec4 v = vec4(0.0);
    for (uint k = 0u; k < 4u && i + k < uint(N_IN); k++) v[k] = x_combined(i + k);
    return v;
#endif
}

#if IN_MODE == 1
// The workgroup's total of v; callable repeatedly (uniform control flow).
float x_total(float v)
{
#if ROWS_SUBGROUP
    v = subgroupAdd(v);
#if POST_DELTA
    memoryBarrierShared();
    barrier(); // the first call's reads of sh_ss are done
#endif
    if (subgroupElect()) sh_ss[gl_SubgroupID] = v;
    memoryBarrierShared();
    barrier();
    v = 0.0;
    for (uint i = 0u; i < gl_NumSubgroups; i++) v += sh_ss[i];
    return v;
#else
    return wg_sum(v);
#endif
}
#endif

#if POST_DELTA
void x_delta_scale()
{
    float ss = 0.0;
    for (uint i = gl_LocalInvocationIndex; i < uint(N_IN); i += uint(WG_SIZE)) {
        float d = act[u_delta + i];
        ss += d * d;
    }
    x_dscale = 1.0 / sqrt(x_total(ss) / float(N_IN) + EPS);
}
#endif

// The updated residual, kept by the first workgroup (X_OUT).
void x_keep(uint i, vec4 raw)
{
#if X_OUT
    if (gl_WorkGroupID.x == 0u && gl_WorkGroupID.y == 0u)
        for (uint k = 0u; k < 4u && i + k < uint(N_IN); k++) act[u_xout + i + k] = raw[k];
#endif
}

// With one tile and a norm, x_prepare stages x in the same pass that sums
// its squares (the reduction's barrier publishes it): one read of x and
// one barrier round fewer for every workgroup.
#define X_PRESTAGED (X_SHARED && X_TILES == 1 && IN_MODE == 1)

void x_prepare()
{
#if IN_MODE == 2
    combine_weights();
#endif
#if IN_MODE == 1
#if POST_DELTA
    x_delta_scale();
#endif
    float ss = 0.0;
#if X_PRESTAGED
    for (uint s = gl_LocalInvocationIndex; s < 8u * uint(X_TILE_SEG); s += uint(WG_SIZE)) {
        uint i = 32u * (s % uint(X_TILE_SEG)) + 4u * (s / uint(X_TILE_SEG));
        vec4 raw = x_raw4_pad(i);
        ss += dot(raw, raw);
        sh_x[s] = raw * norm_w4_pad(i);
        x_keep(i, raw);
    }
#else
    for (uint i = gl_LocalInvocationIndex; i < uint((N_IN + 3) / 4); i += uint(WG_SIZE)) {
        vec4 raw = x_raw4_pad(4u * i);
        ss += dot(raw, raw);
        x_keep(4u * i, raw);
    }
#endif
    x_scale = 1.0 / sqrt(x_total(ss) / float(N_IN) + EPS);
#endif
}

void x_stage(uint tile)
{
    x_g0 = tile * uint(X_TILE_SEG);
#if X_SHARED && !X_PRESTAGED
    if (tile > 0u) barrier(); // every read of the previous tile is done
    for (uint s = gl_LocalInvocationIndex; s < 8u * uint(X_TILE_SEG); s += uint(WG_SIZE)) {
        uint g = s % uint(X_TILE_SEG), k = s / uint(X_TILE_SEG);
        sh_x[s] = x_prepared4(32u * (x_g0 + g) + 4u * k);
    }
    memoryBarrierShared();
    barrier();
#endif
}

// The 32 prepared inputs of segment g of the staged tile.
void x_seg(uint g, out vec4 xs[8])
{
#if X_SHARED
    uint s = g - x_g0;
    for (uint k = 0u; k < 8u; k++) xs[k] = sh_x[k * uint(X_TILE_SEG) + s];
#else
    for (uint k = 0u; k < 8u; k++) {
        uint i = 32u * g + 4u * k;
        xs[k] = i + 3u < uint(N_IN) ? x_direct4(i) : x_prepared4(i);
    }
#endif
}

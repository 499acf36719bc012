// Matrix product for a few tokens (a server's decode step over its busy
// slots, a short prompt chunk): y[t][r] = sum_k W[r][k] x[t][k] for the NT
// tokens of a token group, laid out like matvec.comp rather than like
// matmul.comp's tiles. A row group of TPR lanes (rows.glsl) takes NR rows
// (OUT_MODE 2: one gate row and its up row); each lane strides over the
// rows' 32-element segments, decodes a segment of each row once (seg.glsl)
// and multiplies it with every token's inputs. The weights are read once
// for all NT tokens, by many workgroups at a time, so a few tokens cost
// about what one costs in the bandwidth-bound mat-vec; matmul.comp's tiles,
// made for hundreds of tokens, would leave most of the GPU idle.
// Same inputs, outputs and uniforms as matmul.comp (IN_MODE 0/1, OUT_MODE
// 0/1/2, MAP_ROWS). IN_MODE 1 with X_SHARED: the staging loads sum each
// token's squares (summed over the workgroup at the end, wg.glsl) and store the
// inputs times the norm weights. Without X_SHARED every row group sees all
// of each token's inputs, so each lane sums their squares beside the
// products and the group reduces them with the products, and the norm
// weights multiply the decoded weights.
// Inputs: X_SHARED 1 stages each token's inputs in shared memory, X_TILE_SEG
// segments at a time, vec4 k of segment g at (t 8 + k) X_TILE_SEG + g (the
// lanes of a group read consecutive vec4s); X_SHARED 0 reads them from
// act, where a lane's 8 loads of a segment share a cache line. X4: every
// token's row starts on a multiple of 4 floats (vec4 loads).
// Defines: WG_SIZE, TPR_SHARED, N_IN, NT, NR (1 or 2), X_SHARED, X_TILE_SEG,
// X4, SEG_A, RB_A (SEG_B, RB_B), IN_MODE, OUT_MODE, EPS, MAP_ROWS.
// Grid: ceil(rows / RPW) x ceil(u_ntok / NT) workgroups as one linear
// index, folded into y when it passes the driver's group-count limit.
// NVIDIA's compiler keeps constant loops over small arrays as loops and
// the arrays in local memory unless told to unroll them.
#pragma optionNV(unroll all)
layout(local_size_x = WG_SIZE) in;

layout(std430, binding = 0) restrict buffer Act { float act[]; };
#if X4
layout(std430, binding = 0) readonly restrict buffer Act4 { vec4 act4[]; };
#endif
layout(std430, binding = 1) readonly restrict buffer Weights { uint wb[]; };
#define WB4 0

uniform uint u_x;     // act: input row 0
uniform uint u_xs;    // floats from one input row to the next
uniform uint u_map;   // act: the input row of each token, as floats (MAP_ROWS)
uniform uint u_y;     // act: output row of token 0
uniform uint u_ys;    // floats from one token's output row to the next
uniform uint u_norm;  // wb word of the norm weights (IN_MODE 1)
uniform uint u_a;     // wb byte of this part's first row of W_a
uniform uint u_b;     // ... of W_b (OUT_MODE 2)
uniform uint u_nrows; // rows in this part
uniform uint u_row0;  // output index of the part's first row
uniform uint u_ntok;  // tokens

#include "seg.glsl"

#if OUT_MODE == 2
#define NRW 2           // weight rows a group decodes: gate and up
#define RPG 1           // output rows a group
#else
#define NRW NR
#define RPG NR
#endif
// The sums a lane accumulates and its group reduces: NRW x NT products
// (and IN_MODE 1: NT sums of squares).
#define N_PROD (NRW * NT)
#if IN_MODE == 1 && !X_SHARED
#define ROWS_G (N_PROD + NT)
#else
#define ROWS_G N_PROD
#endif
#include "rows.glsl"
#if IN_MODE == 1 && X_SHARED
#include "wg.glsl"
#endif
#define ROWS_WG (ROW_GROUPS * RPG)
#if X_SHARED
#define XTS X_TILE_SEG
#else
#define XTS N_SEG
#endif
#define X_TILES ((N_SEG + XTS - 1) / XTS)

#if X_SHARED
shared vec4 sh_x[NT * 8 * XTS];
#endif

uint row_of(uint tok)
{
#if MAP_ROWS
    return uint(act[u_map + tok]);
#else
    return tok;
#endif
}

// Inputs e .. e+3 of the row at act[base] (zeros past its end).
vec4 x_load(uint base, uint e)
{
#if (N_IN % 4) != 0 || (N_IN % 32) != 0
    if (e + 4u > uint(N_IN)) {
        vec4 v = vec4(0.0);
        for (uint c = 0u; c < 4u; c++)
            if (e + c < uint(N_IN)) v[c] = act[base + e + c];
        return v;
    }
#endif
#if X4
    return act4[(base + e) >> 2];
#else
    return vec4(act[base + e], act[base + e + 1u], act[base + e + 2u], act[base + e + 3u]);
#endif
}

#if IN_MODE == 1
// Norm weights e .. e+3 (zeros past the row).
vec4 norm_w4(uint e)
{
    vec4 n = vec4(0.0);
    for (uint c = 0u; c < 4u; c++)
        if (e + c < uint(N_IN)) n[c] = uintBitsToFloat(wb[u_norm + e + c]);
    return n;
}

void norm_seg(uint g, inout vec4 w[8])
{
    for (uint k = 0u; k < 8u; k++) {
        uint e = 32u * g + 4u * k;
        vec4 n = vec4(0.0);
        for (uint c = 0u; c < 4u; c++)
            if (e + c < uint(N_IN)) n[c] = uintBitsToFloat(wb[u_norm + e + c]);
        w[k] *= n;
    }
}
#endif

void main()
{
    uint lin = gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x;
    uint n_blocks = (u_nrows + uint(ROWS_WG) - 1u) / uint(ROWS_WG);
    if (lin >= n_blocks * ((u_ntok + uint(NT) - 1u) / uint(NT))) return; // whole workgroup
    uint tok0 = lin / n_blocks * uint(NT);
    uint r0 = (lin % n_blocks) * uint(ROWS_WG) + ROW_GROUP * uint(RPG);

    // Tokens and rows past the end read the last ones (their sums are
    // dropped): no branch in the loop.
    uint xb[NT];
    for (uint t = 0u; t < uint(NT); t++) xb[t] = u_x + row_of(min(tok0 + t, u_ntok - 1u)) * u_xs;
#if OUT_MODE == 2
    uint rb0 = u_a + min(r0, u_nrows - 1u) * uint(RB_A);
    uint rb1 = u_b + min(r0, u_nrows - 1u) * uint(RB_B);
#else
    uint rb0 = u_a + min(r0, u_nrows - 1u) * uint(RB_A);
    uint rb1 = u_a + min(r0 + 1u, u_nrows - 1u) * uint(RB_A);
#endif
    float acc[ROWS_G];
    for (uint j = 0u; j < uint(ROWS_G); j++) acc[j] = 0.0;
#if IN_MODE == 1 && X_SHARED
    float ssq[NT];
    for (uint t = 0u; t < uint(NT); t++) ssq[t] = 0.0;
#endif

    // A run-time bound (the index term is always 0): `unroll all` would
    // copy the whole body once per tile, 14 times for 14336-long rows.
    uint n_tiles = uint(X_TILES) + (gl_LocalInvocationIndex >> 20u);
    for (uint tile = 0u; tile < n_tiles; tile++) {
        uint g0 = tile * uint(XTS);
        uint g_end = min(g0 + uint(XTS), uint(N_SEG));
#if X_SHARED
        if (tile > 0u) barrier(); // the previous tile is read
        // Neighbouring invocations load neighbouring vec4s of a token's
        // row. The token loop has a constant bound, so ssq[t] stays in
        // registers.
        for (uint t = 0u; t < uint(NT); t++)
        for (uint q = gl_LocalInvocationIndex; q < uint(8 * XTS); q += uint(WG_SIZE)) {
            uint gl = q >> 3;
            vec4 v = vec4(0.0);
            if (g0 + gl < g_end) v = x_load(xb[t], 32u * g0 + 4u * q);
#if IN_MODE == 1
            ssq[t] += dot(v, v);
            v *= norm_w4(32u * g0 + 4u * q);
#endif
            sh_x[(t * 8u + (q & 7u)) * uint(XTS) + gl] = v;
        }
        memoryBarrierShared();
        barrier();
#endif
        for (uint g = g0 + ROW_LANE; g < g_end; g += uint(TPR)) {
            vec4 w0[8];
            SEG_A(rb0, g, w0);
#if NRW == 2
            vec4 w1[8];
#if OUT_MODE == 2
            SEG_B(rb1, g, w1);
#else
            SEG_A(rb1, g, w1);
#endif
#endif
#if IN_MODE == 1 && !X_SHARED
            norm_seg(g, w0);
#if NRW == 2
            norm_seg(g, w1);
#endif
#endif
            for (uint t = 0u; t < uint(NT); t++) {
                for (uint k = 0u; k < 8u; k++) {
#if X_SHARED
                    vec4 xv = sh_x[(t * 8u + k) * uint(XTS) + (g - g0)];
#else
                    vec4 xv = x_load(xb[t], 32u * g + 4u * k);
#endif
                    acc[t] += dot(w0[k], xv);
#if NRW == 2
                    acc[uint(NT) + t] += dot(w1[k], xv);
#endif
#if IN_MODE == 1 && !X_SHARED
                    acc[uint(N_PROD) + t] += dot(xv, xv);
#endif
                }
            }
        }
    }
#if IN_MODE == 1 && X_SHARED
    for (uint t = 0u; t < uint(NT); t++) ssq[t] = wg_sum(ssq[t]);
#endif
    rows_reduce(acc);
    if (ROW_LANE != 0u) return;
    for (uint t = 0u; t < uint(NT); t++) {
        uint tok = tok0 + t;
        if (tok >= u_ntok) break;
#if IN_MODE == 1 && X_SHARED
        float sc = 1.0 / sqrt(ssq[t] / float(N_IN) + EPS);
#elif IN_MODE == 1
        float sc = 1.0 / sqrt(acc[uint(N_PROD) + t] / float(N_IN) + EPS);
#else
        float sc = 1.0;
#endif
        uint o = u_y + tok * u_ys + u_row0;
#if OUT_MODE == 2
        if (r0 < u_nrows) {
            float gv = acc[t] * sc, uv = acc[uint(NT) + t] * sc;
            act[o + r0] = gv / (1.0 + exp(-gv)) * uv;
        }
#else
        for (uint j = 0u; j < uint(RPG); j++) {
            uint r = r0 + j;
            if (r >= u_nrows) break;
            float v = acc[j * uint(NT) + t] * sc;
#if OUT_MODE == 0
            act[o + r] = v;
#else
            act[o + r] += v;
#endif
        }
#endif
    }
}

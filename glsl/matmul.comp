// Tiled matrix-matrix product for a batch of tokens (prefill): Y = X W^T,
// y[t][r] = sum_k W[r][k] x[t][k], over the weight rows of one arena part,
// with the input and output ends fused by define like matvec.comp's:
//   IN_MODE 0: x[t] = act[u_x + row(t) * u_xs ..]
//           1: x[t] = RMSNorm(that) * norm weights
//   OUT_MODE 0: act[u_y + t * u_ys + u_row0 + r]  = y
//            1: act[...] += y                              (residual add)
//            2: act[...]  = silu(y_a) * y_b, W_a = gate, W_b = up (SwiGLU)
// row(t) is t, or with MAP_ROWS the float at act[u_map + t] (the tokens
// whose logits are asked for).
// A workgroup computes a tile of BM rows x BN tokens (OUT_MODE 2: BM/2
// gate rows and the same BM/2 up rows). It walks the row length in steps
// of KT elements: the weight tile's 32-element segments are decoded from
// their block format once (seg.glsl) into shared memory, the tokens' inputs
// are staged next to them, and every invocation accumulates a register
// tile of 2 x 4 rows by NJ x 4 tokens in f32 from them: each decoded
// weight is used BN times, so the decode that bounds the mat-vec is
// amortised and the kernel is bound by FMAs. Both operands are read from
// shared memory as vec4s (4 rows, 4 tokens): 2 + NJ loads feed 32 NJ
// FMAs, which keeps shared-memory bandwidth off the critical path. The RMSNorm costs nothing extra: the input
// loads sum the squares of the raw inputs and the sums are scaled per
// token at the end (the weights multiply the staged inputs).
// Defines: WG_SIZE (= BM/8 * BN/4/NJ), N_IN, BM, BN, NJ (1 or 2), KT (a multiple of 32), SEG_A, RB_A (SEG_B, RB_B for
// OUT_MODE 2), IN_MODE, OUT_MODE, EPS (IN_MODE 1), MAP_ROWS.
// Grid: (ceil(rows / rows a tile), ceil(u_ntok / BN)).
layout(local_size_x = WG_SIZE) in;

layout(std430, binding = 0) restrict buffer Act { float act[]; };
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

#define RG (BM / 8)             // invocations along the rows
#define CG (BN / 4 / NJ)        // ... along the tokens
#define KSEG (KT / 32)          // segments a step
#define XV (KT / 4)             // vec4s of one token's inputs a step
// Where the workgroup has twice the invocations the weight segments need,
// the inputs are staged by the other invocations, beside the decode
// instead of after it: X0 is the first staging invocation, XN their count.
#if WG_SIZE >= 2 * BM * KSEG
#define X0 (BM * KSEG)
#else
#define X0 0
#endif
#define XN (WG_SIZE - X0)
#define XLOADS ((BN * XV + XN - 1) / XN)
#define N_STEPS ((N_SEG + KSEG - 1) / KSEG)
#if OUT_MODE == 2
#define TILE_ROWS (BM / 2)
#else
#define TILE_ROWS BM
#endif

// Weights [k][row / 4] as vec4s of 4 rows (an invocation's row groups are
// one load each), inputs [token][k / 4] as vec4s of 4 elements (a token's
// row is staged with whole, coalesced vec4 loads and stores; the register
// tile reads 4 elements of each of its tokens at once).
shared vec4 sh_w[KT * (BM / 4)];
shared vec4 sh_x[BN * XV];
#if IN_MODE == 1
shared float sh_scale[BN];
#endif

// Decode segment g of local weight row m into sh_w (zeros past the rows
// and past the row length).
void stage_weights(uint m, uint s, uint g, uint tile_row0)
{
    vec4 w[8];
#if OUT_MODE == 2
    bool up = m >= uint(BM / 2);
    uint r = tile_row0 + (up ? m - uint(BM / 2) : m);
#else
    uint r = tile_row0 + m;
#endif
    if (r < u_nrows && g < uint(N_SEG)) {
#if OUT_MODE == 2
        if (up) SEG_B(u_b + r * uint(RB_B), g, w);
        else SEG_A(u_a + r * uint(RB_A), g, w);
#else
        SEG_A(u_a + r * uint(RB_A), g, w);
#endif
    } else {
        for (uint k = 0u; k < 8u; k++) w[k] = vec4(0.0);
    }
    uint base = s * 32u * uint(BM / 4) + (m >> 2), c = m & 3u;
    for (uint e = 0u; e < 32u; e++) sh_w[base + e * uint(BM / 4)][c] = w[e >> 2][e & 3u];
}

// Raw inputs e0 .. e0+3 of token tok (zeros past the row).
vec4 load_x(uint tok, uint e0)
{
#if MAP_ROWS
    uint row = uint(act[u_map + tok]);
#else
    uint row = tok;
#endif
    uint a = u_x + row * u_xs + e0;
    vec4 v = vec4(0.0);
    for (uint c = 0u; c < 4u; c++)
        if (e0 + c < uint(N_IN)) v[c] = act[a + c];
    return v;
}

#if IN_MODE == 1
vec4 norm_w4(uint e0)
{
    vec4 v = vec4(0.0);
    for (uint c = 0u; c < 4u; c++)
        if (e0 + c < uint(N_IN)) v[c] = uintBitsToFloat(wb[u_norm + e0 + c]);
    return v;
}
#endif

// Token t of the tile: g holds rows 4 ri .. + 3, u rows 4 (ri + RG) .. + 3
// (OUT_MODE 2: the up rows paired with the gate rows in g).
void store_token(uint t, uint tile_row0, uint ri, uint tok0, vec4 g, vec4 u)
{
    uint tok = tok0 + t;
    if (tok >= u_ntok) return;
#if IN_MODE == 1
    float sc = sh_scale[t];
#else
    float sc = 1.0;
#endif
    uint o = u_y + tok * u_ys + u_row0;
#if OUT_MODE == 2
    for (uint e = 0u; e < 4u; e++) {
        uint r = tile_row0 + 4u * ri + e;
        if (r >= u_nrows) break;
        float gv = g[e] * sc, uv = u[e] * sc;
        act[o + r] = gv / (1.0 + exp(-gv)) * uv;
    }
#else
    for (uint e = 0u; e < 8u; e++) {
        uint r = tile_row0 + 4u * (ri + (e >> 2) * uint(RG)) + (e & 3u);
        if (r >= u_nrows) continue;
        float v = (e < 4u ? g[e] : u[e - 4u]) * sc;
#if OUT_MODE == 0
        act[o + r] = v;
#else
        act[o + r] += v;
#endif
    }
#endif
}

// Element 4q + KK of the step for every (row, token) of the register
// tile: C is the component of the tokens' staged vec4s (b*: tokens 4 ci ..
// + 3, c*: 4 (ci + CG) .. + 3) that holds it.
#if NJ == 2
#define KSTEP_NJ2(C) \
    g1_0 += a0 * c0.C; g1_1 += a0 * c1.C; g1_2 += a0 * c2.C; g1_3 += a0 * c3.C; \
    u1_0 += a1 * c0.C; u1_1 += a1 * c1.C; u1_2 += a1 * c2.C; u1_3 += a1 * c3.C;
#else
#define KSTEP_NJ2(C)
#endif
#define KSTEP(KK, C) { \
    vec4 a0 = sh_w[wb0 + KK * uint(BM / 4)], a1 = sh_w[wb0 + KK * uint(BM / 4) + uint(RG)]; \
    g0_0 += a0 * b0.C; g0_1 += a0 * b1.C; g0_2 += a0 * b2.C; g0_3 += a0 * b3.C; \
    u0_0 += a1 * b0.C; u0_1 += a1 * b1.C; u0_2 += a1 * b2.C; u0_3 += a1 * b3.C; \
    KSTEP_NJ2(C) }

void main()
{
    uint tid = gl_LocalInvocationIndex;
    uint ri = tid % uint(RG), ci = tid / uint(RG);
    uint tile_row0 = gl_WorkGroupID.x * uint(TILE_ROWS);
    uint tok0 = gl_WorkGroupID.y * uint(BN);

    // The register tile as named vectors, not arrays: NVIDIA's compiler
    // keeps small constant loops over an array as loops and the array in
    // local memory (seen in its program binary). gJ_C / uJ_C: rows 4 ri ..
    // + 3 / 4 (ri + RG) .. + 3 of token 4 (ci + J CG) + C.
    vec4 g0_0 = vec4(0.0), g0_1 = vec4(0.0), g0_2 = vec4(0.0), g0_3 = vec4(0.0);
    vec4 u0_0 = vec4(0.0), u0_1 = vec4(0.0), u0_2 = vec4(0.0), u0_3 = vec4(0.0);
#if NJ == 2
    vec4 g1_0 = vec4(0.0), g1_1 = vec4(0.0), g1_2 = vec4(0.0), g1_3 = vec4(0.0);
    vec4 u1_0 = vec4(0.0), u1_1 = vec4(0.0), u1_2 = vec4(0.0), u1_3 = vec4(0.0);
#endif
#if IN_MODE == 1
    float ss[XLOADS];
    for (uint i = 0u; i < uint(XLOADS); i++) ss[i] = 0.0;
#endif

    for (uint step = 0u; step < uint(N_STEPS); step++) {
        if (step > 0u) barrier(); // the previous step's tiles are read
        for (uint it = tid; it < uint(BM * KSEG); it += uint(WG_SIZE))
            stage_weights(it % uint(BM), it / uint(BM), step * uint(KSEG) + it / uint(BM), tile_row0);
        // Neighbouring invocations take neighbouring vec4s of one token's
        // row: coalesced global loads, conflict-free shared stores.
        if (tid >= uint(X0))
        for (uint i = 0u; i < uint(XLOADS); i++) {
            uint it = tid - uint(X0) + i * uint(XN);
            if (it >= uint(BN * XV)) break;
            uint t = it / uint(XV), kq = it % uint(XV);
            uint e0 = step * uint(KT) + 4u * kq;
            vec4 v = tok0 + t < u_ntok ? load_x(tok0 + t, e0) : vec4(0.0);
#if IN_MODE == 1
            ss[i] += dot(v, v);
            v *= norm_w4(e0);
#endif
            sh_x[it] = v;
        }
        memoryBarrierShared();
        barrier();
        for (uint q = 0u; q < uint(XV); q++) {
            uint xb = 4u * ci * uint(XV) + q;
            vec4 b0 = sh_x[xb], b1 = sh_x[xb + uint(XV)], b2 = sh_x[xb + 2u * uint(XV)];
            vec4 b3 = sh_x[xb + 3u * uint(XV)];
#if NJ == 2
            xb += 4u * uint(CG) * uint(XV);
            vec4 c0 = sh_x[xb], c1 = sh_x[xb + uint(XV)], c2 = sh_x[xb + 2u * uint(XV)];
            vec4 c3 = sh_x[xb + 3u * uint(XV)];
#endif
            uint wb0 = 4u * q * uint(BM / 4) + ri;
            KSTEP(0u, x)
            KSTEP(1u, y)
            KSTEP(2u, z)
            KSTEP(3u, w)
        }
    }

#if IN_MODE == 1
    // Each token's sum of squares from the invocations that loaded it:
    // slot it = t XV + kq held token t.
    barrier();
    for (uint i = 0u; i < uint(XLOADS); i++) {
        uint it = tid - uint(X0) + i * uint(XN);
        if (tid >= uint(X0) && it < uint(BN * XV)) sh_x[it >> 2][it & 3u] = ss[i];
    }
    memoryBarrierShared();
    barrier();
    for (uint t = tid; t < uint(BN); t += uint(WG_SIZE)) {
        float s = 0.0;
        for (uint q = 0u; q < uint(XV); q++) {
            uint it = t * uint(XV) + q;
            s += sh_x[it >> 2][it & 3u];
        }
        sh_scale[t] = 1.0 / sqrt(s / float(N_IN) + EPS);
    }
    memoryBarrierShared();
    barrier();
#endif

    uint t0 = 4u * ci;
    store_token(t0, tile_row0, ri, tok0, g0_0, u0_0);
    store_token(t0 + 1u, tile_row0, ri, tok0, g0_1, u0_1);
    store_token(t0 + 2u, tile_row0, ri, tok0, g0_2, u0_2);
    store_token(t0 + 3u, tile_row0, ri, tok0, g0_3, u0_3);
#if NJ == 2
    t0 += 4u * uint(CG);
    store_token(t0, tile_row0, ri, tok0, g1_0, u1_0);
    store_token(t0 + 1u, tile_row0, ri, tok0, g1_1, u1_1);
    store_token(t0 + 2u, tile_row0, ri, tok0, g1_2, u1_2);
    store_token(t0 + 3u, tile_row0, ri, tok0, g1_3, u1_3);
#endif
}

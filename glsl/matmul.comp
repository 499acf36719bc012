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
// tile of MI x 4 rows by NJ x 4 tokens in f32 from them: each decoded
// weight is used BN times, so the decode that bounds the mat-vec is
// amortised and the kernel is bound by FMAs. Both operands are read from
// shared memory as vec4s (4 rows, 4 tokens): MI + NJ loads feed 16 MI NJ
// FMAs, which keeps shared-memory bandwidth off the critical path. The RMSNorm costs nothing extra: the input
// loads sum the squares of the raw inputs and the sums are scaled per
// token at the end (the weights multiply the staged inputs).
// Defines: WG_SIZE (= BM/4/MI * BN/4/NJ), N_IN, BM, BN, MI (1 or 2; 2 for
// OUT_MODE 2), NJ, KT (a multiple of 32), SEG_A, RB_A (SEG_B, RB_B for
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

#define RG (BM / 4 / MI)        // invocations along the rows
#define CG (BN / 4 / NJ)        // ... along the tokens
#define KSEG (KT / 32)          // segments a step
#define XV (KT / 4)             // vec4s of one token's inputs a step
#define XLOADS ((BN * XV + WG_SIZE - 1) / WG_SIZE)
#define N_STEPS ((N_SEG + KSEG - 1) / KSEG)
#if OUT_MODE == 2
#define TILE_ROWS (BM / 2)
#else
#define TILE_ROWS BM
#endif

// Weights [k][row / 4] as vec4s of 4 rows, inputs [k][token / 4] as vec4s
// of 4 tokens: an invocation's row and token groups are one load each.
shared vec4 sh_w[KT * (BM / 4)];
shared vec4 sh_x[KT * (BN / 4)];
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

void main()
{
    uint tid = gl_LocalInvocationIndex;
    uint ri = tid % uint(RG), ci = tid / uint(RG);
    uint tile_row0 = gl_WorkGroupID.x * uint(TILE_ROWS);
    uint tok0 = gl_WorkGroupID.y * uint(BN);

    // acc0[4j + c]: rows 4 ri .. + 3 of token 4 (ci + j CG) + c; acc1 the
    // same for the row group ri + RG.
    vec4 acc0[4 * NJ];
#if MI == 2
    vec4 acc1[4 * NJ];
#endif
    for (uint j = 0u; j < uint(4 * NJ); j++) {
        acc0[j] = vec4(0.0);
#if MI == 2
        acc1[j] = vec4(0.0);
#endif
    }
#if IN_MODE == 1
    float ss[XLOADS];
    for (uint i = 0u; i < uint(XLOADS); i++) ss[i] = 0.0;
#endif

    for (uint step = 0u; step < uint(N_STEPS); step++) {
        if (step > 0u) barrier(); // the previous step's tiles are read
        for (uint it = tid; it < uint(BM * KSEG); it += uint(WG_SIZE))
            stage_weights(it % uint(BM), it / uint(BM), step * uint(KSEG) + it / uint(BM), tile_row0);
        // Neighbouring invocations take neighbouring tokens, so their
        // shared-memory stores fall in different banks.
        for (uint i = 0u; i < uint(XLOADS); i++) {
            uint it = tid + i * uint(WG_SIZE);
            if (it >= uint(BN * XV)) break;
            uint t = it % uint(BN), kq = it / uint(BN);
            uint e0 = step * uint(KT) + 4u * kq;
            vec4 v = tok0 + t < u_ntok ? load_x(tok0 + t, e0) : vec4(0.0);
#if IN_MODE == 1
            ss[i] += dot(v, v);
            v *= norm_w4(e0);
#endif
            for (uint c = 0u; c < 4u; c++) sh_x[(4u * kq + c) * uint(BN / 4) + (t >> 2)][t & 3u] = v[c];
        }
        memoryBarrierShared();
        barrier();
        for (uint k = 0u; k < uint(KT); k++) {
            vec4 a0 = sh_w[k * uint(BM / 4) + ri];
#if MI == 2
            vec4 a1 = sh_w[k * uint(BM / 4) + ri + uint(RG)];
#endif
            for (uint j = 0u; j < uint(NJ); j++) {
                vec4 b = sh_x[k * uint(BN / 4) + ci + j * uint(CG)];
                for (uint c = 0u; c < 4u; c++) {
                    acc0[4u * j + c] += a0 * b[c];
#if MI == 2
                    acc1[4u * j + c] += a1 * b[c];
#endif
                }
            }
        }
    }

#if IN_MODE == 1
    // Each token's sum of squares from the invocations that loaded it:
    // slot it = kq BN + t held token t.
    barrier();
    for (uint i = 0u; i < uint(XLOADS); i++) {
        uint it = tid + i * uint(WG_SIZE);
        if (it < uint(BN * XV)) sh_x[it >> 2][it & 3u] = ss[i];
    }
    memoryBarrierShared();
    barrier();
    for (uint t = tid; t < uint(BN); t += uint(WG_SIZE)) {
        float s = 0.0;
        for (uint q = 0u; q < uint(XV); q++) {
            uint it = q * uint(BN) + t;
            s += sh_x[it >> 2][it & 3u];
        }
        sh_scale[t] = 1.0 / sqrt(s / float(N_IN) + EPS);
    }
    memoryBarrierShared();
    barrier();
#endif

    for (uint jc = 0u; jc < uint(4 * NJ); jc++) {
        uint t = 4u * (ci + (jc >> 2) * uint(CG)) + (jc & 3u), tok = tok0 + t;
        if (tok >= u_ntok) continue;
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
            float g = acc0[jc][e] * sc, u = acc1[jc][e] * sc;
            act[o + r] = g / (1.0 + exp(-g)) * u;
        }
#else
        for (uint m = 0u; m < uint(MI); m++) {
#if MI == 2
            vec4 a = m == 0u ? acc0[jc] : acc1[jc];
#else
            vec4 a = acc0[jc];
#endif
            for (uint e = 0u; e < 4u; e++) {
                uint r = tile_row0 + 4u * (ri + m * uint(RG)) + e;
                if (r >= u_nrows) break;
#if OUT_MODE == 0
                act[o + r] = a[e] * sc;
#else
                act[o + r] += a[e] * sc;
#endif
            }
        }
#endif
    }
}

// Matrix-vector product y = W x over the weight rows of one arena part,
// with the input and output ends fused by define:
//   IN_MODE 0: x = act[u_x ..]                         (plain)
//           1: x = RMSNorm(act[u_x ..]) * norm weights  (D4, final norm)
//           2: x = combined attention partials at u_x   (D3)
//   OUT_MODE 0: act[u_y + u_row0 + r]  = y             (projections, logits)
//            1: act[u_y + u_row0 + r] += y             (residual add: D3, D5)
//            2: act[u_y + u_row0 + r]  = act(y_a) * y_b, W_a = gate, W_b = up (D4):
//               ACT 0 SiLU (SwiGLU, Shazeer 2020), 1 tanh-approximate GELU
//               (GeGLU, Gemma)
//   SOFTCAP (OUT_MODE 0): y = SOFTCAP * tanh(y / SOFTCAP), Gemma 2's final
//            logit soft-capping
//   POST_DELTA, X_OUT (IN_MODE 1): see xin.glsl
// A workgroup computes RPW rows (rows.glsl): groups of lanes per row,
// several rows per group, the input prepared once per workgroup (xin.glsl)
// and each segment of it loaded once for all of a group's rows.
// Defines: WG_SIZE, N_IN, ROWS_G, TPR_SHARED, X_SHARED, X_TILE_SEG, IN_MODE, OUT_MODE,
// DOT_A, RB_A (and DOT_B, RB_B for OUT_MODE 2), WB4, EPS (IN_MODE 1), N_HEAD,
// HEAD_DIM, MAX_SLOTS (IN_MODE 2), ACT, SOFTCAP, POST_DELTA, X_OUT. Grid: ceil(u_nrows / RPW) workgroups,
// folded into y when x would pass the driver's group-count limit.
layout(local_size_x = WG_SIZE) in;

layout(std430, binding = 0) restrict buffer Act { float act[]; };
layout(std430, binding = 0) readonly restrict buffer Act4 { vec4 act4[]; };
#define HAVE_ACT4
layout(std430, binding = 1) readonly restrict buffer Weights { uint wb[]; };
#if WB4
layout(std430, binding = 1) readonly restrict buffer Weights4 { uvec4 wb4[]; };
#endif

uniform uint u_x;      // act: input (IN_MODE 2: the partials)
uniform uint u_y;      // act: output
uniform uint u_norm;   // wb word of the norm weights (IN_MODE 1)
uniform uint u_a;      // wb byte of this part's first row of W (W_a)
uniform uint u_b;      // ... of W_b (OUT_MODE 2)
uniform uint u_nrows;  // rows in this part
uniform uint u_row0;   // output index of the part's first row
uniform uint u_nslots; // attention partial slots in use (IN_MODE 2)
uniform uint u_delta;  // act: pending residual update (POST_DELTA)
uniform uint u_post;   // wb word of its post-norm weights (POST_DELTA)
uniform uint u_xout;   // act: the updated residual (X_OUT)

#ifndef ACT
#define ACT 0
#endif

float act_fn(float g)
{
#if ACT == 1
    // 0.5 g (1 + tanh(u)) with tanh(u) = 1 - 2 / (exp(2u) + 1): no NaN
    // where exp overflows, unlike a driver's tanh on some GPUs.
    float u = 0.7978845608 * g * (1.0 + 0.044715 * g * g);
    return 0.5 * g * (2.0 - 2.0 / (exp(2.0 * u) + 1.0));
#else
    return g / (1.0 + exp(-g));
#endif
}

#ifdef SOFTCAP
float softcap(float y)
{
    float u = y / float(SOFTCAP);
    return float(SOFTCAP) * (1.0 - 2.0 / (exp(2.0 * u) + 1.0));
}
#endif

#include "rows.glsl"
#include "wg.glsl"
#include "xin.glsl"
#include "dot.glsl"

void main()
{
    uint r0 = (gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x) * uint(RPW);
    if (r0 >= u_nrows) return; // whole workgroup: no barrier is skipped by some only
    x_prepare();

    uint first = r0 + ROW_GROUP * uint(ROWS_G);
    float acc[ROWS_G];
#if OUT_MODE == 2
    float accb[ROWS_G];
#endif
    for (uint j = 0u; j < uint(ROWS_G); j++) {
        acc[j] = 0.0;
#if OUT_MODE == 2
        accb[j] = 0.0;
#endif
    }
    // Rows past the end read the last row (their sums are dropped): no
    // branch in the loop, so the compiler can issue every row's loads
    // before the arithmetic.
    uint rowb_a[ROWS_G];
#if OUT_MODE == 2
    uint rowb_b[ROWS_G];
#endif
    for (uint j = 0u; j < uint(ROWS_G); j++) {
        uint row = min(first + j, u_nrows - 1u);
        rowb_a[j] = u_a + row * uint(RB_A);
#if OUT_MODE == 2
        rowb_b[j] = u_b + row * uint(RB_B);
#endif
    }
    for (uint tile = 0u; tile < uint(X_TILES); tile++) {
        x_stage(tile);
        uint g_end = min(x_g0 + uint(X_TILE_SEG), uint(N_SEG));
        uint g = x_g0 + ROW_LANE;
        // Two segments a step: twice the bytes in flight per lane.
        for (; g + uint(TPR) < g_end; g += 2u * uint(TPR)) {
            vec4 xa[8], xb[8];
            x_seg(g, xa);
            x_seg(g + uint(TPR), xb);
            for (uint j = 0u; j < uint(ROWS_G); j++) {
                acc[j] += DOT_A(rowb_a[j], g, xa) + DOT_A(rowb_a[j], g + uint(TPR), xb);
#if OUT_MODE == 2
                accb[j] += DOT_B(rowb_b[j], g, xa) + DOT_B(rowb_b[j], g + uint(TPR), xb);
#endif
            }
        }
        if (g < g_end) {
            vec4 xa[8];
            x_seg(g, xa);
            for (uint j = 0u; j < uint(ROWS_G); j++) {
                acc[j] += DOT_A(rowb_a[j], g, xa);
#if OUT_MODE == 2
                accb[j] += DOT_B(rowb_b[j], g, xa);
#endif
            }
        }
    }
    rows_reduce(acc);
#if OUT_MODE == 2
    rows_reduce(accb);
#endif
    if (ROW_LANE != 0u) return;
    float scale = x_scale;
    for (uint j = 0u; j < uint(ROWS_G); j++) {
        uint row = first + j;
        if (row >= u_nrows) break;
        uint o = u_y + u_row0 + row;
        float y = acc[j] * scale;
#if OUT_MODE == 0
#ifdef SOFTCAP
        y = softcap(y);
#endif
        act[o] = y;
#elif OUT_MODE == 1
        act[o] += y;
#else
        float yb = accb[j] * scale;
        act[o] = act_fn(y) * yb;
#endif
    }
}

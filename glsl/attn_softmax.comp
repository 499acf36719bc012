// Unfused attention, step 2: softmax in place over the first u_n scores of
// each head of a scores buffer. One workgroup per head. Defines: WG_SIZE.
layout(local_size_x = WG_SIZE) in;

layout(std430, binding = 1) restrict buffer Scores { float sc[]; };

uniform uint u_n;
uniform uint u_sstride;

#include "attn_layout.glsl"
#include "wg.glsl"

void main()
{
    uint b = gl_WorkGroupID.x * u_sstride;
    float m = neg_inf();
    for (uint i = gl_LocalInvocationIndex; i < u_n; i += uint(WG_SIZE)) m = max(m, sc[b + i]);
    m = wg_max(m);
    float s = 0.0;
    for (uint i = gl_LocalInvocationIndex; i < u_n; i += uint(WG_SIZE)) {
        float e = exp(sc[b + i] - m);
        sc[b + i] = e;
        s += e;
    }
    float inv = 1.0 / wg_sum(s);
    for (uint i = gl_LocalInvocationIndex; i < u_n; i += uint(WG_SIZE)) sc[b + i] *= inv;
}

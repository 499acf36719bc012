// Unfused RMSNorm: y = x / sqrt(mean(x^2) + eps) * w. Every workgroup
// computes the sum of squares itself, then writes its WG_SIZE elements
// (out of place: others may still be summing x). Workgroup row y
// normalises vector y of several contiguous ones (the per-head Q/K norms
// of Qwen3 and Gemma 3), all with the same weights.
// Defines: WG_SIZE, N, EPS. Grid: (ceil(N / WG_SIZE), vectors).
layout(local_size_x = WG_SIZE) in;

layout(std430, binding = 0) restrict buffer Act { float act[]; };
layout(std430, binding = 1) readonly restrict buffer Weights { uint wb[]; };

uniform uint u_x, u_y; // act: input, output
uniform uint u_norm;   // wb word of the norm weights

#include "wg.glsl"

void main()
{
    uint x = u_x + gl_WorkGroupID.y * uint(N), y = u_y + gl_WorkGroupID.y * uint(N);
    float ss = 0.0;
    for (uint i = gl_LocalInvocationIndex; i < uint(N); i += uint(WG_SIZE)) {
        float v = act[x + i];
        ss += v * v;
    }
    float rinv = 1.0 / sqrt(wg_sum(ss) / float(N) + EPS);
    uint i = gl_GlobalInvocationID.x;
    if (i < uint(N)) act[y + i] = act[x + i] * rinv * uintBitsToFloat(wb[u_norm + i]);
}

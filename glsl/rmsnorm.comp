// Unfused RMSNorm: y = x / sqrt(mean(x^2) + eps) * w. Every workgroup
// computes the sum of squares itself, then writes its WG_SIZE elements.
// Defines: WG_SIZE, N, EPS.
layout(local_size_x = WG_SIZE) in;

layout(std430, binding = 0) restrict buffer Act { float act[]; };
layout(std430, binding = 1) readonly restrict buffer Weights { uint wb[]; };

uniform uint u_x, u_y; // act: input, output
uniform uint u_norm;   // wb word of the norm weights

#include "wg.glsl"

void main()
{
    float ss = 0.0;
    for (uint i = gl_LocalInvocationIndex; i < uint(N); i += uint(WG_SIZE)) {
        float v = act[u_x + i];
        ss += v * v;
    }
    float rinv = 1.0 / sqrt(wg_sum(ss) / float(N) + EPS);
    uint i = gl_GlobalInvocationID.x;
    if (i < uint(N)) act[u_y + i] = act[u_x + i] * rinv * uintBitsToFloat(wb[u_norm + i]);
}

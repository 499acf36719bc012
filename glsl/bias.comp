// Bias add: act[u_y + t * u_ys + i] += b[i], i < u_n, the biases as f32 at
// word u_b of the weight buffer (Qwen2's Q/K/V biases); t is the
// workgroup's y: the unfused chain's one row (u_ys unset), or each token's
// row of a batch.
layout(local_size_x = WG_SIZE) in;

layout(std430, binding = 0) restrict buffer Act { float act[]; };
layout(std430, binding = 1) readonly restrict buffer Weights { uint wb[]; };

uniform uint u_y, u_b, u_n, u_ys;

void main()
{
    uint i = gl_GlobalInvocationID.x, t = gl_WorkGroupID.y;
    if (i < u_n) act[u_y + t * u_ys + i] += uintBitsToFloat(wb[u_b + i]);
}

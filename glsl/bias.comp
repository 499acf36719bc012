// Unfused bias add: act[u_y + i] += b[i], i < u_n, the biases as f32 at
// word u_b of the weight buffer (Qwen2's Q/K/V biases).
layout(local_size_x = WG_SIZE) in;

layout(std430, binding = 0) restrict buffer Act { float act[]; };
layout(std430, binding = 1) readonly restrict buffer Weights { uint wb[]; };

uniform uint u_y, u_b, u_n;

void main()
{
    uint i = gl_GlobalInvocationID.x;
    if (i < u_n) act[u_y + i] += uintBitsToFloat(wb[u_b + i]);
}

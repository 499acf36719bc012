// SSBO read bandwidth (pdvm info, bench roofline): every invocation XORs
// uvec4s in a grid-stride loop with UNROLL independent loads per step.
// Defines: WG_SIZE, UNROLL.
layout(local_size_x = WG_SIZE) in;

layout(std430, binding = 0) readonly buffer Src { uvec4 src[]; };
layout(std430, binding = 1) writeonly buffer Sink { uint sink[]; };

uniform uint n_vec4;
uniform uint marker;

void main()
{
    uint stride = gl_NumWorkGroups.x * uint(WG_SIZE);
    uvec4 acc = uvec4(0u);
    uint i = gl_GlobalInvocationID.x;
    for (; i + uint(UNROLL - 1) * stride < n_vec4; i += uint(UNROLL) * stride)
        for (int u = 0; u < UNROLL; u++) acc ^= src[i + uint(u) * stride];
    for (; i < n_vec4; i += stride) acc ^= src[i];
    // Depends on every load, so none is optimised away, yet (almost) never
    // writes: the measurement is reads only.
    if ((acc.x ^ acc.y ^ acc.z ^ acc.w) == marker) sink[0] = marker;
}

// Unfused RoPE, in place on u_nheads consecutive heads (q then k): one
// invocation per rotated pair. Defines: WG_SIZE, HEAD_DIM, N_ROT, ROPE_NEOX.
layout(local_size_x = WG_SIZE) in;

layout(std430, binding = 0) restrict buffer Act { float act[]; };

uniform uint u_x;      // act: first head
uniform uint u_nheads;
uniform uint u_cs;     // act: cos/sin of the current position

#include "rope.glsl"

void main()
{
    uint i = gl_GlobalInvocationID.x;
    const uint half_rot = uint(N_ROT / 2);
    if (i >= u_nheads * half_rot) return;
    uint h = i / half_rot;
    uint j = i - h * half_rot;
#if ROPE_NEOX
    uint d0 = j, d1 = j + half_rot;
#else
    uint d0 = 2u * j, d1 = 2u * j + 1u;
#endif
    uint b = u_x + h * uint(HEAD_DIM);
    vec2 r = rope_rotate(u_cs, j, act[b + d0], act[b + d1]);
    act[b + d0] = r.x;
    act[b + d1] = r.y;
}

// Unfused residual add: act[u_y + i] += act[u_x + i], i < u_n.
layout(local_size_x = WG_SIZE) in;

layout(std430, binding = 0) restrict buffer Act { float act[]; };

uniform uint u_x, u_y, u_n;

void main()
{
    uint i = gl_GlobalInvocationID.x;
    if (i < u_n) act[u_y + i] += act[u_x + i];
}

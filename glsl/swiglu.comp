// Unfused SwiGLU activation (Shazeer 2020): h = silu(gate) * up,
// silu(x) = x / (1 + exp(-x)).
layout(local_size_x = WG_SIZE) in;

layout(std430, binding = 0) restrict buffer Act { float act[]; };

uniform uint u_gate, u_up, u_y, u_n;

void main()
{
    uint i = gl_GlobalInvocationID.x;
    if (i >= u_n) return;
    float g = act[u_gate + i];
    act[u_y + i] = g / (1.0 + exp(-g)) * act[u_up + i];
}

// Unfused soft-capping in place: y = SOFTCAP * tanh(y / SOFTCAP), i < u_n
// (Gemma 2's final logits), tanh written through exp so no driver's tanh
// can give NaN where exp overflows.
layout(local_size_x = WG_SIZE) in;

layout(std430, binding = 0) restrict buffer Act { float act[]; };

uniform uint u_y, u_n;

void main()
{
    uint i = gl_GlobalInvocationID.x;
    if (i >= u_n) return;
    float u = act[u_y + i] / float(SOFTCAP);
    act[u_y + i] = float(SOFTCAP) * (1.0 - 2.0 / (exp(2.0 * u) + 1.0));
}

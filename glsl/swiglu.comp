// Unfused gated activation: h = act(gate) * up, SiLU (SwiGLU, Shazeer
// 2020) or with ACT 1 the tanh approximation of GELU (GeGLU, Gemma).
layout(local_size_x = WG_SIZE) in;

layout(std430, binding = 0) restrict buffer Act { float act[]; };

uniform uint u_gate, u_up, u_y, u_n;

void main()
{
    uint i = gl_GlobalInvocationID.x;
    if (i >= u_n) return;
    float g = act[u_gate + i];
#if ACT == 1
    float u = 0.7978845608 * g * (1.0 + 0.044715 * g * g);
    float a = 0.5 * g * (2.0 - 2.0 / (exp(2.0 * u) + 1.0));
#else
    float a = g / (1.0 + exp(-g));
#endif
    act[u_y + i] = a * act[u_up + i];
}

// Token embedding: x = dequantized row of token_embd (the host passes the
// byte address of the token's row inside its arena part).
// Defines: WG_SIZE, N (n_embd), DEQ (deq_<type> of deq.glsl), EMBD_SCALE
// (optional: the row times it, Gemma's sqrt(n_embd)).
layout(local_size_x = WG_SIZE) in;

layout(std430, binding = 0) writeonly restrict buffer Act { float act[]; };
layout(std430, binding = 1) readonly restrict buffer Weights { uint wb[]; };

uniform uint u_x;    // act: x
uniform uint u_rowb; // wb byte of the token's row

#define ROW_LEN N
#include "deq.glsl"

void main()
{
    uint i = gl_GlobalInvocationID.x;
#ifdef EMBD_SCALE
    if (i < uint(N)) act[u_x + i] = DEQ(u_rowb, i) * float(EMBD_SCALE);
#else
    if (i < uint(N)) act[u_x + i] = DEQ(u_rowb, i);
#endif
}

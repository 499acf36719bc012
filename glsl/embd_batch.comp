// Token embeddings of a batch (prefill): x[t] = dequantized row id(t) of
// token_embd, for the tokens whose row lies in this arena part (rows
// [u_row0, u_row1) from byte u_off). Token ids are floats in act (exact
// below 2^24). Grid: (ceil(N / WG_SIZE), n_tok).
// Defines: WG_SIZE, N (n_embd), RB (row bytes), DEQ (deq_<type> of deq.glsl).
layout(local_size_x = WG_SIZE) in;

layout(std430, binding = 0) restrict buffer Act { float act[]; };
layout(std430, binding = 1) readonly restrict buffer Weights { uint wb[]; };

uniform uint u_ids;  // act: token ids as floats
uniform uint u_x;    // act: x of token 0 (rows of N floats)
uniform uint u_off;  // wb byte of the part's first row
uniform uint u_row0, u_row1;

#define ROW_LEN N
#include "deq.glsl"

void main()
{
    uint i = gl_GlobalInvocationID.x, t = gl_WorkGroupID.y;
    uint id = uint(act[u_ids + t]);
    if (i >= uint(N) || id < u_row0 || id >= u_row1) return;
    act[u_x + t * uint(N) + i] = DEQ(u_off + (id - u_row0) * uint(RB), i);
}

// Unfused attention, step 1: scores q . k_t * SCALE (soft-capped: attn.glsl) of
// query heads [u_h0, u_h0 + gl_NumWorkGroups.y) over u_n positions of one
// slab, into a scores buffer laid out [head - u_h0][position].
// Defines: WG_SIZE, HEAD_DIM, GQA, SCALE, SOFTCAP (optional). Grid: (ceil(u_n / WG_SIZE), heads).
layout(local_size_x = WG_SIZE) in;

layout(std430, binding = 0) readonly restrict buffer Act { float act[]; };
layout(std430, binding = 1) writeonly restrict buffer Scores { float sc[]; };
layout(std430, binding = 2) readonly restrict buffer KCache { uint kc[]; };

uniform uint u_q;
uniform uint u_h0;
uniform uint u_kv_k, u_kv_stride;
uniform uint u_t0;       // first slab position
uniform uint u_n;        // positions
uniform uint u_s0;       // scores column of the first position
uniform uint u_sstride;  // scores per head (n_ctx)

uint g_head;
float qv(uint i) { return act[u_q + g_head * uint(HEAD_DIM) + i]; }

#define READS_K
#include "attn.glsl"

void main()
{
    uint i = gl_GlobalInvocationID.x;
    g_head = u_h0 + gl_WorkGroupID.y;
    if (i >= u_n) return;
    float s = attn_score(kv_word(u_kv_k, u_kv_stride, g_head / uint(GQA), u_t0 + i));
    sc[gl_WorkGroupID.y * u_sstride + u_s0 + i] = s;
}

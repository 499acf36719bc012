// Unfused KV-cache write: k and v (f32 in act) to the cache at the current
// position as packed f16. One invocation per word: first all of K, then V.
// Defines: WG_SIZE, HEAD_DIM, N_HEAD_KV.
layout(local_size_x = WG_SIZE) in;

layout(std430, binding = 0) readonly restrict buffer Act { float act[]; };
layout(std430, binding = 2) writeonly restrict buffer KCache { uint kc[]; };
layout(std430, binding = 3) writeonly restrict buffer VCache { uint vc[]; };

uniform uint u_k, u_v;          // act: k, v
uniform uint u_kv_k, u_kv_v, u_kv_stride, u_kv_t;

#include "attn_layout.glsl"

void main()
{
    const uint words = uint(N_HEAD_KV * HEAD_DIM / 2);
    uint i = gl_GlobalInvocationID.x;
    if (i >= 2u * words) return;
    bool is_v = i >= words;
    uint w = is_v ? i - words : i;
    uint kvh = w / uint(HEAD_DIM / 2);
    uint p = w - kvh * uint(HEAD_DIM / 2);
    uint src = (is_v ? u_v : u_k) + 2u * w;
    uint word = packHalf2x16(vec2(act[src], act[src + 1u]));
    if (is_v) vc[kv_word(u_kv_v, u_kv_stride, kvh, u_kv_t) + p] = word;
    else kc[kv_word(u_kv_k, u_kv_stride, kvh, u_kv_t) + p] = word;
}

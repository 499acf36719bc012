// RoPE and the KV-cache write of a batch (prefill), after the batched QKV
// mat-mat: token t's row at act[u_qkv + t * QKV_N] is q | k | v (q is
// rotated where attn_batch.comp reads it). Each invocation owns one word of
// k or v (two adjacent dimensions): k rotated and v as it is, packed to f16
// (packHalf2x16) into the cache slab
// holding the token's position (attn_layout.glsl), for tokens whose
// position lies in this slab [u_pos0, u_pos0 + u_kv_stride) and whose
// sequence (floats at act[u_seq]) has its slab in the bound buffer
// (kv_base: the KV table at act[u_kvt], buffer index u_buf). Each rotated
// dimension reads its pair partner (adjacent, or n_rot/2 away for NEOX) from
// the unrotated row, with the host's cos/sin of the token's position at
// act[u_cs + t * N_ROT + 2j] (rope.glsl: computed on the CPU like the
// reference). Positions are floats in act.
// Grid: (ceil(N_HEAD_KV HEAD_DIM / WG_SIZE), n_tok).
// Defines: WG_SIZE, HEAD_DIM, N_HEAD, N_HEAD_KV, N_ROT, ROPE_NEOX.
layout(local_size_x = WG_SIZE) in;

layout(std430, binding = 0) restrict buffer Act { float act[]; };
layout(std430, binding = 2) writeonly restrict buffer KCache { uint kc[]; };
layout(std430, binding = 3) writeonly restrict buffer VCache { uint vc[]; };

uniform uint u_qkv, u_pos, u_cs;
uniform uint u_seq, u_kvt, u_buf, u_kv_stride, u_pos0;

#define QKV_N ((N_HEAD + 2 * N_HEAD_KV) * HEAD_DIM)
#define KV_TABLE
#include "attn_layout.glsl"
#include "rope.glsl"

void main()
{
    uint w = gl_GlobalInvocationID.x, t = gl_WorkGroupID.y;
    const uint nq = uint(N_HEAD * HEAD_DIM), nkv = uint(N_HEAD_KV * HEAD_DIM);
    if (w >= nkv) return;
    uint row = u_qkv + t * uint(QKV_N), e = nq + 2u * w;
    uint cs = u_cs + t * uint(N_ROT);
    vec2 v = vec2(act[row + e], act[row + e + 1u]);
    uint pos = uint(act[u_pos + t]);
    uint base;
    if (pos < u_pos0 || pos - u_pos0 >= u_kv_stride || !kv_base(uint(act[u_seq + t]), base))
        return;
    bool is_v = e >= nq + nkv;
    uint f = e - nq - (is_v ? nkv : 0u);
    uint kvh = f / uint(HEAD_DIM), p = (f % uint(HEAD_DIM)) / 2u;
    uint word = kv_word(base, u_kv_stride, kvh, pos - u_pos0) + p;
    if (is_v) {
        vc[word] = packHalf2x16(v);
    } else {
        uint head = row + nq + kvh * uint(HEAD_DIM), d = 2u * p;
        kc[word] = packHalf2x16(vec2(rope_head_dim(cs, head, d), rope_head_dim(cs, head, d + 1u)));
    }
}

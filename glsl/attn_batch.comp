// Causal attention of a batch (prefill, or one step of several
// sequences), one workgroup per (query head h, token t), over one KV slab
// of each sequence whose slab lies in the bound buffer: the token attends
// to the cached positions [u_pos0, min(pos_t + 1, u_pos0 + u_kv_stride))
// of its own sequence (its slab's first word from the KV table, kv_base),
// keys and values f16 in the cache (attn_layout.glsl; the batch's own K/V
// are written there first by rope_kv_batch.comp, so earlier tokens of the
// same sequence in the batch are seen and other sequences never are).
// Tokens whose slab is in another buffer return at once: that buffer's
// dispatch serves them. Online softmax (Milakov &
// Gimelshein 2018, as FlashAttention-2, Dao 2023, organises it): keys in
// chunks of WG_SIZE, one score per invocation, running max m and sum l,
// accumulator rescaled per chunk. Across slabs (a cache larger than one
// SSBO block) the state (m, l, acc) is kept in act at u_state between
// dispatches: u_first starts it, u_last writes acc / l to the output.
// The query is rotated as it is read (RoPE of the token's position: its
// cos/sin at act[u_cs + t * N_ROT], rope.glsl).
// Grid: (N_HEAD, n_tok). Defines: WG_SIZE, HEAD_DIM, N_HEAD, N_HEAD_KV,
// SCALE, QKV_N (floats of a token's q|k|v row), N_ROT, ROPE_NEOX.
layout(local_size_x = WG_SIZE) in;

layout(std430, binding = 0) restrict buffer Act { float act[]; };
layout(std430, binding = 2) readonly restrict buffer KCache { uint kc[]; };
layout(std430, binding = 3) readonly restrict buffer VCache { uint vc[]; };

uniform uint u_qkv, u_pos, u_cs, u_out, u_state, u_first, u_last;
uniform uint u_seq, u_kvt, u_buf, u_kv_stride, u_pos0;

#define KV_TABLE
#include "attn_layout.glsl"
#include "rope.glsl"

#define PAIRS (HEAD_DIM / 2)
#define NP ((PAIRS + WG_SIZE - 1) / WG_SIZE) // dimension pairs an invocation owns

shared vec2 sh_q[PAIRS];
shared float sh_p[WG_SIZE];

void main()
{
    uint lid = gl_LocalInvocationIndex, h = gl_WorkGroupID.x, t = gl_WorkGroupID.y;
    uint base;
    if (!kv_base(uint(act[u_seq + t]), base)) return; // the same for the whole workgroup
    uint kvh = h / uint(N_HEAD / N_HEAD_KV);
    uint pos = uint(act[u_pos + t]);
    uint st = u_state + (t * uint(N_HEAD) + h) * uint(HEAD_DIM + 2);
    uint head = u_qkv + t * uint(QKV_N) + h * uint(HEAD_DIM), cs = u_cs + t * uint(N_ROT);
    for (uint i = lid; i < uint(PAIRS); i += uint(WG_SIZE))
        sh_q[i] = vec2(rope_head_dim(cs, head, 2u * i), rope_head_dim(cs, head, 2u * i + 1u));
    float m = neg_inf(), l = 0.0;
    vec2 acc[NP];
    for (uint j = 0u; j < uint(NP); j++) {
        uint i = lid + j * uint(WG_SIZE);
        bool own = i < uint(PAIRS);
        acc[j] = vec2(0.0);
        if (u_first == 0u && own) acc[j] = vec2(act[st + 2u + 2u * i], act[st + 3u + 2u * i]);
    }
    if (u_first == 0u) {
        m = act[st];
        l = act[st + 1u];
    }
    memoryBarrierShared();
    barrier();

    uint end = pos + 1u < u_pos0 ? 0u : min(pos + 1u - u_pos0, u_kv_stride);
    for (uint c0 = 0u; c0 < end; c0 += uint(WG_SIZE)) {
        uint key = c0 + lid;
        float s = neg_inf();
        if (key < end) {
            uint kw = kv_word(base, u_kv_stride, kvh, key);
            s = 0.0;
            for (uint p = 0u; p < uint(PAIRS); p++) s += dot(sh_q[p], unpackHalf2x16(kc[kw + p]));
            s *= SCALE;
        }
        sh_p[lid] = s;
        memoryBarrierShared();
        barrier();
        uint n = min(uint(WG_SIZE), end - c0);
        float cm = m;
        for (uint k = 0u; k < n; k++) cm = max(cm, sh_p[k]);
        barrier(); // every max read before the scores become weights
        sh_p[lid] = key < end ? exp(s - cm) : 0.0;
        memoryBarrierShared();
        barrier();
        float r = exp(m - cm), ls = 0.0;
        for (uint k = 0u; k < n; k++) ls += sh_p[k];
        l = l * r + ls;
        m = cm;
        for (uint j = 0u; j < uint(NP); j++) {
            uint i = lid + j * uint(WG_SIZE);
            if (i >= uint(PAIRS)) break;
            vec2 a = acc[j] * r;
            for (uint k = 0u; k < n; k++)
                a += sh_p[k] * unpackHalf2x16(vc[kv_word(base, u_kv_stride, kvh, c0 + k) + i]);
            acc[j] = a;
        }
        barrier(); // weights read before the next chunk's scores
    }

    for (uint j = 0u; j < uint(NP); j++) {
        uint i = lid + j * uint(WG_SIZE);
        if (i >= uint(PAIRS)) break;
        if (u_last != 0u) {
            uint o = u_out + t * uint(N_HEAD * HEAD_DIM) + h * uint(HEAD_DIM) + 2u * i;
            vec2 v = l > 0.0 ? acc[j] / l : vec2(0.0);
            act[o] = v.x;
            act[o + 1u] = v.y;
        } else {
            act[st + 2u + 2u * i] = acc[j].x;
            act[st + 3u + 2u * i] = acc[j].y;
        }
    }
    if (u_last == 0u && lid == 0u) {
        act[st] = m;
        act[st + 1u] = l;
    }
}

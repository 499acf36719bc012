// Where attention data lives.
// KV cache: f16, two dimensions per word (packHalf2x16), per layer and KV
// head with positions contiguous, so one head's keys for consecutive
// positions are one run of memory: word (kvh * stride + t) * HEAD_DIM/2 + p
// of a slab, t the position within the slab, stride the slab's positions.
// A slab is one layer's cache (or a range of its positions when one layer
// exceeds the SSBO block limit); the host passes its base word.
// Attention partials (flash-decoding style split over the context): for
// query head h and chunk slot c, at act[part + (h*MAX_SLOTS + c)*(HEAD_DIM+2)]:
// running max m, sum l of exp(s - m), then acc[HEAD_DIM] = sum exp(s - m) v.

#ifdef HEAD_DIM
uint kv_word(uint base, uint stride, uint kvh, uint t)
{
    return base + (kvh * stride + t) * uint(HEAD_DIM / 2);
}

#endif

#ifdef KV_TABLE
// The batched kernels' KV table (gpu_ops_batch.h, gpu_batch_slab): the
// first word of sequence q's slab at act[u_kvt + 3q + 1..2] (word / 65536,
// word % 65536), or false when that slab lies in another buffer than the
// one bound (act[u_kvt + 3q] != u_buf).
bool kv_base(uint q, out uint word)
{
    uint e = u_kvt + 3u * q;
    word = uint(act[e + 1u]) * 65536u + uint(act[e + 2u]);
    return uint(act[e]) == u_buf;
}
#endif

#if defined(MAX_SLOTS) && defined(HEAD_DIM)
uint part_index(uint part, uint h, uint slot)
{
    return part + (h * uint(MAX_SLOTS) + slot) * uint(HEAD_DIM + 2);
}
#endif

// Start value of running maxima. Finite: GLSL ES does not require
// infinities to behave (llvmpipe's fast-math code gets max(-inf, x) wrong).
float neg_inf() { return -3.0e38; }

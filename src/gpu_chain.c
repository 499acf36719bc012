/* The fused decode chain: per layer D1 qkv (RMSNorm, projections, RoPE,
 * KV write), D2 attention over chunks, D3 combine + wo + residual, D4
 * RMSNorm + gate/up + SwiGLU, D5 ffn_down + residual; then output RMSNorm +
 * output projection. A step runs once per arena part of its group: one
 * dispatch unless a group had to be split to fit the SSBO block limit. */
#include <math.h>

#include "error.h"
#include "gpu_ops.h"
#include "gpu_state.h"

/* RoPE cos/sin of pos, computed like the reference (double angle). */
static pdvm_status write_rope_table(gpu_state *s, uint32_t pos)
{
    const pdvm_hparams *hp = &s->m->hp;
    uint32_t half = hp->n_rot / 2;
    for (uint32_t i = 0; i < half; i++) {
        double theta = (double)pos * pow((double)hp->rope_freq_base, -2.0 * i / hp->n_rot);
        s->cs[2 * i] = (float)cos(theta);
        s->cs[2 * i + 1] = (float)sin(theta);
    }
    if (half == 0) return PDVM_OK;
    return pdvm_gl_buffer_write(s->gl, &s->act, (uint64_t)s->ap.cs * 4, (uint64_t)half * 8, s->cs);
}

static pdvm_status embed(gpu_state *s, int32_t token)
{
    const gpu_group *g = gpu_plan_group(&s->wp, 0, GPU_G_EMBD);
    uint32_t t = (uint32_t)token;
    for (uint32_t i = 0; i < g->n_parts; i++) {
        const gpu_part *p = &g->parts[i];
        if (t < p->out0 || t >= p->out1) continue;
        const pdvm_tensor *e = p->seg[0].t;
        return gpu_op_embd(&s->k, &s->act, &s->wbufs[p->buf], e->type, s->m->hp.n_embd, s->ap.x,
                           p->seg[0].off + (uint64_t)(t - p->out0) * e->row_bytes);
    }
    return pdvm_fail(PDVM_ERR_INVALID_ARG, "GPU backend: token %d has no embedding row", token);
}

pdvm_status gpu_chain_begin(gpu_state *s, int32_t token, uint32_t pos)
{
    PDVM_TRY(write_rope_table(s, pos));
    return embed(s, token);
}

static pdvm_status d1_qkv(gpu_state *s, uint32_t l, uint32_t pos)
{
    const pdvm_hparams *hp = &s->m->hp;
    const gpu_group *g = gpu_plan_group(&s->wp, l, GPU_G_QKV);
    const gpu_kv_slab *slab = gpu_kv_slab_at(&s->kvp, l, pos);
    for (uint32_t i = 0; i < g->n_parts; i++) {
        const gpu_part *p = &g->parts[i];
        gpu_qkv_args a = {
            .act = &s->act, .w = &s->wbufs[p->buf], .kc = &s->kbufs[slab->buf],
            .vc = &s->vbufs[slab->buf], .hp = hp, .norm_byte = p->norm_off,
            .x = s->ap.x, .q = s->ap.q, .cs = s->ap.cs,
            .head0 = p->out0 / hp->head_dim, .n_heads = (p->out1 - p->out0) / hp->head_dim,
            .kv_k = slab->word, .kv_v = slab->word, .kv_stride = slab->n_pos,
            .kv_t = pos - slab->pos0,
        };
        for (int k = 0; k < 3; k++) {
            a.type[k] = p->seg[k].t->type;
            a.rb[k] = p->seg[k].t->row_bytes;
            a.base_byte[k] = p->seg[k].off;
            a.first_row[k] = p->seg[k].row0;
        }
        PDVM_TRY(gpu_op_qkv(&s->k, &a));
    }
    return PDVM_OK;
}

/* Chunking of positions [0, n_pos): at most max_chunks chunks of at least
 * attn_min_chunk positions (the combine reads every chunk per column). */
static uint32_t chunk_len(const gpu_state *s, uint32_t n_pos)
{
    const uint32_t min_chunk = s->k.attn_min_chunk;
    uint32_t n_chunks = (n_pos + min_chunk - 1) / min_chunk;
    if (n_chunks > s->max_chunks) n_chunks = s->max_chunks;
    if (n_chunks == 0) n_chunks = 1;
    return (n_pos + n_chunks - 1) / n_chunks;
}

static pdvm_status d2_attention(gpu_state *s, uint32_t l, uint32_t pos, uint32_t *n_slots)
{
    const uint32_t n_pos = pos + 1, chunk = chunk_len(s, n_pos);
    *n_slots = 0;
    for (uint32_t k = 0; k < s->kvp.slabs_per_layer; k++) {
        const gpu_kv_slab *slab = &s->kvp.slabs[(size_t)l * s->kvp.slabs_per_layer + k];
        if (slab->pos0 >= n_pos) break;
        uint32_t n = n_pos - slab->pos0 < slab->n_pos ? n_pos - slab->pos0 : slab->n_pos;
        gpu_attn_args a = {
            .act = &s->act, .kc = &s->kbufs[slab->buf], .vc = &s->vbufs[slab->buf],
            .hp = &s->m->hp, .q = s->ap.q, .part = s->ap.part, .max_slots = s->ap.max_slots,
            .kv_k = slab->word, .kv_v = slab->word, .kv_stride = slab->n_pos,
            .t0 = 0, .n = n, .chunk = chunk, .slot0 = *n_slots,
        };
        PDVM_TRY(gpu_op_attn(&s->k, &a));
        *n_slots += (n + chunk - 1) / chunk;
    }
    return PDVM_OK;
}

pdvm_status gpu_group_matvec(gpu_state *s, const gpu_group *g, gpu_mv_args a)
{
    for (uint32_t i = 0; i < g->n_parts; i++) {
        const gpu_part *p = &g->parts[i];
        a.w = &s->wbufs[p->buf];
        a.type_a = p->seg[0].t->type;
        a.rb_a = p->seg[0].t->row_bytes;
        a.a_byte = p->seg[0].off;
        if (g->n_t > 1) {
            a.type_b = p->seg[1].t->type;
            a.rb_b = p->seg[1].t->row_bytes;
            a.b_byte = p->seg[1].off;
        }
        a.norm_byte = p->norm_off == GPU_NO_NORM ? 0 : p->norm_off;
        a.row0 = p->out0;
        a.n_rows = p->out1 - p->out0;
        PDVM_TRY(gpu_op_matvec(&s->k, &a));
    }
    return PDVM_OK;
}

static pdvm_status fused_layer(gpu_state *s, uint32_t l, uint32_t pos)
{
    const pdvm_hparams *hp = &s->m->hp;
    const gpu_act_plan *ap = &s->ap;
    uint32_t n_slots;
    PDVM_TRY(d1_qkv(s, l, pos));
    PDVM_TRY(d2_attention(s, l, pos, &n_slots));
    PDVM_TRY(gpu_group_matvec(s, gpu_plan_group(&s->wp, l, GPU_G_O), (gpu_mv_args){
        .act = &s->act, .in_mode = GPU_IN_COMBINE, .out_mode = GPU_OUT_ADD,
        .n_in = hp->n_head * hp->head_dim, .x = ap->part, .y = ap->x,
        .n_head = hp->n_head, .head_dim = hp->head_dim, .max_slots = ap->max_slots,
        .n_slots = n_slots}));
    PDVM_TRY(gpu_group_matvec(s, gpu_plan_group(&s->wp, l, GPU_G_FFN_UP), (gpu_mv_args){
        .act = &s->act, .in_mode = GPU_IN_NORM, .out_mode = GPU_OUT_SWIGLU,
        .n_in = hp->n_embd, .eps = hp->rms_eps, .x = ap->x, .y = ap->h}));
    PDVM_TRY(gpu_group_matvec(s, gpu_plan_group(&s->wp, l, GPU_G_DOWN), (gpu_mv_args){
        .act = &s->act, .in_mode = GPU_IN_PLAIN, .out_mode = GPU_OUT_ADD,
        .n_in = hp->n_ff, .x = ap->h, .y = ap->x}));
    return PDVM_OK;
}

pdvm_status gpu_chain_output(gpu_state *s)
{
    const pdvm_hparams *hp = &s->m->hp;
    return gpu_group_matvec(s, gpu_plan_group(&s->wp, 0, GPU_G_OUTPUT), (gpu_mv_args){
        .act = &s->act, .in_mode = GPU_IN_NORM, .out_mode = GPU_OUT_STORE,
        .n_in = hp->n_embd, .eps = hp->rms_eps, .x = s->ap.x, .y = s->ap.logits});
}

pdvm_status gpu_chain_layers(gpu_state *s, gpu_layer_fn layer, const char *chain, uint32_t pos)
{
    for (uint32_t l = 0; l < s->m->hp.n_layer; l++) {
        PDVM_TRY(layer(s, l, pos));
        pdvm_status st = pdvm_gl_check(s->gl, chain);
        if (st != PDVM_OK) return pdvm_fail_prefix(st, "layer %u", l);
    }
    return PDVM_OK;
}

pdvm_status gpu_chain_fused(gpu_state *s, int32_t token, uint32_t pos, bool want_logits)
{
    PDVM_TRY(gpu_chain_begin(s, token, pos));
    PDVM_TRY(gpu_chain_layers(s, fused_layer, "fused layer", pos));
    if (!want_logits) return PDVM_OK;
    PDVM_TRY(gpu_chain_output(s));
    return pdvm_gl_check(s->gl, "output projection");
}

/* The unfused chain (--unfused): one operation per dispatch, from the same
 * shader sources as the fused one: RMSNorm, each projection, RoPE, KV
 * write, scores, softmax, weighted sum, wo, add, RMSNorm, gate, up, SwiGLU,
 * ffn_down, add. The baseline fusion must beat, and a debugging aid: every
 * intermediate lands in its own activation slot. */

#include "error.h"
#include "gpu_ops.h"
#include "gpu_state.h"

/* y = W x for the rows of tensor `seg` of group g, in every part. */
static pdvm_status seg_matvec(gpu_state *s, const gpu_group *g, uint32_t seg, uint32_t n_in,
                              uint32_t x, uint32_t y)
{
    for (uint32_t i = 0; i < g->n_parts; i++) {
        const gpu_part *p = &g->parts[i];
        const gpu_seg *sg = &p->seg[seg];
        if (sg->n_rows == 0) continue;
        gpu_mv_args a = {
            .act = &s->act, .w = &s->wbufs[p->buf], .in_mode = GPU_IN_PLAIN,
            .out_mode = GPU_OUT_STORE, .n_in = n_in, .type_a = sg->t->type,
            .rb_a = sg->t->row_bytes, .a_byte = sg->off, .x = x, .y = y, .row0 = sg->row0,
            .n_rows = sg->n_rows,
        };
        PDVM_TRY(gpu_op_matvec(&s->k, &a));
    }
    return PDVM_OK;
}

/* The norm weights of a group: part 0's copy. */
static pdvm_status norm(gpu_state *s, const gpu_group *g, uint32_t x, uint32_t y)
{
    const gpu_part *p = &g->parts[0];
    return gpu_op_rmsnorm(&s->k, &s->act, &s->wbufs[p->buf], s->m->hp.n_embd, s->m->hp.rms_eps,
                          x, y, p->norm_off);
}

static gpu_kv_args kv_args(gpu_state *s, const gpu_kv_slab *slab)
{
    const gpu_act_plan *ap = &s->ap;
    return (gpu_kv_args){
        .act = &s->act, .kc = &s->kbufs[slab->buf], .vc = &s->vbufs[slab->buf],
        .hp = &s->m->hp, .kv_k = slab->word, .kv_v = slab->word, .kv_stride = slab->n_pos,
        .k = ap->k, .v = ap->v, .q = ap->q, .att = ap->att, .s_stride = s->n_ctx,
    };
}

typedef enum attn_step { STEP_SCORES, STEP_WSUM } attn_step;

/* The query heads score buffer b holds. */
static void score_heads(const gpu_state *s, uint32_t b, gpu_kv_args *a)
{
    uint32_t n_head = s->m->hp.n_head, per = s->sp.heads_per_buf;
    a->scores = &s->sbufs[b];
    a->h0 = b * per;
    a->n_heads = n_head - a->h0 < per ? n_head - a->h0 : per;
}

/* One attention step over every slab holding positions 0..pos, for the
 * query heads of score buffer b. */
static pdvm_status over_slabs(gpu_state *s, uint32_t l, uint32_t pos, uint32_t b, attn_step step)
{
    const uint32_t n_pos = pos + 1;
    for (uint32_t k = 0; k < s->kvp.slabs_per_layer; k++) {
        const gpu_kv_slab *slab = &s->kvp.slabs[(size_t)l * s->kvp.slabs_per_layer + k];
        if (slab->pos0 >= n_pos) break;
        gpu_kv_args a = kv_args(s, slab);
        score_heads(s, b, &a);
        a.t0 = 0;
        a.n = n_pos - slab->pos0 < slab->n_pos ? n_pos - slab->pos0 : slab->n_pos;
        a.s0 = slab->pos0;
        a.accumulate = k > 0;
        PDVM_TRY(step == STEP_SCORES ? gpu_op_attn_scores(&s->k, &a) : gpu_op_attn_wsum(&s->k, &a));
    }
    return PDVM_OK;
}

/* Scores, softmax over the whole row, weighted sum: per score buffer. */
static pdvm_status attention(gpu_state *s, uint32_t l, uint32_t pos)
{
    for (uint32_t b = 0; b < s->sp.n_bufs; b++) {
        PDVM_TRY(over_slabs(s, l, pos, b, STEP_SCORES));
        gpu_kv_args a = kv_args(s, gpu_kv_slab_at(&s->kvp, l, 0));
        score_heads(s, b, &a);
        a.n = pos + 1;
        PDVM_TRY(gpu_op_attn_softmax(&s->k, &a));
        PDVM_TRY(over_slabs(s, l, pos, b, STEP_WSUM));
    }
    return PDVM_OK;
}

static pdvm_status unfused_layer(gpu_state *s, uint32_t l, uint32_t pos)
{
    const pdvm_hparams *hp = &s->m->hp;
    const gpu_act_plan *ap = &s->ap;
    const gpu_group *qkv = gpu_plan_group(&s->wp, l, GPU_G_QKV);
    const gpu_group *ffn = gpu_plan_group(&s->wp, l, GPU_G_FFN_UP);
    PDVM_TRY(norm(s, qkv, ap->x, ap->xn));
    PDVM_TRY(seg_matvec(s, qkv, 0, hp->n_embd, ap->xn, ap->q));
    PDVM_TRY(seg_matvec(s, qkv, 1, hp->n_embd, ap->xn, ap->k));
    PDVM_TRY(seg_matvec(s, qkv, 2, hp->n_embd, ap->xn, ap->v));
    PDVM_TRY(gpu_op_rope(&s->k, &s->act, hp, ap->q, hp->n_head + hp->n_head_kv, ap->cs));
    const gpu_kv_slab *slab = gpu_kv_slab_at(&s->kvp, l, pos);
    gpu_kv_args w = kv_args(s, slab);
    w.t0 = pos - slab->pos0;
    PDVM_TRY(gpu_op_kv_write(&s->k, &w));
    PDVM_TRY(attention(s, l, pos));
    PDVM_TRY(seg_matvec(s, gpu_plan_group(&s->wp, l, GPU_G_O), 0, hp->n_head * hp->head_dim,
                        ap->att, ap->tmp));
    PDVM_TRY(gpu_op_add(&s->k, &s->act, ap->tmp, ap->x, hp->n_embd));
    PDVM_TRY(norm(s, ffn, ap->x, ap->xn));
    PDVM_TRY(seg_matvec(s, ffn, 0, hp->n_embd, ap->xn, ap->gate));
    PDVM_TRY(seg_matvec(s, ffn, 1, hp->n_embd, ap->xn, ap->up));
    PDVM_TRY(gpu_op_swiglu(&s->k, &s->act, ap->gate, ap->up, ap->h, hp->n_ff));
    PDVM_TRY(seg_matvec(s, gpu_plan_group(&s->wp, l, GPU_G_DOWN), 0, hp->n_ff, ap->h, ap->tmp));
    return gpu_op_add(&s->k, &s->act, ap->tmp, ap->x, hp->n_embd);
}

pdvm_status gpu_chain_unfused(gpu_state *s, int32_t token, uint32_t pos, bool want_logits)
{
    PDVM_TRY(gpu_alloc_scores(s));
    PDVM_TRY(gpu_chain_begin(s, token, pos));
    PDVM_TRY(gpu_chain_layers(s, unfused_layer, "unfused layer", pos));
    if (!want_logits) return PDVM_OK;
    const gpu_group *out = gpu_plan_group(&s->wp, 0, GPU_G_OUTPUT);
    PDVM_TRY(norm(s, out, s->ap.x, s->ap.xn));
    PDVM_TRY(seg_matvec(s, out, 0, s->m->hp.n_embd, s->ap.xn, s->ap.logits));
    return pdvm_gl_check(s->gl, "unfused output projection");
}

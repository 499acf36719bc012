/* The unfused chain (--unfused): one operation per dispatch, from the same
 * shader sources as the fused one: RMSNorm, each projection, RoPE, KV
 * write, scores, softmax, weighted sum, attn_output, add, RMSNorm, gate,
 * up, SwiGLU, ffn_down, add. The baseline fusion must beat, and a debugging
 * aid: every intermediate lands in its own activation slot. */
#include "error.h"
#include "gpu_chain.h"
#include "gpu_ops.h"
#include "gpu_state.h"

/* y = W x for the rows of tensor `seg` of group g, in every part. */
static pdvm_status seg_matvec(gpu_state *s, gpu_chain *c, const gpu_group *g, uint32_t seg,
                              uint32_t n_in, uint32_t x, uint32_t y, uint32_t l)
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
        gpu_chain_step *cs;
        PDVM_TRY(gpu_chain_add_step(c, GPU_STEP_STATIC, l, sg->t->name, &cs));
        PDVM_TRY(gpu_plan_matvec(&s->k, &a, &cs->st));
    }
    return PDVM_OK;
}

/* The norm weights of a group: part 0's copy. */
static pdvm_status norm(gpu_state *s, gpu_chain *c, const gpu_group *g, uint32_t x, uint32_t y,
                        uint32_t l)
{
    const gpu_part *p = &g->parts[0];
    gpu_norm_args a = {&s->act, &s->wbufs[p->buf], s->m->hp.n_embd, s->m->hp.rms_eps, x, y,
                       p->norm_off};
    gpu_chain_step *cs;
    PDVM_TRY(gpu_chain_add_step(c, GPU_STEP_STATIC, l, "rmsnorm", &cs));
    return gpu_plan_rmsnorm(&s->k, &a, &cs->st);
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

/* The query heads score buffer b holds. */
static void score_heads(const gpu_state *s, uint32_t b, gpu_kv_args *a)
{
    uint32_t n_head = s->m->hp.n_head, per = s->sp.heads_per_buf;
    a->scores = &s->sbufs[b];
    a->h0 = b * per;
    a->n_heads = n_head - a->h0 < per ? n_head - a->h0 : per;
}

/* Scores or weighted sums over every slab, for the heads of score buffer b;
 * a slab past the position is skipped per token. */
static pdvm_status over_slabs(gpu_state *s, gpu_chain *c, uint32_t l, uint32_t b,
                              gpu_step_kind kind)
{
    for (uint32_t k = 0; k < s->kvp.slabs_per_layer; k++) {
        const gpu_kv_slab *slab = &s->kvp.slabs[(size_t)l * s->kvp.slabs_per_layer + k];
        gpu_kv_args a = kv_args(s, slab);
        score_heads(s, b, &a);
        a.t0 = 0;
        a.n = 1;
        a.s0 = slab->pos0;
        a.accumulate = k > 0;
        gpu_chain_step *cs;
        PDVM_TRY(gpu_chain_add_step(c, kind, l, kind == GPU_STEP_SCORES ? "scores" : "wsum", &cs));
        PDVM_TRY(kind == GPU_STEP_SCORES ? gpu_plan_attn_scores(&s->k, &a, &cs->st)
                                         : gpu_plan_attn_wsum(&s->k, &a, &cs->st));
        cs->slab = slab;
    }
    return PDVM_OK;
}

/* Scores, softmax over the whole row, weighted sum: per score buffer. */
static pdvm_status attention(gpu_state *s, gpu_chain *c, uint32_t l)
{
    for (uint32_t b = 0; b < s->sp.n_bufs; b++) {
        PDVM_TRY(over_slabs(s, c, l, b, GPU_STEP_SCORES));
        gpu_kv_args a = kv_args(s, gpu_kv_slab_at(&s->kvp, l, 0));
        score_heads(s, b, &a);
        a.n = 1;
        gpu_chain_step *cs;
        PDVM_TRY(gpu_chain_add_step(c, GPU_STEP_SOFTMAX, l, "softmax", &cs));
        PDVM_TRY(gpu_plan_attn_softmax(&s->k, &a, &cs->st));
        PDVM_TRY(over_slabs(s, c, l, b, GPU_STEP_WSUM));
    }
    return PDVM_OK;
}

static pdvm_status add(gpu_state *s, gpu_chain *c, gpu_ew_args a, uint32_t l,
                       pdvm_status (*plan)(gpu_kernels *, const gpu_ew_args *, gpu_step *),
                       const char *what)
{
    gpu_chain_step *cs;
    PDVM_TRY(gpu_chain_add_step(c, GPU_STEP_STATIC, l, what, &cs));
    return plan(&s->k, &a, &cs->st);
}

static pdvm_status rope_and_cache(gpu_state *s, gpu_chain *c, uint32_t l)
{
    const pdvm_hparams *hp = &s->m->hp;
    gpu_rope_args r = {&s->act, hp, s->ap.q, hp->n_head + hp->n_head_kv, s->ap.cs};
    gpu_chain_step *cs;
    PDVM_TRY(gpu_chain_add_step(c, GPU_STEP_STATIC, l, "rope", &cs));
    PDVM_TRY(gpu_plan_rope(&s->k, &r, &cs->st));
    gpu_kv_args w = kv_args(s, gpu_kv_slab_at(&s->kvp, l, 0));
    PDVM_TRY(gpu_chain_add_step(c, GPU_STEP_KV_WRITE, l, "kv_write", &cs));
    return gpu_plan_kv_write(&s->k, &w, &cs->st);
}

static pdvm_status unfused_layer(gpu_state *s, gpu_chain *c, uint32_t l)
{
    const pdvm_hparams *hp = &s->m->hp;
    const gpu_act_plan *ap = &s->ap;
    const gpu_group *qkv = gpu_plan_group(&s->wp, l, GPU_G_QKV);
    const gpu_group *ffn = gpu_plan_group(&s->wp, l, GPU_G_FFN_UP);
    gpu_ew_args res = {.act = &s->act, .x = ap->tmp, .y = ap->x, .n = hp->n_embd};
    PDVM_TRY(norm(s, c, qkv, ap->x, ap->xn, l));
    PDVM_TRY(seg_matvec(s, c, qkv, 0, hp->n_embd, ap->xn, ap->q, l));
    PDVM_TRY(seg_matvec(s, c, qkv, 1, hp->n_embd, ap->xn, ap->k, l));
    PDVM_TRY(seg_matvec(s, c, qkv, 2, hp->n_embd, ap->xn, ap->v, l));
    PDVM_TRY(rope_and_cache(s, c, l));
    PDVM_TRY(attention(s, c, l));
    PDVM_TRY(seg_matvec(s, c, gpu_plan_group(&s->wp, l, GPU_G_O), 0, hp->n_head * hp->head_dim,
                        ap->att, ap->tmp, l));
    PDVM_TRY(add(s, c, res, l, gpu_plan_add, "add"));
    PDVM_TRY(norm(s, c, ffn, ap->x, ap->xn, l));
    PDVM_TRY(seg_matvec(s, c, ffn, 0, hp->n_embd, ap->xn, ap->gate, l));
    PDVM_TRY(seg_matvec(s, c, ffn, 1, hp->n_embd, ap->xn, ap->up, l));
    gpu_ew_args sw = {.act = &s->act, .gate = ap->gate, .up = ap->up, .y = ap->h, .n = hp->n_ff};
    PDVM_TRY(add(s, c, sw, l, gpu_plan_swiglu, "swiglu"));
    PDVM_TRY(seg_matvec(s, c, gpu_plan_group(&s->wp, l, GPU_G_DOWN), 0, hp->n_ff, ap->h, ap->tmp,
                        l));
    return add(s, c, res, l, gpu_plan_add, "add");
}

pdvm_status gpu_chain_plan_unfused(gpu_state *s, gpu_chain *c)
{
    PDVM_TRY(gpu_alloc_scores(s));
    PDVM_TRY(gpu_chain_plan_embed(s, c));
    for (uint32_t l = 0; l < s->m->hp.n_layer; l++) {
        PDVM_TRY(unfused_layer(s, c, l));
        c->steps[c->n - 1].end_of_layer = true;
    }
    const gpu_group *out = gpu_plan_group(&s->wp, 0, GPU_G_OUTPUT);
    uint32_t first = c->n, L = s->m->hp.n_layer;
    PDVM_TRY(norm(s, c, out, s->ap.x, s->ap.xn, L));
    PDVM_TRY(seg_matvec(s, c, out, 0, s->m->hp.n_embd, s->ap.xn, s->ap.logits, L));
    for (uint32_t i = first; i < c->n; i++) c->steps[i].output = true;
    c->planned = true;
    return PDVM_OK;
}

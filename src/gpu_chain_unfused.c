/* The unfused chain (--unfused): one operation per dispatch, from the same
 * shader sources as the fused one: RMSNorm, each projection (+ bias), Q/K
 * head norms, RoPE, KV write, scores, softmax, weighted sum, attn_output,
 * (post-norm,) add, RMSNorm, gate, up, SwiGLU/GeGLU, ffn_down, (post-norm,)
 * add; output RMSNorm, projection (, soft-cap). The baseline fusion must
 * beat, and a debugging aid: every intermediate lands in its own activation
 * slot. */
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

/* RMSNorm of n_vec vectors of n at x into y with vector v of group g
 * (part 0's copy). */
static pdvm_status norm_vec(gpu_state *s, gpu_chain *c, const gpu_group *g, gpu_vec_kind v,
                            uint32_t n, uint32_t n_vec, uint32_t x, uint32_t y, uint32_t l)
{
    const gpu_part *p = &g->parts[0];
    gpu_norm_args a = {&s->act, &s->wbufs[p->buf], n, s->m->hp.rms_eps, x, y, p->vec_off[v],
                       n_vec};
    gpu_chain_step *cs;
    PDVM_TRY(gpu_chain_add_step(c, GPU_STEP_STATIC, l, "rmsnorm", &cs));
    return gpu_plan_rmsnorm(&s->k, &a, &cs->st);
}

static pdvm_status norm(gpu_state *s, gpu_chain *c, const gpu_group *g, uint32_t x, uint32_t y,
                        uint32_t l)
{
    return norm_vec(s, c, g, GPU_V_NORM, s->m->hp.n_embd, 1, x, y, l);
}

static gpu_kv_args kv_args(gpu_state *s, const gpu_kv_slab *slab)
{
    const gpu_act_plan *ap = &s->ap;
    return (gpu_kv_args){
        .act = &s->act, .kc = &s->kbufs[slab->buf], .vc = &s->vbufs[slab->buf],
        .hp = &s->m->hp, .kv_k = slab->word, .kv_v = slab->word, .kv_stride = slab->n_pos,
        .k = ap->k, .v = ap->v, .q = ap->q, .att = ap->att, .s_stride = s->n_ctx,
        .scale = s->m->ap.attn_scale, .softcap = s->m->ap.attn_softcap,
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
    gpu_rope_args r = {&s->act, hp, s->ap.q, hp->n_head + hp->n_head_kv, gpu_layer_cs(s, l)};
    gpu_chain_step *cs;
    PDVM_TRY(gpu_chain_add_step(c, GPU_STEP_STATIC, l, "rope", &cs));
    PDVM_TRY(gpu_plan_rope(&s->k, &r, &cs->st));
    gpu_kv_args w = kv_args(s, gpu_kv_slab_at(&s->kvp, l, 0));
    PDVM_TRY(gpu_chain_add_step(c, GPU_STEP_KV_WRITE, l, "kv_write", &cs));
    return gpu_plan_kv_write(&s->k, &w, &cs->st);
}

/* Projection `seg` (q, k or v) of the QKV group into y, plus its biases. */
static pdvm_status projection(gpu_state *s, gpu_chain *c, const gpu_group *g, uint32_t seg,
                              uint32_t y, uint32_t l)
{
    PDVM_TRY(seg_matvec(s, c, g, seg, s->m->hp.n_embd, s->ap.xn, y, l));
    if (!g->has_bias) return PDVM_OK;
    for (uint32_t i = 0; i < g->n_parts; i++) {
        const gpu_part *p = &g->parts[i];
        uint64_t b = p->vec_off[GPU_V_BIAS]; /* the part's biases: its q, k, v rows in order */
        for (uint32_t k = 0; k < seg; k++) b += (uint64_t)p->seg[k].n_rows * 4;
        const gpu_seg *sg = &p->seg[seg];
        if (sg->n_rows == 0) continue;
        gpu_ew_args a = {.act = &s->act, .w = &s->wbufs[p->buf], .y = y + sg->row0,
                         .n = sg->n_rows, .b_byte = b};
        PDVM_TRY(add(s, c, a, l, gpu_plan_bias, "bias"));
    }
    return PDVM_OK;
}

/* Q (seg 0) or K (seg 1) of n_head heads into y: with a head norm through
 * tmp first. */
static pdvm_status q_or_k(gpu_state *s, gpu_chain *c, const gpu_group *g, uint32_t seg,
                          uint32_t n_head, uint32_t tmp, uint32_t y, uint32_t l)
{
    gpu_vec_kind v = seg == 0 ? GPU_V_QNORM : GPU_V_KNORM;
    if (!g->vec[v]) return projection(s, c, g, seg, y, l);
    PDVM_TRY(projection(s, c, g, seg, tmp, l));
    return norm_vec(s, c, g, v, s->m->hp.head_dim, n_head, tmp, y, l);
}

/* x += update at `upd`, post-normed with vector POST of group g when the
 * model has post-norms. */
static pdvm_status residual(gpu_state *s, gpu_chain *c, const gpu_group *g, uint32_t upd,
                            uint32_t l)
{
    const gpu_act_plan *ap = &s->ap;
    if (gpu_chain_post_norms(s->m)) {
        PDVM_TRY(norm_vec(s, c, g, GPU_V_POST, s->m->hp.n_embd, 1, upd, ap->tmp2, l));
        upd = ap->tmp2;
    }
    gpu_ew_args a = {.act = &s->act, .x = upd, .y = ap->x, .n = s->m->hp.n_embd};
    return add(s, c, a, l, gpu_plan_add, "add");
}

/* The group holding layer l's ffn_post_norm: the next layer's QKV, or the
 * output. */
static const gpu_group *ffn_post_group(const gpu_state *s, uint32_t l)
{
    if (l + 1 < s->m->hp.n_layer) return gpu_plan_group(&s->wp, l + 1, GPU_G_QKV);
    return gpu_plan_group(&s->wp, 0, GPU_G_OUTPUT);
}

static pdvm_status unfused_layer(gpu_state *s, gpu_chain *c, uint32_t l)
{
    const pdvm_hparams *hp = &s->m->hp;
    const gpu_act_plan *ap = &s->ap;
    const gpu_group *qkv = gpu_plan_group(&s->wp, l, GPU_G_QKV);
    const gpu_group *ffn = gpu_plan_group(&s->wp, l, GPU_G_FFN_UP);
    PDVM_TRY(norm(s, c, qkv, ap->x, ap->xn, l));
    PDVM_TRY(q_or_k(s, c, qkv, 0, hp->n_head, ap->tmpq, ap->q, l));
    PDVM_TRY(q_or_k(s, c, qkv, 1, hp->n_head_kv, ap->tmpk, ap->k, l));
    PDVM_TRY(projection(s, c, qkv, 2, ap->v, l));
    PDVM_TRY(rope_and_cache(s, c, l));
    PDVM_TRY(attention(s, c, l));
    PDVM_TRY(seg_matvec(s, c, gpu_plan_group(&s->wp, l, GPU_G_O), 0, hp->n_head * hp->head_dim,
                        ap->att, ap->tmp, l));
    PDVM_TRY(residual(s, c, ffn, ap->tmp, l)); /* attn_post_norm sits with ffn_norm */
    PDVM_TRY(norm(s, c, ffn, ap->x, ap->xn, l));
    PDVM_TRY(seg_matvec(s, c, ffn, 0, hp->n_embd, ap->xn, ap->gate, l));
    PDVM_TRY(seg_matvec(s, c, ffn, 1, hp->n_embd, ap->xn, ap->up, l));
    gpu_ew_args sw = {.act = &s->act, .gate = ap->gate, .up = ap->up, .y = ap->h, .n = hp->n_ff,
                      .act_fn = s->m->ap.act};
    PDVM_TRY(add(s, c, sw, l, gpu_plan_swiglu, "swiglu"));
    PDVM_TRY(seg_matvec(s, c, gpu_plan_group(&s->wp, l, GPU_G_DOWN), 0, hp->n_ff, ap->h, ap->tmp,
                        l));
    return residual(s, c, ffn_post_group(s, l), ap->tmp, l);
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
    if (s->m->ap.final_softcap > 0.0f) {
        gpu_ew_args a = {.act = &s->act, .y = s->ap.logits, .n = (uint32_t)s->m->output.ne[1],
                         .cap = s->m->ap.final_softcap};
        PDVM_TRY(add(s, c, a, L, gpu_plan_softcap, "softcap"));
    }
    for (uint32_t i = first; i < c->n; i++) c->steps[i].output = true;
    c->planned = true;
    return PDVM_OK;
}

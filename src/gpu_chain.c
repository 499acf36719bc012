/* The fused decode chain, planned once per session: per layer
 *   D1 qkv: RMSNorm, Q/K/V projections (+ biases), Q/K head norms, RoPE,
 *      KV-cache write
 *   D2 attention over chunks of the cached positions (the layer's window),
 *      one partial each; scores scaled and soft-capped as the architecture says
 *   D3 combine the partials + attn_output projection + residual add
 *   D4 RMSNorm + ffn_gate and ffn_up projections + SwiGLU or GeGLU
 *   D5 ffn_down projection + residual add
 * then the output RMSNorm + output projection (+ soft-capping). A step runs
 * once per arena part of its group (one dispatch unless a group had to be
 * split to fit the SSBO block limit); D2 runs once per KV slab holding
 * positions.
 *
 * With post-norms (Gemma 2/3: x += RMSNorm(update) * w) no dispatch that
 * computes part of an update can normalise it, so D3 and D5 store their
 * update in tmp, and the next reader of the residual (D4, the next layer's
 * D1, the output) applies it (xin.glsl, POST_DELTA): every workgroup
 * computes the new residual for itself and the first stores it for later.
 * It goes to the other of two residual slots, since the other workgroups
 * still read the old one: the embedding and D1 of layer 0 use x; D4 reads
 * x and stores x2; D1 of later layers reads x2 and stores x; the output
 * reads x2. Still five dispatches a layer. */
#include "error.h"
#include "gpu_chain.h"
#include "gpu_ops.h"
#include "gpu_state.h"

/* The embedding row of any token: one step per part of the group holding
 * token_embd's rows; the run picks the part and the row. */
pdvm_status gpu_chain_plan_embed(gpu_state *s, gpu_chain *c)
{
    const gpu_group *g = gpu_plan_group(&s->wp, 0, GPU_G_EMBD);
    for (uint32_t i = 0; i < g->n_parts; i++) {
        const gpu_part *p = &g->parts[i];
        const pdvm_tensor *e = p->seg[0].t;
        gpu_chain_step *cs;
        PDVM_TRY(gpu_chain_add_step(c, GPU_STEP_EMBD, 0, "embed", &cs));
        gpu_embd_args a = {&s->act, &s->wbufs[p->buf], e->type, s->m->hp.n_embd, s->ap.x,
                           p->seg[0].off, s->m->ap.embd_scale};
        PDVM_TRY(gpu_plan_embd(&s->k, &a, &cs->st));
        cs->part = p;
        cs->row_bytes = e->row_bytes;
    }
    return PDVM_OK;
}

bool gpu_chain_post_norms(const pdvm_model *m)
{
    return m->hp.n_layer > 0 && pdvm_tensor_present(&m->layers[0].attn_post_norm);
}

static bool has_vec(const gpu_part *p, gpu_vec_kind v) { return p->vec_off[v] != GPU_NO_VEC; }
static uint64_t vec_byte(const gpu_part *p, gpu_vec_kind v) { return has_vec(p, v) ? p->vec_off[v] : 0; }

static pdvm_status d1_qkv(gpu_state *s, gpu_chain *c, uint32_t l)
{
    const pdvm_hparams *hp = &s->m->hp;
    const gpu_group *g = gpu_plan_group(&s->wp, l, GPU_G_QKV);
    const gpu_kv_slab *slab = gpu_kv_slab_at(&s->kvp, l, 0);
    bool post = gpu_chain_post_norms(s->m) && l > 0;
    for (uint32_t i = 0; i < g->n_parts; i++) {
        const gpu_part *p = &g->parts[i];
        gpu_qkv_args a = {
            .act = &s->act, .w = &s->wbufs[p->buf], .kc = &s->kbufs[slab->buf],
            .vc = &s->vbufs[slab->buf], .hp = hp, .norm_byte = p->vec_off[GPU_V_NORM],
            .x = post ? s->ap.x2 : s->ap.x, .q = s->ap.q, .cs = gpu_layer_cs(s, l),
            .head0 = p->out0 / hp->head_dim, .n_heads = (p->out1 - p->out0) / hp->head_dim,
            .kv_k = slab->word, .kv_v = slab->word, .kv_stride = slab->n_pos, .kv_t = 0,
            .has_bias = has_vec(p, GPU_V_BIAS), .bias_byte = vec_byte(p, GPU_V_BIAS),
            .q_norm = has_vec(p, GPU_V_QNORM), .qn_byte = vec_byte(p, GPU_V_QNORM),
            .k_norm = has_vec(p, GPU_V_KNORM), .kn_byte = vec_byte(p, GPU_V_KNORM),
            .post_delta = post, .x_out = true, .delta = s->ap.tmp, .xout = s->ap.x,
            .post_byte = vec_byte(p, GPU_V_POST),
        };
        for (int k = 0; k < 3; k++) {
            a.type[k] = p->seg[k].t->type;
            a.rb[k] = p->seg[k].t->row_bytes;
            a.base_byte[k] = p->seg[k].off;
            a.first_row[k] = p->seg[k].row0;
        }
        gpu_chain_step *cs;
        PDVM_TRY(gpu_chain_add_step(c, GPU_STEP_QKV, l, "D1", &cs));
        PDVM_TRY(gpu_plan_qkv(&s->k, &a, &cs->st));
    }
    return PDVM_OK;
}

/* One dispatch per slab; positions, chunks and slots are set per token. */
static pdvm_status d2_attention(gpu_state *s, gpu_chain *c, uint32_t l)
{
    for (uint32_t k = 0; k < s->kvp.slabs_per_layer; k++) {
        const gpu_kv_slab *slab = &s->kvp.slabs[(size_t)l * s->kvp.slabs_per_layer + k];
        gpu_attn_args a = {
            .act = &s->act, .kc = &s->kbufs[slab->buf], .vc = &s->vbufs[slab->buf],
            .hp = &s->m->hp, .q = s->ap.q, .part = s->ap.part, .max_slots = s->ap.max_slots,
            .kv_k = slab->word, .kv_v = slab->word, .kv_stride = slab->n_pos,
            .t0 = 0, .n = 1, .chunk = 1, .slot0 = 0,
            .scale = s->m->ap.attn_scale, .softcap = s->m->ap.attn_softcap,
        };
        gpu_chain_step *cs;
        PDVM_TRY(gpu_chain_add_step(c, GPU_STEP_ATTN, l, "D2", &cs));
        PDVM_TRY(gpu_plan_attn(&s->k, &a, &cs->st));
        cs->slab = slab;
    }
    return PDVM_OK;
}

pdvm_status gpu_chain_plan_group(gpu_state *s, gpu_chain *c, const gpu_group *g, gpu_mv_args a,
                                 gpu_step_kind kind, uint32_t l, const char *what)
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
        a.norm_byte = vec_byte(p, GPU_V_NORM);
        a.post_byte = vec_byte(p, GPU_V_POST);
        a.row0 = p->out0;
        a.n_rows = p->out1 - p->out0;
        gpu_chain_step *cs;
        PDVM_TRY(gpu_chain_add_step(c, kind, l, what, &cs));
        PDVM_TRY(gpu_plan_matvec(&s->k, &a, &cs->st));
    }
    return PDVM_OK;
}

/* A residual update: added in place, or with post-norms stored in tmp for
 * the next reader. */
static void update_out(const gpu_state *s, gpu_mv_args *a)
{
    bool post = gpu_chain_post_norms(s->m);
    a->out_mode = post ? GPU_OUT_STORE : GPU_OUT_ADD;
    a->y = post ? s->ap.tmp : s->ap.x;
}

static pdvm_status d3_combine_attn_output(gpu_state *s, gpu_chain *c, uint32_t l)
{
    const pdvm_hparams *hp = &s->m->hp;
    gpu_mv_args a = {
        .act = &s->act, .in_mode = GPU_IN_COMBINE, .n_in = hp->n_head * hp->head_dim,
        .x = s->ap.part, .n_head = hp->n_head, .head_dim = hp->head_dim,
        .max_slots = s->ap.max_slots};
    update_out(s, &a);
    return gpu_chain_plan_group(s, c, gpu_plan_group(&s->wp, l, GPU_G_O), a, GPU_STEP_COMBINE, l,
                                "D3");
}

static pdvm_status d4_ffn_gate_up(gpu_state *s, gpu_chain *c, uint32_t l)
{
    const pdvm_hparams *hp = &s->m->hp;
    bool post = gpu_chain_post_norms(s->m);
    return gpu_chain_plan_group(s, c, gpu_plan_group(&s->wp, l, GPU_G_FFN_UP), (gpu_mv_args){
        .act = &s->act, .in_mode = GPU_IN_NORM, .out_mode = GPU_OUT_SWIGLU,
        .n_in = hp->n_embd, .eps = hp->rms_eps, .x = s->ap.x, .y = s->ap.h,
        .act_fn = s->m->ap.act, .post_delta = post, .x_out = true, .delta = s->ap.tmp,
        .xout = s->ap.x2},
        GPU_STEP_STATIC, l, "D4");
}

static pdvm_status d5_ffn_down(gpu_state *s, gpu_chain *c, uint32_t l)
{
    const pdvm_hparams *hp = &s->m->hp;
    gpu_mv_args a = {.act = &s->act, .in_mode = GPU_IN_PLAIN, .n_in = hp->n_ff, .x = s->ap.h};
    update_out(s, &a);
    return gpu_chain_plan_group(s, c, gpu_plan_group(&s->wp, l, GPU_G_DOWN), a, GPU_STEP_STATIC,
                                l, "D5");
}

static pdvm_status plan_output(gpu_state *s, gpu_chain *c)
{
    const pdvm_hparams *hp = &s->m->hp;
    bool post = gpu_chain_post_norms(s->m) && hp->n_layer > 0;
    uint32_t first = c->n;
    PDVM_TRY(gpu_chain_plan_group(s, c, gpu_plan_group(&s->wp, 0, GPU_G_OUTPUT), (gpu_mv_args){
        .act = &s->act, .in_mode = GPU_IN_NORM, .out_mode = GPU_OUT_STORE,
        .n_in = hp->n_embd, .eps = hp->rms_eps, .x = post ? s->ap.x2 : s->ap.x,
        .y = s->ap.logits, .softcap = s->m->ap.final_softcap, .post_delta = post,
        .delta = s->ap.tmp},
        GPU_STEP_STATIC, hp->n_layer, "output"));
    for (uint32_t i = first; i < c->n; i++) c->steps[i].output = true;
    return PDVM_OK;
}

pdvm_status gpu_chain_plan_fused(gpu_state *s, gpu_chain *c)
{
    PDVM_TRY(gpu_chain_plan_embed(s, c));
    for (uint32_t l = 0; l < s->m->hp.n_layer; l++) {
        PDVM_TRY(d1_qkv(s, c, l));
        PDVM_TRY(d2_attention(s, c, l));
        PDVM_TRY(d3_combine_attn_output(s, c, l));
        PDVM_TRY(d4_ffn_gate_up(s, c, l));
        PDVM_TRY(d5_ffn_down(s, c, l));
        c->steps[c->n - 1].end_of_layer = true;
    }
    PDVM_TRY(plan_output(s, c));
    c->planned = true;
    return PDVM_OK;
}

/* Running a planned chain for one token: the RoPE table of the position,
 * the per-token patches (embedding row, the sequence's KV slabs and the
 * position, attention chunks and partial slots), the dispatches, and a GL
 * error check after each layer. Also the plan as text. */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "gpu_chain.h"
#include "gpu_state.h"

pdvm_status gpu_chain_add_step(gpu_chain *c, gpu_step_kind kind, uint32_t layer,
                               const char *what, gpu_chain_step **out)
{
    if (c->n == c->cap) {
        uint32_t nc = c->cap ? 2 * c->cap : 64;
        gpu_chain_step *ns = realloc(c->steps, nc * sizeof *ns);
        if (!ns) return pdvm_fail(PDVM_ERR_NOMEM, "GPU plan: chain of %u steps", nc);
        c->steps = ns;
        c->cap = nc;
    }
    *out = &c->steps[c->n++];
    memset(*out, 0, sizeof **out);
    (*out)->kind = kind;
    (*out)->layer = layer;
    (*out)->what = what;
    return PDVM_OK;
}

void gpu_chain_free(gpu_chain *c)
{
    free(c->steps);
    memset(c, 0, sizeof *c);
}

void gpu_rope_init(gpu_state *s)
{
    const pdvm_model *m = s->m;
    uint32_t half = m->hp.n_rot / 2, full = UINT32_MAX, swa = UINT32_MAX;
    for (uint32_t l = 0; l < m->hp.n_layer; l++) {
        uint32_t *first = m->hp.n_swa > 0 && m->ap.swa[l] ? &swa : &full;
        if (*first == UINT32_MAX) *first = l;
    }
    s->rope[0] = pdvm_rope_cfg_for(m, full == UINT32_MAX ? 0 : full, s->n_ctx, s->rope_factors);
    s->rope_swa = swa != UINT32_MAX;
    if (s->rope_swa) s->rope[1] = pdvm_rope_cfg_for(m, swa, s->n_ctx, s->rope_factors + half);
}

uint32_t gpu_layer_cs(const gpu_state *s, uint32_t l)
{
    return s->rope_swa && s->m->ap.swa[l] ? s->ap.cs_swa : s->ap.cs;
}

/* RoPE cos/sin of pos for each table, computed like the reference (rope.c). */
static pdvm_status write_rope_tables(gpu_state *s, uint32_t pos)
{
    uint32_t half = s->m->hp.n_rot / 2;
    if (half == 0) return PDVM_OK;
    for (int t = 0; t < (s->rope_swa ? 2 : 1); t++) {
        pdvm_rope_table(&s->rope[t], pos, s->cs);
        uint32_t at = t ? s->ap.cs_swa : s->ap.cs;
        PDVM_TRY(pdvm_gl_buffer_write(s->gl, &s->act, (uint64_t)at * 4, (uint64_t)half * 8, s->cs));
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

/* What changes per token, and where. */
typedef struct token_ctx {
    uint32_t token, seq, pos;
    uint32_t n_valid, chunk; /* the current layer's cache slots in use, chunking */
    uint32_t slots;          /* partial slots the current layer's D2 has written */
} token_ctx;

/* The slab holding this position's slot: K/V buffers and where in them. */
static void set_slab(gpu_state *s, gpu_step *st, uint32_t layer, const token_ctx *t, int u_k,
                     int u_v, int u_stride, int u_t)
{
    const gpu_kv_slab *slab0 = gpu_kv_slab_at(&s->kvp, layer, t->pos);
    const gpu_kv_slab *slab = gpu_kv_seq_slab(&s->kvp, slab0, t->seq);
    st->buf[2] = &s->kbufs[slab->buf];
    st->buf[3] = &s->vbufs[slab->buf];
    st->val[u_k] = (uint32_t)slab->word;
    st->val[u_v] = (uint32_t)slab->word;
    st->val[u_stride] = slab->n_pos;
    st->val[u_t] = gpu_kv_slot(&s->kvp, layer, t->pos) - slab->pos0;
}

/* A step planned on sequence 0's slab reads the token's sequence's: its
 * buffers and first word (u_k or u_v negative: not read). */
static void move_slab(gpu_state *s, gpu_chain_step *cs, const token_ctx *t, int u_k, int u_v)
{
    const gpu_kv_slab *slab = gpu_kv_seq_slab(&s->kvp, cs->slab, t->seq);
    gpu_step *st = &cs->st;
    if (u_k >= 0) {
        st->buf[2] = &s->kbufs[slab->buf];
        st->val[u_k] = (uint32_t)slab->word;
    }
    if (u_v >= 0) {
        st->buf[3] = &s->vbufs[slab->buf];
        st->val[u_v] = (uint32_t)slab->word;
    }
}

/* A new layer: the slots its attention reads (a window's ring is read in
 * slot order: softmax does not care about the order of positions). */
static void start_layer(const gpu_state *s, token_ctx *t, uint32_t layer)
{
    t->n_valid = gpu_kv_valid(&s->kvp, layer, t->pos);
    t->chunk = chunk_len(s, t->n_valid);
    t->slots = 0;
}

/* Slots of the slab this token's attention reads (0: none). */
static uint32_t slab_positions(const gpu_kv_slab *slab, uint32_t n_valid)
{
    if (slab->pos0 >= n_valid) return 0;
    return n_valid - slab->pos0 < slab->n_pos ? n_valid - slab->pos0 : slab->n_pos;
}

/* Patch cs for this token; false when it does not run for it. */
static bool patch(gpu_state *s, gpu_chain_step *cs, token_ctx *t)
{
    gpu_step *st = &cs->st;
    uint32_t n;
    switch (cs->kind) {
    case GPU_STEP_STATIC: return true;
    case GPU_STEP_EMBD:
        if (t->token < cs->part->out0 || t->token >= cs->part->out1) return false;
        st->val[GPU_EMBD_U_ROWB] =
            (uint32_t)(cs->part->seg[0].off + (uint64_t)(t->token - cs->part->out0) * cs->row_bytes);
        return true;
    case GPU_STEP_QKV:
        set_slab(s, st, cs->layer, t, GPU_QKV_U_KV_K, GPU_QKV_U_KV_V, GPU_QKV_U_KV_STRIDE,
                 GPU_QKV_U_KV_T);
        start_layer(s, t, cs->layer);
        return true;
    case GPU_STEP_KV_WRITE:
        set_slab(s, st, cs->layer, t, GPU_KVW_U_KV_K, GPU_KVW_U_KV_V, GPU_KVW_U_KV_STRIDE,
                 GPU_KVW_U_KV_T);
        start_layer(s, t, cs->layer);
        return true;
    case GPU_STEP_ATTN:
        if ((n = slab_positions(cs->slab, t->n_valid)) == 0) return false;
        move_slab(s, cs, t, GPU_ATTN_U_KV_K, GPU_ATTN_U_KV_V);
        st->val[GPU_ATTN_U_N] = n;
        st->val[GPU_ATTN_U_CHUNK] = t->chunk;
        st->val[GPU_ATTN_U_SLOT0] = t->slots;
        st->gx = (n + t->chunk - 1) / t->chunk;
        t->slots += st->gx;
        return true;
    case GPU_STEP_COMBINE: st->val[GPU_MV_U_NSLOTS] = t->slots; return true;
    case GPU_STEP_SCORES:
        if ((n = slab_positions(cs->slab, t->n_valid)) == 0) return false;
        move_slab(s, cs, t, GPU_SCORES_U_KV_K, -1);
        st->val[GPU_SCORES_U_N] = n;
        gpu_scores_grid(&s->k, n, st);
        return true;
    case GPU_STEP_WSUM:
        if ((n = slab_positions(cs->slab, t->n_valid)) == 0) return false;
        move_slab(s, cs, t, -1, GPU_WSUM_U_KV_V);
        st->val[GPU_WSUM_U_N] = n;
        return true;
    case GPU_STEP_SOFTMAX: st->val[GPU_SOFTMAX_U_N] = t->n_valid; return true;
    }
    return true;
}

pdvm_status gpu_chain_run(gpu_state *s, gpu_chain *c, int32_t token, uint32_t seq,
                          uint32_t pos, bool want_logits)
{
    PDVM_TRY(write_rope_tables(s, pos));
    token_ctx t = {.token = (uint32_t)token, .seq = seq, .pos = pos};
    for (uint32_t i = 0; i < c->n; i++) {
        gpu_chain_step *cs = &c->steps[i];
        if (cs->output && !want_logits) break;
        if (!patch(s, cs, &t)) continue;
        PDVM_TRY(gpu_step_run(&s->k, &cs->st));
        if (cs->end_of_layer) {
            pdvm_status st = pdvm_gl_check(s->gl, s->unfused ? "unfused layer" : "fused layer");
            if (st != PDVM_OK) return pdvm_fail_prefix(st, "layer %u", cs->layer);
        }
    }
    return want_logits ? pdvm_gl_check(s->gl, "output projection") : PDVM_OK;
}

void gpu_chain_print(const gpu_chain *c, FILE *f)
{
    fprintf(f, "pdvm: dispatch plan, %u steps (per token: D2 per slab holding positions, "
               "its grid set by the position; embed: the part holding the token)\n", c->n);
    for (uint32_t i = 0; i < c->n; i++) {
        const gpu_chain_step *cs = &c->steps[i];
        const gpu_step *st = &cs->st;
        char layer[16];
        if (cs->output) snprintf(layer, sizeof layer, "out");
        else if (cs->kind == GPU_STEP_EMBD) snprintf(layer, sizeof layer, "in");
        else snprintf(layer, sizeof layer, "%u", cs->layer);
        fprintf(f, "  %4u  layer %-4s %-16.16s %-24s grid %u x %u\n", i, layer, cs->what,
                st->prog->label, st->gx, st->gy);
    }
}

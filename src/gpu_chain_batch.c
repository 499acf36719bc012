/* The batched forward pass (see gpu_chain_batch.h). Dispatches are planned
 * per pass (programs are found by their defines and built once); the batch
 * activation buffer holds, for up to cap tokens: ids, positions, the
 * logits map and sequences as floats, the RoPE tables, x, q|k|v rows, the
 * attention output, the FFN hidden rows, the attention state between KV
 * slabs and the logits rows; then the session's KV table (where each
 * sequence's slab of each layer lies: gpu_ops_batch.h, gpu_batch_slab),
 * written when the buffer is made. */
#include "gpu_chain_batch.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "gpu_chain.h"
#include "gpu_ops_batch.h"
#include "gpu_state.h"
#include "rope.h"

struct gpu_batch {
    pdvm_gl_buffer buf;
    uint32_t cap, cap_out;   /* tokens, logits rows */
    uint32_t ids, pos, map, seq, cs, x, qkv, att, h, state, logits, kvt, n_floats;
    float *host;             /* ids | pos | map | seq | cs of one pass */
    bool *present;           /* [n_seq]: the pass has tokens of the sequence */
    uint32_t *bufs;          /* [n_seq]: scratch of kv_bufs */
};

bool gpu_batch_supported(const pdvm_model *m, const char **why)
{
    const pdvm_hparams *hp = &m->hp;
    const pdvm_arch_params *ap = &m->ap;
    const char *w = NULL;
    bool swa = false;
    for (uint32_t l = 0; l < hp->n_layer; l++) swa |= hp->n_swa > 0 && ap->swa[l];
    const pdvm_layer *l0 = hp->n_layer ? &m->layers[0] : NULL;
    if (ap->act != PDVM_ACT_SILU) w = "GeGLU";
    else if (ap->embd_scale != 0.0f && ap->embd_scale != 1.0f) w = "embedding scale";
    else if (ap->attn_softcap != 0.0f) w = "attention soft-capping";
    else if (ap->final_softcap != 0.0f) w = "final soft-capping";
    else if (swa) w = "sliding-window attention";
    else if (hp->n_rot % 2 || hp->head_dim % 2) w = "odd RoPE or head sizes";
    else if (gpu_chain_post_norms(m)) w = "post-norms";
    else if (l0 && (pdvm_tensor_present(&l0->attn_q_norm) || pdvm_tensor_present(&l0->attn_k_norm)))
        w = "Q/K norms";
    if (why) *why = w;
    return w == NULL;
}

/* ------------------------------------------------------------ buffers */

static uint32_t ubatch(pdvm_status *st)
{
    const char *v = getenv("PDVM_UBATCH");
    *st = PDVM_OK;
    if (!v || !*v) return GPU_BATCH_DEFAULT_UB;
    char *end;
    long n = strtol(v, &end, 10);
    if (*end || n < 1 || n > 4096) {
        *st = pdvm_fail(PDVM_ERR_INVALID_ARG, "PDVM_UBATCH '%s': expected 1..4096 tokens", v);
        return 0;
    }
    return (uint32_t)n;
}

/* Floats of the KV table: (buffer, word / 65536, word % 65536) for each
 * sequence of each slab of each layer. */
static uint32_t kvt_floats(const gpu_state *s)
{
    return (uint32_t)(s->kvp.seq_slabs * s->n_seq * 3);
}

static void layout(gpu_batch *b, const gpu_state *s)
{
    const pdvm_hparams *hp = &s->m->hp;
    uint32_t c = b->cap, qkv = (hp->n_head + 2 * hp->n_head_kv) * hp->head_dim;
    uint32_t at = 0;
    b->ids = at, at += c;
    b->pos = at, at += c;
    b->map = at, at += c;
    b->seq = at, at += c;
    b->cs = at, at += c * hp->n_rot;
    b->x = at, at += c * hp->n_embd;
    b->qkv = at, at += c * qkv;
    b->att = at, at += c * hp->n_head * hp->head_dim;
    b->h = at, at += c * hp->n_ff;
    b->state = at, at += c * hp->n_head * (hp->head_dim + 2);
    b->logits = at, at += b->cap_out * hp->n_vocab;
    b->kvt = at, at += kvt_floats(s);
    b->n_floats = at;
}

static uint64_t bytes_for(const gpu_state *s, uint32_t cap, uint32_t cap_out)
{
    gpu_batch b = {.cap = cap, .cap_out = cap_out};
    layout(&b, s);
    return (uint64_t)b.n_floats * 4;
}

/* The KV table of the session's plan, written once per buffer. */
static pdvm_status write_kvt(gpu_state *s)
{
    gpu_batch *b = s->batch;
    const gpu_kv_plan *kv = &s->kvp;
    uint32_t n = kvt_floats(s);
    float *t = malloc((n ? n : 1) * sizeof *t);
    if (!t) return pdvm_fail(PDVM_ERR_NOMEM, "GPU batch: KV table");
    for (size_t i = 0; i < kv->seq_slabs; i++)
        for (uint32_t q = 0; q < s->n_seq; q++) {
            const gpu_kv_slab *sl = &kv->slabs[q * kv->seq_slabs + i];
            float *e = t + (i * s->n_seq + q) * 3;
            e[0] = (float)sl->buf;
            e[1] = (float)(uint32_t)(sl->word >> 16);
            e[2] = (float)(uint32_t)(sl->word & 0xffffu);
        }
    pdvm_status st = pdvm_gl_buffer_write(s->gl, &b->buf, (uint64_t)b->kvt * 4, (uint64_t)n * 4, t);
    free(t);
    return st;
}

/* Buffers for passes of cap tokens writing cap_out logits rows: grown to
 * hold what the previous ones held too where that still fits a block (a
 * server's batches alternate between many tokens and many logits rows). */
static pdvm_status ensure(gpu_state *s, uint32_t cap, uint32_t cap_out)
{
    gpu_batch *b = s->batch;
    if (b && b->cap >= cap && b->cap_out >= cap_out) return PDVM_OK;
    if (b) {
        uint32_t both = cap > b->cap ? cap : b->cap;
        uint32_t both_out = cap_out > b->cap_out ? cap_out : b->cap_out;
        if (bytes_for(s, both, both_out) <= s->block) cap = both, cap_out = both_out;
        gpu_batch_free(s);
    }
    b = calloc(1, sizeof *b);
    if (!b) return pdvm_fail(PDVM_ERR_NOMEM, "GPU batch: state");
    s->batch = b;
    b->cap = cap;
    b->cap_out = cap_out;
    layout(b, s);
    b->host = malloc((size_t)b->cs * 4 + (size_t)cap * s->m->hp.n_rot * 4);
    b->present = calloc(s->n_seq, sizeof *b->present);
    b->bufs = calloc(s->n_seq, sizeof *b->bufs);
    if (!b->host || !b->present || !b->bufs)
        return pdvm_fail(PDVM_ERR_NOMEM, "GPU batch: host tables");
    PDVM_TRY(pdvm_gl_buffer_create(s->gl, (uint64_t)b->n_floats * 4, NULL, &b->buf));
    return write_kvt(s);
}

/* Logits rows the passes of cap tokens write at most. */
static uint32_t rows_out(const gpu_batch_tok *t, size_t n, uint32_t cap)
{
    uint32_t most = 0;
    for (size_t i = 0; i < n; i += cap) {
        uint32_t k = 0;
        for (size_t j = i; j < n && j < i + cap; j++) k += t[j].out >= 0;
        if (k > most) most = k;
    }
    return most;
}

/* Tokens a pass: the ubatch, halved until its activations fit one SSBO
 * block. Errors: PDVM_ERR_UNSUPPORTED when one token does not fit. */
static pdvm_status pass_size(const gpu_state *s, const gpu_batch_tok *t, size_t n, uint32_t ub,
                             uint32_t *cap, uint32_t *cap_out)
{
    uint32_t c = n < ub ? (uint32_t)n : ub;
    for (;;) {
        *cap = c;
        *cap_out = rows_out(t, n, c);
        uint64_t bytes = bytes_for(s, c, *cap_out);
        if (bytes <= s->block) return PDVM_OK;
        if (c == 1)
            return pdvm_fail(PDVM_ERR_UNSUPPORTED, "GPU batch: one token needs %llu bytes of "
                             "activations, over the %llu-byte block limit",
                             (unsigned long long)bytes, (unsigned long long)s->block);
        c = (c + 1) / 2;
    }
}

void gpu_batch_free(gpu_state *s)
{
    gpu_batch *b = s->batch;
    if (!b) return;
    if (b->buf.id) pdvm_gl_buffer_delete(s->gl, &b->buf);
    free(b->host);
    free(b->present);
    free(b->bufs);
    free(b);
    s->batch = NULL;
}

/* ------------------------------------------------------------- a pass */

/* A dispatch planned and run at once. */
#define RUN(plan_fn, args)                                                      \
    do {                                                                        \
        gpu_step st_;                                                           \
        PDVM_TRY(plan_fn(&s->k, args, &st_));                                   \
        PDVM_TRY(gpu_kernels_build(&s->k, NULL, NULL));                         \
        PDVM_TRY(gpu_step_run(&s->k, &st_));                                    \
    } while (0)

typedef struct pass {
    uint32_t n, n_out;
    uint32_t min_pos, max_pos;
} pass;

/* Ids, positions, the logits map, sequences and the RoPE tables of the
 * pass; which sequences it has. */
static pdvm_status upload_tokens(gpu_state *s, const gpu_batch_tok *t, pass *p)
{
    gpu_batch *b = s->batch;
    const uint32_t n_rot = s->m->hp.n_rot, c = b->cap;
    float *ids = b->host, *pos = ids + c, *map = pos + c, *seq = map + c, *cs = b->host + b->cs;
    p->n_out = 0;
    p->min_pos = UINT32_MAX;
    p->max_pos = 0;
    memset(b->present, 0, s->n_seq * sizeof *b->present);
    for (uint32_t i = 0; i < p->n; i++) {
        ids[i] = (float)t[i].id;
        pos[i] = (float)t[i].pos;
        seq[i] = (float)t[i].seq;
        b->present[t[i].seq] = true;
        if (t[i].pos > p->max_pos) p->max_pos = t[i].pos;
        if (t[i].pos < p->min_pos) p->min_pos = t[i].pos;
        if (t[i].out >= 0) map[p->n_out++] = (float)i;
        if (n_rot) pdvm_rope_table(&s->rope[0], t[i].pos, cs + (size_t)i * n_rot);
    }
    PDVM_TRY(pdvm_gl_buffer_write(s->gl, &b->buf, 0, (uint64_t)b->cs * 4, b->host));
    return pdvm_gl_buffer_write(s->gl, &b->buf, (uint64_t)b->cs * 4,
                                (uint64_t)p->n * n_rot * 4, cs);
}

static pdvm_status embed(gpu_state *s, const pass *p)
{
    gpu_batch *b = s->batch;
    const gpu_group *g = gpu_plan_group(&s->wp, 0, GPU_G_EMBD);
    for (uint32_t i = 0; i < g->n_parts; i++) {
        const gpu_part *pt = &g->parts[i];
        const pdvm_tensor *e = pt->seg[0].t;
        gpu_embd_batch_args a = {&b->buf, &s->wbufs[pt->buf], e->type, s->m->hp.n_embd,
                                 e->row_bytes, pt->seg[0].off, pt->out0, pt->out1, b->ids,
                                 b->x, p->n};
        RUN(gpu_plan_embd_batch, &a);
    }
    return PDVM_OK;
}

/* One mat-mat per part (and per segment for QKV, whose q, k and v may
 * differ in type) of group g. */
static pdvm_status group_mm(gpu_state *s, const gpu_group *g, gpu_mm_args a, uint32_t n_tok)
{
    const pdvm_hparams *hp = &s->m->hp;
    const uint32_t nq = hp->n_head * hp->head_dim, nkv = hp->n_head_kv * hp->head_dim;
    a.act = &s->batch->buf;
    a.n_tok = n_tok;
    for (uint32_t i = 0; i < g->n_parts; i++) {
        const gpu_part *pt = &g->parts[i];
        a.w = &s->wbufs[pt->buf];
        a.norm_byte = pt->vec_off[GPU_V_NORM] == GPU_NO_VEC ? 0 : pt->vec_off[GPU_V_NORM];
        if (g->kind != GPU_G_QKV) {
            a.type_a = pt->seg[0].t->type;
            a.rb_a = pt->seg[0].t->row_bytes;
            a.a_byte = pt->seg[0].off;
            if (g->n_t > 1) {
                a.type_b = pt->seg[1].t->type;
                a.rb_b = pt->seg[1].t->row_bytes;
                a.b_byte = pt->seg[1].off;
            }
            a.row0 = pt->out0;
            a.n_rows = pt->out1 - pt->out0;
            RUN(gpu_plan_matmul, &a);
            continue;
        }
        uint64_t bias = pt->vec_off[GPU_V_BIAS]; /* the part's q, k, v rows in order */
        for (uint32_t j = 0; j < GPU_MAX_SEGS; j++) {
            const gpu_seg *sg = &pt->seg[j];
            if (!sg->t || sg->n_rows == 0) continue;
            uint32_t base = sg->t == g->t[0] ? 0 : sg->t == g->t[1] ? nq : nq + nkv;
            a.type_a = sg->t->type;
            a.rb_a = sg->t->row_bytes;
            a.a_byte = sg->off;
            a.row0 = base + sg->row0;
            a.n_rows = sg->n_rows;
            RUN(gpu_plan_matmul, &a);
            if (!g->has_bias) continue;
            gpu_bias_batch_args ba = {a.act, a.w, bias, a.y + a.row0, a.y_stride, sg->n_rows,
                                      n_tok};
            RUN(gpu_plan_bias_batch, &ba);
            bias += (uint64_t)sg->n_rows * 4;
        }
    }
    return PDVM_OK;
}

/* The cache buffers holding slab k of layer l of the pass's sequences,
 * each once, into b->bufs; returns how many. One in the common case (all
 * sequences' caches in one buffer), so a step of several sequences costs
 * the dispatches of one. */
static uint32_t kv_bufs(const gpu_state *s, uint32_t l, uint32_t k)
{
    const gpu_kv_plan *kv = &s->kvp;
    gpu_batch *b = s->batch;
    uint32_t n = 0;
    for (uint32_t q = 0; q < s->n_seq; q++) {
        if (!b->present[q]) continue;
        uint32_t buf = kv->slabs[q * kv->seq_slabs + (size_t)l * kv->slabs_per_layer + k].buf;
        uint32_t j = 0;
        while (j < n && b->bufs[j] != buf) j++;
        if (j == n) b->bufs[n++] = buf;
    }
    return n;
}

/* Slab k of layer l of the sequences whose slab is in cache buffer buf
 * (the slab's shape is every sequence's: sequence 0's gives it). */
static gpu_batch_slab slab_of(const gpu_state *s, uint32_t l, uint32_t k, uint32_t buf)
{
    const gpu_kv_plan *kv = &s->kvp;
    size_t i = (size_t)l * kv->slabs_per_layer + k;
    const gpu_kv_slab *sl = &kv->slabs[i];
    return (gpu_batch_slab){&s->kbufs[buf], &s->vbufs[buf], buf, s->batch->seq,
                            s->batch->kvt + (uint32_t)(i * s->n_seq * 3), sl->pos0, sl->n_pos};
}

static pdvm_status attention(gpu_state *s, uint32_t l, const pass *p)
{
    gpu_batch *b = s->batch;
    const pdvm_hparams *hp = &s->m->hp;
    const gpu_kv_slab *slabs = &s->kvp.slabs[(size_t)l * s->kvp.slabs_per_layer];
    uint32_t n_slabs = 0;
    for (uint32_t i = 0; i < s->kvp.slabs_per_layer; i++) {
        if (slabs[i].n_pos == 0) continue;
        if (slabs[i].pos0 <= p->max_pos) n_slabs = i + 1;
        bool writes = slabs[i].pos0 <= p->max_pos && slabs[i].pos0 + slabs[i].n_pos > p->min_pos;
        if (!writes) continue;
        for (uint32_t j = 0, n_b = kv_bufs(s, l, i); j < n_b; j++) {
            gpu_rope_kv_args a = {&b->buf, hp, slab_of(s, l, i, b->bufs[j]), b->qkv, b->pos,
                                  b->cs, p->n};
            RUN(gpu_plan_rope_kv_batch, &a);
        }
    }
    for (uint32_t i = 0; i < n_slabs; i++)
        for (uint32_t j = 0, n_b = kv_bufs(s, l, i); j < n_b; j++) {
            gpu_attn_batch_args a = {&b->buf, hp, s->m->ap.attn_scale, slab_of(s, l, i, b->bufs[j]),
                                     b->qkv, b->pos, b->cs, b->att, b->state, p->n, i == 0,
                                     i + 1 == n_slabs};
            RUN(gpu_plan_attn_batch, &a);
        }
    return PDVM_OK;
}

static pdvm_status layer(gpu_state *s, uint32_t l, const pass *p)
{
    gpu_batch *b = s->batch;
    const pdvm_hparams *hp = &s->m->hp;
    const uint32_t n_att = hp->n_head * hp->head_dim;
    const uint32_t n_qkv = n_att + 2 * hp->n_head_kv * hp->head_dim;
    gpu_mm_args qkv = {.in_mode = GPU_IN_NORM, .out_mode = GPU_OUT_STORE, .n_in = hp->n_embd,
                       .eps = hp->rms_eps, .x = b->x, .x_stride = hp->n_embd,
                       .map = GPU_MM_NO_MAP, .y = b->qkv, .y_stride = n_qkv};
    PDVM_TRY(group_mm(s, gpu_plan_group(&s->wp, l, GPU_G_QKV), qkv, p->n));
    PDVM_TRY(attention(s, l, p));
    gpu_mm_args o = {.in_mode = GPU_IN_PLAIN, .out_mode = GPU_OUT_ADD, .n_in = n_att,
                     .x = b->att, .x_stride = n_att, .map = GPU_MM_NO_MAP, .y = b->x,
                     .y_stride = hp->n_embd};
    PDVM_TRY(group_mm(s, gpu_plan_group(&s->wp, l, GPU_G_O), o, p->n));
    gpu_mm_args up = {.in_mode = GPU_IN_NORM, .out_mode = GPU_OUT_SWIGLU, .n_in = hp->n_embd,
                      .eps = hp->rms_eps, .x = b->x, .x_stride = hp->n_embd,
                      .map = GPU_MM_NO_MAP, .y = b->h, .y_stride = hp->n_ff};
    PDVM_TRY(group_mm(s, gpu_plan_group(&s->wp, l, GPU_G_FFN_UP), up, p->n));
    gpu_mm_args down = {.in_mode = GPU_IN_PLAIN, .out_mode = GPU_OUT_ADD, .n_in = hp->n_ff,
                        .x = b->h, .x_stride = hp->n_ff, .map = GPU_MM_NO_MAP, .y = b->x,
                        .y_stride = hp->n_embd};
    PDVM_TRY(group_mm(s, gpu_plan_group(&s->wp, l, GPU_G_DOWN), down, p->n));
    pdvm_status st = pdvm_gl_check(s->gl, "batched layer");
    return st == PDVM_OK ? st : pdvm_fail_prefix(st, "layer %u", l);
}

/* NaN over everything a pass writes (all but the KV table). */
static pdvm_status poison(gpu_state *s)
{
    gpu_batch *b = s->batch;
    float *v = malloc((size_t)b->kvt * sizeof *v);
    if (!v) return pdvm_fail(PDVM_ERR_NOMEM, "GPU batch: poison");
    for (uint32_t i = 0; i < b->kvt; i++) v[i] = NAN;
    pdvm_status st = pdvm_gl_buffer_write(s->gl, &b->buf, 0, (uint64_t)b->kvt * 4, v);
    free(v);
    return st;
}

/* The pass's logits rows into their out rows: rows come in token order,
 * the order of their out indices, so consecutive outs (the session gives
 * them) are one read, one sync with the GPU a pass, not one a row. */
static pdvm_status read_logits(gpu_state *s, const gpu_batch_tok *t, const pass *p, float *logits)
{
    gpu_batch *b = s->batch;
    const uint32_t n_vocab = (uint32_t)s->m->output.ne[1];
    int32_t first = -1, next = -1;
    bool consecutive = true;
    for (uint32_t i = 0; i < p->n; i++) {
        if (t[i].out < 0) continue;
        if (first < 0) first = next = t[i].out;
        consecutive &= t[i].out == next++;
    }
    if (consecutive)
        return pdvm_gl_buffer_read(s->gl, &b->buf, (uint64_t)b->logits * 4,
                                   (uint64_t)p->n_out * n_vocab * 4,
                                   logits + (size_t)first * n_vocab);
    uint32_t r = 0;
    for (uint32_t i = 0; i < p->n; i++) {
        if (t[i].out < 0) continue;
        uint64_t at = ((uint64_t)b->logits + (uint64_t)r++ * n_vocab) * 4;
        PDVM_TRY(pdvm_gl_buffer_read(s->gl, &b->buf, at, (uint64_t)n_vocab * 4,
                                     logits + (size_t)t[i].out * n_vocab));
    }
    return PDVM_OK;
}

static pdvm_status run_pass(gpu_state *s, const gpu_batch_tok *t, pass *p, float *logits)
{
    gpu_batch *b = s->batch;
    const pdvm_hparams *hp = &s->m->hp;
    if (s->poison_batch) PDVM_TRY(poison(s));
    PDVM_TRY(upload_tokens(s, t, p));
    PDVM_TRY(embed(s, p));
    for (uint32_t l = 0; l < hp->n_layer; l++) PDVM_TRY(layer(s, l, p));
    if (p->n_out == 0) return PDVM_OK;
    uint32_t n_vocab = (uint32_t)s->m->output.ne[1];
    gpu_mm_args out = {.in_mode = GPU_IN_NORM, .out_mode = GPU_OUT_STORE, .n_in = hp->n_embd,
                       .eps = hp->rms_eps, .x = b->x, .x_stride = hp->n_embd, .map = b->map,
                       .y = b->logits, .y_stride = n_vocab};
    PDVM_TRY(group_mm(s, gpu_plan_group(&s->wp, 0, GPU_G_OUTPUT), out, p->n_out));
    PDVM_TRY(pdvm_gl_check(s->gl, "batched output projection"));
    return read_logits(s, t, p, logits);
}

pdvm_status gpu_batch_eval(gpu_state *s, const gpu_batch_tok *t, size_t n, float *logits)
{
    pdvm_status st;
    uint32_t ub = ubatch(&st), cap, cap_out;
    PDVM_TRY(st);
    PDVM_TRY(pass_size(s, t, n, ub, &cap, &cap_out));
    if (cap_out && !logits)
        return pdvm_fail(PDVM_ERR_INVALID_ARG, "GPU batch: logits asked for without a buffer");
    PDVM_TRY(ensure(s, cap, cap_out));
    for (size_t i = 0; i < n; i += cap) {
        pass p = {.n = (uint32_t)(n - i < cap ? n - i : cap)};
        PDVM_TRY(run_pass(s, t + i, &p, logits));
    }
    return PDVM_OK;
}

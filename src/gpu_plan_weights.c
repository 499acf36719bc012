/* Weight plan: groups, parts and buffers (see gpu_plan.h). */
#include "gpu_plan.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "util.h"
#include "arena.h"
#include "gpu_types.h"
#include "quant.h"

uint64_t gpu_block_limit(int64_t max_ssbo_bytes)
{
    const uint64_t cap = (1ull << 31) - (1ull << 16);
    if (max_ssbo_bytes <= 0) return 0;
    return (uint64_t)max_ssbo_bytes < cap ? (uint64_t)max_ssbo_bytes : cap;
}

static pdvm_status check_tensor(const pdvm_tensor *t, bool norm)
{
    PDVM_TRY(gpu_type_check(t->type, t->name));
    if (norm && t->type != PDVM_TYPE_F32 && t->type != PDVM_TYPE_F16)
        return pdvm_fail(PDVM_ERR_UNSUPPORTED, "GPU backend: vector tensor %s has type %s "
                                               "(f32 or f16 expected)", t->name,
                         pdvm_type_name(t->type));
    return PDVM_OK;
}

static uint32_t clamp_u32(uint32_t v, uint32_t lo, uint32_t hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}

/* Floats of vector kind v of group g in a part of output rows [a, b). */
static uint64_t vec_len(const gpu_group *g, const pdvm_hparams *hp, gpu_vec_kind v, uint32_t a,
                        uint32_t b)
{
    switch (v) {
    case GPU_V_NORM:
    case GPU_V_POST: return g->vec[v] ? hp->n_embd : 0;
    case GPU_V_QNORM:
    case GPU_V_KNORM: return g->vec[v] ? hp->head_dim : 0;
    case GPU_V_BIAS: return g->has_bias ? b - a : 0;
    case GPU_V_COUNT: break;
    }
    return 0;
}

/* Bytes of rows [a, b) of the group's output space, vector copies
 * included; with pt, also where the vectors and each tensor's rows go
 * relative to the part start. */
static uint64_t part_bytes(const gpu_group *g, const pdvm_hparams *hp, uint32_t a, uint32_t b,
                           uint64_t align, gpu_part *pt)
{
    uint64_t bytes = 0;
    for (int v = 0; v < GPU_V_COUNT; v++) {
        uint64_t n = vec_len(g, hp, (gpu_vec_kind)v, a, b);
        if (pt) pt->vec_off[v] = n ? bytes : GPU_NO_VEC;
        bytes += pdvm_align_up(n * 4, align);
    }
    uint32_t start = 0;
    for (uint32_t s = 0; s < g->n_t; s++) {
        const pdvm_tensor *t = g->t[s];
        uint32_t lo = a, hi = b;
        if (g->kind == GPU_G_QKV) { /* q | k | v: this tensor's rows of [a, b) */
            uint32_t end = start + (uint32_t)t->ne[1];
            lo = clamp_u32(a, start, end) - start;
            hi = clamp_u32(b, start, end) - start;
            start = end;
        }
        if (pt) pt->seg[s] = (gpu_seg){t, lo, hi - lo, bytes};
        bytes += pdvm_align_up((uint64_t)(hi - lo) * t->row_bytes, align);
    }
    return bytes;
}

static pdvm_status add_part(gpu_group *g, uint32_t *cap, uint32_t a, uint32_t b)
{
    if (g->n_parts == *cap) {
        uint32_t nc = *cap ? 2 * *cap : 4;
        gpu_part *np = realloc(g->parts, nc * sizeof *np);
        if (!np) return pdvm_fail(PDVM_ERR_NOMEM, "GPU plan: %u parts", nc);
        g->parts = np;
        *cap = nc;
    }
    memset(&g->parts[g->n_parts], 0, sizeof *g->parts);
    g->parts[g->n_parts].out0 = a;
    g->parts[g->n_parts].out1 = b;
    g->n_parts++;
    return PDVM_OK;
}

/* Cut the output rows into the fewest parts that fit one block each: the
 * largest number of units per part, found by bisection (size grows with
 * rows). */
static pdvm_status split_group(gpu_group *g, const pdvm_hparams *hp, uint64_t block,
                               uint64_t align)
{
    uint32_t cap = 0;
    for (uint32_t a = 0; a < g->n_out;) {
        uint32_t lo = 1, hi = (g->n_out - a) / g->unit;
        uint64_t one = part_bytes(g, hp, a, a + g->unit, align, NULL);
        if (one > block)
            return pdvm_fail(PDVM_ERR_UNSUPPORTED, "GPU backend: %u row(s) of %s (%llu bytes "
                                                   "with alignment) exceed the SSBO block limit "
                                                   "of %llu bytes", g->unit, g->t[0]->name,
                             (unsigned long long)one, (unsigned long long)block);
        while (lo < hi) {
            uint32_t mid = lo + (hi - lo + 1) / 2;
            if (part_bytes(g, hp, a, a + mid * g->unit, align, NULL) <= block) lo = mid;
            else hi = mid - 1;
        }
        PDVM_TRY(add_part(g, &cap, a, a + lo * g->unit));
        a += lo * g->unit;
    }
    return PDVM_OK;
}

static void init_group(gpu_group *g, gpu_group_kind kind, const pdvm_tensor *norm,
                       const pdvm_tensor *t0, const pdvm_tensor *t1, const pdvm_tensor *t2,
                       uint32_t unit)
{
    memset(g, 0, sizeof *g);
    g->kind = kind;
    g->vec[GPU_V_NORM] = norm;
    g->t[0] = t0;
    g->t[1] = t1;
    g->t[2] = t2;
    g->n_t = t2 ? 3 : (t1 ? 2 : 1);
    g->unit = unit;
    if (kind == GPU_G_QKV)
        g->n_out = (uint32_t)(t0->ne[1] + t1->ne[1] + t2->ne[1]);
    else
        g->n_out = (uint32_t)t0->ne[1];
}

static const pdvm_tensor *present(const pdvm_tensor *t)
{
    return pdvm_tensor_present(t) ? t : NULL;
}

/* The QKV group's extra vectors: post-norm of the previous layer's FFN
 * update (NULL for layer 0), biases, Q/K norms. */
static void qkv_vectors(gpu_group *g, const pdvm_layer *L, const pdvm_layer *prev)
{
    g->vec[GPU_V_POST] = prev ? present(&prev->ffn_post_norm) : NULL;
    g->vec[GPU_V_QNORM] = present(&L->attn_q_norm);
    g->vec[GPU_V_KNORM] = present(&L->attn_k_norm);
    const pdvm_tensor *b[3] = {&L->attn_q_b, &L->attn_k_b, &L->attn_v_b};
    for (int i = 0; i < 3; i++) {
        g->bias[i] = present(b[i]);
        g->has_bias |= g->bias[i] != NULL;
    }
}

static pdvm_status check_shapes(const pdvm_model *m)
{
    const pdvm_hparams *hp = &m->hp;
    if (hp->n_head == 0 || hp->n_head_kv == 0 || hp->n_head % hp->n_head_kv ||
        hp->head_dim == 0 || hp->head_dim % 2 || hp->n_rot % 2 || hp->n_rot > hp->head_dim ||
        hp->n_embd == 0 || hp->n_ff == 0)
        return pdvm_fail(PDVM_ERR_UNSUPPORTED, "GPU backend: n_head %u, n_head_kv %u, head_dim "
                                               "%u, n_rot %u: not a layout the kernels run",
                         hp->n_head, hp->n_head_kv, hp->head_dim, hp->n_rot);
    bool post = hp->n_layer > 0 && pdvm_tensor_present(&m->layers[0].attn_post_norm);
    for (uint32_t l = 0; l < hp->n_layer; l++) {
        const pdvm_layer *L = &m->layers[l];
        for (int k = 0; k < PDVM_LT_COUNT; k++) {
            const pdvm_tensor *t = &L->t[k];
            if (pdvm_tensor_present(t)) PDVM_TRY(check_tensor(t, t->ne[1] == 1));
        }
        /* The chain applies post-norms to every update or to none. */
        if (pdvm_tensor_present(&L->attn_post_norm) != post ||
            pdvm_tensor_present(&L->ffn_post_norm) != post)
            return pdvm_fail(PDVM_ERR_UNSUPPORTED, "GPU backend: layer %u %s post-norms that "
                                                   "layer 0 %s", l, post ? "lacks" : "has",
                             post ? "has" : "lacks");
    }
    PDVM_TRY(check_tensor(&m->output_norm, true));
    PDVM_TRY(check_tensor(&m->output, false));
    return check_tensor(&m->tok_embd, false);
}

/* Tied output (the binder copies token_embd into output, name included):
 * one copy on the GPU serves both, synthetic models too. */
static bool embd_is_output(const pdvm_model *m)
{
    return m->tok_embd.name && m->tok_embd.name == m->output.name &&
           m->tok_embd.data == m->output.data && m->tok_embd.type == m->output.type;
}

static void make_groups(const pdvm_model *m, gpu_weight_plan *p)
{
    const pdvm_hparams *hp = &m->hp;
    for (uint32_t l = 0; l < hp->n_layer; l++) {
        const pdvm_layer *L = &m->layers[l];
        gpu_group *g = &p->groups[4 * l];
        init_group(&g[0], GPU_G_QKV, &L->attn_norm, &L->attn_q, &L->attn_k, &L->attn_v, hp->head_dim);
        qkv_vectors(&g[0], L, l > 0 ? &m->layers[l - 1] : NULL);
        init_group(&g[1], GPU_G_O, NULL, &L->attn_output, NULL, NULL, 1);
        init_group(&g[2], GPU_G_FFN_UP, &L->ffn_norm, &L->ffn_gate, &L->ffn_up, NULL, 1);
        g[2].vec[GPU_V_POST] = present(&L->attn_post_norm);
        init_group(&g[3], GPU_G_DOWN, NULL, &L->ffn_down, NULL, NULL, 1);
    }
    gpu_group *out = &p->groups[4 * hp->n_layer];
    init_group(out, GPU_G_OUTPUT, &m->output_norm, &m->output, NULL, NULL, 1);
    if (hp->n_layer > 0) out->vec[GPU_V_POST] = present(&m->layers[hp->n_layer - 1].ffn_post_norm);
    if (p->n_groups > 4 * hp->n_layer + 1)
        init_group(&p->groups[4 * hp->n_layer + 1], GPU_G_EMBD, NULL, &m->tok_embd, NULL, NULL,
                   1);
}

/* Pack parts into buffers in order and give every piece its offset. */
static pdvm_status place_parts(gpu_weight_plan *p, const pdvm_hparams *hp, uint64_t block)
{
    uint32_t n_parts = 0;
    for (uint32_t i = 0; i < p->n_groups; i++) n_parts += p->groups[i].n_parts;
    p->buf_bytes = calloc(n_parts, sizeof *p->buf_bytes);
    if (!p->buf_bytes) return pdvm_fail(PDVM_ERR_NOMEM, "GPU plan: %u buffers", n_parts);
    pdvm_arena arena;
    pdvm_arena_init(&arena, p->align, block);
    p->n_bufs = 0;
    for (uint32_t i = 0; i < p->n_groups; i++) {
        gpu_group *g = &p->groups[i];
        for (uint32_t k = 0; k < g->n_parts; k++) {
            gpu_part *pt = &g->parts[k];
            uint64_t bytes = part_bytes(g, hp, pt->out0, pt->out1, p->align, pt);
            uint64_t off;
            if (p->n_bufs == 0 || !pdvm_arena_place(&arena, bytes, &off)) {
                pdvm_arena_init(&arena, p->align, block);
                pdvm_arena_place(&arena, bytes, &off); /* fits: split_group checked */
                p->n_bufs++;
            }
            pt->buf = p->n_bufs - 1;
            for (int v = 0; v < GPU_V_COUNT; v++)
                if (pt->vec_off[v] != GPU_NO_VEC) pt->vec_off[v] += off;
            for (uint32_t s = 0; s < g->n_t; s++) pt->seg[s].off += off;
            p->buf_bytes[pt->buf] = arena.used;
        }
    }
    p->total_bytes = 0;
    for (uint32_t b = 0; b < p->n_bufs; b++) {
        p->buf_bytes[b] = pdvm_align_up(p->buf_bytes[b], 16);
        p->total_bytes += p->buf_bytes[b];
    }
    return PDVM_OK;
}

pdvm_status gpu_plan_weights(const pdvm_model *m, uint64_t block, uint64_t align,
                             gpu_weight_plan *out)
{
    memset(out, 0, sizeof *out);
    PDVM_TRY(check_shapes(m));
    out->align = align < 16 ? 16 : align;
    out->n_groups = 4 * m->hp.n_layer + (embd_is_output(m) ? 1 : 2);
    out->groups = calloc(out->n_groups, sizeof *out->groups);
    if (!out->groups) return pdvm_fail(PDVM_ERR_NOMEM, "GPU plan: %u groups", out->n_groups);
    make_groups(m, out);
    pdvm_status st = PDVM_OK;
    for (uint32_t i = 0; i < out->n_groups && st == PDVM_OK; i++)
        st = split_group(&out->groups[i], &m->hp, block, out->align);
    if (st == PDVM_OK) st = place_parts(out, &m->hp, block);
    if (st != PDVM_OK) gpu_plan_weights_free(out);
    return st;
}

void gpu_plan_weights_free(gpu_weight_plan *p)
{
    if (!p) return;
    for (uint32_t i = 0; p->groups && i < p->n_groups; i++) free(p->groups[i].parts);
    free(p->groups);
    free(p->buf_bytes);
    memset(p, 0, sizeof *p);
}

gpu_group *gpu_plan_group(const gpu_weight_plan *p, uint32_t layer, gpu_group_kind kind)
{
    uint32_t n_layer = (p->n_groups - 1) / 4; /* 4 per layer + OUTPUT (+ EMBD) */
    if (kind == GPU_G_OUTPUT) return &p->groups[4 * n_layer];
    if (kind == GPU_G_EMBD) return &p->groups[p->n_groups - 1]; /* OUTPUT itself when tied */
    return &p->groups[4 * layer + kind];
}

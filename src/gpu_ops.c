/* Planning of the model kernels' dispatches (see gpu_ops.h): layout,
 * defines, program, bindings, uniform values, grid. */
#include "gpu_ops.h"

#include <math.h>
#include <string.h>

#include "error.h"
#include "gpu_ops_impl.h"
#include "gpu_types.h"
#include "quant.h"

enum { B_SCORES = 1, B_K = 2, B_V = 3 };

/* How matvec.comp and qkv.comp lay a workgroup out (glsl/rows.glsl):
 * groups of tpr lanes per row, rows_g rows per group. With subgroup
 * arithmetic a group is one subgroup; otherwise no more lanes per row than
 * the row has 32-element segments (small models would leave most idle). */
typedef struct mv_layout {
    uint32_t wg, tpr_shared, tpr, rows_g, rpw;
    bool x_shared;
    uint32_t x_tile_seg; /* segments of x staged at once (xin.glsl) */
} mv_layout;

/* tiles: whether the kernel can stage x in several tiles (matvec.comp;
 * qkv.comp stages it whole or reads it from act). */
static mv_layout layout_for(const gpu_kernels *k, uint32_t n_in, uint32_t extra_shared, bool tiles)
{
    const pdvm_gl_limits *l = k->lim;
    mv_layout m = {.wg = k->wg_max, .rows_g = k->mv_rows_g};
    uint32_t segs = gpu_pow2_ceil(ceil_div(n_in, 32));
    /* Without subgroups a row's lanes reduce through shared memory, one
     * barrier per halving; at least 4 segments a lane keeps those steps few
     * (llvmpipe, where a barrier switches every SIMD chunk of the group:
     * 2.5x faster stories15M decode than one segment a lane). */
    uint32_t tpr = 1;
    while (tpr * 2 * 4 <= segs && tpr * 2 <= m.wg) tpr *= 2;
    m.tpr_shared = tpr;
    bool sub = l->subgroup && l->subgroup_size && m.wg % l->subgroup_size == 0;
    m.tpr = sub ? l->subgroup_size : m.tpr_shared;
    m.rpw = m.wg / m.tpr * m.rows_g;
    /* Shared memory: the prepared input (128 bytes a segment), the row
     * reduction (without subgroups), reduce.glsl's slots and the kernel's
     * own arrays. */
    uint32_t n_seg = ceil_div(n_in, 32);
    int64_t left = (int64_t)l->max_shared_bytes - (sub ? 0 : m.rows_g * m.wg * 4) - m.wg * 4 -
                   extra_shared - 256;
    int64_t fit = left > 0 ? left / 128 : 0;
    if (fit >= n_seg) {
        m.x_tile_seg = n_seg;
    } else if (tiles && fit >= m.tpr) {
        m.x_tile_seg = (uint32_t)fit / m.tpr * m.tpr; /* every lane the same share */
    } else {
        m.x_tile_seg = n_seg;
        m.x_shared = false;
        return m;
    }
    m.x_shared = true;
    return m;
}

static void layout_defines(gpu_defs *d, const mv_layout *m)
{
    gpu_defs_int(d, "WG_SIZE", m->wg);
    gpu_defs_int(d, "ROWS_G", m->rows_g);
    gpu_defs_int(d, "TPR_SHARED", m->tpr_shared);
    gpu_defs_int(d, "X_SHARED", m->x_shared);
    gpu_defs_int(d, "X_TILE_SEG", m->x_tile_seg);
}

static pdvm_status check_type(uint32_t type) { return gpu_type_check(type, NULL); }

/* The dot function for rows of `type` of rb bytes from byte `base`: the
 * uvec4 variant when the kernel declares the view and every row starts on
 * 16 bytes. Precondition: check_type(type). */
static const char *dot_for(bool wb4, uint32_t type, uint64_t rb, uint64_t base)
{
    const gpu_type *t = gpu_type_find(type);
    return wb4 && t->dot_v4 && rb % 16 == 0 && base % 16 == 0 ? t->dot_v4 : t->dot;
}

static const char *const mv_uniforms[] = {"u_x",     "u_y",    "u_norm",  "u_a",
                                          "u_b",     "u_nrows", "u_row0", "u_nslots",
                                          "u_delta", "u_post",  "u_xout"};

static void matvec_defines(const gpu_mv_args *a, const mv_layout *m, gpu_defs *d)
{
    gpu_defs_init(d);
    layout_defines(d, m);
    gpu_defs_int(d, "N_IN", a->n_in);
    gpu_defs_int(d, "IN_MODE", a->in_mode);
    gpu_defs_int(d, "OUT_MODE", a->out_mode);
    /* matvec.comp declares 4 storage blocks with the uvec4 view: within
     * the GLES 3.1 minimum. */
    gpu_defs_int(d, "WB4", 1);
    gpu_defs_str(d, "DOT_A", dot_for(true, a->type_a, a->rb_a, a->a_byte));
    gpu_defs_int(d, "RB_A", (long long)a->rb_a);
    if (a->out_mode == GPU_OUT_SWIGLU) {
        gpu_defs_str(d, "DOT_B", dot_for(true, a->type_b, a->rb_b, a->b_byte));
        gpu_defs_int(d, "RB_B", (long long)a->rb_b);
        gpu_defs_int(d, "ACT", a->act_fn);
    }
    if (a->out_mode == GPU_OUT_STORE && a->softcap > 0.0f) gpu_defs_float(d, "SOFTCAP", a->softcap);
    if (a->in_mode == GPU_IN_NORM) {
        gpu_defs_float(d, "EPS", a->eps);
        gpu_defs_int(d, "POST_DELTA", a->post_delta);
        gpu_defs_int(d, "X_OUT", a->post_delta && a->x_out);
    }
    if (a->in_mode == GPU_IN_COMBINE) {
        gpu_defs_int(d, "N_HEAD", a->n_head);
        gpu_defs_int(d, "HEAD_DIM", a->head_dim);
        gpu_defs_int(d, "MAX_SLOTS", a->max_slots);
    }
}

pdvm_status gpu_plan_matvec(gpu_kernels *k, const gpu_mv_args *a, gpu_step *st)
{
    PDVM_TRY(check_type(a->type_a));
    if (a->out_mode == GPU_OUT_SWIGLU) PDVM_TRY(check_type(a->type_b));
    uint32_t sh_w = a->in_mode == GPU_IN_COMBINE ? a->n_head * a->max_slots * 4 : 0;
    mv_layout m = layout_for(k, a->n_in, sh_w, true);
    gpu_defs d;
    matvec_defines(a, &m, &d);
    /* Which fused step a mat-vec is, for the profile and the plan. */
    static const char *const label[3][3] = {
        {"matvec", "matvec+add", "matvec+swiglu"},
        {"norm+matvec", "norm+matvec+add", "norm+matvec+swiglu"},
        {"combine+matvec", "combine+matvec+add", "combine+matvec+swiglu"},
    };
    gpu_prog *p;
    PDVM_TRY(gpu_prog_get(k, "matvec", label[a->in_mode % 3][a->out_mode % 3], &d, mv_uniforms,
                          N_NAMES(mv_uniforms), &p));
    step_init(st, p, ceil_div(a->n_rows, m.rpw), 1);
    st->fold = true;
    st->buf[B_ACT] = a->act;
    st->buf[B_W] = a->w;
    const uint32_t v[] = {a->x, a->y, (uint32_t)(a->norm_byte / 4), (uint32_t)a->a_byte,
                          (uint32_t)a->b_byte, a->n_rows, a->row0, a->n_slots, a->delta,
                          (uint32_t)(a->post_byte / 4), a->xout};
    memcpy(st->val, v, sizeof v);
    return PDVM_OK;
}

pdvm_status gpu_op_matvec(gpu_kernels *k, const gpu_mv_args *a) { RUN_NOW(gpu_plan_matvec, k, a); }

/* Whether rows [s*slice, (s+1)*slice) of every head (or, split, slice/2
 * rows from each half) hold both rows of each RoPE pair and of each packed
 * f16 pair. */
static bool slice_ok(const pdvm_hparams *hp, uint32_t slice, uint32_t split)
{
    const uint32_t hd = hp->head_dim;
    if (slice < 2 || slice % 2 || hd % slice) return false;
    if (slice == hd) return !split;
    if (hp->rope_type != PDVM_ROPE_NEOX) return !split;
    return split && hp->n_rot == hd && (slice / 2) % 2 == 0 && (hd / 2) % (slice / 2) == 0;
}

void gpu_qkv_slice(const pdvm_hparams *hp, uint32_t want, uint32_t *slice, uint32_t *split)
{
    /* The largest slice up to `want` rows (one round of the workgroup's
     * row groups); the whole head always works. */
    for (uint32_t s = want < hp->head_dim ? want : hp->head_dim; s >= 2; s--)
        for (uint32_t sp = 0; sp < 2; sp++)
            if (slice_ok(hp, s, sp)) {
                *slice = s;
                *split = sp;
                return;
            }
    *slice = hp->head_dim;
    *split = 0;
}

/* Slices of `slice` rows, `units` of them per workgroup: about one round
 * of the workgroup's row groups (several small heads per workgroup). */
static mv_layout qkv_layout(const gpu_kernels *k, const gpu_qkv_args *a, uint32_t *slice,
                            uint32_t *split, uint32_t *units)
{
    const pdvm_hparams *hp = a->hp;
    uint32_t rpw = layout_for(k, hp->n_embd, 0, false).rpw; /* sh_row: UNITS * SLICE floats */
    mv_layout m = layout_for(k, hp->n_embd, (rpw > hp->head_dim ? rpw : hp->head_dim) * 4, false);
    /* Head norms need every row of a head in one workgroup. */
    uint32_t want = a->q_norm || a->k_norm ? hp->head_dim : (m.rpw > 8 ? m.rpw : 8);
    gpu_qkv_slice(hp, want, slice, split);
    *units = m.rpw > *slice ? m.rpw / *slice : 1;
    return m;
}

static void qkv_defines(gpu_kernels *k, const gpu_qkv_args *a, gpu_defs *d)
{
    const pdvm_hparams *hp = a->hp;
    uint32_t slice, split, units;
    mv_layout m = qkv_layout(k, a, &slice, &split, &units);
    gpu_defs_init(d);
    layout_defines(d, &m);
    gpu_defs_int(d, "N_IN", hp->n_embd);
    gpu_defs_int(d, "HEAD_DIM", hp->head_dim);
    gpu_defs_int(d, "N_ROT", hp->n_rot);
    gpu_defs_int(d, "ROPE_NEOX", hp->rope_type == PDVM_ROPE_NEOX);
    gpu_defs_int(d, "N_HEAD", hp->n_head);
    gpu_defs_int(d, "N_HEAD_KV", hp->n_head_kv);
    gpu_defs_float(d, "EPS", hp->rms_eps);
    gpu_defs_int(d, "SLICE", slice);
    gpu_defs_int(d, "UNITS", units);
    gpu_defs_int(d, "SPLIT", split);
    const char *dot[] = {"DOT_Q", "DOT_K", "DOT_V"}, *rb[] = {"RB_Q", "RB_K", "RB_V"};
    /* The uvec4 view is a fifth storage block here. */
    bool wb4 = k->lim->max_ssbo_bindings >= 5;
    gpu_defs_int(d, "WB4", wb4);
    const char *fn[3];
    for (int i = 0; i < 3; i++) fn[i] = dot_for(wb4, a->type[i], a->rb[i], a->base_byte[i]);
    gpu_defs_int(d, "QKV_ONE_DOT", !strcmp(fn[0], fn[1]) && !strcmp(fn[0], fn[2]));
    for (int i = 0; i < 3; i++) {
        gpu_defs_str(d, dot[i], fn[i]);
        gpu_defs_int(d, rb[i], (long long)a->rb[i]);
    }
    gpu_defs_int(d, "HAS_BIAS", a->has_bias);
    gpu_defs_int(d, "Q_NORM", a->q_norm);
    gpu_defs_int(d, "K_NORM", a->k_norm);
    gpu_defs_int(d, "POST_DELTA", a->post_delta);
    gpu_defs_int(d, "X_OUT", a->post_delta && a->x_out);
}

static const char *const qkv_uniforms[] = {
    "u_x",    "u_q",    "u_cs",    "u_norm",  "u_head0",     "u_nheads", "u_qb",
    "u_kb",   "u_vb",   "u_qr",    "u_kr",    "u_vr",        "u_kv_k",   "u_kv_v",
    "u_kv_stride", "u_kv_t", "u_delta", "u_post", "u_xout", "u_bias", "u_qn", "u_kn"};

pdvm_status gpu_plan_qkv(gpu_kernels *k, const gpu_qkv_args *a, gpu_step *st)
{
    for (int i = 0; i < 3; i++) PDVM_TRY(check_type(a->type[i]));
    gpu_defs d;
    qkv_defines(k, a, &d);
    gpu_prog *p;
    PDVM_TRY(gpu_prog_get(k, "qkv", "norm+qkv+rope+kv", &d, qkv_uniforms, N_NAMES(qkv_uniforms),
                          &p));
    uint32_t slice, split, units;
    qkv_layout(k, a, &slice, &split, &units);
    step_init(st, p, ceil_div(a->n_heads * (a->hp->head_dim / slice), units), 1);
    st->buf[B_ACT] = a->act;
    st->buf[B_W] = a->w;
    st->buf[B_K] = a->kc;
    st->buf[B_V] = a->vc;
    const uint32_t v[] = {a->x, a->q, a->cs, (uint32_t)(a->norm_byte / 4), a->head0, a->n_heads,
                          (uint32_t)a->base_byte[0], (uint32_t)a->base_byte[1],
                          (uint32_t)a->base_byte[2], a->first_row[0], a->first_row[1],
                          a->first_row[2], (uint32_t)a->kv_k, (uint32_t)a->kv_v, a->kv_stride,
                          a->kv_t, a->delta, (uint32_t)(a->post_byte / 4), a->xout,
                          (uint32_t)(a->bias_byte / 4), (uint32_t)(a->qn_byte / 4),
                          (uint32_t)(a->kn_byte / 4)};
    memcpy(st->val, v, sizeof v);
    return PDVM_OK;
}

pdvm_status gpu_op_qkv(gpu_kernels *k, const gpu_qkv_args *a) { RUN_NOW(gpu_plan_qkv, k, a); }

static const char *const attn_uniforms[] = {"u_q", "u_part", "u_kv_k", "u_kv_v", "u_kv_stride",
                                            "u_t0", "u_n", "u_chunk", "u_slot0"};

void gpu_attn_grid(const gpu_attn_args *a, gpu_step *st)
{
    st->gx = ceil_div(a->n, a->chunk);
    st->gy = a->hp->n_head;
}

pdvm_status gpu_plan_attn(gpu_kernels *k, const gpu_attn_args *a, gpu_step *st)
{
    const pdvm_hparams *hp = a->hp;
    gpu_defs d;
    gpu_defs_init(&d);
    gpu_defs_int(&d, "WG_SIZE", k->wg_attn);
    gpu_defs_int(&d, "HEAD_DIM", hp->head_dim);
    gpu_defs_int(&d, "GQA", hp->n_head / hp->n_head_kv);
    gpu_defs_int(&d, "MAX_SLOTS", a->max_slots);
    gpu_defs_float(&d, "SCALE", gpu_attn_scale(hp, a->scale));
    if (a->softcap > 0.0f) gpu_defs_float(&d, "SOFTCAP", a->softcap);
    gpu_prog *p;
    PDVM_TRY(gpu_prog_get(k, "attn", "attn", &d, attn_uniforms, N_NAMES(attn_uniforms), &p));
    step_init(st, p, 1, 1);
    gpu_attn_grid(a, st);
    st->buf[B_ACT] = a->act;
    st->buf[B_K] = a->kc;
    st->buf[B_V] = a->vc;
    const uint32_t v[] = {a->q, a->part, (uint32_t)a->kv_k, (uint32_t)a->kv_v, a->kv_stride,
                          a->t0, a->n, a->chunk, a->slot0};
    memcpy(st->val, v, sizeof v);
    return PDVM_OK;
}

pdvm_status gpu_op_attn(gpu_kernels *k, const gpu_attn_args *a) { RUN_NOW(gpu_plan_attn, k, a); }

static const char *const embd_uniforms[] = {"u_x", "u_rowb"};

pdvm_status gpu_plan_embd(gpu_kernels *k, const gpu_embd_args *a, gpu_step *st)
{
    PDVM_TRY(check_type(a->type));
    gpu_defs d;
    gpu_defs_init(&d);
    gpu_defs_int(&d, "WG_SIZE", k->wg_max);
    gpu_defs_int(&d, "N", a->n);
    gpu_defs_str(&d, "DEQ", gpu_type_find(a->type)->deq);
    if (a->scale != 0.0f && a->scale != 1.0f) gpu_defs_float(&d, "EMBD_SCALE", a->scale);
    gpu_prog *p;
    PDVM_TRY(gpu_prog_get(k, "embd", "embd", &d, embd_uniforms, N_NAMES(embd_uniforms), &p));
    step_init(st, p, ceil_div(a->n, k->wg_max), 1);
    st->buf[B_ACT] = a->act;
    st->buf[B_W] = a->w;
    st->val[0] = a->x;
    st->val[GPU_EMBD_U_ROWB] = (uint32_t)a->row_byte;
    return PDVM_OK;
}

pdvm_status gpu_op_embd(gpu_kernels *k, const gpu_embd_args *a) { RUN_NOW(gpu_plan_embd, k, a); }

static const char *const norm_uniforms[] = {"u_x", "u_y", "u_norm"};

pdvm_status gpu_plan_rmsnorm(gpu_kernels *k, const gpu_norm_args *a, gpu_step *st)
{
    gpu_defs d;
    gpu_defs_init(&d);
    gpu_defs_int(&d, "WG_SIZE", k->wg_max);
    gpu_defs_int(&d, "N", a->n);
    gpu_defs_float(&d, "EPS", a->eps);
    gpu_prog *p;
    PDVM_TRY(gpu_prog_get(k, "rmsnorm", "rmsnorm", &d, norm_uniforms, N_NAMES(norm_uniforms), &p));
    step_init(st, p, ceil_div(a->n, k->wg_max), a->n_vec ? a->n_vec : 1);
    st->buf[B_ACT] = a->act;
    st->buf[B_W] = a->w;
    const uint32_t v[] = {a->x, a->y, (uint32_t)(a->norm_byte / 4)};
    memcpy(st->val, v, sizeof v);
    return PDVM_OK;
}

pdvm_status gpu_op_rmsnorm(gpu_kernels *k, const gpu_norm_args *a)
{
    RUN_NOW(gpu_plan_rmsnorm, k, a);
}

static const char *const rope_uniforms[] = {"u_x", "u_nheads", "u_cs"};

pdvm_status gpu_plan_rope(gpu_kernels *k, const gpu_rope_args *a, gpu_step *st)
{
    const pdvm_hparams *hp = a->hp;
    gpu_defs d;
    gpu_defs_init(&d);
    gpu_defs_int(&d, "WG_SIZE", k->wg_max);
    gpu_defs_int(&d, "HEAD_DIM", hp->head_dim);
    gpu_defs_int(&d, "N_ROT", hp->n_rot);
    gpu_defs_int(&d, "ROPE_NEOX", hp->rope_type == PDVM_ROPE_NEOX);
    gpu_prog *p;
    PDVM_TRY(gpu_prog_get(k, "rope", "rope", &d, rope_uniforms, N_NAMES(rope_uniforms), &p));
    uint32_t pairs = a->n_heads * (hp->n_rot / 2);
    step_init(st, p, pairs ? ceil_div(pairs, k->wg_max) : 1, 1);
    st->buf[B_ACT] = a->act;
    const uint32_t v[] = {a->x, a->n_heads, a->cs};
    memcpy(st->val, v, sizeof v);
    return PDVM_OK;
}

pdvm_status gpu_op_rope(gpu_kernels *k, const gpu_rope_args *a) { RUN_NOW(gpu_plan_rope, k, a); }

static const char *const kvw_uniforms[] = {"u_k", "u_v", "u_kv_k", "u_kv_v", "u_kv_stride",
                                           "u_kv_t"};

pdvm_status gpu_plan_kv_write(gpu_kernels *k, const gpu_kv_args *a, gpu_step *st)
{
    gpu_defs d;
    gpu_defs_init(&d);
    gpu_defs_int(&d, "WG_SIZE", k->wg_max);
    gpu_defs_int(&d, "HEAD_DIM", a->hp->head_dim);
    gpu_defs_int(&d, "N_HEAD_KV", a->hp->n_head_kv);
    gpu_prog *p;
    PDVM_TRY(gpu_prog_get(k, "kv_write", "kv_write", &d, kvw_uniforms, N_NAMES(kvw_uniforms), &p));
    step_init(st, p, ceil_div(a->hp->n_head_kv * a->hp->head_dim, k->wg_max), 1);
    st->buf[B_ACT] = a->act;
    st->buf[B_K] = a->kc;
    st->buf[B_V] = a->vc;
    const uint32_t v[] = {a->k, a->v, (uint32_t)a->kv_k, (uint32_t)a->kv_v, a->kv_stride, a->t0};
    memcpy(st->val, v, sizeof v);
    return PDVM_OK;
}

static void attn_defines(gpu_kernels *k, const gpu_kv_args *a, bool scores, gpu_defs *d)
{
    const pdvm_hparams *hp = a->hp;
    gpu_defs_init(d);
    gpu_defs_int(d, "WG_SIZE", k->wg_attn);
    gpu_defs_int(d, "HEAD_DIM", hp->head_dim);
    gpu_defs_int(d, "GQA", hp->n_head / hp->n_head_kv);
    if (!scores) return;
    gpu_defs_float(d, "SCALE", gpu_attn_scale(hp, a->scale));
    if (a->softcap > 0.0f) gpu_defs_float(d, "SOFTCAP", a->softcap);
}

float gpu_attn_scale(const pdvm_hparams *hp, float scale)
{
    return scale != 0.0f ? scale : 1.0f / sqrtf((float)hp->head_dim);
}

static const char *const scores_uniforms[] = {"u_q",  "u_h0", "u_kv_k", "u_kv_stride",
                                              "u_t0", "u_n",  "u_s0",   "u_sstride"};

void gpu_scores_grid(const gpu_kernels *k, uint32_t n, gpu_step *st)
{
    st->gx = ceil_div(n, k->wg_attn);
}

pdvm_status gpu_plan_attn_scores(gpu_kernels *k, const gpu_kv_args *a, gpu_step *st)
{
    gpu_defs d;
    attn_defines(k, a, true, &d);
    gpu_prog *p;
    PDVM_TRY(gpu_prog_get(k, "attn_scores", "attn_scores", &d, scores_uniforms,
                          N_NAMES(scores_uniforms), &p));
    step_init(st, p, 1, a->n_heads);
    gpu_scores_grid(k, a->n, st);
    st->buf[B_ACT] = a->act;
    st->buf[B_SCORES] = a->scores;
    st->buf[B_K] = a->kc;
    const uint32_t v[] = {a->q, a->h0, (uint32_t)a->kv_k, a->kv_stride, a->t0, a->n, a->s0,
                          a->s_stride};
    memcpy(st->val, v, sizeof v);
    return PDVM_OK;
}

static const char *const softmax_uniforms[] = {"u_n", "u_sstride"};

pdvm_status gpu_plan_attn_softmax(gpu_kernels *k, const gpu_kv_args *a, gpu_step *st)
{
    gpu_defs d;
    gpu_defs_init(&d);
    gpu_defs_int(&d, "WG_SIZE", k->wg_attn);
    gpu_prog *p;
    PDVM_TRY(gpu_prog_get(k, "attn_softmax", "attn_softmax", &d, softmax_uniforms,
                          N_NAMES(softmax_uniforms), &p));
    step_init(st, p, a->n_heads, 1);
    st->buf[B_SCORES] = a->scores;
    st->val[GPU_SOFTMAX_U_N] = a->n;
    st->val[1] = a->s_stride;
    return PDVM_OK;
}

static const char *const wsum_uniforms[] = {"u_att", "u_h0", "u_kv_v", "u_kv_stride", "u_t0",
                                            "u_n", "u_s0", "u_sstride", "u_accumulate"};

pdvm_status gpu_plan_attn_wsum(gpu_kernels *k, const gpu_kv_args *a, gpu_step *st)
{
    gpu_defs d;
    attn_defines(k, a, false, &d);
    gpu_prog *p;
    PDVM_TRY(gpu_prog_get(k, "attn_wsum", "attn_wsum", &d, wsum_uniforms, N_NAMES(wsum_uniforms),
                          &p));
    step_init(st, p, a->n_heads, 1);
    st->buf[B_ACT] = a->act;
    st->buf[B_SCORES] = a->scores;
    st->buf[B_V] = a->vc;
    const uint32_t v[] = {a->att, a->h0, (uint32_t)a->kv_v, a->kv_stride, a->t0, a->n, a->s0,
                          a->s_stride, a->accumulate};
    memcpy(st->val, v, sizeof v);
    return PDVM_OK;
}

pdvm_status gpu_op_kv_write(gpu_kernels *k, const gpu_kv_args *a)
{
    RUN_NOW(gpu_plan_kv_write, k, a);
}
pdvm_status gpu_op_attn_scores(gpu_kernels *k, const gpu_kv_args *a)
{
    RUN_NOW(gpu_plan_attn_scores, k, a);
}
pdvm_status gpu_op_attn_softmax(gpu_kernels *k, const gpu_kv_args *a)
{
    RUN_NOW(gpu_plan_attn_softmax, k, a);
}
pdvm_status gpu_op_attn_wsum(gpu_kernels *k, const gpu_kv_args *a)
{
    RUN_NOW(gpu_plan_attn_wsum, k, a);
}

static const char *const add_uniforms[] = {"u_x", "u_y", "u_n"};
static const char *const swiglu_uniforms[] = {"u_gate", "u_up", "u_y", "u_n"};
static const char *const bias_uniforms[] = {"u_y", "u_b", "u_n"};
static const char *const softcap_uniforms[] = {"u_y", "u_n"};

static gpu_defs ew_defs(const gpu_kernels *k)
{
    gpu_defs d;
    gpu_defs_init(&d);
    gpu_defs_int(&d, "WG_SIZE", k->wg_max);
    return d;
}

/* An element-wise kernel over n values: one invocation each. */
static pdvm_status ew_step(gpu_kernels *k, const char *name, const gpu_defs *d,
                           const char *const *uniforms, size_t n_uniforms, const gpu_ew_args *a,
                           const uint32_t *v, size_t n_v, gpu_step *st)
{
    gpu_prog *p;
    PDVM_TRY(gpu_prog_get(k, name, name, d, uniforms, n_uniforms, &p));
    step_init(st, p, ceil_div(a->n, k->wg_max), 1);
    st->buf[B_ACT] = a->act;
    memcpy(st->val, v, n_v * sizeof *v);
    return PDVM_OK;
}

pdvm_status gpu_plan_add(gpu_kernels *k, const gpu_ew_args *a, gpu_step *st)
{
    gpu_defs d = ew_defs(k);
    const uint32_t v[] = {a->x, a->y, a->n};
    return ew_step(k, "add", &d, add_uniforms, N_NAMES(add_uniforms), a, v, N_NAMES(v), st);
}

pdvm_status gpu_plan_swiglu(gpu_kernels *k, const gpu_ew_args *a, gpu_step *st)
{
    gpu_defs d = ew_defs(k);
    gpu_defs_int(&d, "ACT", a->act_fn);
    const uint32_t v[] = {a->gate, a->up, a->y, a->n};
    return ew_step(k, "swiglu", &d, swiglu_uniforms, N_NAMES(swiglu_uniforms), a, v, N_NAMES(v),
                   st);
}

pdvm_status gpu_plan_bias(gpu_kernels *k, const gpu_ew_args *a, gpu_step *st)
{
    gpu_defs d = ew_defs(k);
    const uint32_t v[] = {a->y, (uint32_t)(a->b_byte / 4), a->n};
    PDVM_TRY(ew_step(k, "bias", &d, bias_uniforms, N_NAMES(bias_uniforms), a, v, N_NAMES(v), st));
    st->buf[B_W] = a->w;
    return PDVM_OK;
}

pdvm_status gpu_plan_softcap(gpu_kernels *k, const gpu_ew_args *a, gpu_step *st)
{
    gpu_defs d = ew_defs(k);
    gpu_defs_float(&d, "SOFTCAP", a->cap);
    const uint32_t v[] = {a->y, a->n};
    return ew_step(k, "softcap", &d, softcap_uniforms, N_NAMES(softcap_uniforms), a, v,
                   N_NAMES(v), st);
}

pdvm_status gpu_op_add(gpu_kernels *k, const gpu_ew_args *a) { RUN_NOW(gpu_plan_add, k, a); }
pdvm_status gpu_op_swiglu(gpu_kernels *k, const gpu_ew_args *a) { RUN_NOW(gpu_plan_swiglu, k, a); }

uint32_t gpu_max_slots_fit(const gpu_kernels *k, const pdvm_hparams *hp, uint32_t want)
{
    /* matvec's combine keeps n_head * slots weights in shared memory; give
     * them at most a quarter, the rest is for the staged input vector and
     * the reductions. */
    int64_t budget = (int64_t)k->lim->max_shared_bytes / 4;
    int64_t fit = budget / (4 * (int64_t)hp->n_head);
    if (fit <= 0) return 0;
    return (uint64_t)fit < want ? (uint32_t)fit : want;
}

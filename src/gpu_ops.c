/* Launchers of the model kernels (see gpu_ops.h): defines, bindings,
 * uniforms, grid. */
#include "gpu_ops.h"

#include <math.h>
#include <string.h>

#include "error.h"
#include "gpu_types.h"
#include "quant.h"

enum { B_ACT = 0, B_W = 1, B_SCORES = 1, B_K = 2, B_V = 3 };

static uint32_t ceil_div(uint32_t a, uint32_t b) { return (a + b - 1) / b; }

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

static void bind(gpu_kernels *k, uint32_t binding, const pdvm_gl_buffer *b)
{
    pdvm_gl_bind(k->gl, binding, b, 0, 0);
}

pdvm_status gpu_op_matvec(gpu_kernels *k, const gpu_mv_args *a)
{
    PDVM_TRY(check_type(a->type_a));
    uint32_t sh_w = a->in_mode == GPU_IN_COMBINE ? a->n_head * a->max_slots * 4 : 0;
    mv_layout m = layout_for(k, a->n_in, sh_w, true);
    gpu_defs d;
    gpu_defs_init(&d);
    layout_defines(&d, &m);
    gpu_defs_int(&d, "N_IN", a->n_in);
    gpu_defs_int(&d, "IN_MODE", a->in_mode);
    gpu_defs_int(&d, "OUT_MODE", a->out_mode);
    /* matvec.comp declares 4 storage blocks with the uvec4 view: within
     * the GLES 3.1 minimum. */
    gpu_defs_int(&d, "WB4", 1);
    gpu_defs_str(&d, "DOT_A", dot_for(true, a->type_a, a->rb_a, a->a_byte));
    gpu_defs_int(&d, "RB_A", (long long)a->rb_a);
    if (a->out_mode == GPU_OUT_SWIGLU) {
        PDVM_TRY(check_type(a->type_b));
        gpu_defs_str(&d, "DOT_B", dot_for(true, a->type_b, a->rb_b, a->b_byte));
        gpu_defs_int(&d, "RB_B", (long long)a->rb_b);
    }
    if (a->in_mode == GPU_IN_NORM) gpu_defs_float(&d, "EPS", a->eps);
    if (a->in_mode == GPU_IN_COMBINE) {
        gpu_defs_int(&d, "N_HEAD", a->n_head);
        gpu_defs_int(&d, "HEAD_DIM", a->head_dim);
        gpu_defs_int(&d, "MAX_SLOTS", a->max_slots);
    }
    gpu_prog *p;
    /* Which fused step a mat-vec is, for the per-dispatch profile. */
    static const char *const label[3][3] = {
        {"matvec", "matvec+add", "matvec+swiglu"},
        {"norm+matvec", "norm+matvec+add", "norm+matvec+swiglu"},
        {"combine+matvec", "combine+matvec+add", "combine+matvec+swiglu"},
    };
    PDVM_TRY(gpu_prog_get_named(k, "matvec", label[a->in_mode % 3][a->out_mode % 3], &d, &p));
    bind(k, B_ACT, a->act);
    bind(k, B_W, a->w);
    gpu_u32(p, "u_x", a->x);
    gpu_u32(p, "u_y", a->y);
    gpu_u32(p, "u_norm", (uint32_t)(a->norm_byte / 4));
    gpu_u32(p, "u_a", (uint32_t)a->a_byte);
    gpu_u32(p, "u_b", (uint32_t)a->b_byte);
    gpu_u32(p, "u_nrows", a->n_rows);
    gpu_u32(p, "u_row0", a->row0);
    gpu_u32(p, "u_nslots", a->n_slots);
    return gpu_launch_folded(k, p, ceil_div(a->n_rows, m.rpw));
}

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
static mv_layout qkv_layout(const gpu_kernels *k, const pdvm_hparams *hp, uint32_t *slice,
                            uint32_t *split, uint32_t *units)
{
    uint32_t rpw = layout_for(k, hp->n_embd, 0, false).rpw; /* sh_row: UNITS * SLICE floats */
    mv_layout m = layout_for(k, hp->n_embd, (rpw > hp->head_dim ? rpw : hp->head_dim) * 4, false);
    gpu_qkv_slice(hp, m.rpw > 8 ? m.rpw : 8, slice, split);
    *units = m.rpw > *slice ? m.rpw / *slice : 1;
    return m;
}

static void qkv_defines(gpu_kernels *k, const gpu_qkv_args *a, gpu_defs *d)
{
    const pdvm_hparams *hp = a->hp;
    uint32_t slice, split, units;
    mv_layout m = qkv_layout(k, hp, &slice, &split, &units);
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
}

pdvm_status gpu_op_qkv(gpu_kernels *k, const gpu_qkv_args *a)
{
    for (int i = 0; i < 3; i++) PDVM_TRY(check_type(a->type[i]));
    gpu_defs d;
    qkv_defines(k, a, &d);
    gpu_prog *p;
    PDVM_TRY(gpu_prog_get(k, "qkv", &d, &p));
    uint32_t slice, split, units;
    qkv_layout(k, a->hp, &slice, &split, &units);
    bind(k, B_ACT, a->act);
    bind(k, B_W, a->w);
    bind(k, B_K, a->kc);
    bind(k, B_V, a->vc);
    gpu_u32(p, "u_x", a->x);
    gpu_u32(p, "u_q", a->q);
    gpu_u32(p, "u_cs", a->cs);
    gpu_u32(p, "u_norm", (uint32_t)(a->norm_byte / 4));
    gpu_u32(p, "u_head0", a->head0);
    gpu_u32(p, "u_nheads", a->n_heads);
    gpu_u32(p, "u_qb", (uint32_t)a->base_byte[0]);
    gpu_u32(p, "u_kb", (uint32_t)a->base_byte[1]);
    gpu_u32(p, "u_vb", (uint32_t)a->base_byte[2]);
    gpu_u32(p, "u_qr", a->first_row[0]);
    gpu_u32(p, "u_kr", a->first_row[1]);
    gpu_u32(p, "u_vr", a->first_row[2]);
    gpu_u32(p, "u_kv_k", (uint32_t)a->kv_k);
    gpu_u32(p, "u_kv_v", (uint32_t)a->kv_v);
    gpu_u32(p, "u_kv_stride", a->kv_stride);
    gpu_u32(p, "u_kv_t", a->kv_t);
    return gpu_launch(k, p, ceil_div(a->n_heads * (a->hp->head_dim / slice), units), 1);
}

pdvm_status gpu_op_attn(gpu_kernels *k, const gpu_attn_args *a)
{
    const pdvm_hparams *hp = a->hp;
    gpu_defs d;
    gpu_defs_init(&d);
    gpu_defs_int(&d, "WG_SIZE", k->wg_attn);
    gpu_defs_int(&d, "HEAD_DIM", hp->head_dim);
    gpu_defs_int(&d, "GQA", hp->n_head / hp->n_head_kv);
    gpu_defs_int(&d, "MAX_SLOTS", a->max_slots);
    gpu_defs_float(&d, "SCALE", 1.0f / sqrtf((float)hp->head_dim));
    gpu_prog *p;
    PDVM_TRY(gpu_prog_get(k, "attn", &d, &p));
    bind(k, B_ACT, a->act);
    bind(k, B_K, a->kc);
    bind(k, B_V, a->vc);
    gpu_u32(p, "u_q", a->q);
    gpu_u32(p, "u_part", a->part);
    gpu_u32(p, "u_kv_k", (uint32_t)a->kv_k);
    gpu_u32(p, "u_kv_v", (uint32_t)a->kv_v);
    gpu_u32(p, "u_kv_stride", a->kv_stride);
    gpu_u32(p, "u_t0", a->t0);
    gpu_u32(p, "u_n", a->n);
    gpu_u32(p, "u_chunk", a->chunk);
    gpu_u32(p, "u_slot0", a->slot0);
    return gpu_launch(k, p, ceil_div(a->n, a->chunk), hp->n_head);
}

pdvm_status gpu_op_embd(gpu_kernels *k, const pdvm_gl_buffer *act, const pdvm_gl_buffer *w,
                        uint32_t type, uint32_t n, uint32_t x, uint64_t row_byte)
{
    PDVM_TRY(check_type(type));
    gpu_defs d;
    gpu_defs_init(&d);
    gpu_defs_int(&d, "WG_SIZE", k->wg_max);
    gpu_defs_int(&d, "N", n);
    gpu_defs_str(&d, "DEQ", gpu_type_find(type)->deq);
    gpu_prog *p;
    PDVM_TRY(gpu_prog_get(k, "embd", &d, &p));
    bind(k, B_ACT, act);
    bind(k, B_W, w);
    gpu_u32(p, "u_x", x);
    gpu_u32(p, "u_rowb", (uint32_t)row_byte);
    return gpu_launch(k, p, ceil_div(n, k->wg_max), 1);
}

pdvm_status gpu_op_rmsnorm(gpu_kernels *k, const pdvm_gl_buffer *act, const pdvm_gl_buffer *w,
                           uint32_t n, float eps, uint32_t x, uint32_t y, uint64_t norm_byte)
{
    gpu_defs d;
    gpu_defs_init(&d);
    gpu_defs_int(&d, "WG_SIZE", k->wg_max);
    gpu_defs_int(&d, "N", n);
    gpu_defs_float(&d, "EPS", eps);
    gpu_prog *p;
    PDVM_TRY(gpu_prog_get(k, "rmsnorm", &d, &p));
    bind(k, B_ACT, act);
    bind(k, B_W, w);
    gpu_u32(p, "u_x", x);
    gpu_u32(p, "u_y", y);
    gpu_u32(p, "u_norm", (uint32_t)(norm_byte / 4));
    return gpu_launch(k, p, ceil_div(n, k->wg_max), 1);
}

pdvm_status gpu_op_rope(gpu_kernels *k, const pdvm_gl_buffer *act, const pdvm_hparams *hp,
                        uint32_t x, uint32_t n_heads, uint32_t cs)
{
    gpu_defs d;
    gpu_defs_init(&d);
    gpu_defs_int(&d, "WG_SIZE", k->wg_max);
    gpu_defs_int(&d, "HEAD_DIM", hp->head_dim);
    gpu_defs_int(&d, "N_ROT", hp->n_rot);
    gpu_defs_int(&d, "ROPE_NEOX", hp->rope_type == PDVM_ROPE_NEOX);
    gpu_prog *p;
    PDVM_TRY(gpu_prog_get(k, "rope", &d, &p));
    bind(k, B_ACT, act);
    gpu_u32(p, "u_x", x);
    gpu_u32(p, "u_nheads", n_heads);
    gpu_u32(p, "u_cs", cs);
    uint32_t pairs = n_heads * (hp->n_rot / 2);
    return gpu_launch(k, p, pairs ? ceil_div(pairs, k->wg_max) : 1, 1);
}

pdvm_status gpu_op_kv_write(gpu_kernels *k, const gpu_kv_args *a)
{
    gpu_defs d;
    gpu_defs_init(&d);
    gpu_defs_int(&d, "WG_SIZE", k->wg_max);
    gpu_defs_int(&d, "HEAD_DIM", a->hp->head_dim);
    gpu_defs_int(&d, "N_HEAD_KV", a->hp->n_head_kv);
    gpu_prog *p;
    PDVM_TRY(gpu_prog_get(k, "kv_write", &d, &p));
    bind(k, B_ACT, a->act);
    bind(k, B_K, a->kc);
    bind(k, B_V, a->vc);
    gpu_u32(p, "u_k", a->k);
    gpu_u32(p, "u_v", a->v);
    gpu_u32(p, "u_kv_k", (uint32_t)a->kv_k);
    gpu_u32(p, "u_kv_v", (uint32_t)a->kv_v);
    gpu_u32(p, "u_kv_stride", a->kv_stride);
    gpu_u32(p, "u_kv_t", a->t0);
    return gpu_launch(k, p, ceil_div(a->hp->n_head_kv * a->hp->head_dim, k->wg_max), 1);
}

static void attn_defines(gpu_kernels *k, const pdvm_hparams *hp, bool scale, gpu_defs *d)
{
    gpu_defs_init(d);
    gpu_defs_int(d, "WG_SIZE", k->wg_attn);
    gpu_defs_int(d, "HEAD_DIM", hp->head_dim);
    gpu_defs_int(d, "GQA", hp->n_head / hp->n_head_kv);
    if (scale) gpu_defs_float(d, "SCALE", 1.0f / sqrtf((float)hp->head_dim));
}

pdvm_status gpu_op_attn_scores(gpu_kernels *k, const gpu_kv_args *a)
{
    gpu_defs d;
    attn_defines(k, a->hp, true, &d);
    gpu_prog *p;
    PDVM_TRY(gpu_prog_get(k, "attn_scores", &d, &p));
    bind(k, B_ACT, a->act);
    bind(k, B_SCORES, a->scores);
    bind(k, B_K, a->kc);
    gpu_u32(p, "u_q", a->q);
    gpu_u32(p, "u_h0", a->h0);
    gpu_u32(p, "u_kv_k", (uint32_t)a->kv_k);
    gpu_u32(p, "u_kv_stride", a->kv_stride);
    gpu_u32(p, "u_t0", a->t0);
    gpu_u32(p, "u_n", a->n);
    gpu_u32(p, "u_s0", a->s0);
    gpu_u32(p, "u_sstride", a->s_stride);
    return gpu_launch(k, p, ceil_div(a->n, k->wg_attn), a->n_heads);
}

pdvm_status gpu_op_attn_softmax(gpu_kernels *k, const gpu_kv_args *a)
{
    gpu_defs d;
    gpu_defs_init(&d);
    gpu_defs_int(&d, "WG_SIZE", k->wg_attn);
    gpu_prog *p;
    PDVM_TRY(gpu_prog_get(k, "attn_softmax", &d, &p));
    bind(k, B_SCORES, a->scores);
    gpu_u32(p, "u_n", a->n);
    gpu_u32(p, "u_sstride", a->s_stride);
    return gpu_launch(k, p, a->n_heads, 1);
}

pdvm_status gpu_op_attn_wsum(gpu_kernels *k, const gpu_kv_args *a)
{
    gpu_defs d;
    attn_defines(k, a->hp, false, &d);
    gpu_prog *p;
    PDVM_TRY(gpu_prog_get(k, "attn_wsum", &d, &p));
    bind(k, B_ACT, a->act);
    bind(k, B_SCORES, a->scores);
    bind(k, B_V, a->vc);
    gpu_u32(p, "u_att", a->att);
    gpu_u32(p, "u_h0", a->h0);
    gpu_u32(p, "u_kv_v", (uint32_t)a->kv_v);
    gpu_u32(p, "u_kv_stride", a->kv_stride);
    gpu_u32(p, "u_t0", a->t0);
    gpu_u32(p, "u_n", a->n);
    gpu_u32(p, "u_s0", a->s0);
    gpu_u32(p, "u_sstride", a->s_stride);
    gpu_u32(p, "u_accumulate", a->accumulate);
    return gpu_launch(k, p, a->n_heads, 1);
}

static pdvm_status simple_defs(gpu_kernels *k, const char *shader, gpu_prog **p)
{
    gpu_defs d;
    gpu_defs_init(&d);
    gpu_defs_int(&d, "WG_SIZE", k->wg_max);
    return gpu_prog_get(k, shader, &d, p);
}

pdvm_status gpu_op_add(gpu_kernels *k, const pdvm_gl_buffer *act, uint32_t x, uint32_t y,
                       uint32_t n)
{
    gpu_prog *p;
    PDVM_TRY(simple_defs(k, "add", &p));
    bind(k, B_ACT, act);
    gpu_u32(p, "u_x", x);
    gpu_u32(p, "u_y", y);
    gpu_u32(p, "u_n", n);
    return gpu_launch(k, p, ceil_div(n, k->wg_max), 1);
}

pdvm_status gpu_op_swiglu(gpu_kernels *k, const pdvm_gl_buffer *act, uint32_t gate, uint32_t up,
                          uint32_t y, uint32_t n)
{
    gpu_prog *p;
    PDVM_TRY(simple_defs(k, "swiglu", &p));
    bind(k, B_ACT, act);
    gpu_u32(p, "u_gate", gate);
    gpu_u32(p, "u_up", up);
    gpu_u32(p, "u_y", y);
    gpu_u32(p, "u_n", n);
    return gpu_launch(k, p, ceil_div(n, k->wg_max), 1);
}

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

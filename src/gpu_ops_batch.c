/* Planning of the batched kernels' dispatches (see gpu_ops_batch.h). */
#include "gpu_ops_batch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "gpu_ops_impl.h"
#include "gpu_types.h"

/* ------------------------------------------------------------ matmul */

/* Rows an invocation: two groups of 4 (in SwiGLU mode, 4 gate rows and
 * the 4 up rows that pair with them). */
enum { MM_KT = 32, MM_ROWS_PER_INV = 8 };

static uint64_t mm_shared(const gpu_mm_tile *t)
{
    /* sh_w, sh_x, sh_scale, and room for what the compiler adds. */
    return (uint64_t)t->kt * t->bm * 4 + (uint64_t)t->kt * t->bn * 4 + t->bn * 4 + 256;
}

/* Whether tile t (wg, bm, bn set) is well formed and within the device's
 * limits; sets nj and kt. */
static bool mm_tile_ok(const pdvm_gl_limits *l, gpu_mm_tile *t)
{
    if (t->bm % MM_ROWS_PER_INV || t->bm == 0 || t->bn == 0 || t->wg == 0) return false;
    uint32_t rg = t->bm / MM_ROWS_PER_INV;
    if (t->wg % rg) return false;
    uint32_t cg = t->wg / rg;
    if (t->bn % (4 * cg)) return false;
    t->nj = t->bn / (4 * cg);
    t->kt = MM_KT;
    if (t->nj > 2) return false; /* matmul.comp's register tile names 2 */
    return t->wg <= (uint32_t)l->max_invocations && t->wg <= (uint32_t)l->max_wg_size[0] &&
           mm_shared(t) <= (uint64_t)l->max_shared_bytes;
}

static pdvm_status mm_tile_env(const pdvm_gl_limits *l, gpu_mm_tile *t, bool *set)
{
    const char *v = getenv("PDVM_MM_TILE");
    *set = false;
    if (!v || !*v) return PDVM_OK;
    unsigned wg, bm, bn;
    char tail;
    if (sscanf(v, "%u,%u,%u%c", &wg, &bm, &bn, &tail) != 3)
        return pdvm_fail(PDVM_ERR_INVALID_ARG, "PDVM_MM_TILE '%s': expected WG,BM,BN "
                                               "(e.g. 256,128,128)", v);
    *t = (gpu_mm_tile){.wg = wg, .bm = bm, .bn = bn};
    if (!mm_tile_ok(l, t))
        return pdvm_fail(PDVM_ERR_INVALID_ARG, "PDVM_MM_TILE '%s': not a tile this device runs "
                         "(BM a multiple of 8, WG a multiple of BM/8, BN a multiple of "
                         "4 WG/(BM/8), within %d invocations and %d bytes of shared memory)", v,
                         l->max_invocations, l->max_shared_bytes);
    *set = true;
    return PDVM_OK;
}

pdvm_status gpu_mm_tile_for(const gpu_kernels *k, uint32_t n_tok, gpu_mm_tile *out)
{
    const pdvm_gl_limits *l = k->lim;
    /* Best first. 128 x 128 in 256 invocations (8 x 8 outputs each, 32
     * KiB) where 48 KiB of shared memory allow it; llvmpipe's 32 KiB take
     * 128 x 64; the GLES minimums 64 x 32. On the H200 the kernel alone
     * (`pdvm bench --kernel matmul --rows 14336 --cols 4096 -p 512`, q4_0)
     * runs 128 x 64 faster (12.6 TFLOP/s against 10.8), but in the model,
     * where the SwiGLU mode's 128-row tile holds 64 output rows, the
     * llama-3-8b q4_0 prefill of 512 tokens ran at 836 tokens/s with 128 x
     * 128 everywhere, 810 with 128 x 64 outside the SwiGLU mode and 624
     * with 128 x 64 everywhere (`pdvm bench --synthetic llama-3-8b -p 512`,
     * PDVM_MM_TILE). */
    static const gpu_mm_tile wide[] = {
        {256, 128, 128, 0, 0}, {256, 128, 64, 0, 0}, {128, 128, 64, 0, 0},
        {128, 64, 64, 0, 0},   {64, 64, 32, 0, 0},   {32, 32, 32, 0, 0},
        {16, 32, 16, 0, 0},
    };
    (void)n_tok; /* fewer than GPU_MM_SMALL_BATCH go to matmul_few.comp */
    bool set;
    PDVM_TRY(mm_tile_env(l, out, &set));
    if (set) return PDVM_OK;
    for (size_t i = 0; i < N_NAMES(wide); i++) {
        gpu_mm_tile t = wide[i];
        if (mm_tile_ok(l, &t)) {
            *out = t;
            return PDVM_OK;
        }
    }
    return pdvm_fail(PDVM_ERR_GPU, "GPU backend: no mat-mat tile fits %d invocations and %d "
                                   "bytes of shared memory", l->max_invocations,
                     l->max_shared_bytes);
}

static const char *const mm_uniforms[] = {"u_x", "u_xs", "u_map", "u_y", "u_ys", "u_norm",
                                          "u_a", "u_b", "u_nrows", "u_row0", "u_ntok"};

static pdvm_status seg_for(uint32_t type, const char **name)
{
    PDVM_TRY(gpu_type_check(type, NULL));
    *name = gpu_type_find(type)->seg;
    return PDVM_OK;
}

/* The defines both mat-mat kernels share. */
static pdvm_status mm_common_defines(const gpu_mm_args *a, gpu_defs *d)
{
    const char *seg_a, *seg_b = NULL;
    PDVM_TRY(seg_for(a->type_a, &seg_a));
    bool glu = a->out_mode == GPU_OUT_SWIGLU;
    if (glu) PDVM_TRY(seg_for(a->type_b, &seg_b));
    gpu_defs_init(d);
    gpu_defs_int(d, "N_IN", a->n_in);
    gpu_defs_int(d, "IN_MODE", a->in_mode == GPU_IN_NORM);
    gpu_defs_int(d, "OUT_MODE", a->out_mode);
    gpu_defs_int(d, "MAP_ROWS", a->map != GPU_MM_NO_MAP);
    gpu_defs_str(d, "SEG_A", seg_a);
    gpu_defs_int(d, "RB_A", (long long)a->rb_a);
    if (glu) {
        gpu_defs_str(d, "SEG_B", seg_b);
        gpu_defs_int(d, "RB_B", (long long)a->rb_b);
    }
    if (a->in_mode == GPU_IN_NORM) gpu_defs_float(d, "EPS", a->eps);
    return PDVM_OK;
}

/* The program of shader (matmul or matmul_few) with defines d, its
 * dispatches named after the fused ends, e.g. "norm+matmul+swiglu". */
static pdvm_status mm_prog(gpu_kernels *k, const char *shader, const gpu_mm_args *a,
                           const gpu_defs *d, gpu_prog **p)
{
    static const char *const out[3] = {"", "+add", "+swiglu"};
    char label[40];
    snprintf(label, sizeof label, "%s%s%s", a->in_mode == GPU_IN_NORM ? "norm+" : "", shader,
             out[a->out_mode % 3]);
    return gpu_prog_get(k, shader, label, d, mm_uniforms, N_NAMES(mm_uniforms), p);
}

static void mm_bind(const gpu_mm_args *a, gpu_step *st)
{
    st->buf[B_ACT] = a->act;
    st->buf[B_W] = a->w;
    const uint32_t v[] = {a->x, a->x_stride, a->map == GPU_MM_NO_MAP ? 0 : a->map, a->y,
                          a->y_stride, (uint32_t)(a->norm_byte / 4), (uint32_t)a->a_byte,
                          (uint32_t)a->b_byte, a->n_rows, a->row0, a->n_tok};
    memcpy(st->val, v, sizeof v);
}

/* ------------------------------------------------------- matmul_few */

/* Shared bytes of matmul_few.comp's layout f (x_tile_seg 0: inputs not
 * staged): the staged inputs, the row sums' reduction tree and the norm's
 * (without subgroups), and room for what the compiler adds. */
static int64_t few_shared(const gpu_mm_few *f, bool sub)
{
    int64_t tree = sub ? 0 : (int64_t)(3 * f->nt) * f->wg * 4 + (int64_t)f->wg * 4;
    return (int64_t)f->nt * 128 * f->x_tile_seg + tree + 256;
}

pdvm_status gpu_mm_few_for(const gpu_kernels *k, uint32_t n_tok, uint32_t n_rows, uint32_t n_in,
                           gpu_mm_few *out)
{
    const pdvm_gl_limits *l = k->lim;
    gpu_mm_few f = {.nt = GPU_MM_FEW_NT, .nr = 2, .x_shared = true};
    while (f.nt / 2 >= n_tok && f.nt > 1) f.nt /= 2;
    const char *v = getenv("PDVM_MM_FEW");
    unsigned wg = 0, nr, xs;
    char tail;
    if (v && *v) {
        if (sscanf(v, "%u,%u,%u%c", &wg, &nr, &xs, &tail) != 3 || wg < 32 || (nr != 1 && nr != 2) ||
            xs > 1)
            return pdvm_fail(PDVM_ERR_INVALID_ARG, "PDVM_MM_FEW '%s': expected WG,NR,XSHARED "
                                                   "(WG >= 32, NR 1 or 2, XSHARED 0 or 1)", v);
        f.nr = nr;
        f.x_shared = xs;
    }
    bool sub_ok = l->subgroup && l->subgroup_size;
    uint32_t lanes_guess = sub_ok ? l->subgroup_size : 16;
    if (!wg) {
        /* Wide workgroups: more rows share each staged tile of inputs. On
         * the H200, q4_0, 8 tokens (`pdvm bench --kernel matmul -p 8`,
         * PDVM_MM_FEW): 14336 x 4096 110 us at 512 invocations, 129 at
         * 256, 224 at 128; 4096 x 14336 92, 131, 296 (only 128
         * workgroups at 512, yet the fastest); 1024 leaves 64 registers an
         * invocation. Narrower only where the rows leave fewer than 64
         * workgroups. */
        wg = 512;
        while (wg > 128 && ceil_div(n_rows, wg / lanes_guess * f.nr) < 64) wg /= 2;
    }
    f.wg = gpu_pow2_ceil(wg) == wg ? wg : gpu_pow2_ceil(wg) / 2; /* reduce.glsl's tree */
    while (f.wg > (uint32_t)l->max_invocations || f.wg > (uint32_t)l->max_wg_size[0]) f.wg /= 2;
    uint32_t n_seg = ceil_div(n_in, 32);
    for (;; f.wg /= 2) {
        /* Lanes per row without subgroups as for the mat-vec (at least 4
         * segments a lane: few barrier steps in the reduction). */
        uint32_t tpr = 1;
        while (tpr * 2 * 4 <= gpu_pow2_ceil(n_seg) && tpr * 2 <= f.wg) tpr *= 2;
        f.tpr_shared = tpr;
        bool sub = sub_ok && f.wg % l->subgroup_size == 0;
        uint32_t lanes = sub ? l->subgroup_size : tpr;
        f.x_tile_seg = 0;
        int64_t left = l->max_shared_bytes - few_shared(&f, sub);
        /* Whole tiles of lanes (each lane the same share of a tile). */
        int64_t fit = left > 0 ? left / (f.nt * 128) / lanes * lanes : 0;
        bool staged = (v && *v ? f.x_shared : true) && fit >= lanes;
        f.x_shared = staged;
        f.x_tile_seg = staged ? (fit >= n_seg ? n_seg : (uint32_t)fit) : n_seg;
        f.rows_wg = f.wg / lanes * f.nr;
        if (left >= 0) break;
        if (f.wg <= 32)
            return pdvm_fail(PDVM_ERR_GPU, "GPU backend: the few-token mat-mat kernel does not "
                                           "fit %d bytes of shared memory", l->max_shared_bytes);
    }
    *out = f;
    return PDVM_OK;
}

static pdvm_status plan_few(gpu_kernels *k, const gpu_mm_args *a, gpu_step *st)
{
    gpu_mm_few f;
    PDVM_TRY(gpu_mm_few_for(k, a->n_tok, a->n_rows, a->n_in, &f));
    bool glu = a->out_mode == GPU_OUT_SWIGLU;
    gpu_defs d;
    PDVM_TRY(mm_common_defines(a, &d));
    gpu_defs_int(&d, "WG_SIZE", f.wg);
    gpu_defs_int(&d, "TPR_SHARED", f.tpr_shared);
    gpu_defs_int(&d, "NT", f.nt);
    gpu_defs_int(&d, "NR", f.nr);
    gpu_defs_int(&d, "X_SHARED", f.x_shared);
    gpu_defs_int(&d, "X_TILE_SEG", f.x_tile_seg);
    gpu_defs_int(&d, "X4", a->x % 4 == 0 && a->x_stride % 4 == 0);
    gpu_prog *p;
    PDVM_TRY(mm_prog(k, "matmul_few", a, &d, &p));
    uint32_t rows_wg = glu ? f.rows_wg / f.nr : f.rows_wg;
    step_init(st, p, ceil_div(a->n_rows, rows_wg) * ceil_div(a->n_tok, f.nt), 1);
    st->fold = true;
    mm_bind(a, st);
    return PDVM_OK;
}

/* ---------------------------------------------------- matmul (tiles) */

pdvm_status gpu_plan_matmul(gpu_kernels *k, const gpu_mm_args *a, gpu_step *st)
{
    if (a->n_tok <= GPU_MM_SMALL_BATCH) return plan_few(k, a, st);
    bool glu = a->out_mode == GPU_OUT_SWIGLU;
    gpu_mm_tile t;
    PDVM_TRY(gpu_mm_tile_for(k, a->n_tok, &t));
    gpu_defs d;
    PDVM_TRY(mm_common_defines(a, &d));
    gpu_defs_int(&d, "WG_SIZE", t.wg);
    gpu_defs_int(&d, "BM", t.bm);
    gpu_defs_int(&d, "BN", t.bn);
    gpu_defs_int(&d, "NJ", t.nj);
    gpu_defs_int(&d, "KT", t.kt);
    gpu_prog *p;
    PDVM_TRY(mm_prog(k, "matmul", a, &d, &p));
    uint32_t tile_rows = glu ? t.bm / 2 : t.bm;
    step_init(st, p, ceil_div(a->n_rows, tile_rows), ceil_div(a->n_tok, t.bn));
    mm_bind(a, st);
    return PDVM_OK;
}

pdvm_status gpu_op_matmul(gpu_kernels *k, const gpu_mm_args *a) { RUN_NOW(gpu_plan_matmul, k, a); }

/* ------------------------------------------------------- embd_batch */

static const char *const eb_uniforms[] = {"u_ids", "u_x", "u_off", "u_row0", "u_row1"};

pdvm_status gpu_plan_embd_batch(gpu_kernels *k, const gpu_embd_batch_args *a, gpu_step *st)
{
    PDVM_TRY(gpu_type_check(a->type, "token_embd"));
    uint32_t wg = k->wg_max < 64 ? k->wg_max : 64;
    gpu_defs d;
    gpu_defs_init(&d);
    gpu_defs_int(&d, "WG_SIZE", wg);
    gpu_defs_int(&d, "N", a->n_embd);
    gpu_defs_int(&d, "RB", (long long)a->row_bytes);
    gpu_defs_str(&d, "DEQ", gpu_type_find(a->type)->deq);
    gpu_prog *p;
    PDVM_TRY(gpu_prog_get(k, "embd_batch", "embd batch", &d, eb_uniforms, N_NAMES(eb_uniforms),
                          &p));
    step_init(st, p, ceil_div(a->n_embd, wg), a->n_tok);
    st->buf[B_ACT] = a->act;
    st->buf[B_W] = a->w;
    const uint32_t v[] = {a->ids, a->x, (uint32_t)a->off, a->row0, a->row1};
    memcpy(st->val, v, sizeof v);
    return PDVM_OK;
}

/* ---------------------------------------------- rope_kv / attn batch */

static void head_defs(gpu_defs *d, const pdvm_hparams *hp, uint32_t wg)
{
    gpu_defs_init(d);
    gpu_defs_int(d, "WG_SIZE", wg);
    gpu_defs_int(d, "HEAD_DIM", hp->head_dim);
    gpu_defs_int(d, "N_HEAD", hp->n_head);
    gpu_defs_int(d, "N_HEAD_KV", hp->n_head_kv);
}

static void bind_slab(gpu_step *st, const gpu_batch_slab *s)
{
    st->buf[2] = s->kc;
    st->buf[3] = s->vc;
}

/* The RoPE defines of rope.glsl. */
static void rope_defs(gpu_defs *d, const pdvm_hparams *hp)
{
    gpu_defs_int(d, "N_ROT", hp->n_rot);
    gpu_defs_int(d, "ROPE_NEOX", hp->rope_type == PDVM_ROPE_NEOX);
}

static const char *const rk_uniforms[] = {"u_qkv", "u_pos", "u_cs", "u_seq", "u_kvt",
                                          "u_buf", "u_kv_stride", "u_pos0"};

pdvm_status gpu_plan_rope_kv_batch(gpu_kernels *k, const gpu_rope_kv_args *a, gpu_step *st)
{
    const pdvm_hparams *hp = a->hp;
    uint32_t wg = k->wg_max < 64 ? k->wg_max : 64;
    gpu_defs d;
    head_defs(&d, hp, wg);
    rope_defs(&d, hp);
    gpu_prog *p;
    PDVM_TRY(gpu_prog_get(k, "rope_kv_batch", "rope+kv batch", &d, rk_uniforms,
                          N_NAMES(rk_uniforms), &p));
    uint32_t words = hp->n_head_kv * hp->head_dim; /* of k and v together */
    step_init(st, p, ceil_div(words, wg), a->n_tok);
    st->buf[B_ACT] = a->act;
    bind_slab(st, &a->slab);
    const uint32_t v[] = {a->qkv, a->pos, a->cs, a->slab.seq, a->slab.kvt,
                          a->slab.buf, a->slab.n_pos, a->slab.pos0};
    memcpy(st->val, v, sizeof v);
    return PDVM_OK;
}

static const char *const ab_uniforms[] = {"u_qkv", "u_pos", "u_cs", "u_out", "u_state",
                                          "u_first", "u_last", "u_seq", "u_kvt", "u_buf",
                                          "u_kv_stride", "u_pos0"};

pdvm_status gpu_plan_attn_batch(gpu_kernels *k, const gpu_attn_batch_args *a, gpu_step *st)
{
    const pdvm_hparams *hp = a->hp;
    uint32_t wg = k->wg_attn < 64 ? k->wg_attn : 64;
    gpu_defs d;
    head_defs(&d, hp, wg);
    gpu_defs_float(&d, "SCALE", gpu_attn_scale(hp, a->scale));
    gpu_defs_int(&d, "QKV_N", (hp->n_head + 2 * hp->n_head_kv) * hp->head_dim);
    rope_defs(&d, hp);
    gpu_prog *p;
    PDVM_TRY(gpu_prog_get(k, "attn_batch", "attention batch", &d, ab_uniforms,
                          N_NAMES(ab_uniforms), &p));
    step_init(st, p, hp->n_head, a->n_tok);
    st->buf[B_ACT] = a->act;
    bind_slab(st, &a->slab);
    const uint32_t v[] = {a->qkv, a->pos, a->cs, a->out, a->state, a->first, a->last,
                          a->slab.seq, a->slab.kvt, a->slab.buf, a->slab.n_pos, a->slab.pos0};
    memcpy(st->val, v, sizeof v);
    return PDVM_OK;
}

static const char *const bb_uniforms[] = {"u_y", "u_b", "u_n", "u_ys"};

pdvm_status gpu_plan_bias_batch(gpu_kernels *k, const gpu_bias_batch_args *a, gpu_step *st)
{
    gpu_defs d;
    gpu_defs_init(&d);
    gpu_defs_int(&d, "WG_SIZE", k->wg_max);
    gpu_defs_int(&d, "ROW_A_TOKEN", 1); /* its own program: the unfused one sets no u_ys */
    gpu_prog *p;
    PDVM_TRY(gpu_prog_get(k, "bias", "bias batch", &d, bb_uniforms, N_NAMES(bb_uniforms), &p));
    step_init(st, p, ceil_div(a->n, k->wg_max), a->n_tok);
    st->buf[B_ACT] = a->act;
    st->buf[B_W] = a->w;
    const uint32_t v[] = {a->y, (uint32_t)(a->b_byte / 4), a->n, a->y_stride};
    memcpy(st->val, v, sizeof v);
    return PDVM_OK;
}

pdvm_status gpu_op_attn_batch(gpu_kernels *k, const gpu_attn_batch_args *a)
{
    RUN_NOW(gpu_plan_attn_batch, k, a);
}

pdvm_status gpu_op_rope_kv_batch(gpu_kernels *k, const gpu_rope_kv_args *a)
{
    RUN_NOW(gpu_plan_rope_kv_batch, k, a);
}

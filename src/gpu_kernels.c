/* Program variants, uniform cache and launches (see gpu_kernels.h). */
#include "gpu_kernels.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "quant.h"
#include "util.h"


uint32_t gpu_pow2_ceil(uint32_t v)
{
    uint32_t p = 1;
    while (p < v && p < (1u << 31)) p *= 2;
    return p;
}

pdvm_status gpu_kernels_init(gpu_kernels *k, pdvm_gl *gl)
{
    memset(k, 0, sizeof *k);
    k->gl = gl;
    k->lim = pdvm_gl_get_limits(gl);
    /* Matrix-vector kernels: 512 invocations with subgroups, 2 rows per
     * subgroup (H200, `pdvm bench --kernel matvec` over 256..1024 x 1..4:
     * q4_0 4096x14336 24.7 us against 33.2 at 256 x 2, f16 40.2 against
     * 50.8: more rows share each staged input); 64 without, where every
     * row reduction costs barriers over the whole group (llvmpipe:
     * stories260K decode 1.5x faster than with 256). Attention: 128 (one
     * tile of positions). */
    /* PDVM_MV_WG and PDVM_MV_ROWS override the mat-vec layout, for tuning
     * on a new device with `pdvm bench --kernel matvec`. */
    uint32_t want = k->lim->subgroup ? 512 : 64;
    k->mv_rows_g = 2;
    PDVM_TRY(pdvm_env_u32("PDVM_MV_WG", 32, 1024, true, &want));
    PDVM_TRY(pdvm_env_u32("PDVM_MV_ROWS", 1, 8, false, &k->mv_rows_g));
    k->wg_max = pdvm_gl_wg_size(gl, want, 8);
    k->wg_attn = pdvm_gl_wg_size(gl, 128, 32);
    /* n_head * chunks attention workgroups keep a big GPU busy (chunks of
     * 64 halved attention time on an H100 against 256). Without subgroups
     * each workgroup pays its reductions in barriers, which dominate small
     * chunks on llvmpipe (stories260K at depth 1024: 2.2x faster with 512). */
    k->attn_min_chunk = k->lim->subgroup ? 64 : 512;
    if (k->wg_max < 32 || k->wg_attn < 16)
        return pdvm_fail(PDVM_ERR_GPU, "GPU backend: workgroups of %u invocations are too small "
                                       "(limits: %d invocations, %d bytes shared)",
                         k->wg_max, k->lim->max_invocations, k->lim->max_shared_bytes);
    return PDVM_OK;
}

void gpu_kernels_free(gpu_kernels *k)
{
    if (!k) return;
    for (size_t i = 0; i < k->n_progs; i++) {
        pdvm_gl_program_delete(k->gl, &k->progs[i]->prog);
        free(k->progs[i]->defines);
        free(k->progs[i]);
    }
    free(k->progs);
    free(k->prof);
    memset(k, 0, sizeof *k);
}

void gpu_defs_init(gpu_defs *d)
{
    d->text[0] = 0;
    d->len = 0;
    d->overflow = false;
}

static void defs_add(gpu_defs *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void defs_add(gpu_defs *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(d->text + d->len, sizeof d->text - d->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof d->text - d->len) {
        d->overflow = true;
        d->text[d->len] = 0;
        return;
    }
    d->len += (size_t)n;
}

void gpu_defs_int(gpu_defs *d, const char *name, long long v)
{
    defs_add(d, "#define %s %lld\n", name, v);
}

void gpu_defs_float(gpu_defs *d, const char *name, float v)
{
    /* %.9e always has a point and an exponent: a GLSL float literal that
     * round-trips the f32 value. */
    defs_add(d, "#define %s %.9e\n", name, (double)v);
}

void gpu_defs_str(gpu_defs *d, const char *name, const char *v)
{
    defs_add(d, "#define %s %s\n", name, v);
}

static pdvm_status store_prog(gpu_kernels *k, gpu_prog *p)
{
    if (k->n_progs == k->cap_progs) {
        size_t nc = k->cap_progs ? 2 * k->cap_progs : 16;
        gpu_prog **np = realloc(k->progs, nc * sizeof *np);
        if (!np) return pdvm_fail(PDVM_ERR_NOMEM, "GPU backend: program table of %zu", nc);
        k->progs = np;
        k->cap_progs = nc;
    }
    k->progs[k->n_progs++] = p;
    return PDVM_OK;
}

pdvm_status gpu_prog_get(gpu_kernels *k, const char *shader, const char *label,
                         const gpu_defs *d, const char *const *uni_names, uint32_t n_uni,
                         gpu_prog **out)
{
    if (d->overflow)
        return pdvm_fail(PDVM_ERR_GPU, "shader '%s': define preamble too long", shader);
    if (n_uni > GPU_MAX_UNIFORMS)
        return pdvm_fail(PDVM_ERR_GPU, "shader '%s': %u uniforms, at most %d", shader, n_uni,
                         GPU_MAX_UNIFORMS);
    for (size_t i = 0; i < k->n_progs; i++) {
        gpu_prog *p = k->progs[i];
        if (!strcmp(p->shader, shader) && !strcmp(p->defines, d->text)) {
            *out = p;
            return PDVM_OK;
        }
    }
    gpu_prog *p = calloc(1, sizeof *p);
    if (p) p->defines = strdup(d->text);
    if (!p || !p->defines) {
        free(p);
        return pdvm_fail(PDVM_ERR_NOMEM, "shader '%s': out of host memory", shader);
    }
    snprintf(p->shader, sizeof p->shader, "%s", shader);
    snprintf(p->label, sizeof p->label, "%s", label);
    p->uni_names = uni_names;
    p->n_uni = n_uni;
    pdvm_status st = store_prog(k, p);
    if (st != PDVM_OK) {
        free(p->defines);
        free(p);
        return st;
    }
    *out = p;
    return PDVM_OK;
}

static pdvm_status build_one(gpu_kernels *k, gpu_prog *p)
{
    PDVM_TRY(pdvm_gl_program_build(k->gl, p->shader, p->defines, &p->prog));
    for (uint32_t i = 0; i < p->n_uni; i++) {
        /* -1 for a uniform the compiler removed: setting it is skipped. */
        p->loc[i] = glGetUniformLocation(p->prog.id, p->uni_names[i]);
        p->cur_valid[i] = false;
    }
    return PDVM_OK;
}

/* A variant that failed to build leaves the table, so a later plan of
 * other variants builds cleanly (its steps were discarded with the plan). */
static void drop_prog(gpu_kernels *k, size_t i)
{
    free(k->progs[i]->defines);
    free(k->progs[i]);
    memmove(&k->progs[i], &k->progs[i + 1], (k->n_progs - i - 1) * sizeof *k->progs);
    k->n_progs--;
}

pdvm_status gpu_kernels_build(gpu_kernels *k, pdvm_progress_fn progress, void *user)
{
    size_t todo = 0, done = 0;
    for (size_t i = 0; i < k->n_progs; i++) todo += k->progs[i]->prog.id == 0;
    for (size_t i = 0; i < k->n_progs; i++) {
        gpu_prog *p = k->progs[i];
        if (p->prog.id) continue;
        pdvm_status st = build_one(k, p);
        if (st != PDVM_OK) {
            drop_prog(k, i);
            return st;
        }
        if (progress) progress("compiling shaders", ++done, todo, user);
    }
    return PDVM_OK;
}

static void set_uniforms(gpu_prog *p, const uint32_t *val)
{
    for (uint32_t i = 0; i < p->n_uni; i++) {
        if (p->cur_valid[i] && p->cur[i] == val[i]) continue;
        if (p->loc[i] >= 0) glProgramUniform1ui(p->prog.id, p->loc[i], val[i]);
        p->cur[i] = val[i];
        p->cur_valid[i] = true;
    }
}

static void prof_add(gpu_kernels *k, const char *name, double us)
{
    size_t i = 0;
    while (i < k->n_prof && strcmp(k->prof[i].name, name)) i++;
    if (i == k->n_prof) {
        if (k->n_prof == k->cap_prof) {
            size_t nc = k->cap_prof ? 2 * k->cap_prof : 16;
            gpu_prof_entry *np = realloc(k->prof, nc * sizeof *np);
            if (!np) return; /* profiling is best effort */
            k->prof = np;
            k->cap_prof = nc;
        }
        memset(&k->prof[i], 0, sizeof k->prof[i]);
        snprintf(k->prof[i].name, sizeof k->prof[i].name, "%s", name);
        k->n_prof++;
    }
    k->prof[i].calls++;
    k->prof[i].total_us += us;
}

static pdvm_status dispatch(gpu_kernels *k, gpu_prog *p, uint32_t gx, uint32_t gy)
{
    if (!k->profile) return pdvm_gl_dispatch(k->gl, &p->prog, gx, gy, 1);
    pdvm_gl_timer_begin(k->gl);
    pdvm_status st = pdvm_gl_dispatch(k->gl, &p->prog, gx, gy, 1);
    uint64_t ns = 0;
    pdvm_status st2 = pdvm_gl_timer_end(k->gl, &ns);
    if (st != PDVM_OK) return st;
    if (st2 == PDVM_OK) prof_add(k, p->label, (double)ns / 1e3);
    return PDVM_OK;
}

pdvm_status gpu_step_run(gpu_kernels *k, const gpu_step *st)
{
    for (uint32_t b = 0; b < GPU_STEP_BUFS; b++)
        if (st->buf[b]) pdvm_gl_bind(k->gl, b, st->buf[b], 0, 0);
    set_uniforms(st->prog, st->val);
    uint32_t max_x = (uint32_t)k->lim->max_wg_count[0];
    if (!st->fold || st->gx <= max_x) return dispatch(k, st->prog, st->gx, st->gy);
    /* x * y >= gx; the kernel skips the excess groups. */
    uint32_t gy = (st->gx + max_x - 1) / max_x;
    return dispatch(k, st->prog, (st->gx + gy - 1) / gy, gy);
}

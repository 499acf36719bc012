/* The session hooks of pdvm_bench.h: chain switch, seek, the bare mat-vec
 * kernel timed, and the small helpers the bench CLI shares with the engine. */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "gpu_ops.h"
#include "gpu_ops_batch.h"
#include "gpu_plan.h"
#include "gpu_types.h"
#include "model.h"
#include "pdvm_bench.h"
#include "quant.h"
#include "session.h"
#include "synth_fill.h"
#include "util.h"

pdvm_status pdvm_bench_set_unfused(pdvm_session *s, bool unfused)
{
    const pdvm_backend_ops *ops = s ? pdvm_session_ops(s) : NULL;
    if (!ops || !ops->set_unfused)
        return pdvm_fail(PDVM_ERR_INVALID_ARG, "pdvm_bench_set_unfused: not a GPU session");
    return ops->set_unfused(pdvm_session_state(s), unfused);
}

pdvm_status pdvm_bench_seek(pdvm_session *s, uint32_t pos)
{
    if (!s) return pdvm_fail(PDVM_ERR_INVALID_ARG, "pdvm_bench_seek: NULL session");
    return pdvm_session_set_pos(s, pos);
}

double pdvm_bench_median(double *v, size_t n) { return pdvm_median(v, n); }

const char *pdvm_bench_model_type(const pdvm_model *m)
{
    /* Most common type among the layer matrices (norms are always f32):
     * a q4_0 file with f16 ffn_down is still "q4_0". */
    uint32_t count[PDVM_TYPE_COUNT] = {0};
    for (uint32_t i = 0; i < m->hp.n_layer; i++) {
        const pdvm_tensor *t = &m->layers[i].attn_norm;
        for (size_t k = 0; k < sizeof(pdvm_layer) / sizeof(pdvm_tensor); k++)
            if (t[k].ne[1] > 1 && t[k].type < PDVM_TYPE_COUNT) count[t[k].type]++;
    }
    uint32_t best = 0;
    for (uint32_t t = 1; t < PDVM_TYPE_COUNT; t++)
        if (count[t] > count[best]) best = t;
    return pdvm_type_name(best);
}

bool pdvm_bench_parse_type(const char *name, uint32_t *type)
{
    return gpu_type_parse(name, type);
}

void pdvm_bench_type_names(char *buf, size_t cap) { gpu_type_names(buf, cap); }

const char *pdvm_bench_type_name(uint32_t type) { return pdvm_type_name(type); }

uint64_t pdvm_bench_row_bytes(uint32_t type, uint32_t cols)
{
    uint64_t rb = 0;
    return pdvm_type_row_bytes(type, cols, &rb) == PDVM_OK ? rb : 0;
}

/* One kernel call of a microbench: a mat-vec, or with n_tok > 0 the
 * batched mat-mat on the same operands. */
typedef struct bench_call {
    gpu_mv_args mv;
    uint32_t n_tok;
} bench_call;

static pdvm_status bench_call_run(gpu_kernels *k, const bench_call *c)
{
    if (!c->n_tok) return gpu_op_matvec(k, &c->mv);
    const gpu_mv_args *v = &c->mv;
    gpu_mm_args a = {
        .act = v->act, .w = v->w, .in_mode = GPU_IN_PLAIN, .out_mode = GPU_OUT_STORE,
        .n_in = v->n_in, .type_a = v->type_a, .rb_a = v->rb_a, .x = 0, .x_stride = v->n_in,
        .map = GPU_MM_NO_MAP, .y = v->y, .y_stride = v->n_rows, .n_rows = v->n_rows,
        .n_tok = c->n_tok,
    };
    return gpu_op_matmul(k, &a);
}

static pdvm_status time_calls(gpu_kernels *k, const bench_call *a, int reps, double *us)
{
    double *t = malloc((size_t)reps * sizeof *t);
    if (!t) return pdvm_fail(PDVM_ERR_NOMEM, "bench matvec: %d timings", reps);
    pdvm_status st = bench_call_run(k, a); /* build and warm up */
    for (int i = 0; i < reps && st == PDVM_OK; i++) {
        uint64_t ns = 0;
        pdvm_gl_timer_begin(k->gl);
        st = bench_call_run(k, a);
        pdvm_status st2 = pdvm_gl_timer_end(k->gl, &ns);
        if (st == PDVM_OK) st = st2;
        t[i] = (double)ns / 1e3;
    }
    if (st == PDVM_OK) *us = pdvm_median(t, (size_t)reps);
    free(t);
    return st;
}

/* Weights and n (1 for the mat-vec) input vectors on the device, then the
 * timed calls. */
static pdvm_status run_kernel(gpu_kernels *k, uint32_t type, uint64_t rb, uint32_t rows,
                              uint32_t cols, uint32_t n_tok, int reps, double *us)
{
    pdvm_gl *gl = k->gl;
    uint64_t bytes = rb * rows;
    size_t n = n_tok ? n_tok : 1, n_x = n * cols, n_f = n_x + n * rows;
    pdvm_gl_buffer w = {0}, act = {0};
    pdvm_status st = pdvm_gl_buffer_create(gl, pdvm_align_up(bytes, 16), NULL, &w);
    if (st == PDVM_OK) st = pdvm_synth_fill(gl, &w, 0, bytes, rb, type, 1234);
    float *x = calloc(n_f, sizeof *x);
    if (!x && st == PDVM_OK) st = pdvm_fail(PDVM_ERR_NOMEM, "bench kernel: vectors");
    for (size_t i = 0; x && i < n_x; i++)
        x[i] = (float)((i * 2654435761u) % 1000) / 1000.0f - 0.5f;
    if (st == PDVM_OK) st = pdvm_gl_buffer_create(gl, n_f * 4, x, &act);
    if (st == PDVM_OK) {
        bench_call a = {
            .mv = {.act = &act, .w = &w, .in_mode = GPU_IN_PLAIN, .out_mode = GPU_OUT_STORE,
                   .n_in = cols, .type_a = type, .rb_a = rb, .x = 0, .y = (uint32_t)n_x,
                   .n_rows = rows},
            .n_tok = n_tok,
        };
        st = time_calls(k, &a, reps, us);
    }
    free(x);
    if (act.id) pdvm_gl_buffer_delete(gl, &act);
    if (w.id) pdvm_gl_buffer_delete(gl, &w);
    return st;
}

pdvm_status pdvm_bench_matvec(pdvm_device *d, uint32_t type, uint32_t rows, uint32_t cols,
                              int reps, double *us)
{
    return pdvm_bench_matmul(d, type, rows, cols, 0, reps, us);
}

pdvm_status pdvm_bench_matmul(pdvm_device *d, uint32_t type, uint32_t rows, uint32_t cols,
                              uint32_t n_tok, int reps, double *us)
{
    uint64_t rb;
    if (!d || !us) return pdvm_fail(PDVM_ERR_INVALID_ARG, "bench matvec: NULL argument");
    if (!gpu_type_find(type) || pdvm_type_row_bytes(type, cols, &rb) != PDVM_OK)
        return pdvm_fail(PDVM_ERR_UNSUPPORTED, "bench matvec: no kernel for %s rows of %u",
                         pdvm_type_name(type), cols);
    if (reps < 1 || rows == 0) return pdvm_fail(PDVM_ERR_INVALID_ARG, "bench matvec: empty run");
    uint64_t block = gpu_block_limit(pdvm_gl_get_limits(d)->max_ssbo_bytes);
    if (rb * rows > block)
        return pdvm_fail(PDVM_ERR_UNSUPPORTED, "bench matvec: %llu bytes of weights exceed the "
                                               "block limit %llu",
                         (unsigned long long)(rb * rows), (unsigned long long)block);
    PDVM_TRY(pdvm_gl_make_current(d));
    gpu_kernels k;
    PDVM_TRY(gpu_kernels_init(&k, d));
    pdvm_status st = run_kernel(&k, type, rb, rows, cols, n_tok, reps, us);
    gpu_kernels_free(&k);
    return st;
}

/* The session hooks of pdvm_bench.h: chain switch, seek, the bare mat-vec
 * kernel timed, and the small helpers the bench CLI shares with the engine. */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "gpu_ops.h"
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

static pdvm_status time_calls(gpu_kernels *k, const gpu_mv_args *a, int reps, double *us)
{
    double *t = malloc((size_t)reps * sizeof *t);
    if (!t) return pdvm_fail(PDVM_ERR_NOMEM, "bench matvec: %d timings", reps);
    pdvm_status st = gpu_op_matvec(k, a); /* build and warm up */
    for (int i = 0; i < reps && st == PDVM_OK; i++) {
        uint64_t ns = 0;
        pdvm_gl_timer_begin(k->gl);
        st = gpu_op_matvec(k, a);
        pdvm_status st2 = pdvm_gl_timer_end(k->gl, &ns);
        if (st == PDVM_OK) st = st2;
        t[i] = (double)ns / 1e3;
    }
    if (st == PDVM_OK) *us = pdvm_median(t, (size_t)reps);
    free(t);
    return st;
}

/* Weights and an input vector on the device, then the timed calls. */
static pdvm_status run_matvec(gpu_kernels *k, uint32_t type, uint64_t rb, uint32_t rows,
                              uint32_t cols, int reps, double *us)
{
    pdvm_gl *gl = k->gl;
    uint64_t bytes = rb * rows;
    pdvm_gl_buffer w = {0}, act = {0};
    pdvm_status st = pdvm_gl_buffer_create(gl, pdvm_align_up(bytes, 16), NULL, &w);
    if (st == PDVM_OK) st = pdvm_synth_fill(gl, &w, 0, bytes, rb, type, 1234);
    float *x = calloc((size_t)cols + rows, sizeof *x);
    if (!x && st == PDVM_OK) st = pdvm_fail(PDVM_ERR_NOMEM, "bench matvec: vectors");
    for (uint32_t i = 0; x && i < cols; i++) x[i] = (float)((i * 2654435761u) % 1000) / 1000.0f - 0.5f;
    if (st == PDVM_OK) st = pdvm_gl_buffer_create(gl, ((uint64_t)cols + rows) * 4, x, &act);
    if (st == PDVM_OK) {
        gpu_mv_args a = {
            .act = &act, .w = &w, .in_mode = GPU_IN_PLAIN, .out_mode = GPU_OUT_STORE, .n_in = cols,
            .type_a = type, .rb_a = rb, .x = 0, .y = cols, .n_rows = rows,
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
    pdvm_status st = run_matvec(&k, type, rb, rows, cols, reps, us);
    gpu_kernels_free(&k);
    return st;
}

/* The hooks `pdvm bench` uses on a GPU backend state (gpu_bench_hooks.h):
 * chain switch, per-kernel timing, and the bare mat-vec kernel timed. */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "gpu_bench_hooks.h"
#include "gpu_ops.h"
#include "gpu_plan.h"
#include "gpu_state.h"
#include "gpu_types.h"
#include "quant.h"
#include "synth_fill.h"

pdvm_status pdvm_gpu_set_unfused(void *state, bool unfused)
{
    gpu_state *s = state;
    if (!s) return pdvm_fail(PDVM_ERR_INVALID_ARG, "pdvm_gpu_set_unfused: no GPU state");
    s->unfused = unfused;
    return PDVM_OK;
}

pdvm_status pdvm_gpu_profile(void *state, bool on)
{
    gpu_state *s = state;
    if (!s) return pdvm_fail(PDVM_ERR_INVALID_ARG, "pdvm_gpu_profile: no GPU state");
    if (on && !s->k.profile) s->k.n_prof = 0;
    s->k.profile = on;
    return PDVM_OK;
}

static int by_total_desc(const void *a, const void *b)
{
    double x = ((const gpu_prof_entry *)a)->total_us, y = ((const gpu_prof_entry *)b)->total_us;
    return (x < y) - (x > y);
}

size_t pdvm_gpu_profile_read(void *state, pdvm_kernel_time *out, size_t cap)
{
    gpu_state *s = state;
    if (!s) return 0;
    qsort(s->k.prof, s->k.n_prof, sizeof *s->k.prof, by_total_desc);
    size_t n = s->k.n_prof < cap ? s->k.n_prof : cap;
    for (size_t i = 0; i < n; i++) {
        memcpy(out[i].name, s->k.prof[i].name, sizeof out[i].name);
        out[i].name[sizeof out[i].name - 1] = 0;
        out[i].calls = s->k.prof[i].calls;
        out[i].total_us = s->k.prof[i].total_us;
    }
    return n;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
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
    if (st == PDVM_OK) {
        qsort(t, (size_t)reps, sizeof *t, cmp_double);
        *us = t[reps / 2];
    }
    free(t);
    return st;
}

pdvm_status pdvm_gpu_bench_matvec(pdvm_gl *gl, uint32_t type, uint32_t rows, uint32_t cols,
                                  int reps, double *us)
{
    uint64_t rb;
    if (!gpu_type_find(type) || pdvm_type_row_bytes(type, cols, &rb) != PDVM_OK)
        return pdvm_fail(PDVM_ERR_UNSUPPORTED, "bench matvec: no kernel for %s rows of %u",
                         pdvm_type_name(type), cols);
    if (reps < 1 || rows == 0) return pdvm_fail(PDVM_ERR_INVALID_ARG, "bench matvec: empty run");
    gpu_kernels k;
    PDVM_TRY(gpu_kernels_init(&k, gl));
    uint64_t bytes = rb * rows, block = gpu_block_limit(pdvm_gl_get_limits(gl)->max_ssbo_bytes);
    if (bytes > block) {
        gpu_kernels_free(&k);
        return pdvm_fail(PDVM_ERR_UNSUPPORTED, "bench matvec: %llu bytes of weights exceed the "
                                               "block limit %llu", (unsigned long long)bytes,
                         (unsigned long long)block);
    }
    pdvm_gl_buffer w = {0}, act = {0};
    pdvm_status st = pdvm_gl_buffer_create(gl, (bytes + 15) / 16 * 16, NULL, &w);
    if (st == PDVM_OK) st = pdvm_synth_fill(gl, &w, 0, bytes, rb, type, 1234);
    float *x = calloc((size_t)cols + rows, sizeof *x);
    if (!x && st == PDVM_OK) st = pdvm_fail(PDVM_ERR_NOMEM, "bench matvec: vectors");
    for (uint32_t i = 0; x && i < cols; i++) x[i] = (float)((i * 2654435761u) % 1000) / 1000.0f - 0.5f;
    if (st == PDVM_OK)
        st = pdvm_gl_buffer_create(gl, ((uint64_t)cols + rows) * 4, x, &act);
    if (st == PDVM_OK) {
        gpu_mv_args a = {
            .act = &act, .w = &w, .in_mode = GPU_IN_PLAIN, .out_mode = GPU_OUT_STORE, .n_in = cols,
            .type_a = type, .rb_a = rb, .x = 0, .y = cols, .n_rows = rows,
        };
        st = time_calls(&k, &a, reps, us);
    }
    free(x);
    if (act.id) pdvm_gl_buffer_delete(gl, &act);
    if (w.id) pdvm_gl_buffer_delete(gl, &w);
    gpu_kernels_free(&k);
    return st;
}

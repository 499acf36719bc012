/* Device measurements for `pdvm info` and the bench roofline: SSBO read
 * bandwidth and the latency of a dependent dispatch. */
#include <stdio.h>

#include "error.h"
#include "gl_internal.h"

enum { BW_DISPATCHES = 2, BW_RUNS = 3, LAT_CHAIN = 100, LAT_BATCHES = 3 };

typedef struct bw_variant {
    uint32_t wg, unroll;
} bw_variant;

/* One kernel variant: best GB/s over a few timed runs after a warm-up. */
static pdvm_status time_variant(pdvm_gl *gl, bw_variant v, const pdvm_gl_buffer *src,
                                double *gbps)
{
    char defines[96];
    snprintf(defines, sizeof defines, "#define WG_SIZE %u\n#define UNROLL %u\n", v.wg, v.unroll);
    pdvm_gl_program prog;
    PDVM_TRY(pdvm_gl_program_build(gl, "rt_bandwidth", defines, &prog));
    uint64_t n_vec4 = src->size / 16;
    uint64_t groups = n_vec4 / ((uint64_t)v.wg * v.unroll * 8) + 1;
    if (groups > (uint64_t)gl->info.limits.max_wg_count[0]) groups = (uint64_t)gl->info.limits.max_wg_count[0];
    pdvm_gl_uniform_u32(&prog, "n_vec4", (uint32_t)n_vec4);
    pdvm_gl_uniform_u32(&prog, "marker", 0x9E3779B9u);
    pdvm_status st = PDVM_OK;
    uint64_t best = UINT64_MAX;
    for (int run = 0; run <= BW_RUNS && st == PDVM_OK; run++) {
        uint64_t ns = 0;
        pdvm_gl_timer_begin(gl);
        for (int d = 0; d < BW_DISPATCHES && st == PDVM_OK; d++)
            st = pdvm_gl_dispatch(gl, &prog, (uint32_t)groups, 1, 1);
        pdvm_status te = pdvm_gl_timer_end(gl, &ns);
        if (st == PDVM_OK) st = te;
        if (run > 0 && ns > 0 && ns < best) best = ns; /* run 0 warms up */
    }
    pdvm_gl_program_delete(gl, &prog);
    if (st == PDVM_OK) *gbps = best == UINT64_MAX ? 0 : (double)(n_vec4 * 16 * BW_DISPATCHES) / (double)best;
    return st;
}

pdvm_status pdvm_gl_measure_bandwidth(pdvm_gl *gl, uint64_t bytes, double *gbps)
{
    *gbps = 0;
    if (bytes > (uint64_t)gl->info.limits.max_ssbo_bytes) bytes = (uint64_t)gl->info.limits.max_ssbo_bytes;
    bytes &= ~(uint64_t)15;
    if (bytes < 16 || bytes / 16 > UINT32_MAX)
        return pdvm_fail(PDVM_ERR_INVALID_ARG, "bandwidth over %llu bytes: out of range",
                         (unsigned long long)bytes);
    pdvm_gl_buffer src, sink;
    PDVM_TRY(pdvm_gl_buffer_create(gl, bytes, NULL, &src));
    pdvm_status st = pdvm_gl_buffer_create(gl, 16, NULL, &sink);
    const bw_variant variants[] = {{pdvm_gl_wg_size(gl, 256, 0), 1},
                                   {pdvm_gl_wg_size(gl, 256, 0), 4},
                                   {pdvm_gl_wg_size(gl, 1024, 0), 4}};
    for (size_t i = 0; i < sizeof variants / sizeof variants[0] && st == PDVM_OK; i++) {
        pdvm_gl_bind(gl, 0, &src, 0, 0);
        pdvm_gl_bind(gl, 1, &sink, 0, 0);
        double v = 0;
        st = time_variant(gl, variants[i], &src, &v);
        if (v > *gbps) *gbps = v;
    }
    pdvm_gl_buffer_delete(gl, &sink);
    pdvm_gl_buffer_delete(gl, &src);
    return st == PDVM_OK ? PDVM_OK : pdvm_fail_prefix(st, "bandwidth measurement");
}

static pdvm_status run_chain(pdvm_gl *gl, const pdvm_gl_program *prog, double *us)
{
    double best = -1;
    for (int b = 0; b < LAT_BATCHES; b++) {
        glFinish();
        uint64_t t0 = pdvm_now_ns();
        for (int i = 0; i < LAT_CHAIN; i++) PDVM_TRY(pdvm_gl_dispatch(gl, prog, 1, 1, 1));
        glFinish();
        double per = (double)(pdvm_now_ns() - t0) / LAT_CHAIN / 1000.0;
        if (best < 0 || per < best) best = per;
        PDVM_TRY(pdvm_gl_check(gl, "latency chain"));
    }
    *us = best;
    return PDVM_OK;
}

pdvm_status pdvm_gl_measure_latency(pdvm_gl *gl, double *us)
{
    *us = 0;
    pdvm_gl_program prog;
    PDVM_TRY(pdvm_gl_program_build(gl, "rt_latency", NULL, &prog));
    const uint32_t zero[4] = {0};
    pdvm_gl_buffer chain;
    pdvm_status st = pdvm_gl_buffer_create(gl, sizeof zero, zero, &chain);
    uint32_t steps = 0;
    if (st == PDVM_OK) {
        pdvm_gl_bind(gl, 0, &chain, 0, 0);
        st = pdvm_gl_dispatch(gl, &prog, 1, 1, 1); /* warm-up */
        if (st == PDVM_OK) st = run_chain(gl, &prog, us);
        if (st == PDVM_OK) st = pdvm_gl_buffer_read(gl, &chain, 0, 4, &steps);
        pdvm_gl_buffer_delete(gl, &chain);
    }
    pdvm_gl_program_delete(gl, &prog);
    if (st == PDVM_OK && steps != 1 + LAT_CHAIN * LAT_BATCHES)
        st = pdvm_fail(PDVM_ERR_GPU, "latency chain counted %u steps, expected %d: dependent "
                       "dispatches are not ordered", steps, 1 + LAT_CHAIN * LAT_BATCHES);
    return st;
}

/* Program variants of the model kernels (glsl/<name>.comp specialised by a
 * #define preamble) and the dispatch record a chain is made of.
 *
 * A session resolves its whole chain when it is created (gpu_chain_plan.c):
 * each dispatch becomes a gpu_step holding its program, buffers, grid and
 * uniform values, with the uniform locations resolved once per program.
 * Programs are registered while the plan is made and built together
 * afterwards (gpu_kernels_build), so the build can report k/n progress. A
 * decode step then only patches the values that depend on the position and
 * runs the steps: no define text, no program search, no uniform names. */
#ifndef PDVM_GPU_KERNELS_H
#define PDVM_GPU_KERNELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gl_runtime.h"
#include "pdvm.h"

enum { GPU_MAX_UNIFORMS = 24, GPU_STEP_BUFS = 4 };

/* A program variant: shader + defines, its uniform locations in the order
 * its op lists them, and the values last set (a uniform is only set when it
 * changes). */
typedef struct gpu_prog {
    char shader[32];
    char label[40]; /* name of its dispatches in the profile and the plan */
    char *defines;
    pdvm_gl_program prog;
    const char *const *uni_names;
    uint32_t n_uni;
    GLint loc[GPU_MAX_UNIFORMS];
    uint32_t cur[GPU_MAX_UNIFORMS];
    bool cur_valid[GPU_MAX_UNIFORMS];
} gpu_prog;

/* One dispatch: program, SSBO bindings 0..3 (NULL: not used), grid and the
 * uniform values in the program's order. */
typedef struct gpu_step {
    gpu_prog *prog;
    const pdvm_gl_buffer *buf[GPU_STEP_BUFS];
    uint32_t gx, gy;
    bool fold;      /* the kernel linearises its workgroup id (see gpu_step_run) */
    uint32_t val[GPU_MAX_UNIFORMS];
} gpu_step;

/* Profile sums per dispatch label: the public entry type (pdvm.h). */
typedef pdvm_profile_entry gpu_prof_entry;

typedef struct gpu_kernels {
    pdvm_gl *gl;
    const pdvm_gl_limits *lim;
    uint32_t wg_max;    /* largest workgroup the kernels use (power of two) */
    uint32_t wg_attn;   /* attention workgroup */
    uint32_t mv_rows_g; /* rows per lane group in the mat-vec kernels */
    uint32_t attn_min_chunk; /* fewest positions per attention workgroup */
    gpu_prog **progs;
    size_t n_progs, cap_progs;
    bool profile;
    gpu_prof_entry *prof;
    size_t n_prof, cap_prof;
} gpu_kernels;

/* Workgroup sizes from the context's limits and the tuning variables
 * (PDVM_MV_WG, PDVM_MV_ROWS). Errors: PDVM_ERR_INVALID_ARG for a malformed
 * variable, PDVM_ERR_GPU when the limits leave too small a workgroup. */
pdvm_status gpu_kernels_init(gpu_kernels *k, pdvm_gl *gl);
void gpu_kernels_free(gpu_kernels *k);

/* A #define preamble under construction. */
typedef struct gpu_defs {
    char text[1024];
    size_t len;
    bool overflow;
} gpu_defs;
void gpu_defs_init(gpu_defs *d);
void gpu_defs_int(gpu_defs *d, const char *name, long long v);
void gpu_defs_float(gpu_defs *d, const char *name, float v);
void gpu_defs_str(gpu_defs *d, const char *name, const char *v);

/* The variant glsl/<shader>.comp with these defines, whose uniforms are
 * uni_names (n_uni of them; the array must outlive the kernels); label names
 * its dispatches. Registered, not built: gpu_kernels_build builds every
 * registered program. Errors: PDVM_ERR_GPU (define preamble too long),
 * PDVM_ERR_NOMEM. */
pdvm_status gpu_prog_get(gpu_kernels *k, const char *shader, const char *label,
                         const gpu_defs *d, const char *const *uni_names, uint32_t n_uni,
                         gpu_prog **out);

/* Build (or load from the binary cache) every registered program not built
 * yet and resolve its uniform locations; progress(stage "compiling shaders",
 * k, n, user) after each when progress is not NULL. Errors: PDVM_ERR_GPU
 * naming the shader and the compiler's log line. */
pdvm_status gpu_kernels_build(gpu_kernels *k, pdvm_progress_fn progress, void *user);

/* Run a step: bind, set the uniforms that changed, dispatch. A folding
 * step whose gx passes the driver's group-count limit is spread over y
 * (its kernel linearises gl_WorkGroupID.x + y * gl_NumWorkGroups.x and
 * skips the excess); other grids over the limit are refused by the
 * runtime. Timed per label when profiling is on. The program must be built. */
pdvm_status gpu_step_run(gpu_kernels *k, const gpu_step *st);

/* Smallest power of two >= v (v >= 1). */
uint32_t gpu_pow2_ceil(uint32_t v);

#endif

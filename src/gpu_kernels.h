/* Program variants of the model kernels (glsl/<name>.comp specialised by a
 * #define preamble), built on first use and kept per context; uniform
 * locations cached per program; launches counted by the runtime and,
 * when profiling is on, timed per kernel. */
#ifndef PDVM_GPU_KERNELS_H
#define PDVM_GPU_KERNELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gl_runtime.h"
#include "pdvm.h"

typedef struct gpu_prog gpu_prog;

typedef struct gpu_prof_entry {
    char name[48];
    uint64_t calls;
    double total_us;
} gpu_prof_entry;

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

/* Workgroup sizes from the context's limits. */
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

/* glsl/<shader>.comp with these defines, built (or loaded from the binary
 * cache) on first use. Errors: PDVM_ERR_GPU naming the shader. */
pdvm_status gpu_prog_get(gpu_kernels *k, const char *shader, const gpu_defs *d, gpu_prog **out);
/* The same, its dispatches named `label` in the profile (gpu_prog_get
 * names them after the shader). The label is taken when the program is
 * built; a program found again keeps its first. */
pdvm_status gpu_prog_get_named(gpu_kernels *k, const char *shader, const char *label,
                               const gpu_defs *d, gpu_prog **out);

/* Set a uint uniform; names the compiler removed are ignored. */
void gpu_u32(gpu_prog *p, const char *name, uint32_t v);

/* Dispatch gx * gy workgroups (the runtime refuses counts over the limit). */
pdvm_status gpu_launch(gpu_kernels *k, gpu_prog *p, uint32_t gx, uint32_t gy);
/* Dispatch n_groups workgroups of a kernel that linearises
 * gl_WorkGroupID.x + y * gl_NumWorkGroups.x and skips the excess: folded
 * into y when x would pass the driver's group-count limit. */
pdvm_status gpu_launch_folded(gpu_kernels *k, gpu_prog *p, uint32_t n_groups);

/* Smallest power of two >= v (v >= 1). */
uint32_t gpu_pow2_ceil(uint32_t v);

#endif

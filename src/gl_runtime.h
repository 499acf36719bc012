/* GLES 3.1 compute runtime on a headless EGL context: limits, program
 * build (embedded sources, #define preamble, binary cache), SSBOs and arena
 * layout, dispatch with counting and error checks, GPU timing. One pdvm_gl
 * is one context; it is current on the thread that created it. */
#ifndef PDVM_GL_RUNTIME_H
#define PDVM_GL_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <GLES3/gl31.h>

#include "pdvm.h"

typedef struct pdvm_gl_limits {
    int32_t max_ssbo_bindings;   /* GL_MAX_COMPUTE_SHADER_STORAGE_BLOCKS */
    int32_t max_invocations;     /* GL_MAX_COMPUTE_WORK_GROUP_INVOCATIONS */
    int32_t max_shared_bytes;    /* GL_MAX_COMPUTE_SHARED_MEMORY_SIZE */
    int32_t max_wg_size[3];      /* GL_MAX_COMPUTE_WORK_GROUP_SIZE */
    int32_t max_wg_count[3];     /* GL_MAX_COMPUTE_WORK_GROUP_COUNT */
    int64_t max_ssbo_bytes;      /* GL_MAX_SHADER_STORAGE_BLOCK_SIZE, lowered by
                                  * PDVM_MAX_SSBO_BYTES when set */
    int32_t ssbo_align;          /* GL_SHADER_STORAGE_BUFFER_OFFSET_ALIGNMENT */
    bool subgroup;               /* GL_KHR_shader_subgroup with compute arithmetic */
    uint32_t subgroup_size;
    uint32_t subgroup_features;  /* GL_SUBGROUP_SUPPORTED_FEATURES_KHR bits */
    bool timer_query;            /* GL_EXT_disjoint_timer_query */
    bool minimum;                /* PDVM_LIMITS=minimum in force */
} pdvm_gl_limits;

typedef struct pdvm_gl pdvm_gl;

/* Create the context on the first platform that works (or the forced one:
 * platform argument, else $PDVM_PLATFORM). Reads all limits; applies
 * PDVM_LIMITS=minimum and PDVM_MAX_SSBO_BYTES.
 * Errors: PDVM_ERR_NO_PLATFORM with every platform tried and why it failed;
 * PDVM_ERR_INVALID_ARG for an unknown platform name. */
pdvm_status pdvm_gl_open(const char *platform, pdvm_gl **out);
void pdvm_gl_close(pdvm_gl *gl);
/* Make gl's context current on the calling thread again, e.g. after another
 * pdvm_gl was opened or closed on it. Several may be open at once: closing
 * one leaves the others intact. Errors: PDVM_ERR_GPU naming the EGL error. */
pdvm_status pdvm_gl_make_current(pdvm_gl *gl);

const pdvm_gl_limits *pdvm_gl_get_limits(const pdvm_gl *gl);
const char *pdvm_gl_platform_name(const pdvm_gl *gl);  /* "gbm", "device", "surfaceless" */
const char *pdvm_gl_platform_report(const pdvm_gl *gl); /* why others were not chosen */
const char *pdvm_gl_renderer(const pdvm_gl *gl);        /* GL_RENDERER */

/* What `pdvm info` shows about the driver beyond the limits. */
typedef struct pdvm_gl_info {
    char device[128];           /* the platform's device: "/dev/dri/renderD128",
                                 * "EGL device 0 (/dev/dri/card1)", "default display" */
    char egl_vendor[64], egl_version[64];
    char gl_version[128], gl_vendor[64], glsl_version[128];
    int32_t n_binary_formats;   /* GL_NUM_PROGRAM_BINARY_FORMATS */
    int32_t binary_formats[8];  /* the first of GL_PROGRAM_BINARY_FORMATS */
    bool debug_output;          /* GL_KHR_debug messages are collected */
    char timing[128];           /* how pdvm_gl_timer_* measures, and why */
    char cache_dir[256];        /* program-binary cache; "" when off (no binary
                                 * formats, PDVM_NO_SHADER_CACHE=1, no home) */
} pdvm_gl_info;
const pdvm_gl_info *pdvm_gl_get_info(const pdvm_gl *gl);

/* Workgroup size for a 1-D kernel: the largest power of two <= want that
 * the limits allow (invocations, size in x, and shared memory at
 * shared_bytes_per_invocation each; 0 when it uses none). At least 1. */
uint32_t pdvm_gl_wg_size(const pdvm_gl *gl, uint32_t want, uint32_t shared_bytes_per_invocation);

/* ------------------------------------------------------------ programs */

typedef struct pdvm_gl_program {
    GLuint id;
    char name[64];
    bool from_cache; /* linked from the program-binary cache, not compiled */
} pdvm_gl_program;

/* Build glsl/<shader>.comp (embedded, includes resolved) with the preamble
 * "#version 310 es\n" + runtime feature defines (PDVM_SUBGROUP when the
 * limits allow, PDVM_SUBGROUP_SIZE) + `defines` (may be NULL). Uses the
 * program-binary cache under $XDG_CACHE_HOME/pdvm (or ~/.cache/pdvm);
 * PDVM_NO_SHADER_CACHE=1 disables it.
 * Errors: PDVM_ERR_GPU naming the shader and the compiler log line. */
pdvm_status pdvm_gl_program_build(pdvm_gl *gl, const char *shader, const char *defines,
                                  pdvm_gl_program *out);
/* Same from a source string (tests; `name` is used in messages). */
pdvm_status pdvm_gl_program_build_source(pdvm_gl *gl, const char *name, const char *source,
                                         const char *defines, pdvm_gl_program *out);
void pdvm_gl_program_delete(pdvm_gl *gl, pdvm_gl_program *p);

/* Uniform setters on a program (glProgramUniform*); a uniform the compiler
 * removed is silently ignored. */
void pdvm_gl_uniform_u32(const pdvm_gl_program *p, const char *name, uint32_t v);
void pdvm_gl_uniform_f32(const pdvm_gl_program *p, const char *name, float v);

/* ------------------------------------------------------------- buffers */

typedef struct pdvm_gl_buffer {
    GLuint id;
    uint64_t size;
} pdvm_gl_buffer;

/* Allocate an SSBO of size bytes (<= max_ssbo_bytes, else PDVM_ERR_GPU
 * naming both sizes), initialised from data when not NULL.
 * PDVM_ERR_NOMEM when the driver reports GL_OUT_OF_MEMORY. */
pdvm_status pdvm_gl_buffer_create(pdvm_gl *gl, uint64_t size, const void *data,
                                  pdvm_gl_buffer *out);
pdvm_status pdvm_gl_buffer_write(pdvm_gl *gl, const pdvm_gl_buffer *b, uint64_t offset,
                                 uint64_t size, const void *data);
/* Blocking read back (waits for prior dispatches). */
pdvm_status pdvm_gl_buffer_read(pdvm_gl *gl, const pdvm_gl_buffer *b, uint64_t offset,
                                uint64_t size, void *dst);
void pdvm_gl_buffer_delete(pdvm_gl *gl, pdvm_gl_buffer *b);

/* Bind [offset, offset+size) of b to SSBO binding point `binding`
 * (size 0: to the end). offset must be a multiple of ssbo_align. */
void pdvm_gl_bind(pdvm_gl *gl, uint32_t binding, const pdvm_gl_buffer *b, uint64_t offset,
                  uint64_t size);

/* Arena layout: several tensors in one SSBO at aligned offsets, never past
 * max_bytes. Pure bookkeeping, no GL. */
typedef struct pdvm_arena {
    uint64_t align;     /* power of two */
    uint64_t max_bytes; /* block-size limit */
    uint64_t used;
} pdvm_arena;
void pdvm_arena_init(pdvm_arena *a, uint64_t align, uint64_t max_bytes);
/* Reserve bytes; false (arena unchanged) when it would pass max_bytes. */
bool pdvm_arena_place(pdvm_arena *a, uint64_t bytes, uint64_t *offset);

/* ------------------------------------------------------------ dispatch */

/* glUseProgram + glDispatchCompute + glMemoryBarrier(SSBO), counted.
 * Group counts above the limit are an error. */
pdvm_status pdvm_gl_dispatch(pdvm_gl *gl, const pdvm_gl_program *p, uint32_t gx, uint32_t gy,
                             uint32_t gz);
uint64_t pdvm_gl_dispatch_count(const pdvm_gl *gl);
/* glGetError (and KHR_debug messages collected since the last check);
 * PDVM_ERR_GPU "GL error 0x0505 (GL_OUT_OF_MEMORY) after <what>". */
pdvm_status pdvm_gl_check(pdvm_gl *gl, const char *what);
void pdvm_gl_finish(pdvm_gl *gl);

/* -------------------------------------------------------------- timing */

/* GPU time of the work issued between begin and end, in nanoseconds:
 * GL_EXT_disjoint_timer_query when present, else glFinish + CLOCK_MONOTONIC.
 * Not nestable. */
void pdvm_gl_timer_begin(pdvm_gl *gl);
pdvm_status pdvm_gl_timer_end(pdvm_gl *gl, uint64_t *ns);

/* SSBO read bandwidth in GB/s (1e9 B/s) over a buffer of `bytes` (clamped to
 * max_ssbo_bytes), best of several kernels and runs. */
pdvm_status pdvm_gl_measure_bandwidth(pdvm_gl *gl, uint64_t bytes, double *gbps);
/* Latency of a tiny dispatch that depends on the previous one, in us. */
pdvm_status pdvm_gl_measure_latency(pdvm_gl *gl, double *us);

#endif

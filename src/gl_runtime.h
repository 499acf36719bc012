/* GLES 3.1 compute runtime on a headless EGL context: limits, program
 * build (embedded sources, #define preamble, binary cache), SSBOs,
 * dispatch with counting and error checks, GPU timing. One pdvm_gl is one
 * context; whoever uses one makes it current first (pdvm_gl_make_current). */
#ifndef PDVM_GL_RUNTIME_H
#define PDVM_GL_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <GLES3/gl31.h>

#include "pdvm.h"

/* The runtime's context is the public pdvm_device (pdvm.h); the engine
 * calls it pdvm_gl. */
typedef pdvm_device pdvm_gl;
typedef pdvm_device_limits pdvm_gl_limits;


/* Create the context on the first platform that works (or the forced one:
 * platform argument, else $PDVM_PLATFORM). Reads all limits; applies
 * PDVM_LIMITS=minimum and PDVM_MAX_SSBO_BYTES.
 * Errors: PDVM_ERR_NO_PLATFORM with every platform tried and why it failed;
 * PDVM_ERR_INVALID_ARG for an unknown platform name. */
pdvm_status pdvm_gl_open(const char *platform, pdvm_gl **out);
void pdvm_gl_close(pdvm_gl *gl);
/* Make gl's context current on the calling thread unless it already is
 * (a cheap check), e.g. after another pdvm_gl was opened or used on it.
 * Several may be open at once: closing one leaves the others intact.
 * Errors: PDVM_ERR_GPU naming the EGL error (EGL_BAD_ACCESS: the context
 * is current on another thread). */
pdvm_status pdvm_gl_make_current(pdvm_gl *gl);

const pdvm_gl_limits *pdvm_gl_get_limits(const pdvm_gl *gl);
const char *pdvm_gl_platform_name(const pdvm_gl *gl);  /* "gbm", "device", "surfaceless" */
const char *pdvm_gl_platform_report(const pdvm_gl *gl); /* why others were not chosen */
const char *pdvm_gl_renderer(const pdvm_gl *gl);        /* GL_RENDERER */

const pdvm_device_info *pdvm_gl_get_info(const pdvm_gl *gl);

/* Free GPU memory as the driver reports it (GL_NVX_gpu_memory_info, else
 * GL_ATI_meminfo: discrete GPUs) in bytes, and which extension said so;
 * false when the driver reports none (GPUs that share the RAM, llvmpipe).
 * gl's context must be current. src/gl_meminfo.c. */
bool pdvm_gl_free_memory(pdvm_gl *gl, uint64_t *bytes, const char **source);

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

/* Set a uint uniform of a program (glProgramUniform1ui) by name, for the
 * few one-off programs (measurements, fills); a uniform the compiler
 * removed is ignored. The model kernels resolve locations once instead. */
void pdvm_gl_uniform_u32(const pdvm_gl_program *p, const char *name, uint32_t v);

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

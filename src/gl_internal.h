/* What the gl_*.c files of the runtime share: the context object and the
 * helpers one file provides to another. Not for use outside the runtime. */
#ifndef PDVM_GL_INTERNAL_H
#define PDVM_GL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <GLES3/gl31.h>
#include <GLES2/gl2ext.h>

#include "gl_runtime.h"
#include "platform.h"
#include "util.h"

struct pdvm_device {
    pdvm_egl egl;
    pdvm_device_info info; /* platform, driver strings, limits */
    uint64_t driver_hash; /* vendor, renderer and version: part of every cache key */
    uint64_t dispatches;
    /* Extension entry points, loaded only when the extension is advertised. */
    PFNGLGETQUERYOBJECTUI64VEXTPROC get_query_u64;
    PFNGLGETDEBUGMESSAGELOGKHRPROC get_debug_log;
    GLuint timer_query;
    uint64_t timer_start_ns; /* fallback timing */
};

/* gl_limits.c: read the driver's limits into gl->info.limits, then apply
 * PDVM_LIMITS and PDVM_MAX_SSBO_BYTES. */
pdvm_status pdvm_gl_read_limits(pdvm_gl *gl);
/* Whether GL_EXTENSIONS (glGetStringi) has this extension. */
bool pdvm_gl_has_ext(const char *name);

/* gl_debug.c: KHR_debug setup and draining of the message log. */
void pdvm_gl_debug_init(pdvm_gl *gl);
/* Append the messages logged since the last drain to buf ("; "-separated)
 * and print them on stderr when PDVM_GL_DEBUG=1. */
void pdvm_gl_debug_drain(pdvm_gl *gl, char *buf, size_t cap);

/* gl_log.c: rewrite a compiler/linker log so that "k:line(col): msg"
 * (Mesa) and "k(line) : msg" (NVIDIA) read "file:line: msg", where k is a
 * #line source-string number (0: the preamble, PDVM_SOURCE_INLINE: the
 * source given as a string, named `name`, else an embedded file). Keeps at
 * most cap-1 bytes; each line of the log stays one "; "-separated entry. */
enum { PDVM_SOURCE_INLINE = 4095 };
void pdvm_gl_log_rewrite(const char *log, const char *name, char *out, size_t cap);

/* gl_cache.c: the program-binary cache on disk. The key hashes the driver
 * and the full source; the entry holds the binary format and a checksum,
 * so a truncated or corrupt file reads as a miss and is never handed to
 * the driver. */
typedef struct pdvm_gl_blob {
    uint32_t format;
    uint32_t size;
    void *data; /* malloc'd */
} pdvm_gl_blob;
/* The cache directory ($XDG_CACHE_HOME/pdvm, else $HOME/.cache/pdvm), or
 * false when disabled (PDVM_NO_SHADER_CACHE=1) or no home is known. */
bool pdvm_gl_cache_dir(char *buf, size_t cap);
/* Path of the entry for key inside dir. */
void pdvm_gl_cache_path(const char *dir, uint64_t key, char *buf, size_t cap);
/* Load an entry; false on any miss (absent, truncated, corrupt, other key). */
bool pdvm_gl_cache_load(const char *path, uint64_t key, pdvm_gl_blob *out);
/* Store an entry (directory created, written atomically); false on failure,
 * which only costs a later compile. */
bool pdvm_gl_cache_store(const char *path, uint64_t key, const pdvm_gl_blob *blob);

#endif

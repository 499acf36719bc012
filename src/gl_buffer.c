/* SSBOs: allocation checked against the block-size limit, upload,
 * blocking read back, range binding. */
#include <string.h>

#include "error.h"
#include "gl_internal.h"

pdvm_status pdvm_gl_buffer_create(pdvm_gl *gl, uint64_t size, const void *data,
                                  pdvm_gl_buffer *out)
{
    memset(out, 0, sizeof *out);
    if (size == 0) return pdvm_fail(PDVM_ERR_INVALID_ARG, "SSBO of 0 bytes");
    if (size > (uint64_t)gl->info.limits.max_ssbo_bytes)
        return pdvm_fail(PDVM_ERR_GPU,
                         "SSBO of %llu bytes exceeds GL_MAX_SHADER_STORAGE_BLOCK_SIZE %lld%s",
                         (unsigned long long)size, (long long)gl->info.limits.max_ssbo_bytes,
                         gl->info.limits.minimum ? " (PDVM_LIMITS=minimum)" : "");
    PDVM_TRY(pdvm_gl_check(gl, "work before an SSBO allocation"));
    glGenBuffers(1, &out->id);
    glBindBuffer(GL_SHADER_STORAGE_BUFFER, out->id);
    /* STATIC for uploaded weights, DYNAMIC_COPY for what shaders write:
     * both hints keep the storage in GPU memory on desktop drivers. */
    glBufferData(GL_SHADER_STORAGE_BUFFER, (GLsizeiptr)size, data,
                 data ? GL_STATIC_DRAW : GL_DYNAMIC_COPY);
    glBindBuffer(GL_SHADER_STORAGE_BUFFER, 0);
    pdvm_status st = pdvm_gl_check(gl, "glBufferData");
    if (st != PDVM_OK) {
        glDeleteBuffers(1, &out->id);
        out->id = 0;
        return pdvm_fail_prefix(st, "SSBO of %llu bytes", (unsigned long long)size);
    }
    out->size = size;
    return PDVM_OK;
}

static pdvm_status check_range(const pdvm_gl_buffer *b, uint64_t offset, uint64_t size,
                               const char *what)
{
    if (!b || !b->id || offset > b->size || size > b->size - offset)
        return pdvm_fail(PDVM_ERR_INVALID_ARG,
                         "%s: range [%llu, +%llu) outside the SSBO of %llu bytes", what,
                         (unsigned long long)offset, (unsigned long long)size,
                         (unsigned long long)(b ? b->size : 0));
    return PDVM_OK;
}

pdvm_status pdvm_gl_buffer_write(pdvm_gl *gl, const pdvm_gl_buffer *b, uint64_t offset,
                                 uint64_t size, const void *data)
{
    PDVM_TRY(check_range(b, offset, size, "SSBO write"));
    if (size == 0) return PDVM_OK;
    glBindBuffer(GL_SHADER_STORAGE_BUFFER, b->id);
    glBufferSubData(GL_SHADER_STORAGE_BUFFER, (GLintptr)offset, (GLsizeiptr)size, data);
    glBindBuffer(GL_SHADER_STORAGE_BUFFER, 0);
    return pdvm_gl_check(gl, "glBufferSubData");
}

pdvm_status pdvm_gl_buffer_read(pdvm_gl *gl, const pdvm_gl_buffer *b, uint64_t offset,
                                uint64_t size, void *dst)
{
    PDVM_TRY(check_range(b, offset, size, "SSBO read"));
    if (size == 0) return PDVM_OK;
    /* Shader writes become visible to mapping only through this barrier. */
    glMemoryBarrier(GL_BUFFER_UPDATE_BARRIER_BIT);
    glBindBuffer(GL_SHADER_STORAGE_BUFFER, b->id);
    const void *src = glMapBufferRange(GL_SHADER_STORAGE_BUFFER, (GLintptr)offset,
                                       (GLsizeiptr)size, GL_MAP_READ_BIT);
    if (src) {
        memcpy(dst, src, size);
        glUnmapBuffer(GL_SHADER_STORAGE_BUFFER);
    }
    glBindBuffer(GL_SHADER_STORAGE_BUFFER, 0);
    PDVM_TRY(pdvm_gl_check(gl, "glMapBufferRange(read)"));
    if (!src) return pdvm_fail(PDVM_ERR_GPU, "glMapBufferRange(read) returned NULL");
    return PDVM_OK;
}

void pdvm_gl_buffer_delete(pdvm_gl *gl, pdvm_gl_buffer *b)
{
    (void)gl;
    if (b && b->id) glDeleteBuffers(1, &b->id);
    if (b) *b = (pdvm_gl_buffer){0, 0};
}

void pdvm_gl_bind(pdvm_gl *gl, uint32_t binding, const pdvm_gl_buffer *b, uint64_t offset,
                  uint64_t size)
{
    (void)gl;
    if (size == 0 && offset <= b->size) size = b->size - offset;
    /* A bad binding or offset raises GL_INVALID_VALUE, which the caller's
     * pdvm_gl_check after the dispatch group reports. */
    glBindBufferRange(GL_SHADER_STORAGE_BUFFER, binding, b->id, (GLintptr)offset,
                      (GLsizeiptr)size);
}

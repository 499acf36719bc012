/* Dispatch with counting, and the error check after each dispatch group. */
#include "error.h"
#include "gl_internal.h"

static const char *gl_error_name(GLenum e)
{
    switch (e) {
    case GL_INVALID_ENUM: return "GL_INVALID_ENUM";
    case GL_INVALID_VALUE: return "GL_INVALID_VALUE";
    case GL_INVALID_OPERATION: return "GL_INVALID_OPERATION";
    case GL_OUT_OF_MEMORY: return "GL_OUT_OF_MEMORY";
    case GL_INVALID_FRAMEBUFFER_OPERATION: return "GL_INVALID_FRAMEBUFFER_OPERATION";
    default: return "unknown GL error";
    }
}

pdvm_status pdvm_gl_check(pdvm_gl *gl, const char *what)
{
    GLenum first = glGetError();
    /* Several flags may be set; clear them all so the next check is ours. */
    for (int i = 0; i < 16 && glGetError() != GL_NO_ERROR; i++) {}
    char debug[512];
    pdvm_gl_debug_drain(gl, debug, sizeof debug);
    if (first == GL_NO_ERROR) return PDVM_OK;
    pdvm_status st = first == GL_OUT_OF_MEMORY ? PDVM_ERR_NOMEM : PDVM_ERR_GPU;
    return pdvm_fail(st, "GL error 0x%04x (%s) after %s%s%s", (unsigned)first,
                     gl_error_name(first), what, debug[0] ? ": " : "", debug);
}

pdvm_status pdvm_gl_dispatch(pdvm_gl *gl, const pdvm_gl_program *p, uint32_t gx, uint32_t gy,
                             uint32_t gz)
{
    const int32_t *max = gl->info.limits.max_wg_count;
    if (gx == 0 || gy == 0 || gz == 0)
        return pdvm_fail(PDVM_ERR_INVALID_ARG, "dispatch of '%s': empty grid %u x %u x %u",
                         p->name, gx, gy, gz);
    if (gx > (uint32_t)max[0] || gy > (uint32_t)max[1] || gz > (uint32_t)max[2])
        return pdvm_fail(PDVM_ERR_GPU,
                         "dispatch of '%s': %u x %u x %u groups exceed "
                         "GL_MAX_COMPUTE_WORK_GROUP_COUNT %d x %d x %d",
                         p->name, gx, gy, gz, max[0], max[1], max[2]);
    glUseProgram(p->id);
    glDispatchCompute(gx, gy, gz);
    /* Every kernel reads what the one before it wrote. */
    glMemoryBarrier(GL_SHADER_STORAGE_BARRIER_BIT);
    gl->dispatches++;
    return PDVM_OK;
}

uint64_t pdvm_gl_dispatch_count(const pdvm_gl *gl) { return gl->dispatches; }

void pdvm_gl_finish(pdvm_gl *gl)
{
    (void)gl;
    glFinish();
}

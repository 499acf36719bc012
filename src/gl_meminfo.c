/* Free memory as a driver with its own video memory reports it. GLES has
 * no core query; two vendor extensions exist (registry texts:
 * NVX_gpu_memory_info.txt, ATI_meminfo.txt). Drivers whose GPU shares the
 * RAM, and CPU renderers, report neither. */
#include "gl_internal.h"

#define GL_GPU_MEMORY_INFO_CURRENT_AVAILABLE_VIDMEM_NVX 0x9049
#define GL_VBO_FREE_MEMORY_ATI 0x87FB

bool pdvm_gl_free_memory(pdvm_gl *gl, uint64_t *bytes, const char **source)
{
    (void)gl; /* the query is on the current context, which is gl's */
    GLint kib[4] = {0, 0, 0, 0};
    if (pdvm_gl_has_ext("GL_NVX_gpu_memory_info")) {
        glGetIntegerv(GL_GPU_MEMORY_INFO_CURRENT_AVAILABLE_VIDMEM_NVX, kib);
        *source = "GL_NVX_gpu_memory_info";
    } else if (pdvm_gl_has_ext("GL_ATI_meminfo")) {
        /* [0]: total free in the pool buffers come from. */
        glGetIntegerv(GL_VBO_FREE_MEMORY_ATI, kib);
        *source = "GL_ATI_meminfo";
    } else {
        return false;
    }
    /* A driver that advertises the extension but refuses the query (on a
     * GLES context) leaves an error behind: clear it, report nothing. */
    bool ok = glGetError() == GL_NO_ERROR && kib[0] > 0;
    *bytes = ok ? (uint64_t)kib[0] * 1024 : 0;
    return ok;
}

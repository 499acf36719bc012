/* GPU time of a stretch of work: GL_EXT_disjoint_timer_query when the
 * driver has it, else glFinish on both ends and the monotonic clock. */
#include "error.h"
#include "gl_internal.h"

void pdvm_gl_timer_begin(pdvm_gl *gl)
{
    if (gl->info.limits.timer_query) {
        GLint disjoint = 0; /* reading it clears it */
        glGetIntegerv(GL_GPU_DISJOINT_EXT, &disjoint);
        glBeginQuery(GL_TIME_ELAPSED_EXT, gl->timer_query);
        return;
    }
    glFinish();
    gl->timer_start_ns = pdvm_now_ns();
}

pdvm_status pdvm_gl_timer_end(pdvm_gl *gl, uint64_t *ns)
{
    *ns = 0;
    if (!gl->info.limits.timer_query) {
        glFinish();
        *ns = pdvm_now_ns() - gl->timer_start_ns;
        return pdvm_gl_check(gl, "timed work");
    }
    glEndQuery(GL_TIME_ELAPSED_EXT);
    GLuint64 elapsed = 0;
    gl->get_query_u64(gl->timer_query, GL_QUERY_RESULT, &elapsed);
    GLint disjoint = 0;
    glGetIntegerv(GL_GPU_DISJOINT_EXT, &disjoint);
    PDVM_TRY(pdvm_gl_check(gl, "GL_TIME_ELAPSED_EXT query"));
    if (disjoint)
        return pdvm_fail(PDVM_ERR_GPU, "timer query disjoint (GPU clock changed); measure again");
    *ns = elapsed;
    return PDVM_OK;
}

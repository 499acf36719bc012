/* GL_KHR_debug: the driver's own words about an error (which call, which
 * argument) are worth more than an error code, so the runtime keeps the
 * message log on and drains it into its error messages. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gl_internal.h"

void pdvm_gl_debug_init(pdvm_gl *gl)
{
    if (!pdvm_gl_has_ext("GL_KHR_debug")) return;
    PFNGLDEBUGMESSAGECONTROLKHRPROC control =
        (PFNGLDEBUGMESSAGECONTROLKHRPROC)eglGetProcAddress("glDebugMessageControlKHR");
    gl->get_debug_log =
        (PFNGLGETDEBUGMESSAGELOGKHRPROC)eglGetProcAddress("glGetDebugMessageLogKHR");
    if (!control || !gl->get_debug_log) {
        gl->get_debug_log = NULL;
        return;
    }
    glEnable(GL_DEBUG_OUTPUT_KHR);
    /* Notifications (buffer placement and the like) would crowd out errors
     * in the driver's bounded log. */
    control(GL_DONT_CARE, GL_DONT_CARE, GL_DEBUG_SEVERITY_NOTIFICATION_KHR, 0, NULL, GL_FALSE);
    gl->info.debug_output = true;
}

static bool debug_echo(void)
{
    const char *v = getenv("PDVM_GL_DEBUG");
    return v && *v && strcmp(v, "0") != 0;
}

void pdvm_gl_debug_drain(pdvm_gl *gl, char *buf, size_t cap)
{
    if (cap) buf[0] = '\0';
    if (!gl->get_debug_log) return;
    bool echo = debug_echo();
    char msg[1024];
    /* Bounded: a driver that keeps producing messages cannot hang us. */
    for (int i = 0; i < 256; i++) {
        GLenum source, type, severity;
        GLuint id;
        GLsizei len = 0;
        if (gl->get_debug_log(1, sizeof msg, &source, &type, &id, &severity, &len, msg) == 0)
            break;
        msg[sizeof msg - 1] = '\0';
        size_t n = strlen(msg);
        while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' ')) msg[--n] = '\0';
        if (echo) fprintf(stderr, "pdvm: GL debug: %s\n", msg);
        size_t used = strlen(buf);
        if (used + 1 < cap) snprintf(buf + used, cap - used, "%s%s", used ? "; " : "", msg);
    }
}

/* The runtime's context: EGL platform, driver strings and limits. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "gl_internal.h"

static void copy_string(char *dst, size_t cap, const char *s)
{
    snprintf(dst, cap, "%s", s ? s : "");
}

/* Mesa names the DRI driver it loaded (EGL_MESA_query_driver). The
 * software loaders ("swrast", "kms_swrast") host whichever Gallium driver
 * GALLIUM_DRIVER picked (llvmpipe, softpipe, zink), and Mesa's renderer
 * string starts with that driver's name: "zink (llvmpipe (LLVM ...))". */
static void read_mesa_driver(pdvm_gl *gl)
{
    pdvm_device_info *in = &gl->info;
    const char *ext = eglQueryString(gl->egl.display, EGL_EXTENSIONS);
    PFNEGLGETDISPLAYDRIVERNAMEPROC get_name = NULL;
    if (ext && strstr(ext, "EGL_MESA_query_driver"))
        get_name = (PFNEGLGETDISPLAYDRIVERNAMEPROC)eglGetProcAddress("eglGetDisplayDriverName");
    const char *dri = get_name ? get_name(gl->egl.display) : NULL;
    copy_string(in->dri_driver, sizeof in->dri_driver, dri);
    if (!dri || (strcmp(dri, "swrast") && strcmp(dri, "kms_swrast"))) {
        copy_string(in->mesa_driver, sizeof in->mesa_driver, dri);
        return;
    }
    size_t n = strcspn(in->renderer, " (");
    if (n >= sizeof in->mesa_driver) n = sizeof in->mesa_driver - 1;
    for (size_t i = 0; i < n; i++) in->mesa_driver[i] = (char)tolower((unsigned char)in->renderer[i]);
    in->mesa_driver[n] = '\0';
}

static void read_info(pdvm_gl *gl)
{
    pdvm_device_info *in = &gl->info;
    copy_string(in->platform, sizeof in->platform, gl->egl.platform->name);
    copy_string(in->platform_report, sizeof in->platform_report, gl->egl.report);
    copy_string(in->device, sizeof in->device, gl->egl.device);
    copy_string(in->egl_vendor, sizeof in->egl_vendor, eglQueryString(gl->egl.display, EGL_VENDOR));
    copy_string(in->egl_version, sizeof in->egl_version,
                eglQueryString(gl->egl.display, EGL_VERSION));
    copy_string(in->gl_version, sizeof in->gl_version, (const char *)glGetString(GL_VERSION));
    copy_string(in->gl_vendor, sizeof in->gl_vendor, (const char *)glGetString(GL_VENDOR));
    copy_string(in->glsl_version, sizeof in->glsl_version,
                (const char *)glGetString(GL_SHADING_LANGUAGE_VERSION));
    copy_string(gl->info.renderer, sizeof gl->info.renderer, (const char *)glGetString(GL_RENDERER));
    GLint n = 0;
    glGetIntegerv(GL_NUM_PROGRAM_BINARY_FORMATS, &n);
    in->n_binary_formats = n;
    GLint formats[64] = {0};
    if (n > 0 && n <= 64) glGetIntegerv(GL_PROGRAM_BINARY_FORMATS, formats);
    for (int i = 0; i < n && i < 8; i++) in->binary_formats[i] = formats[i];
    if (n <= 0 || !pdvm_gl_cache_dir(in->cache_dir, sizeof in->cache_dir)) in->cache_dir[0] = '\0';
    uint64_t h = pdvm_fnv1a64(0, in->gl_vendor, strlen(in->gl_vendor) + 1);
    h = pdvm_fnv1a64(h, gl->info.renderer, strlen(gl->info.renderer) + 1);
    gl->driver_hash = pdvm_fnv1a64(h, in->gl_version, strlen(in->gl_version) + 1);
    read_mesa_driver(gl);
}

/* CPU renderers advertise the timer query, but llvmpipe's elapsed time
 * does not cover compute work (it reads 1 ns for a 10 ms dispatch); on a
 * CPU the wall clock is the device's clock anyway. */
static bool cpu_renderer(const char *renderer)
{
    return !strncmp(renderer, "llvmpipe", 8) || !strncmp(renderer, "softpipe", 8) ||
           strstr(renderer, "SwiftShader") != NULL;
}

static void load_timer_query(pdvm_gl *gl)
{
    char *timing = gl->info.timing;
    snprintf(timing, sizeof gl->info.timing, "glFinish + CLOCK_MONOTONIC");
    if (!pdvm_gl_has_ext("GL_EXT_disjoint_timer_query")) return;
    if (cpu_renderer(gl->info.renderer)) {
        snprintf(timing, sizeof gl->info.timing,
                 "glFinish + CLOCK_MONOTONIC (a CPU renderer's GL_EXT_disjoint_timer_query "
                 "does not time compute)");
        return;
    }
    gl->get_query_u64 =
        (PFNGLGETQUERYOBJECTUI64VEXTPROC)eglGetProcAddress("glGetQueryObjectui64vEXT");
    if (!gl->get_query_u64) return;
    glGenQueries(1, &gl->timer_query);
    gl->info.limits.timer_query = true;
    snprintf(timing, sizeof gl->info.timing, "GL_EXT_disjoint_timer_query");
}

pdvm_status pdvm_gl_open(const char *platform, pdvm_gl **out)
{
    *out = NULL;
    pdvm_gl *gl = calloc(1, sizeof *gl);
    if (!gl) return pdvm_fail(PDVM_ERR_NOMEM, "pdvm_gl_open: out of host memory");
    pdvm_status st = pdvm_egl_open(platform, &gl->egl);
    if (st != PDVM_OK) {
        pdvm_fail(st, "%s", gl->egl.error);
        free(gl);
        return st;
    }
    read_info(gl);
    st = pdvm_gl_read_limits(gl);
    if (st != PDVM_OK) {
        pdvm_gl_close(gl);
        return st;
    }
    load_timer_query(gl);
    pdvm_gl_debug_init(gl);
    /* Errors raised while probing optional features are not the caller's. */
    while (glGetError() != GL_NO_ERROR) {}
    *out = gl;
    return PDVM_OK;
}

void pdvm_gl_close(pdvm_gl *gl)
{
    if (!gl) return;
    if (gl->timer_query) glDeleteQueries(1, &gl->timer_query);
    pdvm_egl_close(&gl->egl);
    free(gl);
}

pdvm_status pdvm_gl_make_current(pdvm_gl *gl)
{
    if (eglGetCurrentContext() == gl->egl.context) return PDVM_OK;
    if (eglMakeCurrent(gl->egl.display, EGL_NO_SURFACE, EGL_NO_SURFACE, gl->egl.context))
        return PDVM_OK;
    EGLint err = eglGetError();
    return pdvm_fail(PDVM_ERR_GPU, "eglMakeCurrent failed: %s (0x%04x)", pdvm_egl_error_name(err),
                     (unsigned)err);
}

const pdvm_gl_limits *pdvm_gl_get_limits(const pdvm_gl *gl) { return &gl->info.limits; }
const pdvm_device_info *pdvm_gl_get_info(const pdvm_gl *gl) { return &gl->info; }
const char *pdvm_gl_platform_name(const pdvm_gl *gl) { return gl->info.platform; }
const char *pdvm_gl_platform_report(const pdvm_gl *gl) { return gl->info.platform_report; }
const char *pdvm_gl_renderer(const pdvm_gl *gl) { return gl->info.renderer; }

uint32_t pdvm_gl_wg_size(const pdvm_gl *gl, uint32_t want, uint32_t shared_bytes_per_invocation)
{
    const pdvm_gl_limits *l = &gl->info.limits;
    uint64_t cap = want;
    if ((uint64_t)l->max_invocations < cap) cap = (uint64_t)l->max_invocations;
    if ((uint64_t)l->max_wg_size[0] < cap) cap = (uint64_t)l->max_wg_size[0];
    if (shared_bytes_per_invocation && (uint64_t)l->max_shared_bytes / shared_bytes_per_invocation < cap)
        cap = (uint64_t)l->max_shared_bytes / shared_bytes_per_invocation;
    uint32_t wg = 1;
    while ((uint64_t)wg * 2 <= cap) wg *= 2;
    return wg;
}

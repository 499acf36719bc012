/* What every platform shares: extension checks, EGL error names, platform
 * displays and the OpenGL ES 3.1 context without config or surface. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <GLES3/gl31.h>

#include "platform.h"

pdvm_status pdvm_egl_fail(pdvm_egl *e, pdvm_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->error, sizeof e->error, fmt, ap);
    va_end(ap);
    return st;
}

bool pdvm_egl_has_ext(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; p && (p = strstr(p, name)) != NULL; p += n) {
        bool starts = p == list || p[-1] == ' ';
        bool ends = p[n] == '\0' || p[n] == ' ';
        if (starts && ends) return true;
    }
    return false;
}

const char *pdvm_egl_client_exts(void)
{
    /* EGL_BAD_DISPLAY (NULL) when the EGL lacks EGL_EXT_client_extensions. */
    const char *s = eglQueryString(EGL_NO_DISPLAY, EGL_EXTENSIONS);
    if (!s) (void)eglGetError();
    return s ? s : "";
}

const char *pdvm_egl_error_name(EGLint err)
{
    static const struct { EGLint code; const char *name; } names[] = {
        {EGL_SUCCESS, "EGL_SUCCESS"},
        {EGL_NOT_INITIALIZED, "EGL_NOT_INITIALIZED"},
        {EGL_BAD_ACCESS, "EGL_BAD_ACCESS"},
        {EGL_BAD_ALLOC, "EGL_BAD_ALLOC"},
        {EGL_BAD_ATTRIBUTE, "EGL_BAD_ATTRIBUTE"},
        {EGL_BAD_CONFIG, "EGL_BAD_CONFIG"},
        {EGL_BAD_CONTEXT, "EGL_BAD_CONTEXT"},
        {EGL_BAD_CURRENT_SURFACE, "EGL_BAD_CURRENT_SURFACE"},
        {EGL_BAD_DISPLAY, "EGL_BAD_DISPLAY"},
        {EGL_BAD_MATCH, "EGL_BAD_MATCH"},
        {EGL_BAD_NATIVE_PIXMAP, "EGL_BAD_NATIVE_PIXMAP"},
        {EGL_BAD_NATIVE_WINDOW, "EGL_BAD_NATIVE_WINDOW"},
        {EGL_BAD_PARAMETER, "EGL_BAD_PARAMETER"},
        {EGL_BAD_SURFACE, "EGL_BAD_SURFACE"},
        {EGL_CONTEXT_LOST, "EGL_CONTEXT_LOST"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].code == err) return names[i].name;
    return "unknown EGL error";
}

static pdvm_status egl_fail(pdvm_egl *e, const char *call)
{
    EGLint err = eglGetError();
    return pdvm_egl_fail(e, PDVM_ERR_NO_PLATFORM, "%s failed: %s (0x%04x)", call,
                     pdvm_egl_error_name(err), (unsigned)err);
}

pdvm_status pdvm_egl_platform_display(pdvm_egl *e, EGLenum platform, void *native, EGLDisplay *out)
{
    if (!pdvm_egl_has_ext(pdvm_egl_client_exts(), "EGL_EXT_platform_base"))
        return pdvm_egl_fail(e, PDVM_ERR_NO_PLATFORM, "EGL_EXT_platform_base not advertised");
    PFNEGLGETPLATFORMDISPLAYEXTPROC get_display =
        (PFNEGLGETPLATFORMDISPLAYEXTPROC)eglGetProcAddress("eglGetPlatformDisplayEXT");
    if (!get_display)
        return pdvm_egl_fail(e, PDVM_ERR_NO_PLATFORM, "eglGetPlatformDisplayEXT not found");
    *out = get_display(platform, native, NULL);
    if (*out == EGL_NO_DISPLAY) return egl_fail(e, "eglGetPlatformDisplayEXT");
    return PDVM_OK;
}

/* The config: none where the display allows it (EGL_KHR_no_config_context),
 * else any config that can render OpenGL ES 3. */
static pdvm_status choose_config(pdvm_egl *e, EGLDisplay d, const char *exts, EGLConfig *out)
{
    if (pdvm_egl_has_ext(exts, "EGL_KHR_no_config_context") ||
        pdvm_egl_has_ext(exts, "EGL_MESA_configless_context")) {
        *out = EGL_NO_CONFIG_KHR;
        return PDVM_OK;
    }
    static const EGLint attribs[] = {EGL_RENDERABLE_TYPE, EGL_OPENGL_ES3_BIT_KHR,
                                     EGL_SURFACE_TYPE, 0, EGL_NONE};
    EGLint n = 0;
    if (!eglChooseConfig(d, attribs, out, 1, &n)) return egl_fail(e, "eglChooseConfig");
    if (n < 1)
        return pdvm_egl_fail(e, PDVM_ERR_NO_PLATFORM,
                         "no EGL_KHR_no_config_context and no OpenGL ES 3 config");
    return PDVM_OK;
}

static pdvm_status check_gl_version(pdvm_egl *e)
{
    const char *v = (const char *)glGetString(GL_VERSION);
    int major = 0, minor = 0;
    if (!v || sscanf(v, "OpenGL ES %d.%d", &major, &minor) != 2)
        return pdvm_egl_fail(e, PDVM_ERR_NO_PLATFORM, "GL_VERSION '%s' is not OpenGL ES",
                         v ? v : "(null)");
    if (major * 10 + minor < 31)
        return pdvm_egl_fail(e, PDVM_ERR_NO_PLATFORM, "GL_VERSION '%s' is below OpenGL ES 3.1", v);
    return PDVM_OK;
}

static pdvm_status create_context(pdvm_egl *e, EGLDisplay d, EGLint major, EGLint minor)
{
    const char *exts = eglQueryString(d, EGL_EXTENSIONS);
    if (!pdvm_egl_has_ext(exts, "EGL_KHR_surfaceless_context"))
        return pdvm_egl_fail(e, PDVM_ERR_NO_PLATFORM, "EGL_KHR_surfaceless_context not advertised");
    if (major * 10 + minor < 15 && !pdvm_egl_has_ext(exts, "EGL_KHR_create_context"))
        return pdvm_egl_fail(e, PDVM_ERR_NO_PLATFORM,
                         "EGL %d.%d without EGL_KHR_create_context cannot ask for ES 3.1",
                         major, minor);
    if (!eglBindAPI(EGL_OPENGL_ES_API)) return egl_fail(e, "eglBindAPI(EGL_OPENGL_ES_API)");
    EGLConfig config;
    pdvm_status st = choose_config(e, d, exts, &config);
    if (st != PDVM_OK) return st;
    static const EGLint attribs[] = {EGL_CONTEXT_MAJOR_VERSION, 3, EGL_CONTEXT_MINOR_VERSION, 1,
                                     EGL_NONE};
    e->context = eglCreateContext(d, config, EGL_NO_CONTEXT, attribs);
    if (e->context == EGL_NO_CONTEXT) return egl_fail(e, "eglCreateContext(OpenGL ES 3.1)");
    if (!eglMakeCurrent(d, EGL_NO_SURFACE, EGL_NO_SURFACE, e->context))
        return egl_fail(e, "eglMakeCurrent(no surface)");
    return check_gl_version(e);
}

pdvm_status pdvm_egl_make_context(pdvm_egl *e, EGLDisplay display)
{
    EGLint major = 0, minor = 0;
    if (!eglInitialize(display, &major, &minor)) return egl_fail(e, "eglInitialize");
    e->display = display;
    pdvm_status st = create_context(e, display, major, minor);
    if (st != PDVM_OK) {
        eglMakeCurrent(display, EGL_NO_SURFACE, EGL_NO_SURFACE, EGL_NO_CONTEXT);
        if (e->context != EGL_NO_CONTEXT) eglDestroyContext(display, e->context);
        e->display = EGL_NO_DISPLAY;
        e->context = EGL_NO_CONTEXT;
    }
    return st;
}

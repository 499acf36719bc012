/* Headless EGL platforms behind one small interface. Each platform finds an
 * EGLDisplay of its kind and makes an OpenGL ES 3.1 context current on it,
 * with no config and no surface. pdvm_egl_open tries them in the order of
 * DESIGN.md (gbm, device, surfaceless) unless one is forced.
 * This layer sits below the engine: it depends on EGL and pdvm.h's status
 * codes only, and explains a failure in pdvm_egl.error, which the GL
 * runtime turns into the thread's error message. */
#ifndef PDVM_PLATFORM_H
#define PDVM_PLATFORM_H

#include <stdbool.h>
#include <stddef.h>

#include <EGL/egl.h>
#include <EGL/eglext.h>

#include "pdvm.h"

typedef struct pdvm_egl_platform pdvm_egl_platform;

typedef struct pdvm_egl {
    const pdvm_egl_platform *platform;
    EGLDisplay display;
    EGLContext context;
    int drm_fd;          /* gbm: the render node; -1 otherwise */
    void *gbm;           /* gbm: the struct gbm_device; NULL otherwise */
    char device[128];    /* which device of the platform: a node path, "EGL device 1" */
    char report[1024];   /* why the platforms before it were not chosen */
    char error[1024];    /* why the last call failed */
} pdvm_egl;

struct pdvm_egl_platform {
    const char *name; /* "gbm", "device", "surfaceless" */
    /* Make a context current on the first usable device of this platform.
     * forced: the user named this platform, so devices the automatic order
     * leaves to a later platform (Mesa's software device) are taken too.
     * On failure e holds nothing to release and the message says why. */
    pdvm_status (*open)(pdvm_egl *e, bool forced);
    /* Release what open acquired besides the display and context. */
    void (*release)(pdvm_egl *e);
    /* EGL hands every caller the same display for the same native handle
     * (the default display, an EGLDevice), and eglTerminate would destroy
     * every context on it, another pdvm_gl's too. Such displays stay
     * initialized until the process ends; gbm's are private to one open. */
    bool shared_display;
};

extern const pdvm_egl_platform pdvm_egl_gbm;         /* platform/egl_gbm.c */
extern const pdvm_egl_platform pdvm_egl_device;      /* platform/egl_device.c */
extern const pdvm_egl_platform pdvm_egl_surfaceless; /* platform/egl_surfaceless.c */

/* name: NULL or "" for automatic (then $PDVM_PLATFORM is honoured).
 * Errors (explained in out->error): PDVM_ERR_INVALID_ARG for an unknown
 * name; PDVM_ERR_NO_PLATFORM listing every platform tried and why it failed. */
pdvm_status pdvm_egl_open(const char *name, pdvm_egl *out);
void pdvm_egl_close(pdvm_egl *e);

/* ---- shared by the platform files (platform/egl_context.c) ---- */

/* Record a printf-style message in e->error and return st. */
pdvm_status pdvm_egl_fail(pdvm_egl *e, pdvm_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Whether the space-separated extension list has exactly this name. */
bool pdvm_egl_has_ext(const char *list, const char *name);
/* Client extensions (EGL_NO_DISPLAY); "" when the EGL has none. */
const char *pdvm_egl_client_exts(void);
const char *pdvm_egl_error_name(EGLint err);
/* eglGetPlatformDisplayEXT(platform, native), when EGL_EXT_platform_base
 * is advertised. */
pdvm_status pdvm_egl_platform_display(pdvm_egl *e, EGLenum platform, void *native,
                                      EGLDisplay *out);
/* eglInitialize the display, create an OpenGL ES >= 3.1 context without
 * config or surface and make it current. On failure no context is left;
 * the display stays initialized (see shared_display). */
pdvm_status pdvm_egl_make_context(pdvm_egl *e, EGLDisplay display);

#endif

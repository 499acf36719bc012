/* EGL_MESA_platform_surfaceless: any Mesa driver with no window system,
 * llvmpipe included, which is what CI runs on. */
#include <stdio.h>

#include "platform.h"

static pdvm_status surfaceless_open(pdvm_egl *e, bool forced)
{
    (void)forced;
    if (!pdvm_egl_has_ext(pdvm_egl_client_exts(), "EGL_MESA_platform_surfaceless"))
        return pdvm_egl_fail(e, PDVM_ERR_NO_PLATFORM, "EGL_MESA_platform_surfaceless not advertised");
    EGLDisplay d;
    pdvm_status st = pdvm_egl_platform_display(e, EGL_PLATFORM_SURFACELESS_MESA,
                                               EGL_DEFAULT_DISPLAY, &d);
    if (st == PDVM_OK) st = pdvm_egl_make_context(e, d);
    if (st != PDVM_OK) return st;
    snprintf(e->device, sizeof e->device, "default display");
    return PDVM_OK;
}

static void surfaceless_release(pdvm_egl *e) { (void)e; }

const pdvm_egl_platform pdvm_egl_surfaceless = {"surfaceless", surfaceless_open,
                                                surfaceless_release, true};

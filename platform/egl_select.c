/* Which platform gives the context: the forced one, else the first of
 * gbm, device, surfaceless that works; the others' reasons are kept for
 * `pdvm info` and for the error when none works. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform.h"

static const pdvm_egl_platform *const platforms[] = {&pdvm_egl_gbm, &pdvm_egl_device,
                                                     &pdvm_egl_surfaceless};
enum { N_PLATFORMS = sizeof platforms / sizeof platforms[0] };

static const pdvm_egl_platform *find(const char *name)
{
    for (size_t i = 0; i < N_PLATFORMS; i++)
        if (!strcmp(platforms[i]->name, name)) return platforms[i];
    return NULL;
}

static void append(char *buf, size_t cap, const char *name, const char *why)
{
    size_t used = strlen(buf);
    if (used < cap) snprintf(buf + used, cap - used, "%s%s: %.400s", used ? "; " : "", name, why);
}

static pdvm_status try_platforms(const pdvm_egl_platform *const *list, size_t n, bool forced,
                                 pdvm_egl *out)
{
    char tried[sizeof out->report] = "";
    for (size_t i = 0; i < n; i++) {
        memset(out, 0, sizeof *out);
        out->drm_fd = -1;
        out->display = EGL_NO_DISPLAY;
        out->context = EGL_NO_CONTEXT;
        if (list[i]->open(out, forced) == PDVM_OK) {
            out->platform = list[i];
            memcpy(out->report, tried, sizeof out->report);
            return PDVM_OK;
        }
        append(tried, sizeof tried, list[i]->name, out->error);
    }
    return pdvm_egl_fail(out, PDVM_ERR_NO_PLATFORM,
                     "no EGL platform gave an OpenGL ES 3.1 context (%s)", tried);
}

pdvm_status pdvm_egl_open(const char *name, pdvm_egl *out)
{
    const char *source = "platform argument";
    if (!name || !*name) {
        name = getenv("PDVM_PLATFORM");
        source = "PDVM_PLATFORM";
    }
    if (!name || !*name) return try_platforms(platforms, N_PLATFORMS, false, out);
    const pdvm_egl_platform *forced = find(name);
    if (!forced)
        return pdvm_egl_fail(out, PDVM_ERR_INVALID_ARG,
                         "unknown EGL platform '%s' (%s): expected gbm, device or surfaceless",
                         name, source);
    pdvm_status st = try_platforms(&forced, 1, true, out);
    if (st != PDVM_OK) return st;
    snprintf(out->report, sizeof out->report, "forced by %s", source);
    return PDVM_OK;
}

void pdvm_egl_close(pdvm_egl *e)
{
    if (!e || !e->platform) return;
    if (e->display != EGL_NO_DISPLAY) {
        eglMakeCurrent(e->display, EGL_NO_SURFACE, EGL_NO_SURFACE, EGL_NO_CONTEXT);
        if (e->context != EGL_NO_CONTEXT) eglDestroyContext(e->display, e->context);
        if (!e->platform->shared_display) eglTerminate(e->display);
    }
    e->platform->release(e);
    e->platform = NULL;
    e->display = EGL_NO_DISPLAY;
    e->context = EGL_NO_CONTEXT;
}

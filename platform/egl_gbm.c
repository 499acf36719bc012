/* GBM on each DRM render node (/dev/dri/renderD*): Mesa's native headless
 * path on real GPUs (V3D, Panfrost, Freedreno, Intel, AMD). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gbm.h>

#include "platform.h"

enum { MAX_NODES = 16 };

typedef struct render_nodes {
    char path[MAX_NODES][64];
    int n;
} render_nodes;

static int compare_paths(const void *a, const void *b) { return strcmp(a, b); }

static pdvm_status list_render_nodes(pdvm_egl *e, render_nodes *nodes)
{
    nodes->n = 0;
    DIR *dir = opendir("/dev/dri");
    if (!dir) return pdvm_egl_fail(e, PDVM_ERR_NO_PLATFORM, "/dev/dri: %s", strerror(errno));
    for (struct dirent *ent; (ent = readdir(dir)) != NULL && nodes->n < MAX_NODES;)
        if (!strncmp(ent->d_name, "renderD", 7) && strlen(ent->d_name) < 32)
            snprintf(nodes->path[nodes->n++], sizeof nodes->path[0], "/dev/dri/%s",
                     ent->d_name);
    closedir(dir);
    if (nodes->n == 0) return pdvm_egl_fail(e, PDVM_ERR_NO_PLATFORM, "no /dev/dri/renderD* node");
    qsort(nodes->path, (size_t)nodes->n, sizeof nodes->path[0], compare_paths);
    return PDVM_OK;
}

static void gbm_release(pdvm_egl *e)
{
    if (e->gbm) gbm_device_destroy(e->gbm);
    if (e->drm_fd >= 0) close(e->drm_fd);
    e->gbm = NULL;
    e->drm_fd = -1;
}

static pdvm_status try_node(pdvm_egl *e, const char *path)
{
    e->drm_fd = open(path, O_RDWR | O_CLOEXEC);
    if (e->drm_fd < 0) return pdvm_egl_fail(e, PDVM_ERR_NO_PLATFORM, "open: %s", strerror(errno));
    e->gbm = gbm_create_device(e->drm_fd);
    pdvm_status st = PDVM_OK;
    if (!e->gbm) st = pdvm_egl_fail(e, PDVM_ERR_NO_PLATFORM, "gbm_create_device failed");
    EGLDisplay d = EGL_NO_DISPLAY;
    if (st == PDVM_OK) st = pdvm_egl_platform_display(e, EGL_PLATFORM_GBM_KHR, e->gbm, &d);
    if (st == PDVM_OK) st = pdvm_egl_make_context(e, d);
    if (st != PDVM_OK) {
        if (d != EGL_NO_DISPLAY) eglTerminate(d); /* before its gbm device goes */
        gbm_release(e);
    }
    return st;
}

static pdvm_status gbm_open(pdvm_egl *e, bool forced)
{
    (void)forced;
    const char *exts = pdvm_egl_client_exts();
    if (!pdvm_egl_has_ext(exts, "EGL_KHR_platform_gbm") &&
        !pdvm_egl_has_ext(exts, "EGL_MESA_platform_gbm"))
        return pdvm_egl_fail(e, PDVM_ERR_NO_PLATFORM, "EGL_KHR_platform_gbm not advertised");
    render_nodes nodes;
    pdvm_status st = list_render_nodes(e, &nodes);
    if (st != PDVM_OK) return st;
    char tried[768] = "";
    for (int i = 0; i < nodes.n; i++) {
        if (try_node(e, nodes.path[i]) == PDVM_OK) {
            snprintf(e->device, sizeof e->device, "%s", nodes.path[i]);
            return PDVM_OK;
        }
        size_t used = strlen(tried);
        snprintf(tried + used, sizeof tried - used, "%s%s: %.300s", used ? "; " : "", nodes.path[i],
                 e->error);
    }
    return pdvm_egl_fail(e, PDVM_ERR_NO_PLATFORM, "%s", tried);
}

const pdvm_egl_platform pdvm_egl_gbm = {"gbm", gbm_open, gbm_release, false};

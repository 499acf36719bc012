/* EGL_EXT_platform_device: the GPUs EGL enumerates itself, the way to a
 * headless NVIDIA driver (and faster there than its surfaceless platform). */
#include <stdio.h>
#include <string.h>

#include "platform.h"

enum { MAX_DEVICES = 16 };

typedef struct device_api {
    PFNEGLQUERYDEVICESEXTPROC query_devices;
    PFNEGLQUERYDEVICESTRINGEXTPROC query_string; /* NULL without EGL_EXT_device_query */
} device_api;

static pdvm_status load_api(pdvm_egl *e, device_api *api)
{
    const char *exts = pdvm_egl_client_exts();
    if (!pdvm_egl_has_ext(exts, "EGL_EXT_platform_device"))
        return pdvm_egl_fail(e, PDVM_ERR_NO_PLATFORM, "EGL_EXT_platform_device not advertised");
    if (!pdvm_egl_has_ext(exts, "EGL_EXT_device_enumeration") &&
        !pdvm_egl_has_ext(exts, "EGL_EXT_device_base"))
        return pdvm_egl_fail(e, PDVM_ERR_NO_PLATFORM, "EGL_EXT_device_enumeration not advertised");
    api->query_devices = (PFNEGLQUERYDEVICESEXTPROC)eglGetProcAddress("eglQueryDevicesEXT");
    api->query_string = NULL;
    if (pdvm_egl_has_ext(exts, "EGL_EXT_device_query") ||
        pdvm_egl_has_ext(exts, "EGL_EXT_device_base"))
        api->query_string =
            (PFNEGLQUERYDEVICESTRINGEXTPROC)eglGetProcAddress("eglQueryDeviceStringEXT");
    if (!api->query_devices) return pdvm_egl_fail(e, PDVM_ERR_NO_PLATFORM, "eglQueryDevicesEXT not found");
    return PDVM_OK;
}

static const char *device_string(const device_api *api, EGLDeviceEXT dev, EGLint name)
{
    if (!api->query_string) return NULL;
    const char *s = api->query_string(dev, name);
    if (!s) (void)eglGetError();
    return s;
}

static void describe(const device_api *api, EGLDeviceEXT dev, int i, char *buf, size_t cap)
{
    const char *exts = device_string(api, dev, EGL_EXTENSIONS);
    const char *file = NULL;
    if (pdvm_egl_has_ext(exts, "EGL_EXT_device_drm"))
        file = device_string(api, dev, EGL_DRM_DEVICE_FILE_EXT);
    if (file)
        snprintf(buf, cap, "EGL device %d (%s)", i, file);
    else
        snprintf(buf, cap, "EGL device %d", i);
}

/* Try one device; on failure append "EGL device i: why; " to tried. */
static pdvm_status try_device(pdvm_egl *e, const device_api *api, EGLDeviceEXT dev, int i,
                              bool forced, char *tried, size_t cap)
{
    const char *exts = device_string(api, dev, EGL_EXTENSIONS);
    pdvm_status st;
    if (!forced && pdvm_egl_has_ext(exts, "EGL_MESA_device_software")) {
        st = pdvm_egl_fail(e, PDVM_ERR_NO_PLATFORM,
                       "Mesa's software device, left to the surfaceless platform");
    } else {
        EGLDisplay d = EGL_NO_DISPLAY;
        st = pdvm_egl_platform_display(e, EGL_PLATFORM_DEVICE_EXT, dev, &d);
        if (st == PDVM_OK) st = pdvm_egl_make_context(e, d);
    }
    if (st == PDVM_OK) {
        describe(api, dev, i, e->device, sizeof e->device);
        return PDVM_OK;
    }
    size_t used = strlen(tried);
    snprintf(tried + used, cap - used, "%sEGL device %d: %.300s", used ? "; " : "", i,
             e->error);
    return st;
}

static pdvm_status device_open(pdvm_egl *e, bool forced)
{
    device_api api = {0};
    pdvm_status st = load_api(e, &api);
    if (st != PDVM_OK) return st;
    EGLDeviceEXT devs[MAX_DEVICES];
    EGLint n = 0;
    if (!api.query_devices(MAX_DEVICES, devs, &n)) {
        EGLint err = eglGetError();
        return pdvm_egl_fail(e, PDVM_ERR_NO_PLATFORM, "eglQueryDevicesEXT failed: %s",
                         pdvm_egl_error_name(err));
    }
    if (n <= 0) return pdvm_egl_fail(e, PDVM_ERR_NO_PLATFORM, "eglQueryDevicesEXT found no device");
    char tried[768] = "";
    for (EGLint i = 0; i < n; i++)
        if (try_device(e, &api, devs[i], (int)i, forced, tried, sizeof tried) == PDVM_OK)
            return PDVM_OK;
    return pdvm_egl_fail(e, PDVM_ERR_NO_PLATFORM, "%s", tried);
}

static void device_release(pdvm_egl *e) { (void)e; }

const pdvm_egl_platform pdvm_egl_device = {"device", device_open, device_release, true};

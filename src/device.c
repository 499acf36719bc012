/* The public device: a GL runtime context of its own (pdvm_device is the
 * runtime's pdvm_gl), each call made on its context. */
#include "error.h"
#include "gl_runtime.h"

pdvm_status pdvm_device_open(const char *platform, pdvm_device **out)
{
    if (!out) return pdvm_fail(PDVM_ERR_INVALID_ARG, "pdvm_device_open: out is NULL");
    return pdvm_gl_open(platform, out);
}

void pdvm_device_close(pdvm_device *d)
{
    if (d) pdvm_gl_close(d);
}

const pdvm_device_info *pdvm_device_get_info(const pdvm_device *d)
{
    return pdvm_gl_get_info(d);
}

const char *pdvm_device_extension(pdvm_device *d, size_t i)
{
    if (!d || pdvm_gl_make_current(d) != PDVM_OK) return NULL;
    GLint n = 0;
    glGetIntegerv(GL_NUM_EXTENSIONS, &n);
    if (i >= (size_t)(n > 0 ? n : 0)) return NULL;
    return (const char *)glGetStringi(GL_EXTENSIONS, (GLuint)i);
}

pdvm_status pdvm_device_measure_bandwidth(pdvm_device *d, uint64_t bytes, double *gbps)
{
    if (!d || !gbps) return pdvm_fail(PDVM_ERR_INVALID_ARG, "pdvm_device_measure_bandwidth: NULL");
    *gbps = 0;
    if (bytes < 4096)
        return pdvm_fail(PDVM_ERR_INVALID_ARG, "bandwidth over %llu bytes: at least 4096 needed",
                         (unsigned long long)bytes);
    PDVM_TRY(pdvm_gl_make_current(d));
    return pdvm_gl_measure_bandwidth(d, bytes, gbps);
}

pdvm_status pdvm_device_measure_latency(pdvm_device *d, double *us)
{
    if (!d || !us) return pdvm_fail(PDVM_ERR_INVALID_ARG, "pdvm_device_measure_latency: NULL");
    PDVM_TRY(pdvm_gl_make_current(d));
    return pdvm_gl_measure_latency(d, us);
}

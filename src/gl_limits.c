/* Every driver limit the engine relies on, read from the driver, and the
 * PDVM_LIMITS=minimum mode that pretends the driver is at the GLES 3.1
 * floor (DESIGN.md, Portability) so llvmpipe proves the weakest GPU. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "gl_internal.h"

/* The GLES 3.1 minimums (OpenGL ES 3.1 spec, table 20.45/20.48). */
static const pdvm_gl_limits gles31_minimum = {
    .max_ssbo_bindings = 4,
    .max_invocations = 128,
    .max_shared_bytes = 16384,
    .max_wg_size = {128, 128, 64},
    .max_wg_count = {65535, 65535, 65535},
    .max_ssbo_bytes = (int64_t)1 << 27,
    .ssbo_align = 256, /* the largest alignment the spec lets a driver ask */
};

bool pdvm_gl_has_ext(const char *name)
{
    GLint n = 0;
    glGetIntegerv(GL_NUM_EXTENSIONS, &n);
    for (GLint i = 0; i < n; i++) {
        const char *e = (const char *)glGetStringi(GL_EXTENSIONS, (GLuint)i);
        if (e && !strcmp(e, name)) return true;
    }
    return false;
}

static void read_subgroup(pdvm_gl_limits *l)
{
    if (!pdvm_gl_has_ext("GL_KHR_shader_subgroup")) return;
    GLint size = 0, stages = 0, features = 0;
    glGetIntegerv(GL_SUBGROUP_SIZE_KHR, &size);
    glGetIntegerv(GL_SUBGROUP_SUPPORTED_STAGES_KHR, &stages);
    glGetIntegerv(GL_SUBGROUP_SUPPORTED_FEATURES_KHR, &features);
    const GLint needed = GL_SUBGROUP_FEATURE_BASIC_BIT_KHR | GL_SUBGROUP_FEATURE_ARITHMETIC_BIT_KHR;
    l->subgroup_size = size > 0 ? (uint32_t)size : 0;
    l->subgroup_features = (uint32_t)features;
    l->subgroup = (stages & GL_COMPUTE_SHADER_BIT) && (features & needed) == needed && size > 0;
}

static void read_driver(pdvm_gl_limits *l)
{
    memset(l, 0, sizeof *l);
    glGetIntegerv(GL_MAX_COMPUTE_SHADER_STORAGE_BLOCKS, &l->max_ssbo_bindings);
    glGetIntegerv(GL_MAX_COMPUTE_WORK_GROUP_INVOCATIONS, &l->max_invocations);
    glGetIntegerv(GL_MAX_COMPUTE_SHARED_MEMORY_SIZE, &l->max_shared_bytes);
    for (GLuint i = 0; i < 3; i++) {
        glGetIntegeri_v(GL_MAX_COMPUTE_WORK_GROUP_SIZE, i, &l->max_wg_size[i]);
        glGetIntegeri_v(GL_MAX_COMPUTE_WORK_GROUP_COUNT, i, &l->max_wg_count[i]);
    }
    GLint64 block = 0;
    glGetInteger64v(GL_MAX_SHADER_STORAGE_BLOCK_SIZE, &block);
    l->max_ssbo_bytes = block;
    glGetIntegerv(GL_SHADER_STORAGE_BUFFER_OFFSET_ALIGNMENT, &l->ssbo_align);
    read_subgroup(l);
}

#define LOWER(field) if (min->field < l->field) l->field = min->field

static void apply_minimum(pdvm_gl_limits *l, const pdvm_gl_limits *min)
{
    LOWER(max_ssbo_bindings);
    LOWER(max_invocations);
    LOWER(max_shared_bytes);
    LOWER(max_ssbo_bytes);
    for (int i = 0; i < 3; i++) {
        LOWER(max_wg_size[i]);
        LOWER(max_wg_count[i]);
    }
    /* Alignment is the one limit that gets stricter at the floor. */
    if (l->ssbo_align < min->ssbo_align) l->ssbo_align = min->ssbo_align;
    l->subgroup = false;
    l->subgroup_size = 0;
    l->subgroup_features = 0;
    l->minimum = true;
}

/* "134217728", "128M", "64K", "1G" (binary units). */
static pdvm_status parse_bytes(const char *s, int64_t *out)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    int shift = 0;
    if (end && (*end == 'K' || *end == 'k')) shift = 10;
    else if (end && (*end == 'M' || *end == 'm')) shift = 20;
    else if (end && (*end == 'G' || *end == 'g')) shift = 30;
    if (shift) end++;
    /* Below 4 KiB not even the smallest test model's plans, nor the
     * bandwidth probe, would have room. */
    if (errno || end == s || *end != '\0' || v <= 0 || v > (INT64_MAX >> shift) ||
        ((int64_t)v << shift) < 4096)
        return pdvm_fail(PDVM_ERR_INVALID_ARG,
                         "PDVM_MAX_SSBO_BYTES='%s': expected a byte count from 4096 (4K) up, "
                         "like 64M", s);
    *out = (int64_t)v << shift;
    return PDVM_OK;
}

static bool sane(const pdvm_gl_limits *l)
{
    return l->max_ssbo_bindings >= 1 && l->max_invocations >= 1 && l->max_wg_size[0] >= 1 &&
           l->max_wg_count[0] >= 1 && l->max_ssbo_bytes >= 4 && l->ssbo_align >= 1 &&
           (l->ssbo_align & (l->ssbo_align - 1)) == 0;
}

pdvm_status pdvm_gl_read_limits(pdvm_gl *gl)
{
    pdvm_gl_limits *l = &gl->info.limits;
    read_driver(l);
    if (!sane(l))
        return pdvm_fail(PDVM_ERR_GPU,
                         "the driver reports unusable compute limits (SSBO bindings %d, "
                         "invocations %d, SSBO bytes %lld, alignment %d)",
                         l->max_ssbo_bindings, l->max_invocations, (long long)l->max_ssbo_bytes,
                         l->ssbo_align);
    const char *mode = getenv("PDVM_LIMITS");
    if (mode && *mode && strcmp(mode, "driver") != 0) {
        if (strcmp(mode, "minimum") != 0)
            return pdvm_fail(PDVM_ERR_INVALID_ARG,
                             "PDVM_LIMITS='%s': expected 'minimum' (or 'driver')", mode);
        apply_minimum(l, &gles31_minimum);
    }
    const char *max_bytes = getenv("PDVM_MAX_SSBO_BYTES");
    if (max_bytes && *max_bytes) {
        int64_t v = 0;
        PDVM_TRY(parse_bytes(max_bytes, &v));
        if (v < l->max_ssbo_bytes) l->max_ssbo_bytes = v;
    }
    return PDVM_OK;
}

/* The GPU weight-type table (see gpu_types.h). Block layouts from ggml's
 * ggml-common.h. */
#include "gpu_types.h"

#include <stdio.h>
#include <strings.h>

#include "error.h"
#include "quant.h"

#define PLAIN(t, name, fill) \
    {t, "dot_" name, "dot_" name "_v4", "deq_" name, "seg_" name, fill, -1, -1, 0, {{0, 0}}}
#define BLOCKS(t, name, a, b, n, ...)                                                      \
    {t, "dot_" name, "dot_" name "_v4", "deq_" name, "seg_" name, GPU_FILL_BLOCKS, a, b, n, \
     {__VA_ARGS__}}

/* Which fields are repacked: every type whose blocks leave its quants off
 * 16-byte boundaries (all but Q4_K and Q5_K, whose 144- and 176-byte
 * blocks keep them there already). */
static const gpu_type table[] = {
    PLAIN(PDVM_TYPE_F32, "f32", GPU_FILL_F32),
    PLAIN(PDVM_TYPE_F16, "f16", GPU_FILL_F16),
    PLAIN(PDVM_TYPE_BF16, "bf16", GPU_FILL_BF16),
    /* { half d; qs[32] } */
    BLOCKS(PDVM_TYPE_Q8_0, "q8_0", 0, -1, 2, {2, 32}, {0, 2}),
    /* { half d; qs[16] } */
    BLOCKS(PDVM_TYPE_Q4_0, "q4_0", 0, -1, 2, {2, 16}, {0, 2}),
    /* { half d, m; qs[16] } */
    BLOCKS(PDVM_TYPE_Q4_1, "q4_1", 0, 2, 2, {4, 16}, {0, 4}),
    /* { half d; qh[4]; qs[16] } */
    BLOCKS(PDVM_TYPE_Q5_0, "q5_0", 0, -1, 3, {6, 16}, {2, 4}, {0, 2}),
    /* { half d, m; qh[4]; qs[16] } */
    BLOCKS(PDVM_TYPE_Q5_1, "q5_1", 0, 2, 3, {8, 16}, {4, 4}, {0, 4}),
    /* { half d; qs[16] } */
    BLOCKS(PDVM_TYPE_IQ4_NL, "iq4_nl", 0, -1, 2, {2, 16}, {0, 2}),
    /* { scales[16]; qs[64]; half d, dmin } */
    BLOCKS(PDVM_TYPE_Q2_K, "q2_k", 80, 82, 3, {16, 64}, {0, 16}, {80, 4}),
    /* { hmask[32]; qs[64]; scales[12]; half d } */
    BLOCKS(PDVM_TYPE_Q3_K, "q3_k", 108, -1, 4, {32, 64}, {0, 32}, {96, 12}, {108, 2}),
    /* { half d, dmin; scales[12]; qs[128] } */
    BLOCKS(PDVM_TYPE_Q4_K, "q4_k", 0, 2, 0, {0, 0}),
    /* { half d, dmin; scales[12]; qh[32]; qs[128] } */
    BLOCKS(PDVM_TYPE_Q5_K, "q5_k", 0, 2, 0, {0, 0}),
    /* { ql[128]; qh[64]; int8 scales[16]; half d } */
    BLOCKS(PDVM_TYPE_Q6_K, "q6_k", 208, -1, 4, {0, 128}, {128, 64}, {192, 16}, {208, 2}),
    /* { half d; u16 scales_h; scales_l[4]; qs[128] } */
    BLOCKS(PDVM_TYPE_IQ4_XS, "iq4_xs", 0, -1, 2, {8, 128}, {0, 8}),
};
#define N_TYPES (sizeof table / sizeof table[0])

const gpu_type *gpu_type_find(uint32_t type)
{
    for (size_t i = 0; i < N_TYPES; i++)
        if (table[i].type == type) return &table[i];
    return NULL;
}

const gpu_type *gpu_type_at(size_t i) { return i < N_TYPES ? &table[i] : NULL; }

void gpu_type_names(char *buf, size_t cap)
{
    size_t len = 0;
    if (cap) buf[0] = 0;
    for (size_t i = 0; i < N_TYPES && len < cap; i++) {
        int n = snprintf(buf + len, cap - len, "%s%s", i ? ", " : "",
                         pdvm_type_name(table[i].type));
        if (n < 0) break;
        len += (size_t)n;
    }
}

bool gpu_type_parse(const char *name, uint32_t *type)
{
    for (size_t i = 0; i < N_TYPES; i++)
        if (!strcasecmp(name, pdvm_type_name(table[i].type))) {
            *type = table[i].type;
            return true;
        }
    return false;
}

pdvm_status gpu_type_check(uint32_t type, const char *tensor)
{
    if (gpu_type_find(type)) return PDVM_OK;
    char names[256];
    gpu_type_names(names, sizeof names);
    if (tensor)
        return pdvm_fail(PDVM_ERR_UNSUPPORTED, "GPU backend: tensor %s has type %s, which has "
                         "no GPU kernel (supported: %s)", tensor, pdvm_type_name(type), names);
    return pdvm_fail(PDVM_ERR_UNSUPPORTED, "GPU backend: no kernel for type %s (supported: %s)",
                     pdvm_type_name(type), names);
}

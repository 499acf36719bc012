#include "synth_fill.h"

#include <stdio.h>

#include "error.h"
#include "quant.h"

/* Where each block format keeps its f16 scales (ggml-common.h); Q8_0 and
 * Q4_0 rows keep them after the quants on the GPU (gpu_repack.h). */
typedef struct fill_layout {
    uint32_t type;
    const char *defines;
} fill_layout;

static const fill_layout layouts[] = {
    {PDVM_TYPE_F32, "#define ALL_FLOAT 1\n#define BLOCK_BYTES 4\n#define SCALE_A -1\n#define SCALE_B -1\n"},
    {PDVM_TYPE_F16, "#define ALL_HALF 1\n#define BLOCK_BYTES 2\n#define SCALE_A -1\n#define SCALE_B -1\n"},
    {PDVM_TYPE_Q8_0, "#define BLOCK_BYTES 34\n#define SCALE_A 0\n#define SCALE_B -1\n#define SOA_QBYTES 32\n"},
    {PDVM_TYPE_Q4_0, "#define BLOCK_BYTES 18\n#define SCALE_A 0\n#define SCALE_B -1\n#define SOA_QBYTES 16\n"},
    {PDVM_TYPE_Q4_K, "#define BLOCK_BYTES 144\n#define SCALE_A 0\n#define SCALE_B 2\n"},
    {PDVM_TYPE_Q6_K, "#define BLOCK_BYTES 210\n#define SCALE_A 208\n#define SCALE_B -1\n"},
};

enum { FILL_WG = 128 }; /* within the GLES 3.1 minimum of invocations */

static const fill_layout *find_layout(uint32_t type)
{
    for (size_t i = 0; i < sizeof layouts / sizeof layouts[0]; i++)
        if (layouts[i].type == type) return &layouts[i];
    return NULL;
}

pdvm_status pdvm_synth_fill(pdvm_gl *gl, const pdvm_gl_buffer *b, uint64_t offset,
                            uint64_t bytes, uint64_t row_bytes, uint32_t type, uint32_t seed)
{
    const fill_layout *lay = find_layout(type);
    if (!lay)
        return pdvm_fail(PDVM_ERR_UNSUPPORTED, "no random fill for %s weights",
                         pdvm_type_name(type));
    char defines[256];
    snprintf(defines, sizeof defines, "#define WG_SIZE %d\n%s", FILL_WG, lay->defines);
    pdvm_gl_program prog;
    PDVM_TRY(pdvm_gl_program_build(gl, "synth_fill", defines, &prog));
    const uint64_t n_words = (bytes + 3) / 4;
    pdvm_gl_bind(gl, 0, b, offset, n_words * 4);
    pdvm_gl_uniform_u32(&prog, "n_words", (uint32_t)n_words);
    pdvm_gl_uniform_u32(&prog, "seed", seed);
    pdvm_gl_uniform_u32(&prog, "row_bytes", (uint32_t)(row_bytes ? row_bytes : bytes));
    const uint64_t max_groups = (uint64_t)pdvm_gl_get_limits(gl)->max_wg_count[0];
    pdvm_status st = PDVM_OK;
    for (uint64_t first = 0; first < n_words && st == PDVM_OK;) {
        uint64_t groups = (n_words - first + FILL_WG - 1) / FILL_WG;
        if (groups > max_groups) groups = max_groups;
        pdvm_gl_uniform_u32(&prog, "first_word", (uint32_t)first);
        st = pdvm_gl_dispatch(gl, &prog, (uint32_t)groups, 1, 1);
        first += groups * FILL_WG;
    }
    if (st == PDVM_OK) st = pdvm_gl_check(gl, "synth_fill");
    pdvm_gl_program_delete(gl, &prog);
    return st;
}

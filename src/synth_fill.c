#include "synth_fill.h"

#include <stdio.h>

#include "error.h"
#include "gpu_types.h"
#include "quant.h"

enum { FILL_WG = 128 }; /* within the GLES 3.1 minimum of invocations */

/* synth_fill.comp's defines for a type: the float kind, or the block size,
 * the f16 fields (ggml-common.h) and the GPU row's field order. */
static pdvm_status fill_defines(const gpu_type *t, char *out, size_t cap)
{
    static const char *const plain[] = {
        [GPU_FILL_F32] = "#define ALL_FLOAT 1\n",
        [GPU_FILL_F16] = "#define ALL_HALF 1\n",
        [GPU_FILL_BF16] = "#define ALL_BF16 1\n",
    };
    int n = snprintf(out, cap, "#define WG_SIZE %d\n", FILL_WG);
    if (t->fill != GPU_FILL_BLOCKS) {
        snprintf(out + n, cap - (size_t)n, "%s", plain[t->fill]);
        return PDVM_OK;
    }
    char src[64] = "", size[64] = "";
    for (uint32_t f = 0, ls = 0, lz = 0; f < t->n_fields; f++) {
        ls += (uint32_t)snprintf(src + ls, sizeof src - ls, "%s%u", f ? "," : "", t->fields[f].src);
        lz += (uint32_t)snprintf(size + lz, sizeof size - lz, "%s%u", f ? "," : "", t->fields[f].size);
    }
    int m = snprintf(out + n, cap - (size_t)n,
                     "#define BLOCK_BYTES %u\n#define SCALE_A %d\n#define SCALE_B %d\n"
                     "#define N_FIELDS %u\n#define FIELD_SRC %s\n#define FIELD_SIZE %s\n",
                     pdvm_type_block_bytes(t->type), t->half_a, t->half_b, t->n_fields, src, size);
    if (m < 0 || (size_t)m >= cap - (size_t)n)
        return pdvm_fail(PDVM_ERR_GPU, "synthetic fill: defines too long");
    return PDVM_OK;
}

pdvm_status pdvm_synth_fill(pdvm_gl *gl, const pdvm_gl_buffer *b, uint64_t offset,
                            uint64_t bytes, uint64_t row_bytes, uint32_t type, uint32_t seed)
{
    const gpu_type *t = gpu_type_find(type);
    if (!t)
        return pdvm_fail(PDVM_ERR_UNSUPPORTED, "no random fill for %s weights",
                         pdvm_type_name(type));
    char defines[512];
    PDVM_TRY(fill_defines(t, defines, sizeof defines));
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

/* Quants-then-scales rows for Q4_0 and Q8_0 (see gpu_repack.h). */
#include "gpu_repack.h"

#include <string.h>

#include "quant.h"

bool gpu_repacked(uint32_t type) { return type == PDVM_TYPE_Q4_0 || type == PDVM_TYPE_Q8_0; }

/* ggml's blocks: f16 d, then the quants. */
static uint32_t quant_bytes(uint32_t type) { return type == PDVM_TYPE_Q4_0 ? 16 : 32; }

void gpu_repack_rows(uint32_t type, uint64_t rb, uint64_t n_rows, const uint8_t *src,
                     uint8_t *dst)
{
    if (!gpu_repacked(type)) {
        memcpy(dst, src, rb * n_rows);
        return;
    }
    const uint64_t qb = quant_bytes(type), bb = qb + 2, nb = rb / bb;
    for (uint64_t r = 0; r < n_rows; r++) {
        const uint8_t *s = src + r * rb;
        uint8_t *q = dst + r * rb, *d = q + nb * qb;
        for (uint64_t b = 0; b < nb; b++) {
            memcpy(q + b * qb, s + b * bb + 2, qb);
            memcpy(d + 2 * b, s + (uint64_t)b * bb, 2);
        }
    }
}

/* Field-by-field rows (see gpu_repack.h). */
#include "gpu_repack.h"

#include <string.h>

#include "gpu_types.h"
#include "quant.h"

bool gpu_repacked(uint32_t type)
{
    const gpu_type *t = gpu_type_find(type);
    return t && t->n_fields;
}

void gpu_repack_rows(uint32_t type, uint64_t rb, uint64_t n_rows, const uint8_t *src,
                     uint8_t *dst)
{
    const gpu_type *t = gpu_type_find(type);
    if (!t || !t->n_fields) {
        memcpy(dst, src, rb * n_rows);
        return;
    }
    const uint64_t bb = pdvm_type_block_bytes(type), nb = rb / bb;
    for (uint64_t r = 0; r < n_rows; r++) {
        const uint8_t *s = src + r * rb;
        uint8_t *d = dst + r * rb;
        for (uint32_t f = 0; f < t->n_fields; f++) {
            const gpu_field fl = t->fields[f];
            for (uint64_t b = 0; b < nb; b++, d += fl.size) memcpy(d, s + b * bb + fl.src, fl.size);
        }
    }
}

/* Arena layout: several tensors in one SSBO, each at an offset the SSBO
 * binding alignment allows, never past the block-size limit. */
#include "arena.h"

void pdvm_arena_init(pdvm_arena *a, uint64_t align, uint64_t max_bytes)
{
    a->align = align ? align : 1;
    a->max_bytes = max_bytes;
    a->used = 0;
}

bool pdvm_arena_place(pdvm_arena *a, uint64_t bytes, uint64_t *offset)
{
    uint64_t pad = (a->align - a->used % a->align) % a->align;
    if (a->used > UINT64_MAX - pad) return false;
    uint64_t start = a->used + pad;
    if (start > a->max_bytes || bytes > a->max_bytes - start) return false;
    *offset = start;
    a->used = start + bytes;
    return true;
}

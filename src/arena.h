/* Arena layout: several tensors in one SSBO at aligned offsets, never past
 * the block-size limit. Pure bookkeeping, no GL, so the memory plans can be
 * made and tested without a context. */
#ifndef PDVM_ARENA_H
#define PDVM_ARENA_H

#include <stdbool.h>
#include <stdint.h>

typedef struct pdvm_arena {
    uint64_t align;     /* power of two */
    uint64_t max_bytes; /* block-size limit */
    uint64_t used;
} pdvm_arena;

void pdvm_arena_init(pdvm_arena *a, uint64_t align, uint64_t max_bytes);
/* Reserve bytes; false (arena unchanged) when it would pass max_bytes. */
bool pdvm_arena_place(pdvm_arena *a, uint64_t bytes, uint64_t *offset);

#endif

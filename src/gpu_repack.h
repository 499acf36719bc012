/* GPU-side row layouts (the `fields` of gpu_types.h). GGUF blocks of 18,
 * 22, 34, 110 or 210 bytes leave most blocks only 2-byte aligned, so a
 * kernel reading them in place needs several unaligned word loads a
 * block, strided across a subgroup's lanes; that, not DRAM, bounded a
 * Q4_0 mat-vec to 0.74 TB/s on an H200. On the GPU such a row is stored
 * field by field: the quants of every block in block order, then the next
 * field of every block (high bits, scales), ...: the same bytes and the
 * same bits per weight (nothing is dequantized), one aligned 16-byte load
 * of quants per 32 weights when the row starts on 16 bytes. Types whose
 * table row has no fields keep GGUF's layout. */
#ifndef PDVM_GPU_REPACK_H
#define PDVM_GPU_REPACK_H

#include <stdbool.h>
#include <stdint.h>

/* Whether rows of this type are rearranged on the GPU. */
bool gpu_repacked(uint32_t type);

/* Rearrange n_rows rows of row_bytes bytes from GGUF blocks (src) into
 * the GPU layout (dst, same size, not overlapping src). Types that are not
 * rearranged are copied. */
void gpu_repack_rows(uint32_t type, uint64_t row_bytes, uint64_t n_rows, const uint8_t *src,
                     uint8_t *dst);

#endif

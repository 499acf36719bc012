/* Where an open GGUF's bytes come from, and how a one-pass copy of its
 * tensors (the GPU upload, --check-tensors) reads them without leaving the
 * file resident in the process.
 *
 * With mmap (the default) the file is mapped read-only; a one-pass reader
 * takes each piece through the map and, done with it, drops those pages
 * from the process (madvise MADV_DONTNEED: a clean file page leaves the
 * resident set and comes back from the page cache, unchanged, if anyone
 * reads it again). Without mmap the header and the 1-D tensors (norms,
 * biases, RoPE factors: what the CPU side of a GPU session reads through
 * tensor pointers) are read in at open into an anonymous region the size
 * of the file; a one-pass reader reads the rest with pread() through a
 * bounded staging buffer, and the CPU backend, which needs every weight
 * behind its pointer, reads the whole data section in once
 * (pdvm_gguf_load_data). mlock keeps every byte resident and locked:
 * nothing is dropped. */
#ifndef PDVM_GGUF_SOURCE_H
#define PDVM_GGUF_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gguf.h"

/* pdvm_gguf_open with a choice of source: use_mmap false reads instead of
 * mapping (see above); use_mlock locks the file's bytes in RAM (read in
 * first without mmap). Errors as pdvm_gguf_open, and PDVM_ERR_NOMEM when
 * mlock fails (the message gives RLIMIT_MEMLOCK). */
pdvm_status pdvm_gguf_open_opts(const char *path, bool use_mmap, bool use_mlock,
                                pdvm_gguf **out);

/* Make every tensor readable through its data pointer: a file opened
 * without mmap reads its data section in (once; threads may call this at
 * the same time); other sources have nothing to do. Errors: PDVM_ERR_IO. */
pdvm_status pdvm_gguf_load_data(pdvm_gguf *g);

/* A one-pass reader over tensor bytes. g NULL: pointers are plain memory. */
typedef struct gguf_window {
    const pdvm_gguf *g;
    uint8_t *staging;   /* reads of files opened without mmap */
    size_t cap;
} gguf_window;

static inline gguf_window gguf_window_init(const pdvm_gguf *g)
{
    return (gguf_window){g, NULL, 0};
}
void gguf_window_free(gguf_window *w);

/* The n bytes at p (a pointer into g's tensor data, as gguf_tensor.data
 * and the model's tensors hold): *out is p itself when the bytes are
 * mapped or in memory, else the staging buffer after a read. Valid until
 * the next call. Errors: PDVM_ERR_IO (read failed), PDVM_ERR_NOMEM,
 * PDVM_ERR_INVALID_ARG (p is not inside g's data). */
pdvm_status gguf_window_get(gguf_window *w, const void *p, uint64_t n, const void **out);

/* Done with the n bytes at p for good: a mapped, unlocked file's pages
 * covering them leave the process. Pages are whole, so a neighbour's bytes
 * may leave too; they read back the same. */
void gguf_window_release(gguf_window *w, const void *p, uint64_t n);

#endif

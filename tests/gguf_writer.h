/* A tiny GGUF writer for tests: builds files in memory, byte by byte, so
 * tests can produce valid files and every kind of broken one. Test helper
 * only (linked into every test binary), not library code. */
#ifndef PDVM_TEST_GGUF_WRITER_H
#define PDVM_TEST_GGUF_WRITER_H

#include <stddef.h>
#include <stdint.h>

typedef struct gw {
    uint8_t *buf;
    size_t len, cap;
} gw;

void gw_free(gw *w);
void gw_bytes(gw *w, const void *p, size_t n);
void gw_u8(gw *w, uint8_t v);
void gw_u32(gw *w, uint32_t v);
void gw_u64(gw *w, uint64_t v);
void gw_f32(gw *w, float v);
void gw_str(gw *w, const char *s); /* u64 length + bytes */
void gw_pad(gw *w, size_t align);  /* zero bytes up to a multiple of align */
/* Overwrite 4 or 8 bytes at offset (little-endian). */
void gw_put_u32(gw *w, size_t at, uint32_t v);
void gw_put_u64(gw *w, size_t at, uint64_t v);

/* Metadata entries: key, value type (gguf_type numbering), value. */
void gw_kv_u32(gw *w, const char *key, uint32_t v);
void gw_kv_i32(gw *w, const char *key, int32_t v);
void gw_kv_f32(gw *w, const char *key, float v);
void gw_kv_str(gw *w, const char *key, const char *v);
/* Array header only (key, type 9, elem_type, n); the caller writes items. */
void gw_kv_arr(gw *w, const char *key, uint32_t elem_type, uint64_t n);

typedef struct gw_tensor {
    const char *name;
    uint32_t type;
    uint32_t n_dims;
    int64_t ne[4];
} gw_tensor;

/* Bytes of a tensor's data (ne[0] a multiple of the block size). */
uint64_t gw_tensor_bytes(const gw_tensor *t);

/* A whole file: header (version 3), n_kv entries already serialized in kv,
 * tensor infos with offsets laid out back to back at `alignment`, padding,
 * then data filled by fill(seed) (pseudo-random bytes; F32 tensors get
 * floats in [-0.5, 0.5)). If info_at is non-NULL it receives the file
 * offset of each tensor info (n_tensors entries). */
void gw_file(gw *out, const gw *kv, uint64_t n_kv, const gw_tensor *t, size_t n_tensors,
             uint32_t alignment, uint64_t seed, size_t *info_at);

#endif

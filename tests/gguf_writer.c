#include "gguf_writer.h"

#include <stdlib.h>
#include <string.h>

#include "quant.h"
#include "test_util.h"

void gw_free(gw *w)
{
    free(w->buf);
    memset(w, 0, sizeof *w);
}

void gw_bytes(gw *w, const void *p, size_t n)
{
    if (w->len + n > w->cap) {
        size_t cap = w->cap ? w->cap : 256;
        while (cap < w->len + n) cap *= 2;
        uint8_t *b = realloc(w->buf, cap);
        if (!b) abort();
        w->buf = b;
        w->cap = cap;
    }
    if (n) memcpy(w->buf + w->len, p, n);
    w->len += n;
}

void gw_u8(gw *w, uint8_t v) { gw_bytes(w, &v, 1); }

void gw_put_u32(gw *w, size_t at, uint32_t v)
{
    for (int i = 0; i < 4; i++) w->buf[at + i] = (uint8_t)(v >> (8 * i));
}

void gw_put_u64(gw *w, size_t at, uint64_t v)
{
    for (int i = 0; i < 8; i++) w->buf[at + i] = (uint8_t)(v >> (8 * i));
}

void gw_u32(gw *w, uint32_t v)
{
    uint8_t b[4] = {0};
    gw_bytes(w, b, 4);
    gw_put_u32(w, w->len - 4, v);
}

void gw_u64(gw *w, uint64_t v)
{
    uint8_t b[8] = {0};
    gw_bytes(w, b, 8);
    gw_put_u64(w, w->len - 8, v);
}

void gw_f32(gw *w, float v)
{
    uint32_t b;
    memcpy(&b, &v, 4);
    gw_u32(w, b);
}

void gw_str(gw *w, const char *s)
{
    gw_u64(w, strlen(s));
    gw_bytes(w, s, strlen(s));
}

void gw_pad(gw *w, size_t align)
{
    while (w->len % align) gw_u8(w, 0);
}

void gw_kv_u32(gw *w, const char *key, uint32_t v)
{
    gw_str(w, key);
    gw_u32(w, 4);
    gw_u32(w, v);
}

void gw_kv_i32(gw *w, const char *key, int32_t v)
{
    gw_str(w, key);
    gw_u32(w, 5);
    gw_u32(w, (uint32_t)v);
}

void gw_kv_f32(gw *w, const char *key, float v)
{
    gw_str(w, key);
    gw_u32(w, 6);
    gw_f32(w, v);
}

void gw_kv_str(gw *w, const char *key, const char *v)
{
    gw_str(w, key);
    gw_u32(w, 8);
    gw_str(w, v);
}

void gw_kv_arr(gw *w, const char *key, uint32_t elem_type, uint64_t n)
{
    gw_str(w, key);
    gw_u32(w, 9);
    gw_u32(w, elem_type);
    gw_u64(w, n);
}

uint64_t gw_tensor_bytes(const gw_tensor *t)
{
    uint64_t rows = 1, row = 0;
    for (uint32_t d = 1; d < t->n_dims; d++) rows *= (uint64_t)t->ne[d];
    if (pdvm_type_row_bytes(t->type, t->ne[0], &row) != PDVM_OK) return 0;
    return row * rows;
}

static void fill(gw *w, const gw_tensor *t, uint64_t *seed)
{
    uint64_t n = gw_tensor_bytes(t);
    if (t->type == PDVM_TYPE_F32) {
        for (uint64_t i = 0; i < n / 4; i++) gw_f32(w, test_rand_float(seed, -0.5f, 0.5f));
        return;
    }
    for (uint64_t i = 0; i < n; i++) gw_u8(w, (uint8_t)test_rand_u64(seed));
}

void gw_file(gw *out, const gw *kv, uint64_t n_kv, const gw_tensor *t, size_t n_tensors,
             uint32_t alignment, uint64_t seed, size_t *info_at)
{
    gw_bytes(out, "GGUF", 4);
    gw_u32(out, 3);
    gw_u64(out, n_tensors);
    gw_u64(out, n_kv);
    if (kv) gw_bytes(out, kv->buf, kv->len);
    uint64_t off = 0;
    for (size_t i = 0; i < n_tensors; i++) {
        if (info_at) info_at[i] = out->len;
        gw_str(out, t[i].name);
        gw_u32(out, t[i].n_dims);
        for (uint32_t d = 0; d < t[i].n_dims; d++) gw_u64(out, (uint64_t)t[i].ne[d]);
        gw_u32(out, t[i].type);
        gw_u64(out, off);
        off += gw_tensor_bytes(&t[i]);
        off = (off + alignment - 1) / alignment * alignment;
    }
    gw_pad(out, alignment);
    size_t data = out->len;
    for (size_t i = 0; i < n_tensors; i++) {
        fill(out, &t[i], &seed);
        if (i + 1 < n_tensors) {
            while ((out->len - data) % alignment) gw_u8(out, 0);
        }
    }
}

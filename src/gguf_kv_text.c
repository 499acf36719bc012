/* GGUF things as text, the way gguf-dump shows them: metadata values
 * (strings quoted with escapes, floats in their shortest round-trip form,
 * arrays of more than max_items elements abbreviated with their length),
 * names made printable, shapes. Walks only bytes the parser validated, and
 * stops as soon as the output is full. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf_impl.h"

typedef struct text {
    char *buf;
    size_t cap, len;
} text;

static bool full(const text *t) { return t->len + 1 >= t->cap; }

static void put(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(text *t, const char *fmt, ...)
{
    if (full(t)) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    t->len += (size_t)n < t->cap - t->len ? (size_t)n : t->cap - t->len - 1;
}

void pdvm_gguf_float_to_text(double v, bool is_f32, char *buf, size_t cap)
{
    char tmp[40];
    for (int p = 1; p <= 17; p++) { /* the shortest %g that reads back the same */
        snprintf(tmp, sizeof tmp, "%.*g", p, v);
        double back = strtod(tmp, NULL);
        if (is_f32 ? (float)back == (float)v : back == v) break;
    }
    if (cap) snprintf(buf, cap, "%s", tmp);
}

static void put_float(text *t, double v, bool is_f32)
{
    char tmp[40];
    pdvm_gguf_float_to_text(v, is_f32, tmp, sizeof tmp);
    put(t, "%s", tmp);
}

void pdvm_gguf_str_to_text(pdvm_gguf_str s, char *buf, size_t cap)
{
    if (!buf || cap == 0) return;
    size_t n = 0;
    uint64_t i = 0;
    for (; i < s.len && n + 4 < cap; i++) {
        unsigned char ch = (unsigned char)s.ptr[i];
        buf[n++] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
    }
    if (i < s.len && n + 3 < cap) memcpy(buf + n, "...", 3), n += 3;
    buf[n] = '\0';
}

void pdvm_gguf_shape_to_text(const int64_t *ne, uint32_t n_dims, char *buf, size_t cap)
{
    if (!buf || cap == 0) return;
    text t = {buf, cap, 0};
    buf[0] = '\0';
    put(&t, "[%" PRId64, ne[0]);
    for (uint32_t d = 1; d < n_dims; d++) put(&t, ", %" PRId64, ne[d]);
    put(&t, "]");
}

static void put_string(text *t, const char *s, uint64_t len)
{
    put(t, "\"");
    for (uint64_t i = 0; i < len && !full(t); i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') put(t, "\\%c", c);
        else if (c == '\n') put(t, "\\n");
        else if (c == '\t') put(t, "\\t");
        else if (c < 0x20 || c == 0x7f) put(t, "\\x%02x", c);
        else put(t, "%c", c);
    }
    put(t, "\"");
}

static void put_scalar(text *t, gguf_type type, const uint8_t *p)
{
    switch (type) {
    case GGUF_TYPE_UINT8: put(t, "%u", p[0]); break;
    case GGUF_TYPE_INT8: put(t, "%d", (int8_t)p[0]); break;
    case GGUF_TYPE_UINT16: put(t, "%u", pdvm_rd_le16(p)); break;
    case GGUF_TYPE_INT16: put(t, "%d", (int16_t)pdvm_rd_le16(p)); break;
    case GGUF_TYPE_UINT32: put(t, "%" PRIu32, pdvm_rd_le32(p)); break;
    case GGUF_TYPE_INT32: put(t, "%" PRId32, (int32_t)pdvm_rd_le32(p)); break;
    case GGUF_TYPE_UINT64: put(t, "%" PRIu64, pdvm_rd_le64(p)); break;
    case GGUF_TYPE_INT64: put(t, "%" PRId64, (int64_t)pdvm_rd_le64(p)); break;
    case GGUF_TYPE_BOOL: put(t, "%s", p[0] ? "true" : "false"); break;
    case GGUF_TYPE_FLOAT32: {
        uint32_t b = pdvm_rd_le32(p);
        float f;
        memcpy(&f, &b, 4);
        put_float(t, f, true);
        break;
    }
    case GGUF_TYPE_FLOAT64: {
        uint64_t b = pdvm_rd_le64(p);
        double d;
        memcpy(&d, &b, 8);
        put_float(t, d, false);
        break;
    }
    default: put(t, "?"); break;
    }
}

/* Bytes taken by one validated value of type `type` at p. */
static uint64_t value_size(gguf_type type, const uint8_t *p)
{
    uint64_t esz = pdvm_gguf_scalar_size(type);
    if (esz) return esz;
    if (type == GGUF_TYPE_STRING) return 8 + pdvm_rd_le64(p);
    gguf_type et = (gguf_type)pdvm_rd_le32(p);
    uint64_t n = pdvm_rd_le64(p + 4), off = 12, isz = pdvm_gguf_scalar_size(et);
    if (isz) return off + n * isz;
    for (uint64_t i = 0; i < n; i++) off += value_size(et, p + off);
    return off;
}

/* Render n elements of type et starting at p. *used receives the bytes
 * the array body takes; false means the output filled up first and the
 * caller stops too. */
static bool put_items(text *t, gguf_type et, const uint8_t *p, uint64_t n, size_t max_items,
                      uint64_t *used);

static bool put_value(text *t, gguf_type type, const uint8_t *p, size_t max_items,
                      uint64_t *used)
{
    if (type == GGUF_TYPE_STRING) {
        put_string(t, (const char *)p + 8, pdvm_rd_le64(p));
        *used = 8 + pdvm_rd_le64(p);
    } else if (type != GGUF_TYPE_ARRAY) {
        put_scalar(t, type, p);
        *used = pdvm_gguf_scalar_size(type);
    } else {
        uint64_t body;
        if (!put_items(t, (gguf_type)pdvm_rd_le32(p), p + 12, pdvm_rd_le64(p + 4), max_items, &body))
            return false;
        *used = 12 + body;
    }
    return !full(t);
}

static bool put_items(text *t, gguf_type et, const uint8_t *p, uint64_t n, size_t max_items,
                      uint64_t *used)
{
    uint64_t off = 0;
    put(t, "[");
    for (uint64_t i = 0; i < n && i < max_items; i++) {
        uint64_t u;
        if (i > 0) put(t, ", ");
        if (!put_value(t, et, p + off, max_items, &u)) return false;
        off += u;
    }
    if (n > max_items) {
        put(t, "%s... (%" PRIu64 " items)", max_items ? ", " : "", n);
        uint64_t esz = pdvm_gguf_scalar_size(et);
        if (esz) off += (n - max_items) * esz;
        else
            for (uint64_t i = max_items; i < n; i++) off += value_size(et, p + off);
    }
    put(t, "]");
    *used = off;
    return !full(t);
}

void pdvm_gguf_kv_to_text(const pdvm_gguf *g, uint64_t i, size_t max_items, char *buf,
                          size_t cap)
{
    if (!buf || cap == 0) return;
    buf[0] = '\0';
    if (i >= g->n_kv) return;
    text t = {buf, cap, 0};
    const gguf_kv *kv = &g->kv[i];
    uint64_t used;
    if (kv->type == GGUF_TYPE_ARRAY) put_items(&t, kv->elem_type, kv->val, kv->n, max_items, &used);
    else put_value(&t, kv->type, kv->val, max_items, &used);
    /* Mark truncation so a reader knows the value goes on. */
    if (full(&t) && cap >= 4) memcpy(buf + cap - 4, "...", 4);
}

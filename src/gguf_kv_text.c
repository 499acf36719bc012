/* Metadata values as text, the way gguf-dump shows them: strings quoted
 * with escapes, floats in their shortest round-trip form, arrays of more
 * than max_items elements abbreviated with their length. Walks only bytes
 * the parser validated, and stops as soon as the output is full. */
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

/* Shortest %g precision that reads back to the same value. */
static void put_float(text *t, double v, bool is_f32)
{
    char tmp[40];
    for (int p = 1; p <= 17; p++) {
        snprintf(tmp, sizeof tmp, "%.*g", p, v);
        double back = strtod(tmp, NULL);
        if (is_f32 ? (float)back == (float)v : back == v) break;
    }
    put(t, "%s", tmp);
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
    case GGUF_TYPE_UINT16: put(t, "%u", gguf_rd16(p)); break;
    case GGUF_TYPE_INT16: put(t, "%d", (int16_t)gguf_rd16(p)); break;
    case GGUF_TYPE_UINT32: put(t, "%" PRIu32, gguf_rd32(p)); break;
    case GGUF_TYPE_INT32: put(t, "%" PRId32, (int32_t)gguf_rd32(p)); break;
    case GGUF_TYPE_UINT64: put(t, "%" PRIu64, gguf_rd64(p)); break;
    case GGUF_TYPE_INT64: put(t, "%" PRId64, (int64_t)gguf_rd64(p)); break;
    case GGUF_TYPE_BOOL: put(t, "%s", p[0] ? "true" : "false"); break;
    case GGUF_TYPE_FLOAT32: {
        uint32_t b = gguf_rd32(p);
        float f;
        memcpy(&f, &b, 4);
        put_float(t, f, true);
        break;
    }
    case GGUF_TYPE_FLOAT64: {
        uint64_t b = gguf_rd64(p);
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
    uint64_t esz = gguf_scalar_size(type);
    if (esz) return esz;
    if (type == GGUF_TYPE_STRING) return 8 + gguf_rd64(p);
    gguf_type et = (gguf_type)gguf_rd32(p);
    uint64_t n = gguf_rd64(p + 4), off = 12, isz = gguf_scalar_size(et);
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
        put_string(t, (const char *)p + 8, gguf_rd64(p));
        *used = 8 + gguf_rd64(p);
    } else if (type != GGUF_TYPE_ARRAY) {
        put_scalar(t, type, p);
        *used = gguf_scalar_size(type);
    } else {
        uint64_t body;
        if (!put_items(t, (gguf_type)gguf_rd32(p), p + 12, gguf_rd64(p + 4), max_items, &body))
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
        uint64_t esz = gguf_scalar_size(et);
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

/* Accessors over a validated GGUF: lookups by binary search over the sorted
 * key and tensor-name indices, typed getters with range checks. */
#include <string.h>

#include "gguf_impl.h"

uint64_t pdvm_gguf_scalar_size(gguf_type t)
{
    switch (t) {
    case GGUF_TYPE_UINT8:
    case GGUF_TYPE_INT8:
    case GGUF_TYPE_BOOL: return 1;
    case GGUF_TYPE_UINT16:
    case GGUF_TYPE_INT16: return 2;
    case GGUF_TYPE_UINT32:
    case GGUF_TYPE_INT32:
    case GGUF_TYPE_FLOAT32: return 4;
    case GGUF_TYPE_UINT64:
    case GGUF_TYPE_INT64:
    case GGUF_TYPE_FLOAT64: return 8;
    default: return 0;
    }
}

const char *pdvm_gguf_type_name(gguf_type t)
{
    static const char *const names[] = {"u8",  "i8",   "u16", "i16", "u32", "i32", "f32",
                                        "bool", "str", "arr", "u64", "i64", "f64"};
    return (unsigned)t < sizeof names / sizeof names[0] ? names[t] : "?";
}

int pdvm_gguf_str_cmp(gguf_str a, gguf_str b)
{
    uint64_t n = a.len < b.len ? a.len : b.len;
    int c = n ? memcmp(a.ptr, b.ptr, (size_t)n) : 0;
    if (c != 0) return c;
    return (a.len > b.len) - (a.len < b.len);
}

static gguf_str cstr(const char *c) { return (gguf_str){c, strlen(c)}; }

int64_t pdvm_gguf_find_kv(const pdvm_gguf *g, gguf_str key)
{
    size_t lo = 0, hi = (size_t)g->n_kv;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = pdvm_gguf_str_cmp(g->kv[g->kv_by_key[mid]].key, key);
        if (c == 0) return (int64_t)g->kv_by_key[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return -1;
}

uint32_t pdvm_gguf_version(const pdvm_gguf *g) { return g->version; }
uint32_t pdvm_gguf_alignment(const pdvm_gguf *g) { return g->alignment; }
uint64_t pdvm_gguf_data_offset(const pdvm_gguf *g) { return g->data_offset; }
uint64_t pdvm_gguf_file_size(const pdvm_gguf *g) { return g->size; }
uint64_t pdvm_gguf_n_kv(const pdvm_gguf *g) { return g->n_kv; }
uint64_t pdvm_gguf_n_tensors(const pdvm_gguf *g) { return g->n_tensors; }

gguf_str pdvm_gguf_key(const pdvm_gguf *g, uint64_t i)
{
    return i < g->n_kv ? g->kv[i].key : (gguf_str){"", 0};
}

gguf_type pdvm_gguf_kv_type(const pdvm_gguf *g, uint64_t i)
{
    return i < g->n_kv ? g->kv[i].type : (gguf_type)-1;
}

int64_t pdvm_gguf_find_key(const pdvm_gguf *g, const char *key)
{
    return key ? pdvm_gguf_find_kv(g, cstr(key)) : -1;
}

const gguf_tensor *pdvm_gguf_tensor(const pdvm_gguf *g, uint64_t i)
{
    return i < g->n_tensors ? &g->tensors[i] : NULL;
}

const gguf_tensor *pdvm_gguf_find_tensor(const pdvm_gguf *g, const char *name)
{
    if (!name) return NULL;
    gguf_str key = cstr(name);
    size_t lo = 0, hi = (size_t)g->n_tensors;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const gguf_tensor *t = &g->tensors[g->t_by_name[mid]];
        int c = pdvm_gguf_str_cmp(t->name, key);
        if (c == 0) return t;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

/* Decode one scalar or string of type t at p (validated bytes). */
static void decode(gguf_type t, const uint8_t *p, gguf_value *out)
{
    out->type = t;
    switch (t) {
    case GGUF_TYPE_UINT8: out->v.u = p[0]; break;
    case GGUF_TYPE_INT8: out->v.i = (int8_t)p[0]; break;
    case GGUF_TYPE_UINT16: out->v.u = pdvm_rd_le16(p); break;
    case GGUF_TYPE_INT16: out->v.i = (int16_t)pdvm_rd_le16(p); break;
    case GGUF_TYPE_UINT32: out->v.u = pdvm_rd_le32(p); break;
    case GGUF_TYPE_INT32: out->v.i = (int32_t)pdvm_rd_le32(p); break;
    case GGUF_TYPE_UINT64: out->v.u = pdvm_rd_le64(p); break;
    case GGUF_TYPE_INT64: out->v.i = (int64_t)pdvm_rd_le64(p); break;
    case GGUF_TYPE_BOOL: out->v.b = p[0] != 0; break;
    case GGUF_TYPE_FLOAT32: {
        uint32_t b = pdvm_rd_le32(p);
        float f;
        memcpy(&f, &b, 4);
        out->v.f = f;
        break;
    }
    case GGUF_TYPE_FLOAT64: {
        uint64_t b = pdvm_rd_le64(p);
        memcpy(&out->v.f, &b, 8);
        break;
    }
    case GGUF_TYPE_STRING:
        out->v.s.len = pdvm_rd_le64(p);
        out->v.s.ptr = (const char *)p + 8;
        break;
    default: break;
    }
}

bool pdvm_gguf_kv_value(const pdvm_gguf *g, uint64_t i, gguf_value *out)
{
    if (i >= g->n_kv) return false;
    const gguf_kv *kv = &g->kv[i];
    memset(out, 0, sizeof *out);
    if (kv->type == GGUF_TYPE_ARRAY) {
        out->type = GGUF_TYPE_ARRAY;
        out->elem_type = kv->elem_type;
        out->n = kv->n;
    } else {
        decode(kv->type, kv->val, out);
    }
    return true;
}

bool pdvm_gguf_kv_item(const pdvm_gguf *g, uint64_t i, uint64_t j, gguf_value *out)
{
    if (i >= g->n_kv) return false;
    const gguf_kv *kv = &g->kv[i];
    if (kv->type != GGUF_TYPE_ARRAY || j >= kv->n) return false;
    memset(out, 0, sizeof *out);
    if (kv->elem_type == GGUF_TYPE_STRING) {
        decode(GGUF_TYPE_STRING, kv->val + kv->str_off[j], out);
        return true;
    }
    uint64_t esz = pdvm_gguf_scalar_size(kv->elem_type);
    if (!esz) return false;
    decode(kv->elem_type, kv->val + j * esz, out);
    return true;
}

static bool find(const pdvm_gguf *g, const char *key, gguf_value *v)
{
    int64_t i = pdvm_gguf_find_key(g, key);
    return i >= 0 && pdvm_gguf_kv_value(g, (uint64_t)i, v);
}

static bool is_unsigned(gguf_type t)
{
    return t == GGUF_TYPE_UINT8 || t == GGUF_TYPE_UINT16 || t == GGUF_TYPE_UINT32 ||
           t == GGUF_TYPE_UINT64;
}

static bool is_signed(gguf_type t)
{
    return t == GGUF_TYPE_INT8 || t == GGUF_TYPE_INT16 || t == GGUF_TYPE_INT32 ||
           t == GGUF_TYPE_INT64;
}

bool pdvm_gguf_get_i64(const pdvm_gguf *g, const char *key, int64_t *out)
{
    gguf_value v;
    if (!find(g, key, &v)) return false;
    if (is_signed(v.type)) {
        *out = v.v.i;
        return true;
    }
    if (is_unsigned(v.type) && v.v.u <= (uint64_t)INT64_MAX) {
        *out = (int64_t)v.v.u;
        return true;
    }
    return false;
}

bool pdvm_gguf_get_u32(const pdvm_gguf *g, const char *key, uint32_t *out)
{
    int64_t v;
    if (!pdvm_gguf_get_i64(g, key, &v) || v < 0 || v > (int64_t)UINT32_MAX) return false;
    *out = (uint32_t)v;
    return true;
}

bool pdvm_gguf_get_f32(const pdvm_gguf *g, const char *key, float *out)
{
    gguf_value v;
    if (!find(g, key, &v)) return false;
    if (v.type != GGUF_TYPE_FLOAT32 && v.type != GGUF_TYPE_FLOAT64) return false;
    *out = (float)v.v.f;
    return true;
}

bool pdvm_gguf_get_bool(const pdvm_gguf *g, const char *key, bool *out)
{
    gguf_value v;
    if (!find(g, key, &v) || v.type != GGUF_TYPE_BOOL) return false;
    *out = v.v.b;
    return true;
}

bool pdvm_gguf_get_str(const pdvm_gguf *g, const char *key, gguf_str *out)
{
    gguf_value v;
    if (!find(g, key, &v) || v.type != GGUF_TYPE_STRING) return false;
    *out = v.v.s;
    return true;
}

bool pdvm_gguf_get_arr(const pdvm_gguf *g, const char *key, gguf_type *elem_type, uint64_t *n)
{
    gguf_value v;
    if (!find(g, key, &v) || v.type != GGUF_TYPE_ARRAY) return false;
    if (elem_type) *elem_type = v.elem_type;
    if (n) *n = v.n;
    return true;
}

bool pdvm_gguf_arr_str(const pdvm_gguf *g, const char *key, uint64_t i, gguf_str *out)
{
    int64_t k = pdvm_gguf_find_key(g, key);
    gguf_value v;
    if (k < 0 || g->kv[k].elem_type != GGUF_TYPE_STRING ||
        !pdvm_gguf_kv_item(g, (uint64_t)k, i, &v))
        return false;
    *out = v.v.s;
    return true;
}

const void *pdvm_gguf_arr_data(const pdvm_gguf *g, const char *key)
{
    int64_t k = pdvm_gguf_find_key(g, key);
    if (k < 0) return NULL;
    const gguf_kv *kv = &g->kv[k];
    if (kv->type != GGUF_TYPE_ARRAY || pdvm_gguf_scalar_size(kv->elem_type) == 0) return NULL;
    return kv->val;
}

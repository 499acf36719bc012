/* GGUF v2/v3 parsing and validation. Everything read from the file is
 * bounded by the bytes that remain before it is used: counts are checked
 * against the smallest encoding of one element, so no allocation exceeds a
 * small multiple of the file size, and every add/multiply is checked. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "gguf_impl.h"
#include "quant.h"

#define GGUF_DEFAULT_ALIGNMENT 32u
/* Smallest encodings, used to bound counts by the bytes that remain. */
#define MIN_KV_BYTES 13u     /* key length 8 + type 4 + a 1-byte value */
#define MIN_TENSOR_BYTES 32u /* name length 8 + n_dims 4 + ne 8 + type 4 + offset 8 */

typedef struct cursor {
    const uint8_t *base;
    uint64_t size;
    uint64_t pos;
} cursor;

static uint64_t remaining(const cursor *c) { return c->size - c->pos; }

static pdvm_status need(const cursor *c, uint64_t n, const char *what)
{
    if (n <= remaining(c)) return PDVM_OK;
    return pdvm_fail(PDVM_ERR_FORMAT,
                     "truncated at byte %" PRIu64 ": %s needs %" PRIu64
                     " bytes but the file ends after %" PRIu64,
                     c->pos, what, n, remaining(c));
}

static pdvm_status read_u32(cursor *c, const char *what, uint32_t *out)
{
    PDVM_TRY(need(c, 4, what));
    *out = pdvm_rd_le32(c->base + c->pos);
    c->pos += 4;
    return PDVM_OK;
}

static pdvm_status read_u64(cursor *c, const char *what, uint64_t *out)
{
    PDVM_TRY(need(c, 8, what));
    *out = pdvm_rd_le64(c->base + c->pos);
    c->pos += 8;
    return PDVM_OK;
}

static pdvm_status read_str(cursor *c, const char *what, gguf_str *out)
{
    uint64_t start = c->pos, len;
    PDVM_TRY(read_u64(c, what, &len));
    if (len > remaining(c))
        return pdvm_fail(PDVM_ERR_FORMAT,
                         "%s at byte %" PRIu64 " has length %" PRIu64
                         " but only %" PRIu64 " bytes remain",
                         what, start, len, remaining(c));
    out->ptr = (const char *)c->base + c->pos;
    out->len = len;
    c->pos += len;
    return PDVM_OK;
}

/* A printable, bounded copy of a name for messages. */
static const char *printable(gguf_str s, char *buf, size_t cap)
{
    pdvm_gguf_str_to_text(s, buf, cap);
    return buf;
}

static bool valid_type(uint32_t t) { return t <= GGUF_TYPE_FLOAT64; }

static pdvm_status parse_value(cursor *c, gguf_type t, unsigned depth, uint64_t **str_off,
                               gguf_type *elem, uint64_t *count);

/* Array body after its element type and count. Counts are bounded by the
 * remaining bytes before any per-element work or allocation. */
static pdvm_status parse_array_items(cursor *c, gguf_type et, uint64_t n, unsigned depth,
                                     uint64_t **str_off)
{
    uint64_t esz = pdvm_gguf_scalar_size(et), at = c->pos;
    uint64_t min = esz ? esz : (et == GGUF_TYPE_STRING ? 8 : 12);
    if (n > remaining(c) / min)
        return pdvm_fail(PDVM_ERR_FORMAT,
                         "array at byte %" PRIu64 " claims %" PRIu64
                         " elements but only %" PRIu64 " bytes remain",
                         at, n, remaining(c));
    if (esz) {
        c->pos += n * esz;
        return PDVM_OK;
    }
    uint64_t *offs = NULL;
    if (str_off && et == GGUF_TYPE_STRING && n > 0) {
        offs = malloc(n * sizeof *offs);
        if (!offs) return pdvm_fail(PDVM_ERR_NOMEM, "string array of %" PRIu64 " items", n);
        *str_off = offs;
    }
    for (uint64_t i = 0; i < n; i++) {
        if (offs) offs[i] = c->pos - at;
        PDVM_TRY(parse_value(c, et, depth, NULL, NULL, NULL));
    }
    return PDVM_OK;
}

/* Validate one value of type t at the cursor and step over it. For arrays,
 * elem/count receive the element type and count (when non-NULL) and
 * str_off an offset table for string arrays. */
static pdvm_status parse_value(cursor *c, gguf_type t, unsigned depth, uint64_t **str_off,
                               gguf_type *elem, uint64_t *count)
{
    uint64_t esz = pdvm_gguf_scalar_size(t);
    if (esz) {
        PDVM_TRY(need(c, esz, "value"));
        c->pos += esz;
        return PDVM_OK;
    }
    if (t == GGUF_TYPE_STRING) {
        gguf_str s;
        return read_str(c, "string", &s);
    }
    uint64_t at = c->pos, n;
    uint32_t et;
    if (depth >= GGUF_MAX_DEPTH)
        return pdvm_fail(PDVM_ERR_FORMAT, "array at byte %" PRIu64 " nested deeper than %d",
                         at, GGUF_MAX_DEPTH);
    PDVM_TRY(read_u32(c, "array element type", &et));
    if (!valid_type(et))
        return pdvm_fail(PDVM_ERR_FORMAT, "array at byte %" PRIu64 " has unknown element type %u",
                         at, et);
    PDVM_TRY(read_u64(c, "array length", &n));
    if (elem) *elem = (gguf_type)et;
    if (count) *count = n;
    return parse_array_items(c, (gguf_type)et, n, depth + 1, str_off);
}

static pdvm_status parse_kv(cursor *c, gguf_kv *kv)
{
    uint32_t t;
    kv->offset = c->pos;
    PDVM_TRY(read_str(c, "key", &kv->key));
    PDVM_TRY(read_u32(c, "value type", &t));
    if (!valid_type(t))
        return pdvm_fail(PDVM_ERR_FORMAT, "unknown value type %u at byte %" PRIu64, t,
                         c->pos - 4);
    kv->type = (gguf_type)t;
    uint64_t start = c->pos;
    PDVM_TRY(parse_value(c, kv->type, 0, &kv->str_off, &kv->elem_type, &kv->n));
    /* Arrays point at their first element (after type and count). */
    if (kv->type == GGUF_TYPE_ARRAY) start += 12;
    kv->val = c->base + start;
    kv->val_size = c->pos - start;
    return PDVM_OK;
}

static pdvm_status parse_kvs(cursor *c, pdvm_gguf *g)
{
    for (uint64_t i = 0; i < g->n_kv; i++) {
        pdvm_status st = parse_kv(c, &g->kv[i]);
        if (st != PDVM_OK) {
            char nm[96];
            return pdvm_fail_prefix(st, "metadata key %" PRIu64 " '%s' (byte %" PRIu64 ")", i,
                                    printable(g->kv[i].key, nm, sizeof nm), g->kv[i].offset);
        }
    }
    return PDVM_OK;
}

static pdvm_status parse_dims(cursor *c, gguf_tensor *t)
{
    uint64_t at = c->pos;
    PDVM_TRY(read_u32(c, "n_dims", &t->n_dims));
    if (t->n_dims < 1 || t->n_dims > GGUF_MAX_DIMS)
        return pdvm_fail(PDVM_ERR_FORMAT, "n_dims %u at byte %" PRIu64 " is outside 1..%d",
                         t->n_dims, at, GGUF_MAX_DIMS);
    for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++) {
        uint64_t v = 1;
        if (d < t->n_dims) PDVM_TRY(read_u64(c, "dimension", &v));
        if (v == 0 || v > (uint64_t)INT64_MAX)
            return pdvm_fail(PDVM_ERR_FORMAT, "dimension %u at byte %" PRIu64 " is %" PRId64
                             " (must be positive)",
                             d, c->pos - 8, (int64_t)v);
        t->ne[d] = (int64_t)v;
    }
    return PDVM_OK;
}

static pdvm_status parse_tensor_info(cursor *c, gguf_tensor *t)
{
    PDVM_TRY(read_str(c, "tensor name", &t->name));
    PDVM_TRY(parse_dims(c, t));
    PDVM_TRY(read_u32(c, "tensor type", &t->type));
    return read_u64(c, "tensor offset", &t->offset);
}

static pdvm_status parse_tensor_infos(cursor *c, pdvm_gguf *g)
{
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        uint64_t at = c->pos;
        pdvm_status st = parse_tensor_info(c, &g->tensors[i]);
        if (st != PDVM_OK) {
            char nm[96];
            return pdvm_fail_prefix(st, "tensor info %" PRIu64 " '%s' (byte %" PRIu64 ")", i,
                                    printable(g->tensors[i].name, nm, sizeof nm), at);
        }
    }
    return PDVM_OK;
}

static pdvm_status parse_header(cursor *c, pdvm_gguf *g)
{
    PDVM_TRY(need(c, 4, "magic"));
    const uint8_t *m = c->base;
    if (memcmp(m, "GGUF", 4) != 0)
        return pdvm_fail(PDVM_ERR_FORMAT,
                         "bad magic at byte 0: %02x %02x %02x %02x (expected \"GGUF\")", m[0],
                         m[1], m[2], m[3]);
    c->pos = 4;
    PDVM_TRY(read_u32(c, "version", &g->version));
    uint32_t v = g->version;
    if (v != 0 && (v & 0xFFFFu) == 0)
        return pdvm_fail(PDVM_ERR_UNSUPPORTED,
                         "big-endian GGUF not supported (version field at byte 4 reads 0x%08x)",
                         v);
    if (v != 2 && v != 3)
        return pdvm_fail(PDVM_ERR_UNSUPPORTED,
                         "GGUF version %u not supported (byte 4): only versions 2 and 3 are", v);
    PDVM_TRY(read_u64(c, "tensor count", &g->n_tensors));
    PDVM_TRY(read_u64(c, "metadata key count", &g->n_kv));
    if (g->n_kv > remaining(c) / MIN_KV_BYTES)
        return pdvm_fail(PDVM_ERR_FORMAT,
                         "metadata key count %" PRIu64 " (byte 16) needs at least %u bytes "
                         "each but only %" PRIu64 " bytes follow (truncated or corrupt)",
                         g->n_kv, MIN_KV_BYTES, remaining(c));
    if (g->n_tensors > remaining(c) / MIN_TENSOR_BYTES)
        return pdvm_fail(PDVM_ERR_FORMAT,
                         "tensor count %" PRIu64 " (byte 8) needs at least %u bytes each but "
                         "only %" PRIu64 " bytes follow (truncated or corrupt)",
                         g->n_tensors, MIN_TENSOR_BYTES, remaining(c));
    return PDVM_OK;
}

static int cmp_kv_ptr(const void *a, const void *b)
{
    const gguf_kv *x = *(const gguf_kv *const *)a, *y = *(const gguf_kv *const *)b;
    return pdvm_gguf_str_cmp(x->key, y->key);
}

static int cmp_tensor_name(const void *a, const void *b)
{
    const gguf_tensor *x = *(const gguf_tensor *const *)a, *y = *(const gguf_tensor *const *)b;
    return pdvm_gguf_str_cmp(x->name, y->name);
}

static int cmp_tensor_offset(const void *a, const void *b)
{
    const gguf_tensor *x = *(const gguf_tensor *const *)a, *y = *(const gguf_tensor *const *)b;
    return (x->offset > y->offset) - (x->offset < y->offset);
}

/* Sorted index of kv by key; duplicates are an error (which value would a
 * reader mean?). */
static pdvm_status index_keys(pdvm_gguf *g)
{
    size_t n = (size_t)g->n_kv;
    const gguf_kv **p = malloc((n ? n : 1) * sizeof *p);
    g->kv_by_key = malloc((n ? n : 1) * sizeof *g->kv_by_key);
    if (!p || !g->kv_by_key) {
        free(p);
        return pdvm_fail(PDVM_ERR_NOMEM, "index of %zu metadata keys", n);
    }
    for (size_t i = 0; i < n; i++) p[i] = &g->kv[i];
    qsort(p, n, sizeof *p, cmp_kv_ptr);
    pdvm_status st = PDVM_OK;
    for (size_t i = 0; i < n; i++) {
        g->kv_by_key[i] = (size_t)(p[i] - g->kv);
        if (i > 0 && st == PDVM_OK && pdvm_gguf_str_cmp(p[i - 1]->key, p[i]->key) == 0) {
            char nm[96];
            st = pdvm_fail(PDVM_ERR_FORMAT,
                           "duplicate metadata key '%s' at bytes %" PRIu64 " and %" PRIu64,
                           printable(p[i]->key, nm, sizeof nm), p[i - 1]->offset, p[i]->offset);
        }
    }
    free(p);
    return st;
}

static pdvm_status read_alignment(pdvm_gguf *g)
{
    g->alignment = GGUF_DEFAULT_ALIGNMENT;
    int64_t i = pdvm_gguf_find_key(g, "general.alignment");
    if (i < 0) return PDVM_OK;
    const gguf_kv *kv = &g->kv[i];
    if (kv->type != GGUF_TYPE_UINT32)
        return pdvm_fail(PDVM_ERR_FORMAT,
                         "general.alignment (byte %" PRIu64 ") has type %s, expected u32",
                         kv->offset, pdvm_gguf_type_name(kv->type));
    uint32_t a = pdvm_rd_le32(kv->val);
    if (a == 0 || (a & (a - 1)) != 0)
        return pdvm_fail(PDVM_ERR_FORMAT,
                         "general.alignment (byte %" PRIu64 ") is %u, not a power of two",
                         kv->offset, a);
    g->alignment = a;
    return PDVM_OK;
}

static pdvm_status tensor_size(const gguf_tensor *t, uint64_t *nbytes)
{
    uint32_t be = pdvm_type_block_elems(t->type), bb = pdvm_type_block_bytes(t->type);
    if (be == 0) return pdvm_fail(PDVM_ERR_FORMAT, "unknown ggml type id %u", t->type);
    if (t->ne[0] % be != 0)
        return pdvm_fail(PDVM_ERR_FORMAT, "ne[0] = %" PRId64 " is not a multiple of the %s block "
                         "size %u", t->ne[0], pdvm_type_name(t->type), be);
    int64_t elems = 1;
    uint64_t bytes = (uint64_t)(t->ne[0] / be) * bb;
    if (bytes / bb != (uint64_t)(t->ne[0] / be)) goto overflow;
    for (int d = 0; d < GGUF_MAX_DIMS; d++) {
        if (elems > INT64_MAX / t->ne[d]) goto overflow;
        elems *= t->ne[d];
        if (d > 0) {
            if (bytes > UINT64_MAX / (uint64_t)t->ne[d]) goto overflow;
            bytes *= (uint64_t)t->ne[d];
        }
    }
    *nbytes = bytes;
    return PDVM_OK;
overflow:
    return pdvm_fail(PDVM_ERR_FORMAT,
                     "shape [%" PRId64 ", %" PRId64 ", %" PRId64 ", %" PRId64 "] overflows "
                     "64-bit element or byte counts",
                     t->ne[0], t->ne[1], t->ne[2], t->ne[3]);
}

static pdvm_status place_tensor(pdvm_gguf *g, gguf_tensor *t)
{
    PDVM_TRY(tensor_size(t, &t->nbytes));
    if (t->offset % g->alignment != 0)
        return pdvm_fail(PDVM_ERR_FORMAT,
                         "data offset %" PRIu64 " is not a multiple of the alignment %u",
                         t->offset, g->alignment);
    uint64_t avail = g->data_offset <= g->size ? g->size - g->data_offset : 0;
    if (t->offset > avail || t->nbytes > avail - t->offset)
        return pdvm_fail(PDVM_ERR_FORMAT,
                         "data (offset %" PRIu64 ", %" PRIu64 " bytes, from file byte %" PRIu64
                         ") extends past the end of the file (%" PRIu64 " bytes)",
                         t->offset, t->nbytes, g->data_offset, g->size);
    t->data = g->base + g->data_offset + t->offset;
    return PDVM_OK;
}

static pdvm_status place_tensors(pdvm_gguf *g)
{
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        pdvm_status st = place_tensor(g, &g->tensors[i]);
        if (st != PDVM_OK) {
            char nm[96];
            return pdvm_fail_prefix(st, "tensor '%s'", printable(g->tensors[i].name, nm,
                                                                 sizeof nm));
        }
    }
    return PDVM_OK;
}

static pdvm_status check_names(pdvm_gguf *g, const gguf_tensor **p, size_t n)
{
    qsort(p, n, sizeof *p, cmp_tensor_name);
    for (size_t i = 0; i < n; i++) {
        g->t_by_name[i] = (size_t)(p[i] - g->tensors);
        if (i > 0 && pdvm_gguf_str_cmp(p[i - 1]->name, p[i]->name) == 0) {
            char nm[96];
            return pdvm_fail(PDVM_ERR_FORMAT, "duplicate tensor name '%s'",
                             printable(p[i]->name, nm, sizeof nm));
        }
    }
    return PDVM_OK;
}

static pdvm_status check_overlap(const gguf_tensor **p, size_t n)
{
    qsort(p, n, sizeof *p, cmp_tensor_offset);
    for (size_t i = 1; i < n; i++) {
        const gguf_tensor *a = p[i - 1], *b = p[i];
        /* place_tensor bounded offset + nbytes by the file size. */
        if (a->offset + a->nbytes > b->offset) {
            char na[96], nb[96];
            return pdvm_fail(PDVM_ERR_FORMAT,
                             "tensor '%s' (data %" PRIu64 "..%" PRIu64 ") overlaps tensor '%s' "
                             "(data from %" PRIu64 ")",
                             printable(a->name, na, sizeof na), a->offset, a->offset + a->nbytes,
                             printable(b->name, nb, sizeof nb), b->offset);
        }
    }
    return PDVM_OK;
}

static pdvm_status index_tensors(pdvm_gguf *g)
{
    size_t n = (size_t)g->n_tensors;
    const gguf_tensor **p = malloc((n ? n : 1) * sizeof *p);
    g->t_by_name = malloc((n ? n : 1) * sizeof *g->t_by_name);
    if (!p || !g->t_by_name) {
        free(p);
        return pdvm_fail(PDVM_ERR_NOMEM, "index of %zu tensors", n);
    }
    for (size_t i = 0; i < n; i++) p[i] = &g->tensors[i];
    pdvm_status st = check_names(g, p, n);
    if (st == PDVM_OK) st = check_overlap(p, n);
    free(p);
    return st;
}

static pdvm_status parse(pdvm_gguf *g)
{
    cursor c = {g->base, g->size, 0};
    PDVM_TRY(parse_header(&c, g));
    g->kv = calloc(g->n_kv ? g->n_kv : 1, sizeof *g->kv);
    g->tensors = calloc(g->n_tensors ? g->n_tensors : 1, sizeof *g->tensors);
    if (!g->kv || !g->tensors)
        return pdvm_fail(PDVM_ERR_NOMEM, "%" PRIu64 " keys, %" PRIu64 " tensors", g->n_kv,
                         g->n_tensors);
    PDVM_TRY(parse_kvs(&c, g));
    PDVM_TRY(index_keys(g));
    PDVM_TRY(read_alignment(g));
    PDVM_TRY(parse_tensor_infos(&c, g));
    uint64_t pad = (g->alignment - c.pos % g->alignment) % g->alignment;
    if (c.pos > UINT64_MAX - pad)
        return pdvm_fail(PDVM_ERR_FORMAT, "data section offset overflows");
    g->data_offset = c.pos + pad;
    PDVM_TRY(place_tensors(g));
    return index_tensors(g);
}

void pdvm_gguf_close(pdvm_gguf *g)
{
    if (!g) return;
    if (g->kv)
        for (uint64_t i = 0; i < g->n_kv; i++) free(g->kv[i].str_off);
    free(g->kv);
    free(g->kv_by_key);
    free(g->tensors);
    free(g->t_by_name);
    pdvm_gguf_source_close(g);
    pthread_mutex_destroy(&g->load_mu);
    free(g);
}

pdvm_status pdvm_gguf_parse(const void *data, uint64_t size, pdvm_gguf **out)
{
    pdvm_gguf *g = calloc(1, sizeof *g);
    if (!g) return pdvm_fail(PDVM_ERR_NOMEM, "GGUF handle");
    g->base = data;
    g->size = size;
    g->src = GGUF_SRC_MEMORY;
    g->fd = -1;
    atomic_init(&g->loaded, false);
    pthread_mutex_init(&g->load_mu, NULL);
    pdvm_status st = parse(g);
    if (st != PDVM_OK) {
        pdvm_gguf_close(g);
        return st;
    }
    *out = g;
    return PDVM_OK;
}

pdvm_status pdvm_gguf_open_memory(const void *data, size_t size, pdvm_gguf **out)
{
    if (!out) return pdvm_fail(PDVM_ERR_INVALID_ARG, "pdvm_gguf_open_memory: out is NULL");
    *out = NULL;
    if (!data && size > 0)
        return pdvm_fail(PDVM_ERR_INVALID_ARG, "pdvm_gguf_open_memory: NULL data");
    static const uint8_t empty[1];
    return pdvm_gguf_parse(data ? data : empty, data ? size : 0, out);
}

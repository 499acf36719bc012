/* `pdvm inspect FILE [--json]`: what gguf-dump shows (version, alignment,
 * every metadata key, the tensor table) plus a summary with the
 * architecture as pdvm binds it. An invalid file exits 3; a valid file
 * that does not bind as a model (e.g. test vectors) is shown with a note. */
#include <inttypes.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "gguf.h"
#include "model.h"
#include "quant.h"

#define MAX_ITEMS 8

static void usage(FILE *f)
{
    fprintf(f, "usage: pdvm inspect FILE [--json]\n"
               "  Dump a GGUF file: header, metadata, tensor table and summary.\n"
               "  --json   machine-readable output\n"
               "exit: 0 ok, 2 usage, 3 invalid or unreadable file\n");
}

/* ------------------------------------------------------------- summary */

typedef struct type_total {
    uint64_t tensors, bytes;
} type_total;

typedef struct summary {
    uint64_t params;
    type_total by_type[PDVM_TYPE_COUNT];
    pdvm_model model;
    bool bound;
    char bind_error[512];
} summary;

static void summarize(pdvm_gguf *g, summary *s)
{
    memset(s, 0, sizeof *s);
    for (uint64_t i = 0; i < pdvm_gguf_n_tensors(g); i++) {
        const gguf_tensor *t = pdvm_gguf_tensor(g, i);
        uint64_t n = 1;
        for (int d = 0; d < GGUF_MAX_DIMS; d++) n *= (uint64_t)t->ne[d];
        s->params += n;
        s->by_type[t->type].tensors++; /* the reader rejected unknown ids */
        s->by_type[t->type].bytes += t->nbytes;
    }
    if (pdvm_model_bind(g, &s->model) == PDVM_OK) s->bound = true;
    else snprintf(s->bind_error, sizeof s->bind_error, "%s", pdvm_last_error());
}

/* ---------------------------------------------------------------- text */

static void printable(gguf_str s, char *buf, size_t cap)
{
    size_t n = 0;
    for (uint64_t i = 0; i < s.len && n + 1 < cap; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        buf[n++] = (c >= 0x20 && c != 0x7f) ? (char)c : '?';
    }
    buf[n] = '\0';
}

static void type_text(const pdvm_gguf *g, uint64_t i, char *buf, size_t cap)
{
    gguf_value v;
    pdvm_gguf_kv_value(g, i, &v);
    if (v.type == GGUF_TYPE_ARRAY)
        snprintf(buf, cap, "arr[%s]", pdvm_gguf_type_name(v.elem_type));
    else
        snprintf(buf, cap, "%s", pdvm_gguf_type_name(v.type));
}

static void shape_text(const gguf_tensor *t, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "[%" PRId64, t->ne[0]);
    for (uint32_t d = 1; d < t->n_dims; d++)
        n += snprintf(buf + n, cap - (size_t)n, ", %" PRId64, t->ne[d]);
    snprintf(buf + n, cap - (size_t)n, "]");
}

static void print_metadata(const pdvm_gguf *g)
{
    printf("metadata: %" PRIu64 " keys\n", pdvm_gguf_n_kv(g));
    for (uint64_t i = 0; i < pdvm_gguf_n_kv(g); i++) {
        char key[256], type[24], value[1024];
        printable(pdvm_gguf_key(g, i), key, sizeof key);
        type_text(g, i, type, sizeof type);
        pdvm_gguf_kv_to_text(g, i, MAX_ITEMS, value, sizeof value);
        printf("  %-40s %-9s %s\n", key, type, value);
    }
}

static void print_tensors(const pdvm_gguf *g)
{
    printf("tensors: %" PRIu64 "\n", pdvm_gguf_n_tensors(g));
    printf("  %5s  %-32s %-7s %-24s %12s %12s\n", "#", "name", "type", "shape", "offset", "bytes");
    for (uint64_t i = 0; i < pdvm_gguf_n_tensors(g); i++) {
        const gguf_tensor *t = pdvm_gguf_tensor(g, i);
        char name[256], shape[96];
        printable(t->name, name, sizeof name);
        shape_text(t, shape, sizeof shape);
        printf("  %5" PRIu64 "  %-32s %-7s %-24s %12" PRIu64 " %12" PRIu64 "\n", i, name,
               pdvm_type_name(t->type), shape, t->offset, t->nbytes);
    }
}

static const char *rope_name(pdvm_rope_type t) { return t == PDVM_ROPE_NEOX ? "neox" : "norm"; }

static void print_hparams(const pdvm_model *m)
{
    const pdvm_hparams *h = &m->hp;
    printf("  architecture: %s\n", h->arch);
    printf("  hparams: n_vocab %u, n_ctx_train %u, n_embd %u, n_layer %u, n_ff %u, n_head %u, "
           "n_head_kv %u, head_dim %u, n_rot %u, rms_eps %g, rope_freq_base %g, rope %s\n",
           h->n_vocab, h->n_ctx_train, h->n_embd, h->n_layer, h->n_ff, h->n_head, h->n_head_kv,
           h->head_dim, h->n_rot, (double)h->rms_eps, (double)h->rope_freq_base,
           rope_name(h->rope_type));
    printf("  bound parameters: %" PRIu64 "%s\n", m->n_params,
           m->output.data == m->tok_embd.data ? " (output tied to token_embd)" : "");
}

static void print_summary(const summary *s)
{
    printf("summary:\n  parameters: %" PRIu64 " (%.3g M)\n", s->params, (double)s->params / 1e6);
    printf("  bytes by type:\n");
    for (uint32_t t = 0; t < PDVM_TYPE_COUNT; t++)
        if (s->by_type[t].tensors)
            printf("    %-8s %5" PRIu64 " tensors %14" PRIu64 " bytes\n", pdvm_type_name(t),
                   s->by_type[t].tensors, s->by_type[t].bytes);
    if (s->bound) print_hparams(&s->model);
    else printf("  architecture: not bound (%s)\n", s->bind_error);
}

static void print_text(const char *path, const pdvm_gguf *g, const summary *s)
{
    printf("file: %s\n", path);
    printf("GGUF version %u, %" PRIu64 " bytes, alignment %u, data section at byte %" PRIu64
           "\n",
           pdvm_gguf_version(g), pdvm_gguf_file_size(g), pdvm_gguf_alignment(g),
           pdvm_gguf_data_offset(g));
    print_metadata(g);
    print_tensors(g);
    print_summary(s);
}

/* ---------------------------------------------------------------- JSON */

/* JSON strings must be valid UTF-8: invalid bytes become U+FFFD. */
static json_object *json_str(const char *s, uint64_t len)
{
    char *out = malloc(len * 3 + 1);
    if (!out) return NULL;
    size_t n = 0;
    for (uint64_t i = 0; i < len;) {
        unsigned char c = (unsigned char)s[i];
        int need = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : -1;
        bool ok = need >= 0 && i + (uint64_t)need < len;
        for (int k = 1; ok && k <= need; k++) ok = ((unsigned char)s[i + k] >> 6) == 2;
        if (!ok) {
            memcpy(out + n, "\xEF\xBF\xBD", 3), n += 3, i++;
            continue;
        }
        memcpy(out + n, s + i, (size_t)need + 1), n += (size_t)need + 1, i += (uint64_t)need + 1;
    }
    json_object *o = json_object_new_string_len(out, (int)n);
    free(out);
    return o;
}

static json_object *json_float(double v, bool is_f32)
{
    if (!isfinite(v)) return json_object_new_string(isnan(v) ? "nan" : v > 0 ? "inf" : "-inf");
    char tmp[40];
    for (int p = 1; p <= 17; p++) {
        snprintf(tmp, sizeof tmp, "%.*g", p, v);
        double back = strtod(tmp, NULL);
        if (is_f32 ? (float)back == (float)v : back == v) break;
    }
    return json_object_new_double_s(v, tmp);
}

static json_object *json_value(const gguf_value *v)
{
    switch (v->type) {
    case GGUF_TYPE_UINT8:
    case GGUF_TYPE_UINT16:
    case GGUF_TYPE_UINT32:
    case GGUF_TYPE_UINT64: return json_object_new_uint64(v->v.u);
    case GGUF_TYPE_INT8:
    case GGUF_TYPE_INT16:
    case GGUF_TYPE_INT32:
    case GGUF_TYPE_INT64: return json_object_new_int64(v->v.i);
    case GGUF_TYPE_FLOAT32: return json_float(v->v.f, true);
    case GGUF_TYPE_FLOAT64: return json_float(v->v.f, false);
    case GGUF_TYPE_BOOL: return json_object_new_boolean(v->v.b);
    case GGUF_TYPE_STRING: return json_str(v->v.s.ptr, v->v.s.len);
    default: return NULL;
    }
}

/* Arrays: the first MAX_ITEMS items and the length; nested arrays as the
 * text rendering, since they have no item accessor. */
static void json_array_value(const pdvm_gguf *g, uint64_t i, const gguf_value *v,
                             json_object *o)
{
    json_object_object_add(o, "length", json_object_new_uint64(v->n));
    if (v->elem_type == GGUF_TYPE_ARRAY) {
        char text[1024];
        pdvm_gguf_kv_to_text(g, i, MAX_ITEMS, text, sizeof text);
        json_object_object_add(o, "value", json_object_new_string(text));
        return;
    }
    json_object *arr = json_object_new_array();
    for (uint64_t j = 0; j < v->n && j < MAX_ITEMS; j++) {
        gguf_value item;
        if (pdvm_gguf_kv_item(g, i, j, &item)) json_object_array_add(arr, json_value(&item));
    }
    json_object_object_add(o, "value", arr);
    json_object_object_add(o, "truncated", json_object_new_boolean(v->n > MAX_ITEMS));
}

static json_object *json_metadata(const pdvm_gguf *g)
{
    json_object *list = json_object_new_array();
    for (uint64_t i = 0; i < pdvm_gguf_n_kv(g); i++) {
        json_object *o = json_object_new_object();
        gguf_str key = pdvm_gguf_key(g, i);
        gguf_value v;
        char type[24];
        pdvm_gguf_kv_value(g, i, &v);
        type_text(g, i, type, sizeof type);
        json_object_object_add(o, "key", json_str(key.ptr, key.len));
        json_object_object_add(o, "type", json_object_new_string(type));
        if (v.type == GGUF_TYPE_ARRAY) json_array_value(g, i, &v, o);
        else json_object_object_add(o, "value", json_value(&v));
        json_object_array_add(list, o);
    }
    return list;
}

static json_object *json_tensors(const pdvm_gguf *g)
{
    json_object *list = json_object_new_array();
    for (uint64_t i = 0; i < pdvm_gguf_n_tensors(g); i++) {
        const gguf_tensor *t = pdvm_gguf_tensor(g, i);
        json_object *o = json_object_new_object(), *shape = json_object_new_array();
        for (uint32_t d = 0; d < t->n_dims; d++)
            json_object_array_add(shape, json_object_new_int64(t->ne[d]));
        json_object_object_add(o, "name", json_str(t->name.ptr, t->name.len));
        json_object_object_add(o, "type", json_object_new_string(pdvm_type_name(t->type)));
        json_object_object_add(o, "shape", shape);
        json_object_object_add(o, "offset", json_object_new_uint64(t->offset));
        json_object_object_add(o, "bytes", json_object_new_uint64(t->nbytes));
        json_object_array_add(list, o);
    }
    return list;
}

static json_object *json_hparams(const pdvm_model *m)
{
    const pdvm_hparams *h = &m->hp;
    json_object *o = json_object_new_object();
    const struct {
        const char *k;
        uint32_t v;
    } counts[] = {{"n_vocab", h->n_vocab}, {"n_ctx_train", h->n_ctx_train},
                  {"n_embd", h->n_embd},   {"n_layer", h->n_layer},
                  {"n_ff", h->n_ff},       {"n_head", h->n_head},
                  {"n_head_kv", h->n_head_kv}, {"head_dim", h->head_dim},
                  {"n_rot", h->n_rot}};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++)
        json_object_object_add(o, counts[i].k, json_object_new_uint64(counts[i].v));
    json_object_object_add(o, "rms_eps", json_float(h->rms_eps, true));
    json_object_object_add(o, "rope_freq_base", json_float(h->rope_freq_base, true));
    json_object_object_add(o, "rope_type", json_object_new_string(rope_name(h->rope_type)));
    json_object_object_add(o, "n_params", json_object_new_uint64(m->n_params));
    json_object_object_add(o, "output_tied",
                           json_object_new_boolean(m->output.data == m->tok_embd.data));
    return o;
}

static json_object *json_summary(const summary *s)
{
    json_object *o = json_object_new_object(), *types = json_object_new_object();
    json_object_object_add(o, "parameters", json_object_new_uint64(s->params));
    for (uint32_t t = 0; t < PDVM_TYPE_COUNT; t++) {
        if (!s->by_type[t].tensors) continue;
        json_object *e = json_object_new_object();
        json_object_object_add(e, "tensors", json_object_new_uint64(s->by_type[t].tensors));
        json_object_object_add(e, "bytes", json_object_new_uint64(s->by_type[t].bytes));
        json_object_object_add(types, pdvm_type_name(t), e);
    }
    json_object_object_add(o, "bytes_by_type", types);
    if (s->bound) {
        json_object_object_add(o, "architecture", json_object_new_string(s->model.hp.arch));
        json_object_object_add(o, "hparams", json_hparams(&s->model));
    } else {
        json_object_object_add(o, "architecture", NULL);
        json_object_object_add(o, "bind_error", json_str(s->bind_error, strlen(s->bind_error)));
    }
    return o;
}

static void print_json(const char *path, const pdvm_gguf *g, const summary *s)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "file", json_str(path, strlen(path)));
    json_object_object_add(o, "version", json_object_new_int(pdvm_gguf_version(g)));
    json_object_object_add(o, "size", json_object_new_uint64(pdvm_gguf_file_size(g)));
    json_object_object_add(o, "alignment", json_object_new_int64(pdvm_gguf_alignment(g)));
    json_object_object_add(o, "data_offset", json_object_new_uint64(pdvm_gguf_data_offset(g)));
    json_object_object_add(o, "metadata", json_metadata(g));
    json_object_object_add(o, "tensors", json_tensors(g));
    json_object_object_add(o, "summary", json_summary(s));
    puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
                                               JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(o);
}

/* ----------------------------------------------------------------- main */

int pdvm_cli_inspect(int argc, char **argv)
{
    const char *path = NULL;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return PDVM_EXIT_OK;
        } else if (!strcmp(argv[i], "--json")) {
            json = true;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "pdvm inspect: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return PDVM_EXIT_USAGE;
        } else if (path) {
            fprintf(stderr, "pdvm inspect: more than one FILE given\n");
            usage(stderr);
            return PDVM_EXIT_USAGE;
        } else {
            path = argv[i];
        }
    }
    if (!path) {
        usage(stderr);
        return PDVM_EXIT_USAGE;
    }
    pdvm_gguf *g = NULL;
    pdvm_status st = pdvm_gguf_open(path, &g);
    if (st != PDVM_OK) {
        fprintf(stderr, "pdvm inspect: %s\n", pdvm_last_error());
        return pdvm_cli_exit_code(st);
    }
    summary *s = malloc(sizeof *s);
    if (!s) {
        pdvm_gguf_close(g);
        fprintf(stderr, "pdvm inspect: out of memory\n");
        return PDVM_EXIT_FAIL;
    }
    summarize(g, s);
    if (json) print_json(path, g, s);
    else print_text(path, g, s);
    /* The model, when bound, owns g. */
    if (s->bound) pdvm_model_unbind(&s->model);
    else pdvm_gguf_close(g);
    free(s);
    return PDVM_EXIT_OK;
}

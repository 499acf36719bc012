/* `pdvm inspect FILE [--json]`: what gguf-dump shows (version, alignment,
 * every metadata key, the tensor table) plus a summary with the
 * architecture as pdvm binds it. An invalid file exits 3; a valid file
 * that does not bind as a model (e.g. test vectors) is shown with a note. */
/* `pdvm inspect FILE [--json] [--check]`: what gguf-dump shows (version,
 * alignment, every metadata key, the tensor table) plus a summary with the
 * architecture as pdvm binds it. An invalid file exits 3; a valid file
 * that does not bind as a model (e.g. test vectors) is shown with a note.
 * --check decodes every tensor and fails (exit 3) at the first NaN/Inf. */
#include <inttypes.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "cli.h"

#define MAX_ITEMS 8
/* ggml type ids are below this (the reader rejects others). */
#define MAX_TYPE_IDS 64

/* ------------------------------------------------------------- summary */

typedef struct type_total {
    uint64_t tensors, bytes;
    const char *name;
} type_total;

typedef struct summary {
    uint64_t params;
    type_total by_type[MAX_TYPE_IDS];
    pdvm_model *model; /* NULL when the file does not bind */
    char bind_error[512];
} summary;

static void summarize(const char *path, const pdvm_gguf *g, summary *s)
{
    memset(s, 0, sizeof *s);
    for (uint64_t i = 0; i < pdvm_gguf_n_tensors(g); i++) {
        pdvm_gguf_tensor_info t;
        if (!pdvm_gguf_get_tensor(g, i, &t) || t.type >= MAX_TYPE_IDS) continue;
        s->params += (uint64_t)t.ne[0] * (uint64_t)t.ne[1] * (uint64_t)t.ne[2] * (uint64_t)t.ne[3];
        s->by_type[t.type].tensors++;
        s->by_type[t.type].bytes += t.nbytes;
        s->by_type[t.type].name = t.type_name;
    }
    if (pdvm_model_open(path, &s->model) != PDVM_OK)
        snprintf(s->bind_error, sizeof s->bind_error, "%s", pdvm_last_error());
}

/* ---------------------------------------------------------------- text */

static void type_text(const pdvm_gguf *g, uint64_t i, char *buf, size_t cap)
{
    pdvm_gguf_value v;
    pdvm_gguf_kv_value(g, i, &v);
    if (v.type == PDVM_GGUF_TYPE_ARRAY)
        snprintf(buf, cap, "arr[%s]", pdvm_gguf_type_name(v.elem_type));
    else
        snprintf(buf, cap, "%s", pdvm_gguf_type_name(v.type));
}

static void print_metadata(const pdvm_gguf *g)
{
    printf("metadata: %" PRIu64 " keys\n", pdvm_gguf_n_kv(g));
    for (uint64_t i = 0; i < pdvm_gguf_n_kv(g); i++) {
        char key[256], type[24], value[1024];
        pdvm_gguf_str_to_text(pdvm_gguf_key(g, i), key, sizeof key);
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
        pdvm_gguf_tensor_info t;
        if (!pdvm_gguf_get_tensor(g, i, &t)) continue;
        char name[256], shape[96];
        pdvm_gguf_str_to_text(t.name, name, sizeof name);
        pdvm_gguf_shape_to_text(t.ne, t.n_dims, shape, sizeof shape);
        printf("  %5" PRIu64 "  %-32s %-7s %-24s %12" PRIu64 " %12" PRIu64 "\n", i, name,
               t.type_name, shape, t.offset, t.nbytes);
    }
}

static const char *rope_name(pdvm_rope_type t) { return t == PDVM_ROPE_NEOX ? "neox" : "norm"; }

static void print_hparams(const pdvm_model *m)
{
    const pdvm_hparams *h = pdvm_model_hparams(m);
    printf("  architecture: %s\n", h->arch);
    printf("  hparams: n_vocab %u, n_ctx_train %u, n_embd %u, n_layer %u, n_ff %u, n_head %u, "
           "n_head_kv %u, head_dim %u, n_rot %u, rms_eps %g, rope_freq_base %g, rope %s\n",
           h->n_vocab, h->n_ctx_train, h->n_embd, h->n_layer, h->n_ff, h->n_head, h->n_head_kv,
           h->head_dim, h->n_rot, (double)h->rms_eps, (double)h->rope_freq_base,
           rope_name(h->rope_type));
    printf("  bound parameters: %" PRIu64 "\n", pdvm_model_n_params(m));
}

static void print_summary(const summary *s)
{
    printf("summary:\n  parameters: %" PRIu64 " (%.3g M)\n", s->params, (double)s->params / 1e6);
    printf("  bytes by type:\n");
    for (uint32_t t = 0; t < MAX_TYPE_IDS; t++)
        if (s->by_type[t].tensors)
            printf("    %-8s %5" PRIu64 " tensors %14" PRIu64 " bytes\n", s->by_type[t].name,
                   s->by_type[t].tensors, s->by_type[t].bytes);
    if (s->model) print_hparams(s->model);
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
    pdvm_gguf_float_to_text(v, is_f32, tmp, sizeof tmp);
    return json_object_new_double_s(v, tmp);
}

static json_object *json_value(const pdvm_gguf_value *v)
{
    switch (v->type) {
    case PDVM_GGUF_TYPE_UINT8:
    case PDVM_GGUF_TYPE_UINT16:
    case PDVM_GGUF_TYPE_UINT32:
    case PDVM_GGUF_TYPE_UINT64: return json_object_new_uint64(v->v.u);
    case PDVM_GGUF_TYPE_INT8:
    case PDVM_GGUF_TYPE_INT16:
    case PDVM_GGUF_TYPE_INT32:
    case PDVM_GGUF_TYPE_INT64: return json_object_new_int64(v->v.i);
    case PDVM_GGUF_TYPE_FLOAT32: return json_float(v->v.f, true);
    case PDVM_GGUF_TYPE_FLOAT64: return json_float(v->v.f, false);
    case PDVM_GGUF_TYPE_BOOL: return json_object_new_boolean(v->v.b);
    case PDVM_GGUF_TYPE_STRING: return json_str(v->v.s.ptr, v->v.s.len);
    default: return NULL;
    }
}

/* Arrays: the first MAX_ITEMS items and the length; nested arrays as the
 * text rendering, since they have no item accessor. */
static void json_array_value(const pdvm_gguf *g, uint64_t i, const pdvm_gguf_value *v,
                             json_object *o)
{
    json_object_object_add(o, "length", json_object_new_uint64(v->n));
    if (v->elem_type == PDVM_GGUF_TYPE_ARRAY) {
        char text[1024];
        pdvm_gguf_kv_to_text(g, i, MAX_ITEMS, text, sizeof text);
        json_object_object_add(o, "value", json_object_new_string(text));
        return;
    }
    json_object *arr = json_object_new_array();
    for (uint64_t j = 0; j < v->n && j < MAX_ITEMS; j++) {
        pdvm_gguf_value item;
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
        pdvm_gguf_str key = pdvm_gguf_key(g, i);
        pdvm_gguf_value v;
        char type[24];
        pdvm_gguf_kv_value(g, i, &v);
        type_text(g, i, type, sizeof type);
        json_object_object_add(o, "key", json_str(key.ptr, key.len));
        json_object_object_add(o, "type", json_object_new_string(type));
        if (v.type == PDVM_GGUF_TYPE_ARRAY) json_array_value(g, i, &v, o);
        else json_object_object_add(o, "value", json_value(&v));
        json_object_array_add(list, o);
    }
    return list;
}

static json_object *json_tensors(const pdvm_gguf *g)
{
    json_object *list = json_object_new_array();
    for (uint64_t i = 0; i < pdvm_gguf_n_tensors(g); i++) {
        pdvm_gguf_tensor_info t;
        if (!pdvm_gguf_get_tensor(g, i, &t)) continue;
        json_object *o = json_object_new_object(), *shape = json_object_new_array();
        for (uint32_t d = 0; d < t.n_dims; d++)
            json_object_array_add(shape, json_object_new_int64(t.ne[d]));
        json_object_object_add(o, "name", json_str(t.name.ptr, t.name.len));
        json_object_object_add(o, "type", json_object_new_string(t.type_name));
        json_object_object_add(o, "shape", shape);
        json_object_object_add(o, "offset", json_object_new_uint64(t.offset));
        json_object_object_add(o, "bytes", json_object_new_uint64(t.nbytes));
        json_object_array_add(list, o);
    }
    return list;
}

static json_object *json_hparams(const pdvm_model *m)
{
    const pdvm_hparams *h = pdvm_model_hparams(m);
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
    json_object_object_add(o, "n_params", json_object_new_uint64(pdvm_model_n_params(m)));
    return o;
}

static json_object *json_summary(const summary *s)
{
    json_object *o = json_object_new_object(), *types = json_object_new_object();
    json_object_object_add(o, "parameters", json_object_new_uint64(s->params));
    for (uint32_t t = 0; t < MAX_TYPE_IDS; t++) {
        if (!s->by_type[t].tensors) continue;
        json_object *e = json_object_new_object();
        json_object_object_add(e, "tensors", json_object_new_uint64(s->by_type[t].tensors));
        json_object_object_add(e, "bytes", json_object_new_uint64(s->by_type[t].bytes));
        json_object_object_add(types, s->by_type[t].name, e);
    }
    json_object_object_add(o, "bytes_by_type", types);
    if (s->model) {
        json_object_object_add(o, "architecture",
                               json_object_new_string(pdvm_model_hparams(s->model)->arch));
        json_object_object_add(o, "hparams", json_hparams(s->model));
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

typedef struct inspect_opts {
    const char *path;
    bool json, check;
} inspect_opts;

/* -1: go on; else the exit code. */
static int parse_opts(int argc, char **argv, inspect_opts *o)
{
    *o = (inspect_opts){0};
    const pdvm_arg args[] = {
        {NULL, "FILE", PDVM_ARG_POS, &o->path, 0, 0, NULL, "GGUF file"},
        {NULL, "--json", PDVM_ARG_FLAG, &o->json, 0, 0, NULL, "machine-readable output"},
        {NULL, "--check", PDVM_ARG_FLAG, &o->check, 0, 0, NULL,
         "decode every tensor; exit 3 at the first NaN/Inf"},
    };
    const size_t n_args = sizeof args / sizeof args[0];
    const char *synopsis = "FILE [--json] [--check]\n  Dump a GGUF file: header, metadata, "
                           "tensor table and summary.\n  exit: 0 ok, 2 usage, 3 invalid file "
                           "(or a NaN/Inf with --check)";
    int r = pdvm_args_parse("inspect", args, n_args, argc, argv);
    if (r == PDVM_ARGS_HELP) return pdvm_args_usage(stdout, "inspect", synopsis, args, n_args), 0;
    if (r != PDVM_ARGS_OK) return PDVM_EXIT_USAGE;
    if (!o->path) {
        pdvm_args_usage(stderr, "inspect", synopsis, args, n_args);
        return PDVM_EXIT_USAGE;
    }
    return -1;
}

int pdvm_cli_inspect(int argc, char **argv)
{
    inspect_opts o;
    int r = parse_opts(argc, argv, &o);
    if (r >= 0) return r;
    pdvm_gguf *g = NULL;
    pdvm_status st = pdvm_gguf_open(o.path, &g);
    if (st != PDVM_OK) return pdvm_cli_fail("inspect", st);
    summary *s = malloc(sizeof *s);
    if (!s) {
        pdvm_gguf_close(g);
        fprintf(stderr, "pdvm inspect: out of memory\n");
        return PDVM_EXIT_FAIL;
    }
    summarize(o.path, g, s);
    if (o.json) print_json(o.path, g, s);
    else print_text(o.path, g, s);
    r = PDVM_EXIT_OK;
    if (o.check && (st = pdvm_gguf_check_tensors(g)) != PDVM_OK) r = pdvm_cli_fail("inspect", st);
    pdvm_model_close(s->model);
    pdvm_gguf_close(g);
    free(s);
    return r;
}

/* llama_peer: llama.cpp's throughput on a GGUF file, measured as
 * llama-bench does, printed as the JSON rows `pdvm bench` writes, so both
 * engines are compared on the same file and GPU (bench/peer/run_h200.sh).
 *
 *   llama_peer -m FILE [-p 512] [-n 128] [-r 3] [-d DEPTH] [--type T]
 *              [--ngl N] [--no-fa] [-t THREADS]
 *   llama_peer --devices      (the backends' devices found, then exit)
 *
 * Per repetition, as llama-bench: prefill = the memory cleared, (at depth
 * d: d tokens decoded untimed first), then n_prompt tokens in one
 * llama_decode (n_batch = n_ubatch = n_prompt); decode = the memory
 * cleared, depth tokens untimed, then n_gen single-token llama_decode
 * calls, each synchronised. One untimed warm-up of each first. All layers
 * on the GPU (--ngl, default all), flash attention on unless --no-fa.
 * Token ids are random (timing does not depend on them). The libraries'
 * backends are loaded from $LLAMA_LIB_DIR (the folder of the .so files).
 * Build: bench/peer/build.sh. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ggml-backend.h"
#include "llama.h"

typedef struct opts {
    const char *model, *type;
    int n_prompt, n_gen, reps, depth, ngl, threads;
    bool flash;
} opts;

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static int usage(void)
{
    fprintf(stderr, "usage: llama_peer -m FILE [-p N] [-n N] [-r REPS] [-d DEPTH] [--type T] "
                    "[--ngl N] [--no-fa] [-t THREADS]\n");
    return 2;
}

static bool int_arg(const char *s, int lo, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < lo || v > 1 << 20) return false;
    *out = (int)v;
    return true;
}

static int parse(int argc, char **argv, opts *o)
{
    *o = (opts){.type = "?", .n_prompt = 512, .n_gen = 128, .reps = 3, .ngl = 999, .flash = true};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool ok = true;
        if (!strcmp(a, "--no-fa")) { o->flash = false; continue; }
        if (!v) return usage();
        if (!strcmp(a, "-m")) o->model = v;
        else if (!strcmp(a, "--type")) o->type = v;
        else if (!strcmp(a, "-p")) ok = int_arg(v, 0, &o->n_prompt);
        else if (!strcmp(a, "-n")) ok = int_arg(v, 1, &o->n_gen);
        else if (!strcmp(a, "-r")) ok = int_arg(v, 1, &o->reps) && o->reps <= 64;
        else if (!strcmp(a, "-d")) ok = int_arg(v, 0, &o->depth);
        else if (!strcmp(a, "--ngl")) ok = int_arg(v, 0, &o->ngl);
        else if (!strcmp(a, "-t")) ok = int_arg(v, 1, &o->threads);
        else return usage();
        if (!ok) return fprintf(stderr, "llama_peer: bad value '%s' for %s\n", v, a), 2;
        i++;
    }
    return o->model ? 0 : usage();
}

static void random_tokens(llama_token *t, int n, int n_vocab, uint32_t seed)
{
    for (int i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        t[i] = (llama_token)((seed >> 8) % (uint32_t)n_vocab);
    }
}

/* Decode n tokens from t, ubatch-sized pieces; false on failure. */
static bool feed(struct llama_context *ctx, llama_token *t, int n, int piece)
{
    for (int i = 0; i < n; i += piece) {
        int k = n - i < piece ? n - i : piece;
        if (llama_decode(ctx, llama_batch_get_one(t + i, k)) != 0) return false;
    }
    llama_synchronize(ctx);
    return true;
}

/* Tokens/s of one prefill (n_prompt in one decode) at depth; -1 on failure. */
static double run_prefill(struct llama_context *ctx, const opts *o, llama_token *t)
{
    llama_memory_clear(llama_get_memory(ctx), true);
    if (!feed(ctx, t, o->depth, o->n_prompt > 0 ? o->n_prompt : 512)) return -1;
    double t0 = now_s();
    if (!feed(ctx, t + o->depth, o->n_prompt, o->n_prompt)) return -1;
    return o->n_prompt / (now_s() - t0);
}

/* Tokens/s of n_gen single-token decodes at depth; -1 on failure. */
static double run_decode(struct llama_context *ctx, const opts *o, llama_token *t)
{
    llama_memory_clear(llama_get_memory(ctx), true);
    if (!feed(ctx, t, o->depth, o->n_prompt > 0 ? o->n_prompt : 512)) return -1;
    double t0 = now_s();
    for (int i = 0; i < o->n_gen; i++)
        if (!feed(ctx, t + o->depth + i, 1, 1)) return -1;
    return o->n_gen / (now_s() - t0);
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(const double *v, int n)
{
    double s[64];
    memcpy(s, v, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp_d);
    return n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
}

static void print_array(const char *key, const double *v, int n)
{
    printf(",\"%s\":[", key);
    for (int i = 0; i < n; i++) printf("%s%.17g", i ? "," : "", v[i]);
    printf("]");
}

/* The name of the device the first layers run on, for the row. */
static void device_name(char *out, size_t cap, bool gpu)
{
    snprintf(out, cap, "cpu");
    for (size_t i = 0; i < ggml_backend_dev_count(); i++) {
        ggml_backend_dev_t d = ggml_backend_dev_get(i);
        enum ggml_backend_dev_type ty = ggml_backend_dev_type(d);
        if (gpu ? ty == GGML_BACKEND_DEVICE_TYPE_GPU : ty == GGML_BACKEND_DEVICE_TYPE_CPU) {
            snprintf(out, cap, "%s (%s)", ggml_backend_dev_description(d),
                     ggml_backend_dev_name(d));
            return;
        }
    }
}

static void print_row(const opts *o, const char *device, uint64_t model_bytes, const double *pp,
                      const double *tg)
{
    const char *base = strrchr(o->model, '/');
    char dev[256];
    size_t n = 0;
    for (const char *s = device; *s && n + 2 < sizeof dev; s++) { /* JSON string escape */
        if (*s == '"' || *s == '\\') dev[n++] = '\\';
        dev[n++] = (char)(*s < 0x20 ? ' ' : *s);
    }
    dev[n] = '\0';
    printf("{\"model\":\"%s\",\"type\":\"%s\",\"device\":\"%s\",\"platform\":\"llama.cpp\","
           "\"mode\":\"llama.cpp%s\",\"n_prompt\":%d,\"n_gen\":%d,\"depth\":%d,"
           "\"prefill_tps\":%.17g,\"decode_tps\":%.17g,\"model_bytes\":%llu,\"reps\":%d",
           base ? base + 1 : o->model, o->type, dev, o->flash ? "" : "-nofa", o->n_prompt, o->n_gen, o->depth,
           o->n_prompt ? median(pp, o->reps) : 0.0, median(tg, o->reps),
           (unsigned long long)model_bytes, o->reps);
    print_array("decode_tps_reps", tg, o->reps);
    if (o->n_prompt) print_array("prefill_tps_reps", pp, o->reps);
    printf("}\n");
    fflush(stdout);
}

static int measure(const opts *o, struct llama_model *model, struct llama_context *ctx)
{
    const struct llama_vocab *vocab = llama_model_get_vocab(model);
    int n_tok = o->depth + (o->n_prompt > o->n_gen ? o->n_prompt : o->n_gen);
    llama_token *t = malloc(sizeof *t * (size_t)n_tok);
    double pp[64] = {0}, tg[64] = {0};
    if (!t) return 1;
    random_tokens(t, n_tok, llama_vocab_n_tokens(vocab), 12345u);
    bool ok = (o->n_prompt == 0 || run_prefill(ctx, o, t) > 0) && run_decode(ctx, o, t) > 0;
    for (int r = 0; ok && r < o->reps; r++) {
        if (o->n_prompt) ok = (pp[r] = run_prefill(ctx, o, t)) > 0;
        if (ok) ok = (tg[r] = run_decode(ctx, o, t)) > 0;
    }
    free(t);
    if (!ok) return fprintf(stderr, "llama_peer: llama_decode failed\n"), 1;
    char device[200];
    device_name(device, sizeof device, o->ngl > 0);
    print_row(o, device, llama_model_size(model), pp, tg);
    return 0;
}

/* --devices: what the libraries found (a machine without the Vulkan
 * loader or the driver's ICD shows only the CPU). */
static int list_devices(void)
{
    for (size_t i = 0; i < ggml_backend_dev_count(); i++) {
        ggml_backend_dev_t d = ggml_backend_dev_get(i);
        size_t free_b = 0, total_b = 0;
        ggml_backend_dev_memory(d, &free_b, &total_b);
        printf("%s: %s, %.0f MiB\n", ggml_backend_dev_name(d), ggml_backend_dev_description(d),
               total_b / 1048576.0);
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *dir = getenv("LLAMA_LIB_DIR");
    if (dir) ggml_backend_load_all_from_path(dir);
    else ggml_backend_load_all();
    if (argc == 2 && !strcmp(argv[1], "--devices")) return list_devices();
    opts o;
    int rc = parse(argc, argv, &o);
    if (rc) return rc;
    struct llama_model_params mp = llama_model_default_params();
    mp.n_gpu_layers = o.ngl;
    struct llama_model *model = llama_model_load_from_file(o.model, mp);
    if (!model) return fprintf(stderr, "llama_peer: cannot load %s\n", o.model), 1;
    struct llama_context_params cp = llama_context_default_params();
    int n_ctx = o.depth + (o.n_prompt > o.n_gen ? o.n_prompt : o.n_gen) + 1;
    cp.n_ctx = (uint32_t)n_ctx;
    cp.n_batch = cp.n_ubatch = (uint32_t)(o.n_prompt > 0 ? o.n_prompt : 512);
    cp.flash_attn_type = o.flash ? LLAMA_FLASH_ATTN_TYPE_ENABLED : LLAMA_FLASH_ATTN_TYPE_DISABLED;
    if (o.threads) cp.n_threads = cp.n_threads_batch = o.threads;
    cp.no_perf = true;
    struct llama_context *ctx = llama_init_from_model(model, cp);
    if (!ctx) {
        llama_model_free(model);
        return fprintf(stderr, "llama_peer: cannot create a context\n"), 1;
    }
    rc = measure(&o, model, ctx);
    llama_free(ctx);
    llama_model_free(model);
    return rc;
}

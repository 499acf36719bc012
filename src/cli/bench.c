/* pdvm bench: argument parsing and the single-model run. */
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "cli.h"
#include "error.h"
#include "gl_runtime.h"
#include "gpu_bench_hooks.h"
#include "quant.h"
#include "synthetic.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: pdvm bench (-m MODEL | --synthetic NAME --type T) [-p N] [-n N] [-c N]\n"
            "                  [--depth N] [--both] [--unfused] [--reps R] [--json] [--profile]\n"
            "                  [--platform P] [--out FILE]\n"
            "       pdvm bench --kernel matvec --rows R --cols C --type T [--reps R]\n"
            "       pdvm bench --suite [--models DIR] [--out FILE]\n"
            "  T: f16, q8_0, q4_0, q4_k.  Synthetic: stories15M, tinyllama-1.1b, llama-3.2-1b,\n"
            "  qwen2.5-0.5b, llama-3-8b, phi-4-14b (random weights generated on the GPU).\n");
}

static bool parse_type(const char *s, uint32_t *out)
{
    static const struct { const char *name; uint32_t type; } types[] = {
        {"f16", PDVM_TYPE_F16}, {"q8_0", PDVM_TYPE_Q8_0}, {"q4_0", PDVM_TYPE_Q4_0},
        {"q4_k", PDVM_TYPE_Q4_K}, {"q4_K", PDVM_TYPE_Q4_K}, {"f32", PDVM_TYPE_F32}};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (!strcmp(s, types[i].name)) return *out = types[i].type, true;
    return false;
}

static bool parse_u32(const char *s, uint32_t *out)
{
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (!*s || *end || v > 1u << 24) return false;
    *out = (uint32_t)v;
    return true;
}

/* Options that take a number, by name. */
static uint32_t *number_opt(bench_opts *o, const char *a)
{
    if (!strcmp(a, "-p") || !strcmp(a, "--n-prompt")) return &o->n_prompt;
    if (!strcmp(a, "-n") || !strcmp(a, "--n-gen")) return &o->n_gen;
    if (!strcmp(a, "-c") || !strcmp(a, "--ctx-size")) return &o->n_ctx;
    if (!strcmp(a, "--depth")) return &o->depth;
    if (!strcmp(a, "--reps")) return &o->reps;
    if (!strcmp(a, "--rows")) return &o->rows;
    if (!strcmp(a, "--cols")) return &o->cols;
    return NULL;
}

static bool *flag_opt(bench_opts *o, const char *a)
{
    if (!strcmp(a, "--both")) return &o->both;
    if (!strcmp(a, "--unfused")) return &o->unfused;
    if (!strcmp(a, "--json")) return &o->json;
    if (!strcmp(a, "--profile")) return &o->profile;
    if (!strcmp(a, "--suite")) return &o->suite;
    return NULL;
}

static const char **string_opt(bench_opts *o, const char *a)
{
    if (!strcmp(a, "-m") || !strcmp(a, "--model")) return &o->model_path;
    if (!strcmp(a, "--synthetic")) return &o->synthetic;
    if (!strcmp(a, "--platform")) return &o->platform;
    if (!strcmp(a, "--kernel")) return &o->kernel;
    if (!strcmp(a, "--out")) return &o->out_path;
    if (!strcmp(a, "--models")) return &o->models_dir;
    return NULL;
}

static int parse_args(int argc, char **argv, bench_opts *o)
{
    *o = (bench_opts){.type = PDVM_TYPE_Q4_0, .n_prompt = 128, .n_gen = 32, .reps = 3,
                      .models_dir = "../shared/models"};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) return usage(stdout), -1;
        bool *flag = flag_opt(o, a);
        if (flag) { *flag = true; continue; }
        if (i + 1 >= argc) return fprintf(stderr, "pdvm bench: %s needs a value\n", a), 2;
        const char *v = argv[++i];
        uint32_t *num = number_opt(o, a);
        const char **str = string_opt(o, a);
        if (num && !parse_u32(v, num))
            return fprintf(stderr, "pdvm bench: %s: '%s' is not a count\n", a, v), 2;
        else if (str) *str = v;
        else if (!strcmp(a, "--type")) {
            if (!parse_type(v, &o->type))
                return fprintf(stderr, "pdvm bench: unknown --type '%s'\n", v), 2;
        } else if (!num)
            return fprintf(stderr, "pdvm bench: unknown option '%s'\n", a), usage(stderr), 2;
    }
    if (o->reps == 0 || o->n_gen == 0)
        return fprintf(stderr, "pdvm bench: --reps and -n must be at least 1\n"), 2;
    if (!o->suite && !o->kernel && !o->model_path == !o->synthetic)
        return fprintf(stderr, "pdvm bench: give one of -m MODEL, --synthetic NAME, "
                               "--kernel matvec or --suite\n"), 2;
    return 0;
}

pdvm_status bench_roofline(const char *platform, double *gbps, char *device, size_t cap)
{
    pdvm_gl *gl;
    PDVM_TRY(pdvm_gl_open(platform, &gl));
    snprintf(device, cap, "%s (%s)", pdvm_gl_renderer(gl), pdvm_gl_platform_name(gl));
    pdvm_status st = pdvm_gl_measure_bandwidth(gl, 256u << 20, gbps);
    pdvm_gl_close(gl);
    return st;
}

const char *bench_model_type(const pdvm_model *m)
{
    /* Most common type among the layer matrices (norms are always f32):
     * a q4_0 file with f16 ffn_down is still "q4_0". */
    uint32_t count[PDVM_TYPE_COUNT] = {0};
    for (uint32_t i = 0; i < m->hp.n_layer; i++) {
        const pdvm_tensor *t = &m->layers[i].attn_norm;
        for (size_t k = 0; k < sizeof(pdvm_layer) / sizeof(pdvm_tensor); k++)
            if (t[k].ne[1] > 1 && t[k].type < PDVM_TYPE_COUNT) count[t[k].type]++;
    }
    uint32_t best = 0;
    for (uint32_t t = 1; t < PDVM_TYPE_COUNT; t++)
        if (count[t] > count[best]) best = t;
    return pdvm_type_name(best);
}

int bench_kernel(const bench_opts *o)
{
    if (strcmp(o->kernel, "matvec") || !o->rows || !o->cols) {
        fprintf(stderr, "pdvm bench: --kernel matvec needs --rows and --cols\n");
        return 2;
    }
    pdvm_gl *gl;
    pdvm_status st = pdvm_gl_open(o->platform, &gl);
    if (st != PDVM_OK) return fprintf(stderr, "pdvm bench: %s\n", pdvm_last_error()), 4;
    double us = 0;
    uint64_t row_bytes = 0;
    st = pdvm_type_row_bytes(o->type, o->cols, &row_bytes);
    if (st == PDVM_OK) st = pdvm_gpu_bench_matvec(gl, o->type, o->rows, o->cols, o->reps * 100, &us);
    if (st == PDVM_OK) {
        double gbps = (double)row_bytes * o->rows / (us * 1e3);
        printf("matvec %s rows=%u cols=%u: %.2f us/call, %.1f GB/s (%s, %s)\n",
               pdvm_type_name(o->type), o->rows, o->cols, us, gbps, pdvm_gl_renderer(gl),
               pdvm_gl_platform_name(gl));
    }
    pdvm_gl_close(gl);
    if (st != PDVM_OK) fprintf(stderr, "pdvm bench: %s\n", pdvm_last_error());
    return pdvm_cli_exit_code(st);
}

static pdvm_status open_bench_model(const bench_opts *o, pdvm_model **m, bench_model *bm)
{
    if (o->model_path) {
        PDVM_TRY(pdvm_model_open(o->model_path, m));
        const char *slash = strrchr(o->model_path, '/');
        *bm = (bench_model){*m, slash ? slash + 1 : o->model_path, bench_model_type(*m)};
        return PDVM_OK;
    }
    PDVM_TRY(pdvm_synthetic_model(o->synthetic, o->type, m));
    *bm = (bench_model){*m, o->synthetic, pdvm_type_name(o->type)};
    return PDVM_OK;
}

static int bench_one(const bench_opts *o)
{
    double roofline = 0;
    char device[128];
    pdvm_status st = bench_roofline(o->platform, &roofline, device, sizeof device);
    if (st != PDVM_OK) return fprintf(stderr, "pdvm bench: %s\n", pdvm_last_error()), 4;
    pdvm_model *m = NULL;
    bench_model bm;
    bench_row rows[2];
    int n = 0;
    st = open_bench_model(o, &m, &bm);
    if (st == PDVM_OK) st = bench_measure(o, &bm, o->depth, roofline, rows, &n);
    if (st != PDVM_OK) fprintf(stderr, "pdvm bench: %s\n", pdvm_last_error());
    FILE *out = o->out_path ? fopen(o->out_path, "a") : NULL;
    if (!o->json && n > 0) bench_table_header(stdout);
    for (int i = 0; i < n; i++) {
        if (o->json) bench_json_row(stdout, &rows[i]);
        else bench_table_row(stdout, &rows[i], n == 2 && i == 0 ? &rows[1] : NULL);
        if (out) bench_json_row(out, &rows[i]);
    }
    if (out) fclose(out);
    if (o->model_path) pdvm_model_close(m);
    else pdvm_synthetic_free(m);
    return pdvm_cli_exit_code(st);
}

int pdvm_cli_bench(int argc, char **argv)
{
    bench_opts o;
    int rc = parse_args(argc, argv, &o);
    if (rc) return rc < 0 ? 0 : rc;
    if (o.suite) {
        o.both = true;
        return bench_suite(&o);
    }
    return o.kernel ? bench_kernel(&o) : bench_one(&o);
}

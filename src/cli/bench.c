/* pdvm bench: argument parsing and the single-model run. */
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "bench.h"
#include "cli.h"
#include "error.h"
#include "gl_runtime.h"
#include "gpu_bench_hooks.h"
#include "gpu_types.h"
#include "quant.h"
#include "synthetic.h"

/* The help text's synopsis; T lists the GPU weight types (gpu_types.h). */
static void synopsis(char *buf, size_t cap)
{
    char types[256];
    gpu_type_names(types, sizeof types);
    snprintf(buf, cap,
             "(-m MODEL | --synthetic NAME --type T) [options]\n"
             "       pdvm bench --kernel matvec --rows R --cols C --type T [--reps R]\n"
             "       pdvm bench --suite [--models DIR] [--out FILE]\n"
             "  T (any case): %s.\n"
             "  Synthetic: stories15M, tinyllama-1.1b, llama-3.2-1b, qwen2.5-0.5b, llama-3-8b,\n"
             "  phi-4-14b (random weights generated on the GPU; a K-quant or iq4_xs tensor whose\n"
             "  rows are not a multiple of 256 falls back to a 32-block type, like llama.cpp).",
             types);
}

/* -1: help printed; 0: go on; else the exit code. */
static int parse_args(int argc, char **argv, bench_opts *o)
{
    *o = (bench_opts){.type = PDVM_TYPE_Q4_0, .n_prompt = 128, .n_gen = 32, .reps = 3,
                      .models_dir = "../shared/models"};
    const char *type = "q4_0";
    const double max = 1 << 24;
    const pdvm_arg args[] = {
        {"-m", "--model", PDVM_ARG_STR, &o->model_path, 0, 0, "PATH", "GGUF model file"},
        {NULL, "--synthetic", PDVM_ARG_STR, &o->synthetic, 0, 0, "NAME", "synthetic model shape"},
        {NULL, "--type", PDVM_ARG_STR, &type, 0, 0, "T", "synthetic / kernel weight type"},
        {"-p", "--n-prompt", PDVM_ARG_U32, &o->n_prompt, 0, max, "N", "prompt tokens (128)"},
        {"-n", "--n-gen", PDVM_ARG_U32, &o->n_gen, 1, max, "N", "generated tokens (32)"},
        {"-c", "--ctx-size", PDVM_ARG_U32, &o->n_ctx, 0, max, "N", "context"},
        {NULL, "--depth", PDVM_ARG_U32, &o->depth, 0, max, "N", "positions already cached"},
        {NULL, "--both", PDVM_ARG_FLAG, &o->both, 0, 0, NULL, "fused and unfused, alternating"},
        {NULL, "--unfused", PDVM_ARG_FLAG, &o->unfused, 0, 0, NULL, "one operation per dispatch"},
        {NULL, "--reps", PDVM_ARG_U32, &o->reps, 1, max, "R", "repetitions (3)"},
        {NULL, "--json", PDVM_ARG_FLAG, &o->json, 0, 0, NULL, "one JSON object a row"},
        {NULL, "--profile", PDVM_ARG_FLAG, &o->profile, 0, 0, NULL, "per-dispatch GPU time"},
        {NULL, "--platform", PDVM_ARG_STR, &o->platform, 0, 0, "P", "EGL platform"},
        {NULL, "--out", PDVM_ARG_STR, &o->out_path, 0, 0, "FILE", "append JSON lines here"},
        {NULL, "--kernel", PDVM_ARG_STR, &o->kernel, 0, 0, "matvec", "kernel microbench"},
        {NULL, "--rows", PDVM_ARG_U32, &o->rows, 0, max, "R", "kernel: rows"},
        {NULL, "--cols", PDVM_ARG_U32, &o->cols, 0, max, "C", "kernel: columns"},
        {NULL, "--suite", PDVM_ARG_FLAG, &o->suite, 0, 0, NULL, "the make bench suite"},
        {NULL, "--models", PDVM_ARG_STR, &o->models_dir, 0, 0, "DIR", "suite: model files"},
    };
    const size_t n_args = sizeof args / sizeof args[0];
    int r = pdvm_args_parse("bench", args, n_args, argc, argv);
    if (r == PDVM_ARGS_HELP) {
        char syn[1024];
        synopsis(syn, sizeof syn);
        return pdvm_args_usage(stdout, "bench", syn, args, n_args), -1;
    }
    if (r != PDVM_ARGS_OK) return PDVM_EXIT_USAGE;
    if (!gpu_type_parse(type, &o->type)) {
        char types[256];
        gpu_type_names(types, sizeof types);
        fprintf(stderr, "pdvm bench: unknown --type '%s' (GPU types: %s)\n", type, types);
        return PDVM_EXIT_USAGE;
    }
    if (!o->suite && !o->kernel && !o->model_path == !o->synthetic)
        return fprintf(stderr, "pdvm bench: give one of -m MODEL, --synthetic NAME, "
                               "--kernel matvec or --suite\n"), PDVM_EXIT_USAGE;
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

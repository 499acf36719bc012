/* pdvm bench: argument parsing and the single-model run. Everything the
 * arguments name (the model, the synthetic shape, the output file) is
 * checked before anything is measured. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "bench.h"
#include "cli.h"

/* The help text's synopsis, T listing the GPU weight types. */
static void synopsis(char *buf, size_t cap)
{
    char types[256], shapes[512] = "";
    pdvm_bench_type_names(types, sizeof types);
    for (size_t i = 0; pdvm_synthetic_name(i); i++) {
        size_t n = strlen(shapes);
        snprintf(shapes + n, sizeof shapes - n, "%s%s", i ? ", " : "", pdvm_synthetic_name(i));
    }
    snprintf(buf, cap,
             "(-m MODEL | --synthetic NAME --type T) [options]\n"
             "       pdvm bench --kernel matvec|matmul --rows R --cols C --type T [-p N] [--reps R]\n"
             "       pdvm bench --suite [--models DIR] [--out FILE]\n"
             "       pdvm bench --compare BASELINE CURRENT [--md FILE] [--min-band F]\n"
             "       pdvm bench --plot RESULTS   (gnuplot data for bench/roofline.gp)\n"
             "       pdvm bench --synthetic NAME --type T --write-gguf FILE [--seed S]\n"
             "  T (any case): %s.\n"
             "  Synthetic shapes (each with its architecture's layer: biases, Q/K norms,\n"
             "  post-norms, windows): %s.\n"
             "  Random weights are generated on the GPU; a K-quant or iq4_xs tensor whose\n"
             "  rows are not a multiple of 256 falls back to a 32-block type, like llama.cpp.",
             types, shapes);
}

/* -1: help printed; 0: go on; else the exit code. */
static int parse_args(int argc, char **argv, bench_opts *o)
{
    *o = (bench_opts){.type = 0, .n_prompt = 128, .n_gen = 32, .reps = 3, .n_parallel = 1,
                      .models_dir = "../shared/models", .min_band = 0.05f, .seed = 1};
    const char *type = "q4_0";
    const double max = 1 << 24;
    const pdvm_arg args[] = {
        {"-m", "--model", PDVM_ARG_STR, &o->model_path, 0, 0, "PATH", "GGUF model file"},
        {NULL, "--synthetic", PDVM_ARG_STR, &o->synthetic, 0, 0, "NAME", "synthetic model shape"},
        {NULL, "--type", PDVM_ARG_STR, &type, 0, 0, "T", "synthetic / kernel weight type"},
        {"-p", "--n-prompt", PDVM_ARG_U32, &o->n_prompt, 0, max, "N", "prompt tokens (128)"},
        {"-ub", "--ubatch-size", PDVM_ARG_U32, &o->n_ubatch, 0, 4096, "N",
         "prefill tokens a pass (512)"},
        {"-n", "--n-gen", PDVM_ARG_U32, &o->n_gen, 1, max, "N", "generated tokens (32)"},
        {"-c", "--ctx-size", PDVM_ARG_U32, &o->n_ctx, 0, max, "N", "context"},
        {NULL, "--depth", PDVM_ARG_U32, &o->depth, 0, max, "N", "positions already cached"},
        {"-np", "--parallel", PDVM_ARG_U32, &o->n_parallel, 1, 256, "N",
         "sequences decoding together, one token each a step (1)"},
        {NULL, "--both", PDVM_ARG_FLAG, &o->both, 0, 0, NULL, "fused and unfused, alternating"},
        {NULL, "--unfused", PDVM_ARG_FLAG, &o->unfused, 0, 0, NULL, "one operation per dispatch"},
        {NULL, "--reps", PDVM_ARG_U32, &o->reps, 1, BENCH_MAX_REPS, "R", "repetitions (3)"},
        {NULL, "--json", PDVM_ARG_FLAG, &o->json, 0, 0, NULL, "one JSON object a row"},
        {NULL, "--profile", PDVM_ARG_FLAG, &o->profile, 0, 0, NULL, "per-dispatch GPU time"},
        {NULL, "--platform", PDVM_ARG_STR, &o->platform, 0, 0, "P", "EGL platform"},
        {NULL, "--out", PDVM_ARG_STR, &o->out_path, 0, 0, "FILE", "append JSON lines here"},
        {NULL, "--kernel", PDVM_ARG_STR, &o->kernel, 0, 0, "K", "kernel microbench: matvec, or "
         "matmul (-p tokens)"},
        {NULL, "--rows", PDVM_ARG_U32, &o->rows, 0, max, "R", "kernel: rows"},
        {NULL, "--cols", PDVM_ARG_U32, &o->cols, 0, max, "C", "kernel: columns"},
        {NULL, "--suite", PDVM_ARG_FLAG, &o->suite, 0, 0, NULL, "the make bench suite"},
        {NULL, "--models", PDVM_ARG_STR, &o->models_dir, 0, 0, "DIR", "suite: model files"},
        {NULL, "--compare", PDVM_ARG_STR, &o->compare, 0, 0, "BASELINE",
         "results file to judge CURRENT against"},
        {NULL, "CURRENT", PDVM_ARG_POS, &o->current, 0, 0, NULL, "--compare: results file"},
        {NULL, "--md", PDVM_ARG_STR, &o->md_path, 0, 0, "FILE", "--compare: markdown here too"},
        {NULL, "--md-chart", PDVM_ARG_STR, &o->md_chart, 0, 0, "IMG", "--md: image to embed"},
        {NULL, "--min-band", PDVM_ARG_F32, &o->min_band, 0, 10, "F",
         "--compare: noise band floor (0.05)"},
        {NULL, "--current-mode", PDVM_ARG_STR, &o->current_mode, 0, 0, "MODE",
         "--compare: every baseline row against CURRENT's MODE rows"},
        {NULL, "--plot", PDVM_ARG_STR, &o->plot, 0, 0, "RESULTS", "gnuplot data of a file"},
        {NULL, "--write-gguf", PDVM_ARG_STR, &o->write_gguf, 0, 0, "FILE",
         "write the synthetic shape as a GGUF file"},
        {"-s", "--seed", PDVM_ARG_SEED, &o->seed, 0, 0, "S", "--write-gguf: weights (1)"},
    };
    const size_t n_args = sizeof args / sizeof args[0];
    int r = pdvm_args_parse("bench", args, n_args, argc, argv);
    if (r == PDVM_ARGS_HELP) {
        char syn[1024];
        synopsis(syn, sizeof syn);
        return pdvm_args_usage(stdout, "bench", syn, args, n_args), -1;
    }
    if (r != PDVM_ARGS_OK) return PDVM_EXIT_USAGE;
    if (!pdvm_bench_parse_type(type, &o->type)) {
        char types[256];
        pdvm_bench_type_names(types, sizeof types);
        fprintf(stderr, "pdvm bench: unknown --type '%s' (GPU types: %s)\n", type, types);
        return PDVM_EXIT_USAGE;
    }
    if (o->compare && !o->current)
        return fprintf(stderr, "pdvm bench: --compare BASELINE needs the CURRENT results file\n"),
               PDVM_EXIT_USAGE;
    if (o->current && !o->compare)
        return fprintf(stderr, "pdvm bench: unexpected argument '%s'\n", o->current),
               PDVM_EXIT_USAGE;
    if (o->compare || o->plot) return 0;
    if (o->write_gguf && !o->synthetic)
        return fprintf(stderr, "pdvm bench: --write-gguf needs --synthetic NAME\n"),
               PDVM_EXIT_USAGE;
    if (!o->suite && !o->kernel && !o->model_path == !o->synthetic)
        return fprintf(stderr, "pdvm bench: give one of -m MODEL, --synthetic NAME, "
                               "--kernel matvec|matmul, --suite, --compare or --plot\n"),
               PDVM_EXIT_USAGE;
    if (o->kernel && ((strcmp(o->kernel, "matvec") && strcmp(o->kernel, "matmul")) ||
                      !o->rows || !o->cols || (!strcmp(o->kernel, "matmul") && !o->n_prompt)))
        return fprintf(stderr, "pdvm bench: --kernel matvec|matmul needs --rows and --cols "
                               "(matmul: -p N tokens)\n"), PDVM_EXIT_USAGE;
    if (o->n_parallel > 1 && (o->depth || o->suite || o->kernel))
        return fprintf(stderr, "pdvm bench: -np N decodes every sequence from position 0: "
                               "not with --depth, --suite or --kernel\n"),
               PDVM_EXIT_USAGE;
    return 0;
}

pdvm_status bench_roofline(const char *platform, double *gbps, char *device, size_t cap)
{
    pdvm_device *d;
    BENCH_TRY(pdvm_device_open(platform, &d));
    const pdvm_device_info *in = pdvm_device_get_info(d);
    snprintf(device, cap, "%s (%s)", in->renderer, in->platform);
    pdvm_status st = pdvm_device_measure_bandwidth(d, 256u << 20, gbps);
    pdvm_device_close(d);
    return st;
}

pdvm_status bench_model_open(const bench_opts *o, bench_model *bm)
{
    if (o->model_path) {
        BENCH_TRY(pdvm_model_open(o->model_path, &bm->model));
        const char *slash = strrchr(o->model_path, '/');
        bm->name = slash ? slash + 1 : o->model_path;
        bm->type = pdvm_bench_model_type(bm->model);
        return PDVM_OK;
    }
    BENCH_TRY(pdvm_synthetic_model(o->synthetic, o->type, &bm->model));
    bm->name = o->synthetic;
    bm->type = pdvm_bench_type_name(o->type);
    return PDVM_OK;
}

void bench_model_close(const bench_opts *o, bench_model *bm)
{
    if (o->model_path) pdvm_model_close(bm->model);
    else pdvm_synthetic_free(bm->model);
    bm->model = NULL;
}

int bench_kernel(const bench_opts *o)
{
    pdvm_device *d;
    pdvm_status st = pdvm_device_open(o->platform, &d);
    if (st != PDVM_OK) return pdvm_cli_fail("bench", st);
    double us = 0;
    uint64_t row_bytes = pdvm_bench_row_bytes(o->type, o->cols);
    bool mm = !strcmp(o->kernel, "matmul");
    uint32_t n_tok = mm ? o->n_prompt : 0;
    st = pdvm_bench_matmul(d, o->type, o->rows, o->cols, n_tok, (int)o->reps * (mm ? 10 : 100),
                           &us);
    const pdvm_device_info *in = pdvm_device_get_info(d);
    if (st == PDVM_OK && mm)
        printf("matmul %s rows=%u cols=%u tokens=%u: %.2f us/call, %.2f TFLOP/s (%s, %s)\n",
               pdvm_bench_type_name(o->type), o->rows, o->cols, n_tok, us,
               2.0 * o->rows * o->cols * n_tok / (us * 1e6), in->renderer, in->platform);
    else if (st == PDVM_OK)
        printf("matvec %s rows=%u cols=%u: %.2f us/call, %.1f GB/s (%s, %s)\n",
               pdvm_bench_type_name(o->type), o->rows, o->cols, us,
               (double)row_bytes * o->rows / (us * 1e3), in->renderer, in->platform);
    pdvm_device_close(d);
    return st == PDVM_OK ? PDVM_EXIT_OK : pdvm_cli_fail("bench", st);
}

static void print_rows(const bench_opts *o, FILE *out, const bench_row *rows, int n)
{
    if (!o->json && n > 0) bench_table_header(stdout);
    for (int i = 0; i < n; i++) {
        if (o->json) bench_json_row(stdout, &rows[i]);
        else bench_table_row(stdout, &rows[i], n == 2 && i == 0 ? &rows[1] : NULL);
        if (out) bench_json_row(out, &rows[i]);
    }
}

static int bench_one(const bench_opts *o, FILE *out)
{
    bench_model bm = {0};
    pdvm_status st = bench_model_open(o, &bm); /* before the roofline takes seconds */
    if (st != PDVM_OK) return pdvm_cli_fail("bench", st);
    double roofline = 0;
    char device[160];
    bench_row rows[2];
    int n = 0;
    st = bench_roofline(o->platform, &roofline, device, sizeof device);
    if (st == PDVM_OK) st = bench_measure(o, &bm, o->depth, roofline, rows, &n);
    int r = st == PDVM_OK ? PDVM_EXIT_OK : pdvm_cli_fail("bench", st);
    print_rows(o, out, rows, n);
    bench_model_close(o, &bm);
    return r;
}

/* The synthetic shape as a file, on the CPU: no device is opened. */
static int bench_write_gguf(const bench_opts *o)
{
    uint64_t bytes = 0;
    double t0 = pdvm_cli_now_s();
    pdvm_status st =
        pdvm_synthetic_write_gguf(o->synthetic, o->type, o->seed, o->write_gguf, &bytes);
    if (st != PDVM_OK) return pdvm_cli_fail("bench", st);
    printf("%s: %s at %s, seed %llu, %.1f MiB of tensor data, %.1f s\n", o->write_gguf,
           o->synthetic, pdvm_bench_type_name(o->type), (unsigned long long)o->seed,
           bytes / 1048576.0, pdvm_cli_now_s() - t0);
    return PDVM_EXIT_OK;
}

int pdvm_cli_bench(int argc, char **argv)
{
    bench_opts o;
    int rc = parse_args(argc, argv, &o);
    if (rc) return rc < 0 ? PDVM_EXIT_OK : rc;
    if (o.n_ubatch) { /* the batched path reads it (gpu_chain_batch.h) */
        char ub[16];
        snprintf(ub, sizeof ub, "%u", o.n_ubatch);
        setenv("PDVM_UBATCH", ub, 1);
    }
    if (o.compare) return bench_compare_files(&o);
    if (o.plot) return bench_plot_file(&o);
    if (o.kernel) return bench_kernel(&o);
    if (o.write_gguf) return bench_write_gguf(&o);
    /* The output file first: a path that cannot be written must not cost
     * minutes of measuring. The suite truncates it, a single run appends. */
    FILE *out = NULL;
    if (o.out_path && !(out = fopen(o.out_path, o.suite ? "w" : "a"))) {
        fprintf(stderr, "pdvm bench: cannot write %s: %s\n", o.out_path, strerror(errno));
        return PDVM_EXIT_FAIL;
    }
    if (o.suite) o.both = true;
    rc = o.suite ? bench_suite(&o, out) : bench_one(&o, out);
    if (out && fclose(out) != 0 && rc == PDVM_EXIT_OK) {
        fprintf(stderr, "pdvm bench: writing %s: %s\n", o.out_path, strerror(errno));
        rc = PDVM_EXIT_FAIL;
    }
    return rc;
}

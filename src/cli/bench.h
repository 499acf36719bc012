/* pdvm bench: measurement, report and suite, split by responsibility. */
#ifndef PDVM_CLI_BENCH_H
#define PDVM_CLI_BENCH_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "../bench/pdvm_bench.h"
#include "bench_compare.h"
#include "pdvm.h"

#define BENCH_TRY(expr)                                                      \
    do {                                                                     \
        pdvm_status bench_try_st_ = (expr);                                  \
        if (bench_try_st_ != PDVM_OK) return bench_try_st_;                  \
    } while (0)

typedef struct bench_opts {
    const char *model_path;  /* -m */
    const char *synthetic;   /* --synthetic NAME */
    uint32_t type;           /* --type, for synthetic models and --kernel */
    uint32_t n_prompt, n_gen, n_ctx, depth, reps;
    uint32_t n_ubatch;       /* -ub: prefill tokens a pass (0: the default, 512) */
    uint32_t n_parallel;     /* -np: sequences decoding together (a server's busy slots) */
    bool both, unfused, json, profile, suite;
    const char *platform;
    const char *kernel;      /* --kernel matvec */
    uint32_t rows, cols;
    const char *out_path;    /* --out: JSON lines appended here too */
    const char *models_dir;  /* --suite: where the model files are */
    const char *compare;     /* --compare BASELINE: judge CURRENT against it */
    const char *current;     /* the positional results file of --compare */
    const char *md_path;     /* --md: the comparison as markdown */
    const char *md_chart;    /* --md-chart: an image the markdown embeds */
    float min_band;          /* --min-band: floor of the noise band (fraction) */
    const char *current_mode; /* --current-mode: match baseline rows with this mode */
    const char *plot;        /* --plot RESULTS: gnuplot data on stdout */
    const char *write_gguf;  /* --write-gguf FILE: the synthetic shape as a file */
    uint64_t seed;           /* --seed: its random weights */
} bench_opts;

typedef struct bench_row {
    char model[64], arch[32], type[16], device[128], platform[32], mode[8];
    uint64_t n_params, weight_bytes_per_token;
    uint32_t n_prompt, n_gen, depth, n_layer;
    double prefill_tps, decode_tps, ms_per_layer, dispatches_per_token;
    double prefill_gflops; /* model FLOPs of the prefill per second (bench_measure.c) */
    double achieved_gbps, roofline_gbps, roofline_fraction;
    double gpu_mib;       /* weights + KV cache + scratch allocated on the GPU */
    double peak_rss_mib;  /* the process's peak resident set over the session */
    double decode_reps[BENCH_MAX_REPS], prefill_reps[BENCH_MAX_REPS]; /* tokens/s samples */
    uint32_t n_reps, n_prefill_reps;
} bench_row;

/* A model ready to be measured, and how to name it in the rows. */
typedef struct bench_model {
    pdvm_model *model;
    const char *name;
    const char *type;
} bench_model;

/* Measure one model at one depth: one row per mode (fused, and unfused
 * when opts->both), decode as the median of reps repetitions with the modes
 * alternating. rows has room for 2; *n_rows receives the count. */
pdvm_status bench_measure(const bench_opts *o, const bench_model *bm, uint32_t depth,
                          double roofline_gbps, bench_row *rows, int *n_rows);

/* SSBO read roofline of the platform's device, measured on its own context. */
pdvm_status bench_roofline(const char *platform, double *gbps, char *device, size_t cap);
/* Open -m MODEL or --synthetic NAME; free with bench_model_close. */
pdvm_status bench_model_open(const bench_opts *o, bench_model *bm);
void bench_model_close(const bench_opts *o, bench_model *bm);

void bench_table_header(FILE *f);
/* other: the unfused row of the same configuration (for the ratio), or NULL. */
void bench_table_row(FILE *f, const bench_row *r, const bench_row *other);
void bench_json_row(FILE *f, const bench_row *r);

/* The fixed suite of `make bench`, rows also as JSON lines to out (may be
 * NULL). Returns an exit code. */
int bench_suite(const bench_opts *o, FILE *out);
/* --kernel matvec. Returns an exit code. */
int bench_kernel(const bench_opts *o);
/* --compare BASELINE CURRENT (exit 1 when a row is slower beyond the
 * band) and --plot RESULTS (bench_files.c). Return exit codes. */
int bench_compare_files(const bench_opts *o);
int bench_plot_file(const bench_opts *o);

#endif

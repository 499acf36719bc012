/* Results files of `pdvm bench` (JSON lines, bench_report.c) read back and
 * compared: every row of a baseline matched with the current run's by
 * model, type, mode and depth; decode and prefill judged against a noise
 * band measured from the repetitions each row records. Used by
 * `pdvm bench --compare` (make bench BASELINE=...) and `--plot`. No GL:
 * libc and json-c only, so the unit test links this file alone. */
#ifndef PDVM_CLI_BENCH_COMPARE_H
#define PDVM_CLI_BENCH_COMPARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Samples a row keeps per metric (pdvm bench --reps is limited to this). */
enum { BENCH_MAX_REPS = 64 };

/* One row of a results file. Samples are tokens/s; rows written before
 * the samples were recorded have n_*_reps 0. */
typedef struct bench_rec {
    char model[64], type[16], mode[8], device[128];
    uint32_t depth, n_prompt, n_gen;
    uint64_t weight_bytes_per_token;
    double decode_tps, prefill_tps, achieved_gbps, roofline_gbps;
    double decode_reps[BENCH_MAX_REPS], prefill_reps[BENCH_MAX_REPS];
    uint32_t n_decode_reps, n_prefill_reps;
} bench_rec;

typedef struct bench_recs {
    bench_rec *v;
    size_t n;
} bench_recs;

/* Read a results file (one JSON object a line; blank lines skipped).
 * Required per line: model, type, mode, depth, decode_tps, prefill_tps;
 * the rest default to 0. false with "PATH:LINE: why" in err (cap bytes)
 * when the file cannot be read or a line is not such an object. */
bool bench_recs_load(const char *path, bench_recs *out, char *err, size_t cap);
void bench_recs_free(bench_recs *r);

/* Relative spread of n samples: (max - min) / median, the whole range,
 * no distribution assumed. -1 when n < 2 (not measured). */
double bench_noise_band(const double *v, size_t n);

typedef enum bench_verdict {
    BENCH_SAME = 0, /* within the band */
    BENCH_FASTER,   /* above it */
    BENCH_SLOWER,   /* below it: a regression */
    BENCH_MISSING,  /* in the baseline, not in the current run */
    BENCH_NEW,      /* in the current run only */
} bench_verdict;

/* One metric of one matched row. band: the larger of the two rows' spreads
 * and the floor; measured: false when neither row had 2 samples (band is
 * then the floor). change: after / before - 1. */
typedef struct bench_metric {
    double before, after, change, band;
    bool measured, present; /* present: both rows have a value > 0 */
    bench_verdict verdict;
} bench_metric;

typedef struct bench_cmp_row {
    const bench_rec *base, *cur; /* either NULL for MISSING / NEW */
    bench_metric decode, prefill;
    bench_verdict verdict;       /* SLOWER if either metric is, ... */
} bench_cmp_row;

typedef struct bench_cmp {
    bench_cmp_row *rows;
    size_t n;
    size_t n_slower, n_faster, n_same, n_missing, n_new;
    double min_band;
} bench_cmp;

/* Match base against cur (rows in the baseline's order, then the new
 * ones) and judge each; min_band (>= 0) is the floor of every band.
 * cur_mode NULL: rows match when model, type, mode and depth are equal;
 * else every baseline row is matched with the current row of mode
 * cur_mode (another engine's rows against pdvm's "fused" ones) and the
 * current rows of other modes are left out. false only when out of
 * memory. Free with bench_cmp_free. */
bool bench_compare(const bench_recs *base, const bench_recs *cur, double min_band,
                   const char *cur_mode, bench_cmp *out);
void bench_cmp_free(bench_cmp *c);

/* The before/after table: aligned text (markdown false) or a markdown
 * page with a summary line for a CI job (markdown true; chart: an image
 * path to embed, or NULL). */
void bench_cmp_print(FILE *f, const bench_cmp *c, bool markdown, const char *chart);

/* gnuplot data of a results file (bench/roofline.gp): one line a model
 * and type, ordered by weight bytes a token, with the achieved GB/s of
 * each mode and depth in a column ("NaN" where absent) and the roofline. */
void bench_plot_data(FILE *f, const bench_recs *r);

#endif

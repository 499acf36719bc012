/* `make bench`: every model file in the models folder plus the synthetic
 * shapes the device can hold and run within the time budget. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "cli.h"

enum { SUITE_BUDGET_S = 420 }; /* leaves room inside the 10-minute promise */

typedef struct suite_state {
    const bench_opts *o;
    double roofline;
    double t_start;
    FILE *out;
    int rows_ok;
    double best_gbps; /* best decode bandwidth reached so far in this run */
} suite_state;

static const uint32_t suite_depths[] = {0, 1024};

static void emit(suite_state *s, const bench_row *rows, int n)
{
    for (int i = 0; i < n; i++) {
        if (rows[i].achieved_gbps > s->best_gbps) s->best_gbps = rows[i].achieved_gbps;
        bench_table_row(stdout, &rows[i], n == 2 && i == 0 ? &rows[1] : NULL);
        if (s->out) bench_json_row(s->out, &rows[i]);
    }
    s->rows_ok += n;
}

/* Prefill does not depend on the depth: measured at the first depth only
 * and carried into the rows of the others. */
static void run_model(suite_state *s, const bench_model *bm)
{
    bench_opts o = *s->o;
    bench_row prefill[2]; /* the depth-0 rows' prefill, carried */
    for (size_t d = 0; d < sizeof suite_depths / sizeof suite_depths[0]; d++) {
        bench_row rows[2];
        int n = 0;
        pdvm_status st = bench_measure(&o, bm, suite_depths[d], s->roofline, rows, &n);
        if (st != PDVM_OK) {
            printf("| %-18.18s | skipped at depth %u: %s\n", bm->name, suite_depths[d],
                   pdvm_last_error());
            return;
        }
        for (int i = 0; i < n; i++) {
            if (d == 0) prefill[i] = rows[i];
            rows[i].prefill_tps = prefill[i].prefill_tps;
            rows[i].prefill_gflops = prefill[i].prefill_gflops;
            rows[i].n_prefill_reps = prefill[i].n_prefill_reps;
            memcpy(rows[i].prefill_reps, prefill[i].prefill_reps, sizeof rows[i].prefill_reps);
            rows[i].n_prompt = s->o->n_prompt;
        }
        emit(s, rows, n);
        o.n_prompt = 0;
    }
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* false when the folder cannot be read (said on stderr). */
static bool run_files(suite_state *s)
{
    DIR *dir = opendir(s->o->models_dir);
    if (!dir) {
        fprintf(stderr, "pdvm bench: --models %s: %s\n", s->o->models_dir, strerror(errno));
        return false;
    }
    char *names[64];
    size_t n = 0;
    for (struct dirent *e; (e = readdir(dir)) && n < 64;) {
        size_t len = strlen(e->d_name);
        if (len > 5 && !strcmp(e->d_name + len - 5, ".gguf")) names[n++] = strdup(e->d_name);
    }
    closedir(dir);
    qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", s->o->models_dir, names[i]);
        pdvm_model *m = NULL;
        if (pdvm_model_open(path, &m) != PDVM_OK) {
            printf("| %-18.18s | skipped: %s\n", names[i], pdvm_last_error());
        } else {
            names[i][strlen(names[i]) - 5] = '\0';
            bench_model bm = {m, names[i], pdvm_bench_model_type(m)};
            run_model(s, &bm);
            pdvm_model_close(m);
        }
        free(names[i]);
    }
    return true;
}

/* Seconds a synthetic configuration would take, with decode at the best
 * bandwidth this run has reached (a quarter of the roofline before any
 * row): enough to skip what cannot finish in the budget. A prefill is
 * counted as many steps as the prompt (an upper bound where it runs
 * batched), once untimed and once a repetition. */
static double estimate_s(const suite_state *s, const pdvm_model *m)
{
    double gbps = s->best_gbps > 0 ? s->best_gbps : 0.25 * s->roofline;
    double per_token = (double)pdvm_bench_weight_bytes_per_token(m) / (gbps * 1e9);
    double steps = 2.0 /* modes */ * ((1.0 + s->o->reps) * s->o->n_prompt +
                                      2.0 * (2.0 + s->o->reps * s->o->n_gen));
    return per_token * steps;
}

static void run_synthetic(suite_state *s)
{
    for (size_t i = 0; i < pdvm_synthetic_count(); i++) {
        const char *name = pdvm_synthetic_name(i);
        pdvm_model *m = NULL;
        uint32_t q4_0 = 0;
        pdvm_bench_parse_type("q4_0", &q4_0);
        if (pdvm_synthetic_model(name, q4_0, &m) != PDVM_OK) {
            printf("| %-18.18s | skipped: %s\n", name, pdvm_last_error());
            continue;
        }
        double left = SUITE_BUDGET_S - (pdvm_cli_now_s() - s->t_start), need = estimate_s(s, m);
        if (need > left)
            printf("| %-18.18s | skipped: needs about %.0f s at this device's bandwidth, "
                   "%.0f s of the budget left\n", name, need, left);
        else
            run_model(s, &(bench_model){m, name, "q4_0"});
        pdvm_synthetic_free(m);
    }
}

int bench_suite(const bench_opts *o, FILE *out)
{
    suite_state s = {.o = o, .t_start = pdvm_cli_now_s(), .out = out};
    DIR *dir = opendir(o->models_dir); /* before the roofline takes seconds */
    if (!dir) {
        fprintf(stderr, "pdvm bench: --models %s: %s\n", o->models_dir, strerror(errno));
        return PDVM_EXIT_USAGE;
    }
    closedir(dir);
    char device[160];
    pdvm_status st = bench_roofline(o->platform, &s.roofline, device, sizeof device);
    if (st != PDVM_OK) return pdvm_cli_fail("bench", st);
    printf("device: %s, SSBO read roofline %.1f GB/s; prompt %u, gen %u, reps %u, "
           "fused and unfused alternating\n\n", device, s.roofline, o->n_prompt, o->n_gen,
           o->reps);
    bench_table_header(stdout);
    bool files_ok = run_files(&s);
    run_synthetic(&s);
    printf("\n%d rows in %.0f s%s%s\n", s.rows_ok, pdvm_cli_now_s() - s.t_start,
           o->out_path ? ", JSON lines in " : "", o->out_path ? o->out_path : "");
    return files_ok && s.rows_ok > 0 ? PDVM_EXIT_OK : PDVM_EXIT_FAIL;
}

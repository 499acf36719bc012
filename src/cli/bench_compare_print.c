/* The comparison as a table (text or markdown) and a results file as
 * gnuplot data (bench_compare.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bench_compare.h"

static const char *verdict_name(bench_verdict v)
{
    static const char *const names[] = {
        [BENCH_SAME] = "ok", [BENCH_FASTER] = "faster", [BENCH_SLOWER] = "SLOWER",
        [BENCH_MISSING] = "missing", [BENCH_NEW] = "new",
    };
    return names[v];
}

/* "before | after | change | band" of one metric, each cell padded. */
static void metric_cells(char *out, size_t cap, const bench_metric *m, bool present_row)
{
    if (!present_row || !m->present) {
        snprintf(out, cap, "%11s | %11s | %7s | %8s", "", "", "", "");
        return;
    }
    char band[16];
    snprintf(band, sizeof band, "%.1f%%%s", 100.0 * m->band, m->measured ? "" : "*");
    snprintf(out, cap, "%11.1f | %11.1f | %+6.1f%% | %8s", m->before, m->after, 100.0 * m->change,
             band);
}

static const bench_rec *first_rec(const bench_cmp *c, bool base)
{
    for (size_t i = 0; i < c->n; i++) {
        const bench_rec *r = base ? c->rows[i].base : c->rows[i].cur;
        if (r) return r;
    }
    return NULL;
}

static void print_devices(FILE *f, const bench_cmp *c, bool markdown)
{
    const bench_rec *b = first_rec(c, true), *a = first_rec(c, false);
    const char *sep = markdown ? "\n\n" : "\n";
    const bench_rec *r[2] = {b, a};
    for (int i = 0; i < 2; i++) {
        if (!r[i]) continue;
        fprintf(f, "%s %s (%s), ", i ? "current: " : "baseline:", r[i]->device, r[i]->mode);
        if (r[i]->roofline_gbps > 0) fprintf(f, "roofline %.1f GB/s%s", r[i]->roofline_gbps, sep);
        else fprintf(f, "no roofline measured%s", sep);
    }
    if (a && b && strcmp(a->device, b->device))
        fprintf(f, "warning: the devices differ; the comparison says little%s", sep);
    /* The bandwidth probe of the same device should agree within noise; a
     * large gap says one run shared the machine with other work. */
    else if (a && b && a->roofline_gbps > 0 && b->roofline_gbps > 0 &&
        fabs(log(a->roofline_gbps / b->roofline_gbps)) > log(1.5))
        fprintf(f, "warning: the measured rooflines differ %.1fx: was the machine busy?%s",
                a->roofline_gbps > b->roofline_gbps ? a->roofline_gbps / b->roofline_gbps
                                                    : b->roofline_gbps / a->roofline_gbps,
                sep);
}

static void print_summary(FILE *f, const bench_cmp *c, bool markdown)
{
    fprintf(f, "%s%zu rows: %zu slower, %zu faster, %zu within the noise band, %zu missing, "
               "%zu new%s (band: the larger spread (max - min) / median of the two rows' "
               "repetitions, at least %.1f%%; * no repetitions recorded: the floor)\n",
            markdown ? "**" : "", c->n, c->n_slower, c->n_faster, c->n_same, c->n_missing,
            c->n_new, markdown ? "**" : "", 100.0 * c->min_band);
}

void bench_cmp_print(FILE *f, const bench_cmp *c, bool markdown, const char *chart)
{
    if (markdown) {
        fprintf(f, "# pdvm bench: %s", c->n_slower ? "slower than the baseline"
                                                    : "no regression beyond the noise band");
        if (c->n_missing) fprintf(f, ", missing rows: %zu", c->n_missing);
        fprintf(f, "\n\n");
        print_summary(f, c, true);
        fprintf(f, "\n");
    }
    print_devices(f, c, markdown);
    if (markdown && chart) fprintf(f, "![achieved GB/s against the roofline](%s)\n\n", chart);
    if (!markdown) fprintf(f, "\n");
    fprintf(f, "| %-24s | %-6s | %-9s | %5s | %11s | %11s | %7s | %8s | %11s | %11s | %7s | %8s "
               "| %-7s |\n",
            "model", "type", "mode", "depth", "decode was", "decode now", "change", "band",
            "prefill was", "prefill now", "change", "band", "verdict");
    fprintf(f, "|--------------------------|--------|-----------|-------|-------------|-------------|---------"
               "|----------|-------------|-------------|---------|----------|---------|\n");
    for (size_t i = 0; i < c->n; i++) {
        const bench_cmp_row *r = &c->rows[i];
        const bench_rec *k = r->base ? r->base : r->cur;
        bool both = r->base && r->cur;
        char d[96], p[96];
        metric_cells(d, sizeof d, &r->decode, both);
        metric_cells(p, sizeof p, &r->prefill, both);
        fprintf(f, "| %-24.24s | %-6s | %-9s | %5u | %s | %s | %-7s |\n", k->model, k->type,
                k->mode, k->depth, d, p, verdict_name(r->verdict));
    }
    if (!markdown) {
        fprintf(f, "\n");
        print_summary(f, c, false);
    }
}

/* ------------------------------------------------------------ plot data */

enum { MAX_SERIES = 8 };

typedef struct series {
    char mode[8];
    uint32_t depth;
} series;

static int find_series(series *s, size_t *n, const bench_rec *r)
{
    for (size_t i = 0; i < *n; i++)
        if (!strcmp(s[i].mode, r->mode) && s[i].depth == r->depth) return (int)i;
    if (*n == MAX_SERIES) return -1;
    snprintf(s[*n].mode, sizeof s[*n].mode, "%s", r->mode);
    s[*n].depth = r->depth;
    return (int)(*n)++;
}

typedef struct model_key {
    const bench_rec *first;
    double gbps[MAX_SERIES];
} model_key;

static int cmp_model(const void *a, const void *b)
{
    const bench_rec *x = ((const model_key *)a)->first, *y = ((const model_key *)b)->first;
    if (x->weight_bytes_per_token != y->weight_bytes_per_token)
        return x->weight_bytes_per_token < y->weight_bytes_per_token ? -1 : 1;
    return strcmp(x->model, y->model);
}

static model_key *find_model(model_key *m, size_t *n, const bench_rec *r)
{
    for (size_t i = 0; i < *n; i++)
        if (!strcmp(m[i].first->model, r->model) && !strcmp(m[i].first->type, r->type))
            return &m[i];
    m[*n].first = r;
    for (int s = 0; s < MAX_SERIES; s++) m[*n].gbps[s] = -1;
    return &m[(*n)++];
}

void bench_plot_data(FILE *f, const bench_recs *r)
{
    series s[MAX_SERIES];
    size_t n_s = 0, n_m = 0;
    model_key *m = calloc(r->n + 1, sizeof *m);
    if (!m) return;
    double roof = 0;
    for (size_t i = 0; i < r->n; i++) {
        int k = find_series(s, &n_s, &r->v[i]);
        if (k >= 0) find_model(m, &n_m, &r->v[i])->gbps[k] = r->v[i].achieved_gbps;
        if (r->v[i].roofline_gbps > roof) roof = r->v[i].roofline_gbps;
    }
    qsort(m, n_m, sizeof *m, cmp_model);
    if (r->n) fprintf(f, "# device: %s\n", r->v[0].device);
    fprintf(f, "x\tmodel\tweight_MB\troofline");
    for (size_t k = 0; k < n_s; k++) fprintf(f, "\t%s, depth %u", s[k].mode, s[k].depth);
    fprintf(f, "\n");
    for (size_t i = 0; i < n_m; i++) {
        const bench_rec *e = m[i].first;
        bool typed = strstr(e->model, e->type) != NULL;
        fprintf(f, "%zu\t%s%s%s\t%.3f\t%.1f", i + 1, e->model, typed ? "" : " ",
                typed ? "" : e->type, e->weight_bytes_per_token / 1e6, roof);
        for (size_t k = 0; k < n_s; k++) {
            if (m[i].gbps[k] >= 0) fprintf(f, "\t%.4g", m[i].gbps[k]);
            else fprintf(f, "\tNaN");
        }
        fprintf(f, "\n");
    }
    free(m);
}

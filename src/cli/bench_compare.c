/* Results files read with json-c, rows matched and judged (bench_compare.h). */
#include "bench_compare.h"

#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static bool get_str(json_object *o, const char *key, char *dst, size_t cap, bool required)
{
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
        return !required;
    snprintf(dst, cap, "%s", json_object_get_string(v));
    return true;
}

static bool get_num(json_object *o, const char *key, double *dst, bool required)
{
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v) ||
        !(json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int)))
        return !required;
    *dst = json_object_get_double(v);
    return isfinite(*dst) && *dst >= 0;
}

/* An array of sample numbers; absent is fine (older files). */
static bool get_reps(json_object *o, const char *key, double *dst, uint32_t *n)
{
    json_object *v;
    *n = 0;
    if (!json_object_object_get_ex(o, key, &v)) return true;
    if (!json_object_is_type(v, json_type_array)) return false;
    size_t len = json_object_array_length(v);
    for (size_t i = 0; i < len && *n < BENCH_MAX_REPS; i++) {
        json_object *e = json_object_array_get_idx(v, i);
        if (!json_object_is_type(e, json_type_double) && !json_object_is_type(e, json_type_int))
            return false;
        double x = json_object_get_double(e);
        if (!isfinite(x) || x < 0) return false;
        dst[(*n)++] = x;
    }
    return true;
}

/* The fields of one line; false when it is not a row, with the missing
 * or malformed field's name in *bad. */
static bool parse_rec(json_object *o, bench_rec *r, const char **bad)
{
    double depth = 0, np = 0, ng = 0, wb = 0;
    memset(r, 0, sizeof *r);
#define NEED(ok, name) do { if (!(ok)) return *bad = (name), false; } while (0)
    NEED(json_object_is_type(o, json_type_object), "(not an object)");
    NEED(get_str(o, "model", r->model, sizeof r->model, true), "model");
    NEED(get_str(o, "type", r->type, sizeof r->type, true), "type");
    NEED(get_str(o, "mode", r->mode, sizeof r->mode, true), "mode");
    NEED(get_str(o, "device", r->device, sizeof r->device, false), "device");
    NEED(get_num(o, "depth", &depth, true) && depth < 4294967296.0, "depth");
    NEED(get_num(o, "decode_tps", &r->decode_tps, true), "decode_tps");
    NEED(get_num(o, "prefill_tps", &r->prefill_tps, true), "prefill_tps");
    NEED(get_num(o, "n_prompt", &np, false) && np < 4294967296.0, "n_prompt");
    NEED(get_num(o, "n_gen", &ng, false) && ng < 4294967296.0, "n_gen");
    NEED(get_num(o, "weight_bytes_per_token", &wb, false), "weight_bytes_per_token");
    NEED(get_num(o, "achieved_gbps", &r->achieved_gbps, false), "achieved_gbps");
    NEED(get_num(o, "roofline_gbps", &r->roofline_gbps, false), "roofline_gbps");
    NEED(get_reps(o, "decode_tps_reps", r->decode_reps, &r->n_decode_reps), "decode_tps_reps");
    NEED(get_reps(o, "prefill_tps_reps", r->prefill_reps, &r->n_prefill_reps),
         "prefill_tps_reps");
#undef NEED
    r->depth = (uint32_t)depth;
    r->n_prompt = (uint32_t)np;
    r->n_gen = (uint32_t)ng;
    r->weight_bytes_per_token = (uint64_t)wb;
    return true;
}

static bool push(bench_recs *out, size_t *cap, const bench_rec *r)
{
    if (out->n == *cap) {
        size_t nc = *cap ? 2 * *cap : 32;
        bench_rec *v = realloc(out->v, nc * sizeof *v);
        if (!v) return false;
        out->v = v, *cap = nc;
    }
    out->v[out->n++] = *r;
    return true;
}

static bool blank(const char *s)
{
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\r' && *s != '\n') return false;
    return true;
}

bool bench_recs_load(const char *path, bench_recs *out, char *err, size_t cap)
{
    *out = (bench_recs){0};
    FILE *f = fopen(path, "r");
    if (!f) return snprintf(err, cap, "%s: %s", path, strerror(errno)), false;
    char *line = NULL;
    size_t line_cap = 0, n_cap = 0;
    bool ok = true;
    bench_rec *r = malloc(sizeof *r);
    if (!r) ok = false, snprintf(err, cap, "%s: out of memory", path);
    for (unsigned no = 1; ok && getline(&line, &line_cap, f) >= 0; no++) {
        if (blank(line)) continue;
        enum json_tokener_error jerr;
        json_object *o = json_tokener_parse_verbose(line, &jerr);
        const char *bad = NULL;
        if (!o) {
            snprintf(err, cap, "%s:%u: not JSON: %s", path, no, json_tokener_error_desc(jerr));
            ok = false;
        } else if (!parse_rec(o, r, &bad)) {
            snprintf(err, cap, "%s:%u: not a bench row: field %s missing or invalid", path, no,
                     bad);
            ok = false;
        } else if (!push(out, &n_cap, r)) {
            snprintf(err, cap, "%s: out of memory", path);
            ok = false;
        }
        json_object_put(o);
    }
    if (ok && ferror(f)) ok = false, snprintf(err, cap, "%s: read error", path);
    free(r);
    free(line);
    fclose(f);
    if (!ok) bench_recs_free(out);
    return ok;
}

void bench_recs_free(bench_recs *r)
{
    free(r->v);
    *r = (bench_recs){0};
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double bench_noise_band(const double *v, size_t n)
{
    if (n < 2 || n > BENCH_MAX_REPS) return -1;
    double s[BENCH_MAX_REPS];
    memcpy(s, v, n * sizeof *s);
    qsort(s, n, sizeof *s, cmp_double);
    double median = n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
    return median > 0 ? (s[n - 1] - s[0]) / median : -1;
}

static bench_metric judge(double before, const double *rb, uint32_t nb, double after,
                          const double *ra, uint32_t na, double min_band)
{
    bench_metric m = {.before = before, .after = after, .band = min_band};
    m.present = before > 0 && after > 0;
    if (!m.present) return m;
    double sb = bench_noise_band(rb, nb), sa = bench_noise_band(ra, na);
    m.measured = sb >= 0 || sa >= 0;
    if (sb > m.band) m.band = sb;
    if (sa > m.band) m.band = sa;
    m.change = after / before - 1.0;
    m.verdict = m.change < -m.band ? BENCH_SLOWER : m.change > m.band ? BENCH_FASTER : BENCH_SAME;
    return m;
}

/* b of the baseline and c of the current run describe the same
 * configuration (cur_mode: see bench_compare). */
static bool same_key(const bench_rec *b, const bench_rec *c, const char *cur_mode)
{
    return !strcmp(b->model, c->model) && !strcmp(b->type, c->type) &&
           !strcmp(cur_mode ? cur_mode : b->mode, c->mode) && b->depth == c->depth;
}

static const bench_rec *find_cur(const bench_recs *cur, const bench_rec *b, const char *cur_mode)
{
    for (size_t i = 0; i < cur->n; i++)
        if (same_key(b, &cur->v[i], cur_mode)) return &cur->v[i];
    return NULL;
}

static bool in_base(const bench_recs *base, const bench_rec *c, const char *cur_mode)
{
    for (size_t i = 0; i < base->n; i++)
        if (same_key(&base->v[i], c, cur_mode)) return true;
    return false;
}

static void judge_row(bench_cmp_row *row, double min_band)
{
    const bench_rec *b = row->base, *c = row->cur;
    row->decode = judge(b->decode_tps, b->decode_reps, b->n_decode_reps, c->decode_tps,
                        c->decode_reps, c->n_decode_reps, min_band);
    row->prefill = judge(b->prefill_tps, b->prefill_reps, b->n_prefill_reps, c->prefill_tps,
                         c->prefill_reps, c->n_prefill_reps, min_band);
    bench_verdict d = row->decode.verdict, p = row->prefill.verdict;
    row->verdict = d == BENCH_SLOWER || p == BENCH_SLOWER     ? BENCH_SLOWER
                   : d == BENCH_FASTER || p == BENCH_FASTER ? BENCH_FASTER
                                                             : BENCH_SAME;
}

static void count(bench_cmp *c, bench_verdict v)
{
    switch (v) {
    case BENCH_SAME: c->n_same++; break;
    case BENCH_FASTER: c->n_faster++; break;
    case BENCH_SLOWER: c->n_slower++; break;
    case BENCH_MISSING: c->n_missing++; break;
    case BENCH_NEW: c->n_new++; break;
    }
}

bool bench_compare(const bench_recs *base, const bench_recs *cur, double min_band,
                   const char *cur_mode, bench_cmp *out)
{
    *out = (bench_cmp){.min_band = min_band};
    out->rows = calloc(base->n + cur->n + 1, sizeof *out->rows);
    if (!out->rows) return false;
    for (size_t i = 0; i < base->n; i++) {
        bench_cmp_row *row = &out->rows[out->n++];
        row->base = &base->v[i];
        row->cur = find_cur(cur, row->base, cur_mode);
        if (row->cur) judge_row(row, min_band);
        else row->verdict = BENCH_MISSING;
        count(out, row->verdict);
    }
    for (size_t i = 0; i < cur->n; i++) {
        if (cur_mode && strcmp(cur->v[i].mode, cur_mode)) continue;
        if (in_base(base, &cur->v[i], cur_mode)) continue;
        bench_cmp_row *row = &out->rows[out->n++];
        row->cur = &cur->v[i];
        row->verdict = BENCH_NEW;
        count(out, row->verdict);
    }
    return true;
}

void bench_cmp_free(bench_cmp *c)
{
    free(c->rows);
    *c = (bench_cmp){0};
}

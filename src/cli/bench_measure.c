/* One bench configuration: prefill and decode throughput of a GPU session,
 * fused and unfused alternating inside one context. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "cli.h"

/* Ids are random: timing does not depend on which token is fed. */
static void random_tokens(int32_t *t, uint32_t n, uint32_t n_vocab, uint32_t seed)
{
    for (uint32_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        t[i] = (int32_t)((seed >> 8) % n_vocab);
    }
}

typedef struct bench_ctx {
    pdvm_session *s;
    int32_t *tokens;
    uint32_t n_tokens;
    uint32_t n_par; /* -np */
} bench_ctx;

static pdvm_status time_prefill(bench_ctx *c, uint32_t n, double *tps)
{
    const float *logits;
    if (n == 0) return *tps = 0, PDVM_OK;
    BENCH_TRY(pdvm_bench_seek(c->s, 0));
    double t0 = pdvm_cli_now_s();
    BENCH_TRY(pdvm_session_eval(c->s, c->tokens, n, &logits));
    *tps = n / (pdvm_cli_now_s() - t0);
    return PDVM_OK;
}

/* -np: n steps of one token for each of the n_par sequences, all from
 * position 0 (llama-batched-bench's generation phase); tokens/s counts
 * every sequence's tokens. */
static pdvm_status time_decode_par(bench_ctx *c, uint32_t n, double *tps, uint64_t *dispatches)
{
    int32_t tok[256];
    uint32_t seq[256];
    pdvm_session_stats before, after;
    for (uint32_t q = 0; q < c->n_par; q++) BENCH_TRY(pdvm_session_seq_truncate(c->s, q, 0));
    pdvm_session_get_stats(c->s, &before);
    double t0 = pdvm_cli_now_s();
    for (uint32_t i = 0; i < n; i++) {
        for (uint32_t q = 0; q < c->n_par; q++) {
            tok[q] = c->tokens[(i * c->n_par + q) % c->n_tokens];
            seq[q] = q;
        }
        pdvm_batch b = {.tokens = tok, .seq = seq, .logits = NULL, .n = c->n_par};
        BENCH_TRY(pdvm_session_decode(c->s, &b));
    }
    *tps = (double)n * c->n_par / (pdvm_cli_now_s() - t0);
    pdvm_session_get_stats(c->s, &after);
    *dispatches = after.dispatches - before.dispatches;
    return PDVM_OK;
}

/* Decode n tokens at positions depth..depth+n-1. Each eval reads the logits
 * back, so the wall clock includes all GPU work of the step. */
static pdvm_status time_decode(bench_ctx *c, uint32_t depth, uint32_t n, double *tps,
                               uint64_t *dispatches)
{
    const float *logits;
    pdvm_session_stats before, after;
    BENCH_TRY(pdvm_bench_seek(c->s, depth));
    pdvm_session_get_stats(c->s, &before);
    if (c->n_par > 1) return time_decode_par(c, n, tps, dispatches);
    double t0 = pdvm_cli_now_s();
    for (uint32_t i = 0; i < n; i++)
        BENCH_TRY(pdvm_session_eval(c->s, &c->tokens[i % c->n_tokens], 1, &logits));
    *tps = n / (pdvm_cli_now_s() - t0);
    pdvm_session_get_stats(c->s, &after);
    *dispatches = after.dispatches - before.dispatches;
    return PDVM_OK;
}

static void fill_row(bench_row *r, const bench_opts *o, const bench_model *bm, uint32_t depth,
                     const pdvm_session_stats *st, bool unfused, double roofline)
{
    const pdvm_hparams *hp = pdvm_model_hparams(bm->model);
    memset(r, 0, sizeof *r);
    if (o->n_parallel > 1)
        snprintf(r->model, sizeof r->model, "%s -np %u", bm->name, o->n_parallel);
    else
        snprintf(r->model, sizeof r->model, "%s", bm->name);
    snprintf(r->arch, sizeof r->arch, "%s", hp->arch);
    snprintf(r->type, sizeof r->type, "%s", bm->type);
    snprintf(r->device, sizeof r->device, "%s", st->device);
    snprintf(r->platform, sizeof r->platform, "%s", st->platform);
    snprintf(r->mode, sizeof r->mode, "%s", unfused ? "unfused" : "fused");
    r->n_params = pdvm_model_n_params(bm->model);
    r->n_prompt = o->n_prompt;
    r->n_gen = o->n_gen;
    r->depth = depth;
    r->n_layer = hp->n_layer;
    r->weight_bytes_per_token = pdvm_bench_weight_bytes_per_token(bm->model);
    r->roofline_gbps = roofline;
    r->gpu_mib = st->weight_mib + st->kv_mib + st->scratch_mib;
}

/* K and V rows read per token, averaged over the decoded positions. */
static double kv_bytes_per_token(const pdvm_hparams *hp, uint32_t depth, uint32_t n_gen)
{
    double positions = depth + 0.5 * (n_gen + 1);
    return 2.0 * 2.0 * hp->n_layer * hp->n_head_kv * hp->head_dim * positions;
}

static void finish_row(bench_row *r, const pdvm_hparams *hp, double *tps, uint32_t reps,
                       uint64_t dispatches)
{
    r->decode_tps = pdvm_bench_median(tps, reps);
    r->ms_per_layer = 1000.0 / r->decode_tps / hp->n_layer;
    r->dispatches_per_token = (double)dispatches / r->n_gen;
    double bytes = (double)r->weight_bytes_per_token + kv_bytes_per_token(hp, r->depth, r->n_gen);
    r->achieved_gbps = bytes * r->decode_tps / 1e9;
    r->roofline_fraction = r->roofline_gbps > 0 ? r->achieved_gbps / r->roofline_gbps : 0;
}

static bool mode_unfused(const bench_opts *o, int n_modes, int m)
{
    return n_modes == 2 ? m == 1 : o->unfused;
}

/* Model FLOPs of a prefill of n tokens from position 0, per token: the
 * layers' mat-mats (2 per weight), causal attention (q.k and p.v, 2 each
 * per head dimension and attended position: (n + 1) / 2 on average) and
 * the last token's logits, as llama.cpp's own count leaves out norms,
 * RoPE and softmax. */
static double prefill_flops_per_token(const pdvm_hparams *hp, uint32_t n)
{
    double q = (double)hp->n_head * hp->head_dim, kv = (double)hp->n_head_kv * hp->head_dim;
    double layer = 2.0 * hp->n_embd * (q + 2 * kv) + 2.0 * q * hp->n_embd +
                   6.0 * hp->n_embd * hp->n_ff + 4.0 * q * (n + 1) / 2.0;
    return hp->n_layer * layer + 2.0 * hp->n_embd * hp->n_vocab / n;
}

static pdvm_status run_modes(bench_ctx *c, const bench_opts *o, uint32_t depth, int n_modes,
                             bench_row *rows, const pdvm_hparams *hp)
{
    double *tps = calloc((size_t)n_modes * o->reps, sizeof *tps);
    uint64_t disp[2] = {0, 0};
    if (!tps) return PDVM_ERR_NOMEM;
    pdvm_status st = PDVM_OK;
    const float *logits;
    for (int m = 0; m < n_modes && st == PDVM_OK; m++) {
        /* One untimed step (of every sequence with -np) and one untimed
         * prefill build the chain's and the batched path's programs first. */
        st = pdvm_bench_set_unfused(c->s, mode_unfused(o, n_modes, m));
        if (st == PDVM_OK) st = pdvm_bench_seek(c->s, depth);
        if (st == PDVM_OK) st = pdvm_session_eval(c->s, c->tokens, 1, &logits);
        if (st == PDVM_OK && c->n_par > 1) { /* the batched path's programs for -np */
            double tps_;
            uint64_t disp_;
            st = time_decode_par(c, 1, &tps_, &disp_);
        }
        if (st == PDVM_OK) st = time_prefill(c, o->n_prompt, &rows[m].prefill_tps);
    }
    /* Prefill and decode repeated with the modes alternating, every
     * sample kept: the spread is the noise band of --compare. */
    for (uint32_t rep = 0; rep < o->reps && st == PDVM_OK; rep++)
        for (int m = 0; m < n_modes && st == PDVM_OK; m++) {
            st = pdvm_bench_set_unfused(c->s, mode_unfused(o, n_modes, m));
            if (st == PDVM_OK && o->n_prompt)
                st = time_prefill(c, o->n_prompt, &rows[m].prefill_reps[rep]);
            if (st == PDVM_OK)
                st = time_decode(c, depth, o->n_gen, &tps[m * o->reps + rep], &disp[m]);
        }
    for (int m = 0; m < n_modes && st == PDVM_OK; m++) {
        bench_row *r = &rows[m];
        memcpy(r->decode_reps, &tps[m * o->reps], o->reps * sizeof *tps);
        r->n_reps = o->reps;
        if (o->n_prompt) {
            double sorted[BENCH_MAX_REPS];
            memcpy(sorted, r->prefill_reps, o->reps * sizeof *sorted);
            r->n_prefill_reps = o->reps;
            r->prefill_tps = pdvm_bench_median(sorted, o->reps);
            r->prefill_gflops = r->prefill_tps * prefill_flops_per_token(hp, o->n_prompt) / 1e9;
        }
        finish_row(r, hp, &tps[m * o->reps], o->reps, disp[m]);
    }
    free(tps);
    return st;
}

static void print_profile(pdvm_session *s, const char *title, uint32_t n, double wall_us,
                          const pdvm_hparams *hp)
{
    pdvm_profile_entry k[32];
    size_t n_k = pdvm_session_get_profile(s, k, 32);
    double total = 0;
    for (size_t i = 0; i < n_k; i++) total += k[i].total_us;
    fprintf(stderr, "\nper-dispatch GPU time (%s, timer queries):\n", title);
    fprintf(stderr, "  %-24s %8s %12s %12s %7s\n", "kernel", "calls/tok", "us/token",
            "us/layer", "share");
    for (size_t i = 0; i < n_k; i++)
        fprintf(stderr, "  %-24s %8.2f %12.2f %12.3f %6.1f%%\n", k[i].name,
                (double)k[i].calls / n, k[i].total_us / n, k[i].total_us / n / hp->n_layer,
                100.0 * k[i].total_us / total);
    fprintf(stderr, "  %-24s %8s %12.2f   (wall %.2f us/token while profiling)\n", "sum", "",
            total / n, wall_us);
}

/* Per-dispatch breakdown of one chain: GPU time per step for one decode
 * step and for one layer; with a prompt, the same for one prefill. */
static pdvm_status bench_profile(bench_ctx *c, const bench_opts *o, uint32_t depth,
                                 const pdvm_hparams *hp)
{
    BENCH_TRY(pdvm_bench_set_unfused(c->s, o->unfused));
    char title[96];
    if (o->n_prompt) {
        double tps;
        BENCH_TRY(pdvm_session_set_profile(c->s, true));
        pdvm_status st = time_prefill(c, o->n_prompt, &tps);
        if (st == PDVM_OK) {
            snprintf(title, sizeof title, "prefill of %u tokens", o->n_prompt);
            print_profile(c->s, title, o->n_prompt, 1e6 / tps, hp);
        }
        pdvm_session_set_profile(c->s, false);
        BENCH_TRY(st);
    }
    BENCH_TRY(pdvm_session_set_profile(c->s, true));
    uint64_t disp;
    double tps;
    pdvm_status st = time_decode(c, depth, o->n_gen, &tps, &disp);
    if (st == PDVM_OK) {
        snprintf(title, sizeof title, "%s decode, depth %u, %u tokens x %u sequences",
                 o->unfused ? "unfused" : "fused", depth, o->n_gen, c->n_par);
        print_profile(c->s, title, o->n_gen * c->n_par, 1e6 / tps, hp);
    }
    pdvm_session_set_profile(c->s, false);
    return st;
}

static uint32_t bench_n_ctx(const bench_opts *o, uint32_t depth)
{
    uint32_t need = depth + o->n_gen + 1;
    if (o->n_prompt > need) need = o->n_prompt;
    return o->n_ctx > need ? o->n_ctx : need;
}

pdvm_status bench_measure(const bench_opts *o, const bench_model *bm, uint32_t depth,
                          double roofline_gbps, bench_row *rows, int *n_rows)
{
    const pdvm_hparams *hp = pdvm_model_hparams(bm->model);
    const int n_modes = o->both ? 2 : 1;
    pdvm_session_params params = pdvm_session_default_params();
    params.platform = o->platform;
    params.unfused = o->unfused;
    params.n_ctx = bench_n_ctx(o, depth);
    params.n_seq = o->n_parallel;
    bench_ctx c = {.n_tokens = o->n_prompt > 64 ? o->n_prompt : 64, .n_par = o->n_parallel};
    *n_rows = 0;
    c.tokens = malloc(sizeof(int32_t) * c.n_tokens);
    if (!c.tokens) return PDVM_ERR_NOMEM;
    random_tokens(c.tokens, c.n_tokens, hp->n_vocab, 12345u);
    /* The peak from here covers this session only (not the roofline's
     * buffer or an earlier model's), where the kernel lets it be reset. */
    pdvm_cli_peak_rss_reset();
    pdvm_status st = pdvm_session_create(bm->model, &params, &c.s);
    if (st == PDVM_OK) {
        pdvm_session_stats info;
        pdvm_session_get_stats(c.s, &info);
        for (int m = 0; m < n_modes; m++)
            fill_row(&rows[m], o, bm, depth, &info, mode_unfused(o, n_modes, m), roofline_gbps);
        st = run_modes(&c, o, depth, n_modes, rows, hp);
        if (st == PDVM_OK && o->profile) st = bench_profile(&c, o, depth, hp);
        for (int m = 0; m < n_modes; m++) rows[m].peak_rss_mib = pdvm_cli_peak_rss_mib();
        pdvm_session_free(c.s);
    }
    free(c.tokens);
    if (st == PDVM_OK) *n_rows = n_modes;
    return st;
}

/* The GPU backend (backend.h): a session's context, plans, buffers and
 * the chain that evaluates tokens. A batch of several tokens (a prompt, or
 * one step of several sequences) takes the batched path
 * (gpu_chain_batch.h) where the architecture has it; a single token, or
 * any token of another architecture, goes through the decode chain, on
 * its sequence's KV slabs. Only the tokens that keep logits compute and
 * read them. Every entry point makes the session's own context current
 * first. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "error.h"
#include "gpu_chain_batch.h"
#include "gpu_state.h"
#include "mem_budget.h"
#include "util.h"

static double mib(uint64_t bytes) { return (double)bytes / (1024.0 * 1024.0); }

static uint64_t scratch_bytes(const gpu_state *s)
{
    return (uint64_t)s->ap.n_floats * 4 + (s->sbufs ? s->sp.buf_bytes * s->sp.n_bufs : 0);
}

static pdvm_status plan(gpu_state *s)
{
    const pdvm_gl_limits *lim = pdvm_gl_get_limits(s->gl);
    const pdvm_hparams *hp = &s->m->hp;
    s->block = gpu_block_limit(lim->max_ssbo_bytes);
    uint64_t align = lim->ssbo_align > 16 ? (uint64_t)lim->ssbo_align : 16;
    PDVM_TRY(gpu_plan_weights(s->m, s->block, align, &s->wp));
    PDVM_TRY(gpu_plan_kv(s->m, s->n_ctx, s->n_seq, s->block, align, &s->kvp));
    uint32_t spl = s->kvp.slabs_per_layer;
    uint32_t slots = gpu_max_slots_fit(&s->k, hp, GPU_ATTN_MAX_CHUNKS + spl);
    if (slots <= spl)
        return pdvm_fail(PDVM_ERR_UNSUPPORTED, "GPU backend: %d bytes of shared memory cannot "
                                               "hold the attention combine of %u heads over %u "
                                               "KV slabs", lim->max_shared_bytes, hp->n_head, spl);
    s->max_chunks = slots - spl;
    return gpu_plan_act(hp, slots, s->block, &s->ap);
}

static void report(const gpu_state *s)
{
    fprintf(stderr, "pdvm: GPU %s (%s): weights %.2f MiB in %u buffer(s), KV cache %.2f MiB "
                    "(n_ctx %u x %u sequence(s), %u slab(s) per layer), scratch %.2f MiB\n",
            pdvm_gl_renderer(s->gl), pdvm_gl_platform_name(s->gl), mib(s->wp.total_bytes),
            s->wp.n_bufs, mib(s->kvp.total_bytes), s->n_ctx, s->n_seq, s->kvp.slabs_per_layer,
            mib(scratch_bytes(s)));
}

pdvm_status gpu_state_chain(gpu_state *s, gpu_chain **out)
{
    gpu_chain *c = s->unfused ? &s->unfused_chain : &s->fused;
    if (!c->planned) {
        pdvm_status st = s->unfused ? gpu_chain_plan_unfused(s, c) : gpu_chain_plan_fused(s, c);
        if (st == PDVM_OK) st = gpu_kernels_build(&s->k, s->progress, s->progress_user);
        if (st != PDVM_OK) {
            gpu_chain_free(c);
            return st;
        }
        if (s->verbose) gpu_chain_print(c, stderr);
    }
    *out = c;
    return PDVM_OK;
}

/* One step at position 0 through the planned chain, so drivers that
 * compile at first dispatch do it now and the first prompt token is not
 * timed with the compiler (H200, cold cache: prefill 14 tokens/s without).
 * Position 0's cache entries are written again by the session's first
 * token. */
static pdvm_status warm_up(gpu_state *s)
{
    gpu_chain *c;
    PDVM_TRY(gpu_state_chain(s, &c));
    PDVM_TRY(gpu_chain_run(s, c, 0, 0, 0, true));
    pdvm_gl_finish(s->gl);
    return PDVM_OK;
}

pdvm_status gpu_state_create(pdvm_gl *gl, const pdvm_model *m, const pdvm_session_params *p,
                             uint32_t n_ctx, gpu_state **out)
{
    *out = NULL;
    gpu_state *s = calloc(1, sizeof *s);
    if (s) s->cs = calloc(m->hp.n_rot + 2, sizeof *s->cs);
    if (s) s->rope_factors = calloc(m->hp.n_rot + 2, sizeof *s->rope_factors);
    if (!s || !s->cs || !s->rope_factors) {
        if (s) free(s->cs);
        free(s);
        return pdvm_fail(PDVM_ERR_NOMEM, "GPU backend: session state");
    }
    s->m = m;
    s->n_ctx = n_ctx;
    s->n_seq = p && p->n_seq ? p->n_seq : 1;
    gpu_rope_init(s);
    s->unfused = p && p->unfused;
    s->verbose = p && p->verbose;
    const char *batch_env = getenv("PDVM_BATCH");
    s->no_batch = batch_env && strcmp(batch_env, "0") == 0;
    s->batch_min = GPU_BATCH_MIN_TOKENS;
    s->progress = p ? p->progress : NULL;
    s->progress_user = p ? p->progress_user : NULL;
    s->gl = gl;
    pdvm_status st = pdvm_env_u32("PDVM_BATCH_MIN", 2, 4096, false, &s->batch_min);
    if (st == PDVM_OK && !gl) {
        st = pdvm_gl_open(p ? p->platform : NULL, &s->gl);
        s->own_gl = st == PDVM_OK;
    }
    if (st == PDVM_OK) st = gpu_kernels_init(&s->k, s->gl);
    if (st == PDVM_OK) st = plan(s);
    if (st == PDVM_OK) st = gpu_check_budget(s); /* before any buffer exists */
    if (st == PDVM_OK) st = gpu_upload_weights(s);
    if (st == PDVM_OK) st = gpu_alloc_kv_act(s);
    if (st == PDVM_OK) st = warm_up(s);
    if (st != PDVM_OK) {
        gpu_state_free(s);
        return st;
    }
    if (s->verbose) report(s);
    *out = s;
    return PDVM_OK;
}

void gpu_state_free(gpu_state *s)
{
    if (!s) return;
    if (s->gl) {
        gpu_batch_free(s);
        gpu_release_buffers(s);
        gpu_kernels_free(&s->k);
    }
    gpu_chain_free(&s->fused);
    gpu_chain_free(&s->unfused_chain);
    gpu_plan_weights_free(&s->wp);
    gpu_plan_kv_free(&s->kvp);
    if (s->own_gl) pdvm_gl_close(s->gl);
    free(s->cs);
    free(s->rope_factors);
    free(s);
}

/* One token through the chain, its logits read into their row. */
static pdvm_status run_token(gpu_state *s, gpu_chain *c, const pdvm_batch_token *t,
                             float *logits)
{
    PDVM_TRY(gpu_chain_run(s, c, t->id, t->seq, t->pos, t->out >= 0));
    if (t->out < 0) return PDVM_OK;
    uint64_t n_vocab = (uint64_t)s->m->output.ne[1];
    return pdvm_gl_buffer_read(s->gl, &s->act, (uint64_t)s->ap.logits * 4, n_vocab * 4,
                               logits + (size_t)t->out * n_vocab);
}

/* Any batch of at least batch_min tokens, of one sequence or several
 * (weights are then read once for all of them); fewer go token by token
 * (gpu_chain_batch.h says why). */
static bool use_batched(const gpu_state *s, size_t n)
{
    return n >= s->batch_min && n > 1 && !s->no_batch && !s->unfused &&
           gpu_batch_supported(s->m, NULL);
}

static pdvm_status decode_batched(gpu_state *s, const pdvm_batch_token *t, size_t n,
                                  float *logits)
{
    gpu_batch_tok *b = malloc(n * sizeof *b);
    if (!b) return pdvm_fail(PDVM_ERR_NOMEM, "GPU batch: %zu tokens", n);
    for (size_t i = 0; i < n; i++) b[i] = (gpu_batch_tok){t[i].id, t[i].seq, t[i].pos, t[i].out};
    pdvm_status st = gpu_batch_eval(s, b, n, logits);
    free(b);
    return st;
}

pdvm_status gpu_state_decode(gpu_state *s, const pdvm_batch_token *t, size_t n, float *logits)
{
    gpu_chain *c;
    PDVM_TRY(gpu_state_chain(s, &c));
    uint64_t before = pdvm_gl_dispatch_count(s->gl);
    pdvm_status st = PDVM_OK;
    if (use_batched(s, n)) st = decode_batched(s, t, n, logits);
    else
        for (size_t i = 0; i < n && st == PDVM_OK; i++) st = run_token(s, c, &t[i], logits);
    s->eval_dispatches += pdvm_gl_dispatch_count(s->gl) - before;
    return st;
}

pdvm_status gpu_state_eval(gpu_state *s, const int32_t *tokens, size_t n, uint32_t pos,
                           float *logits)
{
    pdvm_batch_token *t = malloc((n ? n : 1) * sizeof *t);
    if (!t) return pdvm_fail(PDVM_ERR_NOMEM, "GPU backend: batch of %zu tokens", n);
    for (size_t i = 0; i < n; i++)
        t[i] = (pdvm_batch_token){tokens[i], 0, pos + (uint32_t)i, i + 1 == n && logits ? 0 : -1};
    pdvm_status st = gpu_state_decode(s, t, n, logits);
    free(t);
    return st;
}

pdvm_status gpu_state_seq_truncate(const gpu_state *s, uint32_t seq, uint32_t cur, uint32_t pos)
{
    uint32_t ring;
    if (gpu_kv_can_truncate(&s->kvp, s->m->hp.n_layer, cur, pos, &ring)) return PDVM_OK;
    return pdvm_fail(PDVM_ERR_UNSUPPORTED, "sequence %u: a sliding-window layer keeps only its "
                                           "last %u positions, and the window position %u "
                                           "attends to is gone (the sequence is at %u); reset "
                                           "the sequence and feed the prefix again",
                     seq, ring, pos, cur);
}

/* ------------------------------------------------------------ backend ops */

static pdvm_status gpu_create(const pdvm_model *m, const pdvm_session_params *p, uint32_t n_ctx,
                              uint32_t n_seq, void **state)
{
    gpu_state *s;
    pdvm_session_params q = *p;
    q.n_seq = n_seq;
    PDVM_TRY(gpu_state_create(NULL, m, &q, n_ctx, &s));
    *state = s;
    return PDVM_OK;
}

static pdvm_status gpu_decode(void *state, const pdvm_batch_token *t, size_t n, float *logits)
{
    gpu_state *s = state;
    PDVM_TRY(pdvm_gl_make_current(s->gl));
    return gpu_state_decode(s, t, n, logits);
}

static pdvm_status gpu_seq_truncate(void *state, uint32_t seq, uint32_t cur, uint32_t pos)
{
    return gpu_state_seq_truncate(state, seq, cur, pos);
}

static void gpu_stats(const void *state, pdvm_session_stats *out)
{
    const gpu_state *s = state;
    out->dispatches = s->eval_dispatches;
    out->weight_mib = mib(s->wp.total_bytes);
    out->kv_mib = mib(s->kvp.total_bytes);
    out->scratch_mib = mib(scratch_bytes(s));
    snprintf(out->device, sizeof out->device, "%s", pdvm_gl_renderer(s->gl));
    snprintf(out->platform, sizeof out->platform, "%s", pdvm_gl_platform_name(s->gl));
}

static void gpu_destroy(void *state)
{
    gpu_state *s = state;
    /* Buffers and programs are deleted on the current context: make it ours
     * (if that fails, the context goes with its objects anyway). */
    if (s && s->gl) pdvm_gl_make_current(s->gl);
    gpu_state_free(s);
}

static pdvm_status gpu_set_profile(void *state, bool on)
{
    gpu_state *s = state;
    PDVM_TRY(pdvm_gl_make_current(s->gl));
    if (on && !s->k.profile) s->k.n_prof = 0;
    s->k.profile = on;
    return PDVM_OK;
}

static int by_total_desc(const void *a, const void *b)
{
    double x = ((const pdvm_profile_entry *)a)->total_us;
    double y = ((const pdvm_profile_entry *)b)->total_us;
    return (x < y) - (x > y);
}

static size_t gpu_get_profile(void *state, pdvm_profile_entry *out, size_t cap)
{
    gpu_state *s = state;
    qsort(s->k.prof, s->k.n_prof, sizeof *s->k.prof, by_total_desc);
    size_t n = s->k.n_prof < cap ? s->k.n_prof : cap;
    memcpy(out, s->k.prof, n * sizeof *out);
    return n;
}

static pdvm_status gpu_set_unfused(void *state, bool unfused)
{
    gpu_state *s = state;
    PDVM_TRY(pdvm_gl_make_current(s->gl));
    s->unfused = unfused;
    gpu_chain *c;
    return gpu_state_chain(s, &c);
}

const pdvm_backend_ops pdvm_backend_gpu_ops = {
    .name = "gpu", .create = gpu_create, .decode = gpu_decode,
    .seq_truncate = gpu_seq_truncate, .stats = gpu_stats,
    .destroy = gpu_destroy, .set_profile = gpu_set_profile, .get_profile = gpu_get_profile,
    .set_unfused = gpu_set_unfused,
};

/* Sessions: the positions of every sequence, the resolution of a batch
 * (positions, logits rows), argument checks and counters in front of a
 * backend (backend.h), so every backend sees only valid ids, sequences and
 * positions. */
#include "session.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "model.h"
#include "util.h"

/* Counters of one kind of call (prefill or decode). */
typedef struct eval_counts {
    uint64_t tokens, dispatches, wall_ns, cpu_ns;
} eval_counts;

struct pdvm_session {
    const pdvm_model *model;
    const pdvm_backend_ops *ops;
    void *state;
    uint32_t n_ctx, n_seq, n_vocab;
    uint32_t *seq_pos;         /* [n_seq]: next position of each sequence */
    uint32_t *count, *seen;    /* [n_seq] scratch of one batch: its tokens per
                                * sequence, and those resolved so far */
    eval_counts prefill, decode;
    float *logits;             /* [logits_rows][n_vocab] */
    size_t logits_rows;
    pdvm_batch_token *batch;   /* the last batch, resolved */
    size_t batch_cap, batch_n; /* batch_n: its tokens; 0 when its logits are gone */
};

pdvm_session_params pdvm_session_default_params(void)
{
    return (pdvm_session_params){
        .n_ctx = 0,
        .n_seq = 0,
        .backend = PDVM_BACKEND_GPU,
        .unfused = false,
        .platform = NULL,
        .verbose = false,
        .progress = NULL,
        .progress_user = NULL,
    };
}

uint32_t pdvm_session_resolve_n_ctx(const pdvm_model *m, uint32_t n_ctx)
{
    if (n_ctx != 0) return n_ctx;
    uint32_t train = m->hp.n_ctx_train;
    return train == 0 || train > PDVM_DEFAULT_N_CTX ? PDVM_DEFAULT_N_CTX : train;
}

static pdvm_status pick_backend(pdvm_backend b, const pdvm_backend_ops **ops)
{
    switch (b) {
    case PDVM_BACKEND_GPU: *ops = &pdvm_backend_gpu_ops; return PDVM_OK;
    case PDVM_BACKEND_CPU: *ops = &pdvm_backend_cpu_ops; return PDVM_OK;
    }
    return pdvm_fail(PDVM_ERR_INVALID_ARG, "pdvm_session_create: unknown backend %d", (int)b);
}

static void session_free_host(pdvm_session *s)
{
    free(s->seq_pos);
    free(s->count);
    free(s->seen);
    free(s->logits);
    free(s->batch);
    free(s);
}

/* The session without its backend: one row of logits to start with. */
static pdvm_status session_alloc(pdvm_model *model, const pdvm_session_params *p,
                                 uint32_t n_vocab, pdvm_session **out)
{
    uint32_t n_seq = p->n_seq ? p->n_seq : 1;
    pdvm_session *s = calloc(1, sizeof *s);
    if (!s) return pdvm_fail(PDVM_ERR_NOMEM, "session");
    *s = (pdvm_session){.model = model, .n_ctx = pdvm_session_resolve_n_ctx(model, p->n_ctx),
                        .n_seq = n_seq, .n_vocab = n_vocab, .logits_rows = 1};
    s->seq_pos = calloc(n_seq, sizeof *s->seq_pos);
    s->count = calloc(n_seq, sizeof *s->count);
    s->seen = calloc(n_seq, sizeof *s->seen);
    s->logits = malloc((size_t)n_vocab * sizeof *s->logits);
    if (!s->seq_pos || !s->count || !s->seen || !s->logits) {
        session_free_host(s);
        return pdvm_fail(PDVM_ERR_NOMEM, "session: %u sequences, %u logits", n_seq, n_vocab);
    }
    *out = s;
    return PDVM_OK;
}

pdvm_status pdvm_session_create(pdvm_model *model, const pdvm_session_params *params,
                                pdvm_session **out)
{
    if (!out) return pdvm_fail(PDVM_ERR_INVALID_ARG, "pdvm_session_create: out is NULL");
    *out = NULL;
    if (!model) return pdvm_fail(PDVM_ERR_INVALID_ARG, "pdvm_session_create: model is NULL");
    pdvm_session_params p = params ? *params : pdvm_session_default_params();
    if (p.n_ctx > PDVM_MAX_N_CTX)
        return pdvm_fail(PDVM_ERR_INVALID_ARG, "pdvm_session_create: n_ctx %u is over %u",
                         p.n_ctx, PDVM_MAX_N_CTX);
    if (p.n_seq > PDVM_MAX_N_SEQ)
        return pdvm_fail(PDVM_ERR_INVALID_ARG, "pdvm_session_create: n_seq %u is over %u",
                         p.n_seq, PDVM_MAX_N_SEQ);
    uint32_t n_vocab = (uint32_t)model->output.ne[1];
    if (n_vocab == 0)
        return pdvm_fail(PDVM_ERR_INVALID_ARG, "pdvm_session_create: model has no output rows");
    const pdvm_backend_ops *ops = NULL;
    PDVM_TRY(pick_backend(p.backend, &ops));
    pdvm_session *s = NULL;
    PDVM_TRY(session_alloc(model, &p, n_vocab, &s));
    s->ops = ops;
    pdvm_status st = ops->create(model, &p, s->n_ctx, s->n_seq, &s->state);
    if (st != PDVM_OK) {
        session_free_host(s);
        return st;
    }
    *out = s;
    return PDVM_OK;
}

void pdvm_session_free(pdvm_session *s)
{
    if (!s) return;
    s->ops->destroy(s->state);
    session_free_host(s);
}

/* Ids and sequences of the batch, and its tokens per sequence in
 * s->count. */
static pdvm_status check_batch(pdvm_session *s, const pdvm_batch *b)
{
    uint32_t n_rows = (uint32_t)s->model->tok_embd.ne[1];
    memset(s->count, 0, s->n_seq * sizeof *s->count);
    for (size_t i = 0; i < b->n; i++) {
        int32_t id = b->tokens[i];
        uint32_t q = b->seq ? b->seq[i] : 0;
        if (id < 0 || (uint32_t)id >= n_rows)
            return pdvm_fail(PDVM_ERR_INVALID_ARG, "pdvm_session_decode: token %d (at %zu) is "
                                                   "outside the vocabulary (%u)", id, i, n_rows);
        if (q >= s->n_seq)
            return pdvm_fail(PDVM_ERR_INVALID_ARG, "pdvm_session_decode: sequence %u (at %zu) "
                                                   "is not below n_seq %u", q, i, s->n_seq);
        if (s->count[q] < UINT32_MAX) s->count[q]++;
    }
    return PDVM_OK;
}

/* Every sequence's tokens fit its context; *prefill when one gets more
 * than one token. */
static pdvm_status check_room(const pdvm_session *s, bool *prefill)
{
    *prefill = false;
    for (uint32_t q = 0; q < s->n_seq; q++) {
        if (s->count[q] > s->n_ctx - s->seq_pos[q])
            return pdvm_fail(PDVM_ERR_CONTEXT_FULL, "context full: sequence %u: %u token(s) at "
                                                    "position %u do not fit in n_ctx %u",
                             q, s->count[q], s->seq_pos[q], s->n_ctx);
        if (s->count[q] > 1) *prefill = true;
    }
    return PDVM_OK;
}

/* Room for n resolved tokens and rows of logits. */
static pdvm_status reserve(pdvm_session *s, size_t n, size_t rows)
{
    if (n > s->batch_cap) {
        pdvm_batch_token *nb = realloc(s->batch, n * sizeof *nb);
        if (!nb) return pdvm_fail(PDVM_ERR_NOMEM, "session: batch of %zu tokens", n);
        s->batch = nb;
        s->batch_cap = n;
    }
    if (rows > s->logits_rows) {
        if (rows > SIZE_MAX / sizeof(float) / s->n_vocab)
            return pdvm_fail(PDVM_ERR_NOMEM, "session: %zu rows of logits", rows);
        float *nl = realloc(s->logits, rows * s->n_vocab * sizeof *nl);
        if (!nl) return pdvm_fail(PDVM_ERR_NOMEM, "session: %zu rows of logits", rows);
        s->logits = nl;
        s->logits_rows = rows;
    }
    return PDVM_OK;
}

/* Whether token i keeps its logits: as asked, or the last of its sequence. */
static bool wants_logits(const pdvm_session *s, const pdvm_batch *b, size_t i, uint32_t q)
{
    return b->logits ? b->logits[i] : s->seen[q] + 1 == s->count[q];
}

static size_t count_rows(pdvm_session *s, const pdvm_batch *b)
{
    if (!b->logits) {
        size_t rows = 0;
        for (uint32_t q = 0; q < s->n_seq; q++) rows += s->count[q] > 0;
        return rows;
    }
    size_t rows = 0;
    for (size_t i = 0; i < b->n; i++) rows += b->logits[i];
    return rows;
}

/* Positions and logits rows of every token into s->batch. */
static void resolve(pdvm_session *s, const pdvm_batch *b)
{
    memset(s->seen, 0, s->n_seq * sizeof *s->seen);
    int32_t row = 0;
    for (size_t i = 0; i < b->n; i++) {
        uint32_t q = b->seq ? b->seq[i] : 0;
        bool keep = wants_logits(s, b, i, q);
        s->batch[i] = (pdvm_batch_token){.id = b->tokens[i], .seq = q,
                                         .pos = s->seq_pos[q] + s->seen[q],
                                         .out = keep ? row++ : -1};
        s->seen[q]++;
    }
}

static uint64_t backend_dispatches(const pdvm_session *s)
{
    pdvm_session_stats st = {0};
    s->ops->stats(s->state, &st);
    return st.dispatches;
}

pdvm_status pdvm_session_decode(pdvm_session *s, const pdvm_batch *b)
{
    if (!s || !b || !b->tokens || b->n == 0)
        return pdvm_fail(PDVM_ERR_INVALID_ARG, "pdvm_session_decode: NULL argument or no tokens");
    bool prefill;
    PDVM_TRY(check_batch(s, b));
    PDVM_TRY(check_room(s, &prefill));
    s->batch_n = 0;
    PDVM_TRY(reserve(s, b->n, count_rows(s, b)));
    resolve(s, b);
    uint64_t d0 = backend_dispatches(s), t0 = pdvm_now_ns(), c0 = pdvm_thread_cpu_ns();
    PDVM_TRY(s->ops->decode(s->state, s->batch, b->n, s->logits));
    eval_counts *c = prefill ? &s->prefill : &s->decode;
    c->cpu_ns += pdvm_thread_cpu_ns() - c0;
    c->wall_ns += pdvm_now_ns() - t0;
    c->dispatches += backend_dispatches(s) - d0;
    c->tokens += b->n;
    for (uint32_t q = 0; q < s->n_seq; q++) s->seq_pos[q] += s->count[q];
    s->batch_n = b->n;
    return PDVM_OK;
}

const float *pdvm_session_logits(const pdvm_session *s, size_t i)
{
    if (!s || i >= s->batch_n || s->batch[i].out < 0) return NULL;
    return s->logits + (size_t)s->batch[i].out * s->n_vocab;
}

pdvm_status pdvm_session_eval(pdvm_session *s, const int32_t *tokens, size_t n,
                              const float **logits)
{
    if (logits) *logits = NULL;
    if (!s || !tokens || !logits || n == 0)
        return pdvm_fail(PDVM_ERR_INVALID_ARG, "pdvm_session_eval: NULL argument or no tokens");
    PDVM_TRY(pdvm_session_decode(s, &(pdvm_batch){.tokens = tokens, .n = n}));
    *logits = pdvm_session_logits(s, n - 1);
    return PDVM_OK;
}

uint32_t pdvm_session_seq_pos(const pdvm_session *s, uint32_t seq)
{
    return s && seq < s->n_seq ? s->seq_pos[seq] : 0;
}

pdvm_status pdvm_session_seq_truncate(pdvm_session *s, uint32_t seq, uint32_t pos)
{
    if (!s) return pdvm_fail(PDVM_ERR_INVALID_ARG, "pdvm_session_seq_truncate: session is NULL");
    if (seq >= s->n_seq)
        return pdvm_fail(PDVM_ERR_INVALID_ARG, "pdvm_session_seq_truncate: sequence %u is not "
                                               "below n_seq %u", seq, s->n_seq);
    uint32_t cur = s->seq_pos[seq];
    if (pos > cur)
        return pdvm_fail(PDVM_ERR_INVALID_ARG, "pdvm_session_seq_truncate: sequence %u is at "
                                               "position %u, cannot keep %u", seq, cur, pos);
    if (pos == cur) return PDVM_OK;
    if (pos > 0) PDVM_TRY(s->ops->seq_truncate(s->state, seq, cur, pos));
    s->seq_pos[seq] = pos;
    return PDVM_OK;
}

uint32_t pdvm_session_pos(const pdvm_session *s) { return pdvm_session_seq_pos(s, 0); }
uint32_t pdvm_session_n_ctx(const pdvm_session *s) { return s ? s->n_ctx : 0; }
uint32_t pdvm_session_n_seq(const pdvm_session *s) { return s ? s->n_seq : 0; }
void pdvm_session_reset(pdvm_session *s)
{
    if (s) memset(s->seq_pos, 0, s->n_seq * sizeof *s->seq_pos);
}

void pdvm_session_get_stats(const pdvm_session *s, pdvm_session_stats *out)
{
    if (!out) return;
    memset(out, 0, sizeof *out);
    if (!s) return;
    s->ops->stats(s->state, out);
    out->tokens = s->prefill.tokens + s->decode.tokens;
    out->prefill_tokens = s->prefill.tokens;
    out->decode_tokens = s->decode.tokens;
    out->prefill_dispatches = s->prefill.dispatches;
    out->decode_dispatches = s->decode.dispatches;
    out->prefill_s = (double)s->prefill.wall_ns * 1e-9;
    out->decode_s = (double)s->decode.wall_ns * 1e-9;
    out->prefill_cpu_s = (double)s->prefill.cpu_ns * 1e-9;
    out->decode_cpu_s = (double)s->decode.cpu_ns * 1e-9;
}

pdvm_status pdvm_session_set_profile(pdvm_session *s, bool on)
{
    if (!s || !s->ops->set_profile)
        return pdvm_fail(PDVM_ERR_INVALID_ARG, "pdvm_session_set_profile: not a GPU session");
    return s->ops->set_profile(s->state, on);
}

size_t pdvm_session_get_profile(pdvm_session *s, pdvm_profile_entry *out, size_t cap)
{
    if (!s || !out || !s->ops->get_profile) return 0;
    return s->ops->get_profile(s->state, out, cap);
}

const pdvm_backend_ops *pdvm_session_ops(const pdvm_session *s) { return s->ops; }
void *pdvm_session_state(pdvm_session *s) { return s->state; }

pdvm_status pdvm_session_set_pos(pdvm_session *s, uint32_t pos)
{
    if (pos > s->n_ctx)
        return pdvm_fail(PDVM_ERR_INVALID_ARG, "position %u is past n_ctx %u", pos, s->n_ctx);
    s->seq_pos[0] = pos;
    return PDVM_OK;
}

/* Sessions: position bookkeeping, argument checks and counters in front of
 * a backend (backend.h), so every backend sees only valid ids and
 * positions. */
#include "session.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "model.h"
#include "util.h"

/* Counters of one kind of eval (prefill or decode). */
typedef struct eval_counts {
    uint64_t tokens, dispatches, wall_ns, cpu_ns;
} eval_counts;

struct pdvm_session {
    const pdvm_model *model;
    const pdvm_backend_ops *ops;
    void *state;
    uint32_t n_ctx, pos, n_vocab;
    eval_counts prefill, decode;
    float *logits;
};

pdvm_session_params pdvm_session_default_params(void)
{
    return (pdvm_session_params){
        .n_ctx = 0,
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
    uint32_t n_vocab = (uint32_t)model->output.ne[1];
    if (n_vocab == 0)
        return pdvm_fail(PDVM_ERR_INVALID_ARG, "pdvm_session_create: model has no output rows");
    const pdvm_backend_ops *ops = NULL;
    PDVM_TRY(pick_backend(p.backend, &ops));
    pdvm_session *s = calloc(1, sizeof *s);
    float *logits = malloc((size_t)n_vocab * sizeof *logits);
    if (!s || !logits) {
        free(s);
        free(logits);
        return pdvm_fail(PDVM_ERR_NOMEM, "session: %u logits", n_vocab);
    }
    *s = (pdvm_session){.model = model, .ops = ops, .n_ctx = pdvm_session_resolve_n_ctx(model, p.n_ctx),
                        .n_vocab = n_vocab, .logits = logits};
    pdvm_status st = ops->create(model, &p, s->n_ctx, &s->state);
    if (st != PDVM_OK) {
        free(logits);
        free(s);
        return st;
    }
    *out = s;
    return PDVM_OK;
}

void pdvm_session_free(pdvm_session *s)
{
    if (!s) return;
    s->ops->destroy(s->state);
    free(s->logits);
    free(s);
}

static pdvm_status check_tokens(const pdvm_session *s, const int32_t *tokens, size_t n)
{
    uint32_t n_embd_rows = (uint32_t)s->model->tok_embd.ne[1];
    for (size_t i = 0; i < n; i++)
        if (tokens[i] < 0 || (uint32_t)tokens[i] >= n_embd_rows)
            return pdvm_fail(PDVM_ERR_INVALID_ARG, "pdvm_session_eval: token %d (at %zu) is "
                                                   "outside the vocabulary (%u)",
                             tokens[i], i, n_embd_rows);
    return PDVM_OK;
}

static uint64_t backend_dispatches(const pdvm_session *s)
{
    pdvm_session_stats st = {0};
    s->ops->stats(s->state, &st);
    return st.dispatches;
}

pdvm_status pdvm_session_eval(pdvm_session *s, const int32_t *tokens, size_t n,
                              const float **logits)
{
    if (logits) *logits = NULL;
    if (!s || !tokens || !logits || n == 0)
        return pdvm_fail(PDVM_ERR_INVALID_ARG, "pdvm_session_eval: NULL argument or no tokens");
    if (n > s->n_ctx - s->pos)
        return pdvm_fail(PDVM_ERR_CONTEXT_FULL, "context full: %zu token(s) at position %u "
                                                "do not fit in n_ctx %u", n, s->pos, s->n_ctx);
    PDVM_TRY(check_tokens(s, tokens, n));
    uint64_t d0 = backend_dispatches(s), t0 = pdvm_now_ns(), c0 = pdvm_thread_cpu_ns();
    PDVM_TRY(s->ops->eval(s->state, tokens, n, s->pos, s->logits));
    eval_counts *c = n > 1 ? &s->prefill : &s->decode;
    c->cpu_ns += pdvm_thread_cpu_ns() - c0;
    c->wall_ns += pdvm_now_ns() - t0;
    c->dispatches += backend_dispatches(s) - d0;
    c->tokens += n;
    s->pos += (uint32_t)n;
    *logits = s->logits;
    return PDVM_OK;
}

uint32_t pdvm_session_pos(const pdvm_session *s) { return s ? s->pos : 0; }
uint32_t pdvm_session_n_ctx(const pdvm_session *s) { return s ? s->n_ctx : 0; }
void pdvm_session_reset(pdvm_session *s)
{
    if (s) s->pos = 0;
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
    s->pos = pos;
    return PDVM_OK;
}

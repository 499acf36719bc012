/* Sessions: position bookkeeping and argument checks in front of a backend
 * (backend.h), so every backend sees only valid ids and positions. */
#include "session.h"

#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "error.h"
#include "model.h"

struct pdvm_session {
    const pdvm_model *model;
    const pdvm_backend_ops *ops;
    void *state;
    uint32_t n_ctx, pos, n_vocab;
    uint64_t tokens;
    float *logits;
};

pdvm_session_params pdvm_session_default_params(void)
{
    pdvm_session_params p = {
        .n_ctx = 0,
        .backend = PDVM_BACKEND_GPU,
        .unfused = false,
        .platform = NULL,
        .verbose = false,
    };
    return p;
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
    if (!ops->create)
        return pdvm_fail(PDVM_ERR_UNSUPPORTED, "the %s backend is not available", ops->name);
    pdvm_session *s = calloc(1, sizeof *s);
    float *logits = malloc((size_t)n_vocab * sizeof *logits);
    if (!s || !logits) {
        free(s);
        free(logits);
        return pdvm_fail(PDVM_ERR_NOMEM, "session: %u logits", n_vocab);
    }
    *s = (pdvm_session){model, ops, NULL, pdvm_session_resolve_n_ctx(model, p.n_ctx), 0,
                        n_vocab, 0, logits};
    pdvm_status st = ops->create(model, &p, s->n_ctx, &s->state);
    if (st == PDVM_OK && !ops->eval) {
        if (ops->destroy) ops->destroy(s->state);
        st = pdvm_fail(PDVM_ERR_UNSUPPORTED, "the %s backend cannot evaluate yet", ops->name);
    }
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
    if (s->ops->destroy) s->ops->destroy(s->state);
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
    PDVM_TRY(s->ops->eval(s->state, tokens, n, s->pos, s->logits));
    s->pos += (uint32_t)n;
    s->tokens += n;
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
    out->tokens = s->tokens;
    if (s->ops->stats) s->ops->stats(s->state, out);
    out->tokens = s->tokens;
}

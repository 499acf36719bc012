#include "prompt.h"

#include <stdlib.h>
#include <string.h>

bool srv_prompt_format(const char *tmpl, const srv_request *rq, char **text, size_t *len,
                       srv_err *e)
{
    size_t n = 0;
    pdvm_status st = pdvm_chat_apply_template(tmpl, rq->msgs, rq->n_msgs, true, NULL, 0, &n);
    if (st == PDVM_ERR_UNSUPPORTED)
        return srv_errf(e, 501, "not_supported_error", "the model's chat template is not one "
                        "pdvm recognises; start the server with --chat-template NAME (%s)",
                        pdvm_last_error());
    if (st != PDVM_OK && st != PDVM_ERR_INVALID_ARG)
        return srv_errf(e, 500, "server_error", "chat template: %s", pdvm_last_error());
    char *buf = malloc(n + 1);
    if (!buf) return srv_errf(e, 500, "server_error", "out of memory");
    st = pdvm_chat_apply_template(tmpl, rq->msgs, rq->n_msgs, true, buf, n + 1, &n);
    if (st != PDVM_OK) {
        free(buf);
        return srv_errf(e, 500, "server_error", "chat template: %s", pdvm_last_error());
    }
    *text = buf;
    *len = n;
    return true;
}

bool srv_tokenize(const pdvm_model *m, const char *text, size_t len, bool add_special,
                  bool parse_special, int32_t **ids, size_t *n, srv_err *e)
{
    size_t cnt = 0;
    pdvm_status st = pdvm_tokenize(m, text, len, add_special, parse_special, NULL, 0, &cnt);
    if (st != PDVM_OK && !(st == PDVM_ERR_INVALID_ARG && cnt > 0))
        return srv_errf(e, SRV_BAD, "tokenizing: %s", pdvm_last_error());
    int32_t *out = malloc((cnt ? cnt : 1) * sizeof *out);
    if (!out) return srv_errf(e, 500, "server_error", "out of memory");
    st = pdvm_tokenize(m, text, len, add_special, parse_special, out, cnt, &cnt);
    if (st != PDVM_OK) {
        free(out);
        return srv_errf(e, SRV_BAD, "tokenizing: %s", pdvm_last_error());
    }
    *ids = out;
    *n = cnt;
    return true;
}

static bool check_context(const srv_request *rq, size_t n, uint32_t n_ctx, srv_err *e)
{
    if (n == 0) return srv_errf(e, SRV_BAD, "the prompt is empty and the model adds no BOS");
    if (n > n_ctx)
        return srv_errf(e, 400, "exceed_context_size_error", "the prompt has %zu tokens but a "
                        "slot's context holds %u (-c)", n, n_ctx);
    /* The first token is sampled from the prompt's logits; each later one
     * needs a position for the one before it. */
    size_t room = n_ctx - n + 1;
    if (rq->gp.max_tokens > 0 && (size_t)rq->gp.max_tokens > room)
        return srv_errf(e, 400, "exceed_context_size_error", "max_tokens %d is beyond the "
                        "context: the prompt has %zu tokens and a slot holds %u positions, "
                        "room for %zu", rq->gp.max_tokens, n, n_ctx, room);
    return true;
}

bool srv_prompt_tokens(const pdvm_model *m, const char *tmpl, const srv_request *rq,
                       uint32_t n_ctx, int32_t **ids, size_t *n, srv_err *e)
{
    *ids = NULL;
    bool ok;
    if (rq->chat) {
        char *text = NULL;
        size_t len = 0;
        ok = srv_prompt_format(tmpl, rq, &text, &len, e) &&
             srv_tokenize(m, text, len, true, true, ids, n, e);
        free(text);
    } else if (rq->ids) {
        *ids = malloc(rq->n_ids * sizeof **ids);
        ok = *ids != NULL || srv_errf(e, 500, "server_error", "out of memory");
        if (ok) memcpy(*ids, rq->ids, rq->n_ids * sizeof **ids);
        *n = rq->n_ids;
    } else {
        ok = srv_tokenize(m, rq->prompt, rq->prompt_len, true, true, ids, n, e);
    }
    if (ok && !check_context(rq, *n, n_ctx, e)) ok = false;
    if (!ok) {
        free(*ids);
        *ids = NULL;
    }
    return ok;
}

/* A request's prompt as token ids: chat messages formatted with the chat
 * template (pdvm_chat_apply_template, the assistant's turn opened), then
 * tokenized as llama-server does: the vocabulary's BOS added and
 * special-token text parsed; a completion's text the same way, or its ids
 * as given. Then checked against one slot's context. */
#ifndef PDVM_SRV_PROMPT_H
#define PDVM_SRV_PROMPT_H

#include "request.h"

/* tmpl: a llama.cpp template name or a Jinja template (the model's). On
 * success *ids (malloc'd, *n >= 1). Errors: 501 not_supported_error (a
 * template pdvm does not recognise), 400 (empty prompt),
 * 400 exceed_context_size_error (the prompt or max_tokens beyond n_ctx). */
bool srv_prompt_tokens(const pdvm_model *m, const char *tmpl, const srv_request *rq,
                       uint32_t n_ctx, int32_t **ids, size_t *n, srv_err *e);

/* The chat formatted as text (malloc'd, *len bytes and a NUL). */
bool srv_prompt_format(const char *tmpl, const srv_request *rq, char **text, size_t *len,
                       srv_err *e);

/* Tokenize len bytes of text, counting first (malloc'd ids, *n of them). */
bool srv_tokenize(const pdvm_model *m, const char *text, size_t len, bool add_special,
                  bool parse_special, int32_t **ids, size_t *n, srv_err *e);

#endif

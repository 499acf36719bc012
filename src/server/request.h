/* OpenAI request bodies to what the engine needs: the sampling and
 * stopping parameters, and the chat messages or the completion prompt.
 * Types and ranges are checked field by field; every refusal is an srv_err
 * with the HTTP status and OpenAI's error type. Unknown fields are
 * ignored, as llama-server does. No MHD or engine state here. */
#ifndef PDVM_SRV_REQUEST_H
#define PDVM_SRV_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "job.h"
#include "pdvm.h"

/* A refusal: status (400, 401, ...), OpenAI's type and a message. */
typedef struct srv_err {
    unsigned status;
    const char *type;
    char msg[320];
} srv_err;

/* Set *e; returns false so that a parser can `return srv_errf(...)`. */
bool srv_errf(srv_err *e, unsigned status, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
#define SRV_BAD 400, "invalid_request_error"

/* Parse a body that must be one JSON object (UTF-8 checked, nesting at most
 * 64 deep, nothing after it). NULL with *e set otherwise. */
json_object *srv_json_parse(const char *body, size_t len, srv_err *e);

typedef struct srv_request {
    bool chat;                 /* /v1/chat/completions; else /v1/completions */
    bool stream, include_usage;
    srv_gen_params gp;         /* stop strings owned until moved into a job */
    /* chat: roles and contents borrow the JSON body or own[] */
    pdvm_chat_message *msgs;
    size_t n_msgs;
    char **own;                /* contents joined from text parts */
    size_t n_own;
    /* completion: a text (borrowed from the body) or token ids */
    const char *prompt;
    size_t prompt_len;
    int32_t *ids;
    size_t n_ids;
} srv_request;

/* Read body into *rq. n_vocab bounds token ids given as a prompt.
 * Errors (false, *e set, *rq freed): wrong types, values out of range,
 * unknown roles, missing messages or prompt, unsupported options (n > 1,
 * penalties other than repeat_penalty). */
bool srv_request_parse(json_object *body, bool chat, uint32_t n_vocab, srv_request *rq,
                       srv_err *e);
void srv_request_free(srv_request *rq);

/* True when s[0, n) is valid UTF-8. */
bool srv_utf8_valid(const char *s, size_t n);

#endif

/* OpenAI's response objects: chat.completion and text_completion, their
 * streamed chunks (chat.completion.chunk; text_completion), and usage. */
#ifndef PDVM_SRV_OAI_H
#define PDVM_SRV_OAI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "job.h"

typedef struct srv_oai {
    bool chat;
    char id[48];         /* "chatcmpl-..." or "cmpl-..." */
    int64_t created;     /* Unix time */
    const char *model;
} srv_oai;

/* {"prompt_tokens", "completion_tokens", "total_tokens",
 *  "prompt_tokens_details": {"cached_tokens"}} */
json_object *srv_oai_usage(uint32_t n_prompt, uint32_t n_gen, uint32_t n_cached);

/* The whole answer: one choice with the text and finish_reason (f is
 * SRV_FINISH_STOP or SRV_FINISH_LENGTH), and usage. */
json_object *srv_oai_response(const srv_oai *o, const char *text, size_t len, srv_finish f,
                              json_object *usage);

/* One streamed chunk. Chat: delta {"role": "assistant", "content": ""}
 * when role, else {"content": text}, or {} with a finish reason. finish
 * SRV_FINISH_NONE gives finish_reason null. usage_null adds "usage": null
 * (stream_options.include_usage). */
json_object *srv_oai_chunk(const srv_oai *o, const char *text, size_t len, bool role,
                           srv_finish finish, bool usage_null);

/* The last chunk with include_usage: no choices, the usage. */
json_object *srv_oai_usage_chunk(const srv_oai *o, json_object *usage);

#endif

/* `pdvm run -cnv`: a chat on the terminal, as llama-cli's conversation
 * mode. The conversation is formatted with the chat template after every
 * user turn and tokenized whole; the ids the KV cache already holds (the
 * history, the assistant's answers as generated) are not fed again, only
 * what is new. */
#ifndef PDVM_CLI_CHAT_CNV_H
#define PDVM_CLI_CHAT_CNV_H

#include <stdbool.h>
#include <stdint.h>

#include "pdvm.h"

typedef struct pdvm_cnv_opts {
    const char *model;
    const char *system;        /* -sys: the system message, or NULL */
    const char *first;         /* -p: the first user message, or NULL */
    const char *chat_template; /* --chat-template NAME; NULL: the model's, else chatml */
    pdvm_model_params mp;
    pdvm_session_params sp;
    pdvm_sampler_params smp;
    int32_t n_predict;         /* tokens per answer at most; -1: until end of turn */
    bool special;              /* print control tokens' text */
} pdvm_cnv_opts;

/* Runs until end of input or Ctrl-C at the prompt (Ctrl-C during an answer
 * ends the answer). Returns the exit code. */
int pdvm_cli_chat_cnv(const pdvm_cnv_opts *o);

#endif

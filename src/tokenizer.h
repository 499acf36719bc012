/* Tokenizer from GGUF metadata. tokenizer.ggml.model = llama is
 * SentencePiece BPE (Kudo & Richardson 2018): merges of the best-scoring
 * pair first, byte fallback <0xXX>, "\xE2\x96\x81" (U+2581) as the space
 * marker, an optional dummy-prefix space. Other models (gpt2) are rejected
 * by name for now; the vtable-free struct keeps room for them. */
#ifndef PDVM_TOKENIZER_H
#define PDVM_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gguf.h"
#include "pdvm.h"

typedef struct pdvm_tokenizer pdvm_tokenizer;

/* Load from tokenizer.ggml.* keys. Errors: PDVM_ERR_FORMAT (missing or
 * inconsistent arrays, ids out of range), PDVM_ERR_UNSUPPORTED (model other
 * than "llama", named). The tokenizer copies what it keeps (it may outlive
 * nothing, but must not read the map after load returns). */
pdvm_status pdvm_tokenizer_load(const pdvm_gguf *g, pdvm_tokenizer **out);
void pdvm_tokenizer_free(pdvm_tokenizer *t);

uint32_t pdvm_tokenizer_n_vocab(const pdvm_tokenizer *t);

/* ---- additions (cpu engineer, issue 4) ---- */

/* tokenizer.ggml.token_type values, as llama.cpp writes them. */
enum pdvm_token_type {
    PDVM_TOKEN_UNDEFINED = 0,
    PDVM_TOKEN_NORMAL = 1,
    PDVM_TOKEN_UNKNOWN = 2,
    PDVM_TOKEN_CONTROL = 3,
    PDVM_TOKEN_USER_DEFINED = 4,
    PDVM_TOKEN_UNUSED = 5,
    PDVM_TOKEN_BYTE = 6,
};

/* Special ids (-1: none) and flags from tokenizer.ggml.*. */
int32_t pdvm_tokenizer_bos(const pdvm_tokenizer *t);
int32_t pdvm_tokenizer_eos(const pdvm_tokenizer *t);
int32_t pdvm_tokenizer_unk(const pdvm_tokenizer *t);
bool pdvm_tokenizer_add_bos(const pdvm_tokenizer *t);      /* add_bos_token, default true */
bool pdvm_tokenizer_add_space_prefix(const pdvm_tokenizer *t); /* default true */

/* The vocabulary piece of id as stored (with U+2581, "<0x0A>", ...); *len
 * receives its byte length. NULL for an id outside the vocabulary. */
const char *pdvm_tokenizer_piece(const pdvm_tokenizer *t, int32_t id, size_t *len);
int pdvm_tokenizer_type(const pdvm_tokenizer *t, int32_t id);
/* Id of a piece (exact bytes), -1 when absent. */
int32_t pdvm_tokenizer_find(const pdvm_tokenizer *t, const char *piece, size_t len);

/* Encode text of len bytes; same output rules as pdvm_tokenize. */
pdvm_status pdvm_tokenizer_encode(const pdvm_tokenizer *t, const char *text, size_t len,
                                  bool add_bos, int32_t *out, size_t cap, size_t *n_out);

#endif

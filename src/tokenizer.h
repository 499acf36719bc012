/* Tokenizer from GGUF metadata. tokenizer.ggml.model = llama is
 * SentencePiece BPE (Kudo & Richardson 2018): merges of the best-scoring
 * pair first, byte fallback <0xXX>, "\xE2\x96\x81" (U+2581) as the space
 * marker, an optional dummy-prefix space. Other models (gpt2) are rejected
 * by name for now; the vtable-free struct keeps room for them. */
#ifndef PDVM_TOKENIZER_H
#define PDVM_TOKENIZER_H

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

#endif

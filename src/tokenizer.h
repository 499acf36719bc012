/* Tokenizer from GGUF metadata, encoding and decoding id for id as
 * llama.cpp's llama-vocab.cpp does. Two algorithms behind one vocabulary:
 *   tokenizer.ggml.model = "llama": SentencePiece BPE (Kudo & Richardson
 *     2018), tokenizer_spm.c;
 *   tokenizer.ggml.model = "gpt2": byte-level BPE (Radford et al. 2019)
 *     with a pre-tokenizer chosen by tokenizer.ggml.pre, tokenizer_bpe.c and
 *     tokenizer_pre.c.
 * Shared here (tokenizer.c, tokenizer_special.c): the pieces, their
 * attributes, special ids, end-of-generation ids and the splitting of
 * control/user-defined token text out of the input. The keys read are
 * listed in include/pdvm.h. */
#ifndef PDVM_TOKENIZER_H
#define PDVM_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gguf.h"
#include "pdvm.h"

typedef struct pdvm_tokenizer pdvm_tokenizer;

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

/* Token attributes, llama.cpp's llama_token_attr bits: the type from the
 * file, plus what the loader derives (end-of-turn text made control,
 * "unused" control tokens, Phi-3's right-strip of special tokens). */
enum pdvm_token_attr {
    PDVM_ATTR_UNDEFINED = 0,
    PDVM_ATTR_UNKNOWN = 1u << 0,
    PDVM_ATTR_UNUSED = 1u << 1,
    PDVM_ATTR_NORMAL = 1u << 2,
    PDVM_ATTR_CONTROL = 1u << 3,
    PDVM_ATTR_USER_DEFINED = 1u << 4,
    PDVM_ATTR_BYTE = 1u << 5,
    PDVM_ATTR_LSTRIP = 1u << 7,
    PDVM_ATTR_RSTRIP = 1u << 8,
};

/* Load from tokenizer.ggml.* keys. Errors: PDVM_ERR_FORMAT (missing or
 * inconsistent arrays), PDVM_ERR_UNSUPPORTED (a tokenizer.ggml.model or
 * tokenizer.ggml.pre we do not implement, named). The tokenizer copies what
 * it keeps: it never reads the map after load returns. */
pdvm_status pdvm_tokenizer_load(const pdvm_gguf *g, pdvm_tokenizer **out);
/* Same, with tokenizer.ggml.pre replaced by pre (NUL-terminated): tests run
 * every pre-tokenizer over one vocabulary this way. */
pdvm_status pdvm_tokenizer_load_pre(const pdvm_gguf *g, const char *pre, pdvm_tokenizer **out);
void pdvm_tokenizer_free(pdvm_tokenizer *t);

uint32_t pdvm_tokenizer_n_vocab(const pdvm_tokenizer *t);
bool pdvm_tokenizer_is_bpe(const pdvm_tokenizer *t);

/* Special ids (-1: none) and flags, with llama.cpp's defaults per model. */
int32_t pdvm_tokenizer_bos(const pdvm_tokenizer *t);
int32_t pdvm_tokenizer_eos(const pdvm_tokenizer *t);
bool pdvm_tokenizer_add_bos(const pdvm_tokenizer *t);
bool pdvm_tokenizer_add_eos(const pdvm_tokenizer *t);
bool pdvm_tokenizer_add_space_prefix(const pdvm_tokenizer *t);
bool pdvm_tokenizer_is_eog(const pdvm_tokenizer *t, int32_t id);

/* The vocabulary piece of id as stored (with U+2581, "<0x0A>", "Ġ", ...);
 * *len receives its byte length. NULL for an id outside the vocabulary. */
const char *pdvm_tokenizer_piece(const pdvm_tokenizer *t, int32_t id, size_t *len);
uint32_t pdvm_tokenizer_attr(const pdvm_tokenizer *t, int32_t id); /* 0 outside */
/* Id of a piece (exact bytes), -1 when absent. */
int32_t pdvm_tokenizer_find(const pdvm_tokenizer *t, const char *piece, size_t len);

/* Encode len bytes of text (any bytes); the rules of pdvm_tokenize. */
pdvm_status pdvm_tokenizer_encode(const pdvm_tokenizer *t, const char *text, size_t len,
                                  bool add_special, bool parse_special, int32_t *out,
                                  size_t cap, size_t *n_out);

/* The bytes token id stands for, as llama.cpp's token_to_piece with
 * lstrip 0. Writes min(cap, length) bytes to buf and returns the length.
 * id must be inside the vocabulary. */
size_t pdvm_tokenizer_render(const pdvm_tokenizer *t, int32_t id, bool special, char *buf,
                             size_t cap);

#endif

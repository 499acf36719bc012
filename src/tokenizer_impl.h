/* What the tokenizer's files share: the vocabulary struct, the id sink and
 * the entry points of each algorithm. Not part of any API. */
#ifndef PDVM_TOKENIZER_IMPL_H
#define PDVM_TOKENIZER_IMPL_H

#include "tokenizer.h"

#define PDVM_SPACE_MARK "\xE2\x96\x81" /* U+2581, SentencePiece's visible space */
#define PDVM_SPACE_MARK_LEN 3

typedef struct pdvm_bpe pdvm_bpe;       /* ranked merges, tokenizer_bpe.c */
typedef struct pdvm_pretok pdvm_pretok; /* compiled pre-tokenizer, tokenizer_pre.c */

typedef enum pdvm_vocab_type { PDVM_VOCAB_SPM, PDVM_VOCAB_BPE } pdvm_vocab_type;

struct pdvm_tokenizer {
    pdvm_vocab_type type;
    uint32_t n_vocab;
    char *blob;        /* every piece, NUL-terminated, back to back */
    uint64_t *offs;    /* piece i starts at blob + offs[i] */
    uint32_t *lens;
    float *scores;
    uint32_t *attrs;   /* enum pdvm_token_attr bits */
    int32_t *slots;    /* open-addressing piece -> id table, -1 empty */
    uint32_t slot_mask;
    int32_t byte_ids[256]; /* SentencePiece byte fallback: <0xXX>, else the raw byte */
    int32_t bos, eos, unk;
    bool add_bos, add_eos, add_space_prefix;
    uint8_t *eog;      /* n_vocab flags */
    int32_t *special;  /* control, user-defined and unknown ids, longest text first */
    uint32_t n_special;
    int32_t *special_rank;  /* n_vocab: index in special, -1 for other tokens */
    uint8_t *special_lens;  /* special_max_len + 1 flags: some special text has this length */
    uint32_t special_max_len;
    uint8_t special_first[32]; /* bitmap of the first bytes of special texts */
    pdvm_bpe *bpe;         /* byte-level BPE only */
    pdvm_pretok *pretok;   /* byte-level BPE only */
    bool ignore_merges;    /* a word that is a whole piece skips the merges */
};

/* Ids collected past cap are counted, not stored. */
typedef struct pdvm_id_sink {
    int32_t *out;
    size_t cap, n;
} pdvm_id_sink;

static inline void pdvm_sink_put(pdvm_id_sink *k, int32_t id)
{
    if (k->n < k->cap) k->out[k->n] = id;
    k->n++;
}

uint32_t pdvm_tok_hash(const char *s, size_t n); /* FNV-1a */
/* pdvm_tokenizer_find with hash == pdvm_tok_hash(piece, len) already known. */
int32_t pdvm_tokenizer_find_hashed(const pdvm_tokenizer *t, const char *piece, size_t len,
                                   uint32_t hash);

/* tokenizer_special.c: attributes and ids llama.cpp derives from the
 * token texts (end of turn, end of generation, FIM, "unused", Phi-3
 * right-strip), then the list of special tokens in matching order.
 * pre_override: as pdvm_tokenizer_load_pre (NULL: the file's). */
pdvm_status pdvm_special_setup(const pdvm_gguf *g, const char *pre_override, pdvm_tokenizer *t);

/* One piece of the input after the special tokens are split out: text
 * (id -1) or a special token. */
typedef struct pdvm_fragment {
    size_t start, len;
    int32_t id;
} pdvm_fragment;

/* tokenizer_partition.c: split text into fragments as llama.cpp's
 * tokenizer_st_partition: each special token, longest first, claims its
 * leftmost non-overlapping occurrences in what is still text (control and
 * unknown tokens only when parse_special; user-defined ones always).
 * *out is malloc'd (free it), *n_out fragments. */
pdvm_status pdvm_special_partition(const pdvm_tokenizer *t, const char *text, size_t len,
                                   bool parse_special, pdvm_fragment **out, size_t *n_out);

/* tokenizer_spm.c: one text fragment, spaces escaped to U+2581 and, when
 * space_prefix, a leading one added. */
pdvm_status pdvm_spm_encode(const pdvm_tokenizer *t, const char *text, size_t len,
                            bool space_prefix, pdvm_id_sink *k);

/* tokenizer_bpe.c: tokenizer.ggml.merges, and one text fragment through
 * the pre-tokenizer and the merges. */
pdvm_status pdvm_bpe_load(const pdvm_gguf *g, pdvm_bpe **out);
void pdvm_bpe_free(pdvm_bpe *b);
pdvm_status pdvm_bpe_encode(const pdvm_tokenizer *t, const char *text, size_t len,
                            pdvm_id_sink *k);

/* tokenizer_pre.c: the pre-tokenizer of a tokenizer.ggml.pre value and
 * what llama.cpp sets with it. */
typedef struct pdvm_pre_flags {
    bool ignore_merges; /* whole-piece words skip the merges */
    bool add_bos;       /* default for tokenizer.ggml.add_bos_token */
    bool no_bos;        /* the default BOS id is none */
} pdvm_pre_flags;

/* Errors: PDVM_ERR_UNSUPPORTED naming an unknown value; PDVM_ERR_NOMEM. */
pdvm_status pdvm_pretok_create(const char *name, size_t name_len, pdvm_pretok **out,
                               pdvm_pre_flags *flags);
void pdvm_pretok_free(pdvm_pretok *p);

/* A word of the pre-tokenized text: bytes [start, start + len) of the
 * canonical text the split was given. */
typedef struct pdvm_span {
    size_t start, len;
} pdvm_span;

/* Split the canonical text (see pdvm_utf8_canonical) into words with each
 * regular expression in turn, as llama.cpp's unicode_regex_split: matches
 * and the text between them both become words. match is the same text
 * with surrogates replaced (valid UTF-8 for PCRE2). *out is malloc'd. */
pdvm_status pdvm_pretok_split(const pdvm_pretok *p, const char *match, size_t len,
                              pdvm_span **out, size_t *n_out);

/* tokenizer_utf8.c */
/* One code point at s[0..n), n >= 1, decoded as llama.cpp's
 * unicode_cpt_from_utf8: structure only (overlong forms and surrogates
 * pass), an invalid or cut-short sequence is U+FFFD for its first byte.
 * Code points above U+10FFFF (llama.cpp aborts on them) are U+FFFD for the
 * first byte too. Returns the bytes consumed. */
size_t pdvm_utf8_decode(const char *s, size_t n, uint32_t *cp);
/* UTF-8 of cp <= 0x10FFFF (surrogates too) into out; returns 1..4. */
size_t pdvm_utf8_encode(uint32_t cp, char out[4]);
/* llama.cpp re-encodes the decoded code points before splitting: canon
 * gets those bytes, match the same with surrogates (not valid UTF-8) as
 * U+E000 (same length, same classes for every pre-tokenizer). Both
 * malloc'd, *n_out bytes each. */
pdvm_status pdvm_utf8_canonical(const char *text, size_t len, char **canon, char **match,
                                size_t *n_out);
/* GPT-2's reversible byte -> code point map (Radford et al. 2019,
 * bytes_to_unicode): printable Latin-1 bytes map to themselves, the other
 * 68 to U+0100.. in byte order. */
uint32_t pdvm_byte_to_cp(uint8_t b);
/* Inverse: the byte of cp, or -1 when cp is not in the map. */
int pdvm_cp_to_byte(uint32_t cp);

#endif

/*
 * pdvm: Llama-family inference as OpenGL ES 3.1 compute shaders on a
 * headless EGL context. This is the only header a user includes.
 *
 * Conventions
 * - Every function that can fail returns a pdvm_status; on failure
 *   pdvm_last_error() gives a one-line message saying what failed and where
 *   (file offset, tensor name, GL call). The message is thread-local.
 * - Token ids are int32_t indices into the model's vocabulary.
 * - Logits are float32, n_vocab of them, unnormalised (pre-softmax).
 * - Tensor shapes follow ggml: ne[0] is the contiguous (column) dimension.
 */
#ifndef PDVM_H
#define PDVM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum pdvm_status {
    PDVM_OK = 0,
    PDVM_ERR_INVALID_ARG,   /* caller passed something unusable */
    PDVM_ERR_IO,            /* open/read/mmap failed */
    PDVM_ERR_FORMAT,        /* malformed or hostile model file */
    PDVM_ERR_UNSUPPORTED,   /* valid file, but a type/architecture/tokenizer we do not run */
    PDVM_ERR_NOMEM,         /* host or GPU allocation failed */
    PDVM_ERR_NO_PLATFORM,   /* no EGL platform gave an OpenGL ES 3.1 context */
    PDVM_ERR_GPU,           /* GL error, shader compile/link failure, driver limit */
    PDVM_ERR_CONTEXT_FULL,  /* the KV cache has no room for the tokens fed */
} pdvm_status;

/* Short constant name of a status ("format error", ...). Never NULL. */
const char *pdvm_status_str(pdvm_status st);

/* The message of the last failure on this thread; "" when none. The pointer
 * stays valid until the next pdvm call on this thread. */
const char *pdvm_last_error(void);

/* ------------------------------------------------------------------ model */

typedef enum pdvm_rope_type {
    PDVM_ROPE_NORM = 0, /* rotate adjacent pairs (x[2i], x[2i+1]): GGUF "llama" */
    PDVM_ROPE_NEOX = 2, /* rotate halves (x[i], x[i + n_rot/2]): qwen2, phi3 */
} pdvm_rope_type;

/* Hyperparameters as bound from GGUF metadata (llama.cpp key names in
 * brackets). All counts are in elements. */
typedef struct pdvm_hparams {
    char arch[32];          /* general.architecture */
    uint32_t n_vocab;       /* tokenizer.ggml.tokens length, else token_embd ne[1] */
    uint32_t n_ctx_train;   /* {arch}.context_length */
    uint32_t n_embd;        /* {arch}.embedding_length */
    uint32_t n_layer;       /* {arch}.block_count */
    uint32_t n_ff;          /* {arch}.feed_forward_length */
    uint32_t n_head;        /* {arch}.attention.head_count */
    uint32_t n_head_kv;     /* {arch}.attention.head_count_kv (default n_head) */
    uint32_t head_dim;      /* n_embd / n_head */
    uint32_t n_rot;         /* {arch}.rope.dimension_count (default head_dim) */
    float rms_eps;          /* {arch}.attention.layer_norm_rms_epsilon (default 1e-5) */
    float rope_freq_base;   /* {arch}.rope.freq_base (default 10000) */
    pdvm_rope_type rope_type;
} pdvm_hparams;

typedef struct pdvm_model pdvm_model;

/* Open a GGUF file (v2 or v3), validate it, bind the architecture's tensors
 * and load the tokenizer. The file is memory-mapped read-only and stays
 * mapped until pdvm_model_close.
 * Errors: PDVM_ERR_IO (cannot open/map), PDVM_ERR_FORMAT (malformed file,
 * message names the byte offset or tensor), PDVM_ERR_UNSUPPORTED (tensor
 * type, architecture or tokenizer model we do not run, named). */
pdvm_status pdvm_model_open(const char *path, pdvm_model **out);

/* Unmap and free. NULL is accepted. */
void pdvm_model_close(pdvm_model *model);

/* Bound hyperparameters; valid while the model is open. */
const pdvm_hparams *pdvm_model_hparams(const pdvm_model *model);

/* -------------------------------------------------------------- tokenizer */

/* Ids and text as llama.cpp's tokenizer (src/llama-vocab.cpp) gives them.
 *
 * GGUF keys read:
 *   tokenizer.ggml.model       "llama": SentencePiece BPE (Kudo & Richardson 2018): best-scoring
 *                              merge first, byte fallback <0xXX>, U+2581 for spaces;
 *                              "gpt2": byte-level BPE (Radford et al. 2019): GPT-2's byte <->
 *                              code point map, ranked merges, a pre-tokenizer; others are
 *                              PDVM_ERR_UNSUPPORTED, named
 *   tokenizer.ggml.pre         gpt2 only: the pre-tokenizer, llama.cpp's spelling ("llama-bpe",
 *                              "qwen2", "qwen35", "smollm", "gpt-4o", ...; absent: "default");
 *                              a value we do not implement is PDVM_ERR_UNSUPPORTED, named
 *   tokenizer.ggml.tokens      the pieces (string array)
 *   tokenizer.ggml.merges      gpt2 only: "left right" strings, rank = position
 *   tokenizer.ggml.scores      f32 or i32 per piece (SentencePiece merge order); default 0
 *   tokenizer.ggml.token_type  i32 per piece: 1 normal, 2 unknown, 3 control, 4 user-defined,
 *                              5 unused, 6 byte; default normal
 *   tokenizer.ggml.{bos,eos,unknown,eot,eom}_token_id,
 *   tokenizer.ggml.fim_{pre,suf,mid,pad,rep,sep}_token_id (and prefix/suffix/middle_token_id)
 *                              an id outside the vocabulary keeps llama.cpp's default
 *                              (SentencePiece: BOS 1, EOS 2, UNK 0; gpt2: BOS = EOS = 11)
 *   tokenizer.ggml.add_bos_token, add_eos_token, add_space_prefix
 *                              defaults per model as llama.cpp (SentencePiece: BOS yes, space
 *                              prefix yes; gpt2: BOS only for llama-bpe-style and tekken)
 *   general.name, general.architecture
 *                              only for llama.cpp's per-model token attributes (Phi-3 drops the
 *                              whitespace after its special tokens)
 * Tokens whose text llama.cpp treats as end of turn or generation ("<|eot_id|>", "<|im_end|>",
 * "<|end|>", "<end_of_turn>", "<|endoftext|>", "</s>", ...) become control tokens. */

/* Encode len bytes of text (any bytes: invalid UTF-8 is tokenized as llama.cpp does, with
 * byte fallback for SentencePiece and U+FFFD for byte-level BPE).
 * add_special: BOS (when the vocabulary's add_bos) and EOS (when add_eos), as llama_tokenize;
 * parse_special: control/user-defined token text in `text` becomes those ids (user-defined
 * token text always does, as in llama.cpp); off, control token text is plain text.
 * out has room for cap ids (out may be NULL when cap is 0); *n_out receives the number of ids,
 * also when it exceeds cap: then PDVM_ERR_INVALID_ARG is returned and out holds the first cap
 * ids, so a call with cap 0 sizes the buffer. Other errors: PDVM_ERR_INVALID_ARG (NULL
 * arguments, no tokenizer, text over 256 MiB, add_special with no BOS/EOS id), PDVM_ERR_NOMEM. */
pdvm_status pdvm_tokenize(const pdvm_model *model, const char *text, size_t len, bool add_special,
                          bool parse_special, int32_t *out, size_t cap, size_t *n_out);

/* The bytes a token stands for (byte-level pieces decoded, U+2581 -> space, <0xXX> -> the
 * byte); control and unknown tokens give "" unless special (then their text). Writes at most
 * cap bytes, no NUL; *len gets the byte count also when it exceeds cap (then
 * PDVM_ERR_INVALID_ARG; buf may be NULL with cap 0 to ask for the length). No UTF-8 hold-back:
 * a piece may be part of a character. Errors: PDVM_ERR_INVALID_ARG also for an id outside
 * the vocabulary. */
pdvm_status pdvm_token_to_piece(const pdvm_model *model, int32_t token, bool special, char *buf,
                                size_t cap, size_t *len);

/* True for the tokens that end generation: EOS, EOT, EOM and the FIM pad/repo/separator ids
 * from the GGUF, and the tokens llama.cpp recognizes by text ("<|eot_id|>", "<|im_end|>",
 * "<|end|>", "<end_of_turn>", "<|endoftext|>", "</s>", ...). False outside the vocabulary. */
bool pdvm_token_is_eog(const pdvm_model *model, int32_t token);

/* tokenizer.ggml.add_bos_token / add_eos_token as llama.cpp defaults them per model. */
bool pdvm_model_add_bos(const pdvm_model *model);
bool pdvm_model_add_eos(const pdvm_model *model);

/* Special token ids; -1 when the model has none. */
int32_t pdvm_token_bos(const pdvm_model *model);
int32_t pdvm_token_eos(const pdvm_model *model);

/* Open only the tokenizer of a GGUF file (vocab-only files with no tensors too); the model
 * has hparams arch and n_vocab and no weights (a session on it fails with
 * PDVM_ERR_INVALID_ARG). Free with pdvm_model_close. Errors as pdvm_model_open. */
pdvm_status pdvm_model_open_vocab(const char *path, pdvm_model **out);

/* Streaming detokenizer: turns ids into UTF-8 without ever emitting a broken multi-byte
 * sequence (bytes of an incomplete character are held back until it completes; a sequence
 * that cannot complete becomes U+FFFD). special: render control tokens (as llama-cli's
 * --special). When the vocabulary adds a dummy-prefix space (SentencePiece), the first piece
 * that prints anything loses one leading space. Errors: PDVM_ERR_INVALID_ARG, PDVM_ERR_NOMEM. */
typedef struct pdvm_detok pdvm_detok;
pdvm_status pdvm_detok_create(const pdvm_model *model, bool special, pdvm_detok **out);
/* The text of one more token: *text points into the detokenizer's own buffer (NUL-terminated,
 * *len bytes, any length), valid until its next call. Errors: PDVM_ERR_INVALID_ARG for an id
 * outside the vocabulary or NULL arguments; PDVM_ERR_NOMEM. */
pdvm_status pdvm_detok_push(pdvm_detok *d, int32_t token, const char **text, size_t *len);
/* The held-back bytes of an unfinished character, as U+FFFD (or ""). Same rules. */
pdvm_status pdvm_detok_flush(pdvm_detok *d, const char **text, size_t *len);
void pdvm_detok_free(pdvm_detok *d);

/* ---------------------------------------------------------------- session */

typedef enum pdvm_backend {
    PDVM_BACKEND_GPU = 0, /* fused GLES compute chain (default) */
    PDVM_BACKEND_CPU = 1, /* the float32 reference forward pass */
} pdvm_backend;

typedef struct pdvm_session_params {
    uint32_t n_ctx;          /* KV cache length in positions; 0: min(n_ctx_train, 4096) */
    pdvm_backend backend;
    bool unfused;            /* GPU: one operation per dispatch (baseline/debug) */
    const char *platform;    /* GPU: "gbm", "device", "surfaceless" or NULL for auto
                              * (then PDVM_PLATFORM is honoured) */
    bool verbose;            /* progress and allocation report on stderr */
} pdvm_session_params;

/* Defaults: n_ctx 0, GPU backend, fused, auto platform, quiet. */
pdvm_session_params pdvm_session_default_params(void);

typedef struct pdvm_session pdvm_session;

/* Create an inference session (KV cache for n_ctx positions, on the chosen
 * backend). The model must outlive the session.
 * Errors: PDVM_ERR_INVALID_ARG (n_ctx above n_ctx_train is allowed, 0 or a
 * value over 1<<20 is not), PDVM_ERR_NO_PLATFORM, PDVM_ERR_GPU, PDVM_ERR_NOMEM,
 * PDVM_ERR_UNSUPPORTED (a weight type the GPU backend has no kernel for). */
pdvm_status pdvm_session_create(pdvm_model *model, const pdvm_session_params *params,
                                pdvm_session **out);
void pdvm_session_free(pdvm_session *s);

/* Feed n tokens at the current position (prefill when n > 1, decode when
 * n == 1), append them to the KV cache and compute the logits of the last
 * one. *logits points to n_vocab floats owned by the session, valid until the
 * next call. Errors: PDVM_ERR_CONTEXT_FULL when pos + n > n_ctx (nothing is
 * computed), PDVM_ERR_INVALID_ARG for an id outside the vocabulary. */
pdvm_status pdvm_session_eval(pdvm_session *s, const int32_t *tokens, size_t n,
                              const float **logits);

/* Number of positions filled in the KV cache. */
uint32_t pdvm_session_pos(const pdvm_session *s);
/* KV cache length of this session. */
uint32_t pdvm_session_n_ctx(const pdvm_session *s);
/* Forget everything: position back to 0. */
void pdvm_session_reset(pdvm_session *s);

typedef struct pdvm_session_stats {
    uint64_t dispatches;      /* compute dispatches issued, counted by the runtime */
    uint64_t tokens;          /* tokens evaluated */
    double weight_mib, kv_mib, scratch_mib; /* GPU memory allocated */
    char device[128];         /* GL renderer, or "cpu" */
    char platform[32];        /* EGL platform, or "" */
} pdvm_session_stats;
void pdvm_session_get_stats(const pdvm_session *s, pdvm_session_stats *out);

/* ---------------------------------------------------------------- sampler */

/* Sampling parameters and order follow llama.cpp's default chain:
 * repetition penalty (over the last repeat_last_n tokens, CTRL-style:
 * positive logits divided, negative multiplied, once per distinct token)
 * -> top-k -> top-p -> min-p -> temperature -> draw from the softmax.
 * top-p and min-p judge probabilities at temperature 1 (as llama.cpp);
 * temperature only shapes the final draw. temp <= 0 means greedy: argmax
 * (lowest id on ties) after the repetition penalty, i.e. of the raw logits
 * with the default penalty 1.0. The RNG is xoshiro256** seeded by
 * splitmix64(seed): the same seed gives the same text on every machine. */
typedef struct pdvm_sampler_params {
    float temp;            /* default 0.8 */
    int32_t top_k;         /* default 40; <= 0 disables */
    float top_p;           /* default 0.95; >= 1 disables */
    float min_p;           /* default 0.05; <= 0 disables */
    float repeat_penalty;  /* default 1.0 (disabled) */
    int32_t repeat_last_n; /* default 64 */
    uint64_t seed;         /* default 0xFFFFFFFF: same seed, same text */
} pdvm_sampler_params;

pdvm_sampler_params pdvm_sampler_default_params(void);

typedef struct pdvm_sampler pdvm_sampler;
pdvm_status pdvm_sampler_create(const pdvm_sampler_params *p, uint32_t n_vocab,
                                pdvm_sampler **out);
/* Pick the next token from n_vocab logits (not modified). */
int32_t pdvm_sampler_sample(pdvm_sampler *s, const float *logits);
/* Record a token (prompt or generated) for the repetition penalty. */
void pdvm_sampler_accept(pdvm_sampler *s, int32_t token);
void pdvm_sampler_free(pdvm_sampler *s);

#ifdef __cplusplus
}
#endif
#endif /* PDVM_H */

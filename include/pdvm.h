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

/* Encode UTF-8 text with the model's tokenizer (SentencePiece BPE for
 * tokenizer.ggml.model = llama: highest-scoring merge first, byte fallback,
 * dummy-prefix space). BOS is prepended when add_bos is true.
 * out has room for cap ids; *n_out receives the number of ids, also when
 * it exceeds cap (then PDVM_ERR_INVALID_ARG is returned and out holds the
 * first cap ids). */
pdvm_status pdvm_tokenize(const pdvm_model *model, const char *text, bool add_bos,
                          int32_t *out, size_t cap, size_t *n_out);

/* Streaming detokenizer: turns ids into UTF-8 without ever emitting a broken
 * multi-byte sequence (bytes of an incomplete character are held back until
 * it completes). Strips the dummy-prefix space of the text's first piece
 * only (control tokens such as BOS print nothing), as llama.cpp does. */
typedef struct pdvm_detok pdvm_detok;
pdvm_status pdvm_detok_create(const pdvm_model *model, pdvm_detok **out);
/* Append the text of one token to buf (NUL-terminated, at most cap bytes
 * including the NUL); *len receives the byte count written (excluding NUL).
 * Errors: PDVM_ERR_INVALID_ARG for an id outside the vocabulary or cap < 64. */
pdvm_status pdvm_detok_push(pdvm_detok *d, int32_t token, char *buf, size_t cap, size_t *len);
/* Flush held-back bytes (invalid ones become U+FFFD). Same buffer rules. */
pdvm_status pdvm_detok_flush(pdvm_detok *d, char *buf, size_t cap, size_t *len);
void pdvm_detok_free(pdvm_detok *d);

/* Special token ids; -1 when the model has none. */
int32_t pdvm_token_bos(const pdvm_model *model);
int32_t pdvm_token_eos(const pdvm_model *model);

/* ------------------------------------------------------------------- chat */

/* Chat templates as llama.cpp's llama_chat_apply_template applies them
 * (src/llama-chat.cpp): not a Jinja interpreter but llama.cpp's fixed set of
 * formats (chatml, llama2 and its -sys/-sys-bos/-sys-strip variants, llama3,
 * llama4, phi3, phi4, gemma, mistral-v1/v3/v3-tekken/v7/v7-tekken, zephyr,
 * deepseek, deepseek2, deepseek3, command-r, and the rest of llama.cpp's
 * list), with byte-identical output for the same messages. A template is
 * chosen by its llama.cpp name, or recognised in a GGUF's Jinja template by
 * the substrings llama.cpp's detector looks for, in the same order.
 * Threading: the functions of this section keep no state and allocate
 * nothing (errors set only the calling thread's message); any thread may
 * call them at any time, also at once. */

/* One message: role ("system", "user", "assistant", or any other string:
 * each format writes or drops other roles as llama.cpp does; none is an
 * error) and content, both NUL-terminated UTF-8 (bytes are copied as they
 * are; only ASCII space characters are ever trimmed). */
typedef struct pdvm_chat_message {
    const char *role;
    const char *content;
} pdvm_chat_message;

/* The model's tokenizer.chat_template string (NUL-terminated; a template
 * holding a NUL byte ends there), or NULL when the file has none or the key
 * is not a string, or model is NULL. Owned by the model: valid until
 * pdvm_model_close. */
const char *pdvm_model_chat_template(const pdvm_model *model);

/* Format n_msgs messages into one prompt string.
 * tmpl: a llama.cpp template name ("chatml", "llama3", "mistral-v7", ...:
 * the name wins when tmpl is exactly one) or a Jinja template string, e.g.
 * pdvm_model_chat_template(), recognised by its signature.
 * add_assistant: end with the assistant's turn prefix so the model answers
 * next (formats that have none, such as llama2, ignore it, as llama.cpp).
 * The prompt holds the special-token markers as text ("<|im_start|>",
 * and "<s>" only where the format writes it inside the conversation, as
 * llama.cpp): tokenize it with special-token parsing and add the model's
 * BOS as usual.
 * buf: cap bytes; receives the prompt and a NUL when they fit (bytes after
 * the NUL are not touched), else an empty string. *len receives the
 * prompt's length in bytes without the NUL, also when it does not fit, so
 * a call with buf NULL and cap 0 sizes the buffer.
 * msgs may be NULL when n_msgs is 0 (an empty conversation).
 * Errors: PDVM_ERR_UNSUPPORTED (tmpl is no name and matches no signature;
 * the message quotes its start), PDVM_ERR_INVALID_ARG (tmpl or len NULL,
 * msgs NULL with n_msgs > 0, a message with a NULL role or content, buf
 * NULL with cap > 0, or cap <= *len: the message gives the size needed). */
pdvm_status pdvm_chat_apply_template(const char *tmpl, const pdvm_chat_message *msgs, size_t n_msgs,
                                     bool add_assistant, char *buf, size_t cap, size_t *len);

/* The llama.cpp name of the format tmpl is recognised as ("chatml",
 * "llama3", ...; a static string), or NULL when tmpl is NULL or not
 * recognised. Different names can format identically (granite-4.0 and
 * granite-4.1). One format llama.cpp detects has no llama.cpp name: it is
 * reported as "dots1" (dots.llm1), which, as in llama.cpp, is not accepted
 * as a name. */
const char *pdvm_chat_template_name(const char *tmpl);

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

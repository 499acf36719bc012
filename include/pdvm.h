/*
 * pdvm: decoder-only language models (Llama, Qwen, Phi, Gemma families) as
 * OpenGL ES 3.1 compute shaders on a headless EGL context. This is the only
 * header a user includes; libpdvm exports exactly the functions below.
 *
 * Conventions
 * - Every function that can fail returns a pdvm_status; on failure
 *   pdvm_last_error() gives a one-line message saying what failed and where
 *   (file offset, tensor name, GL call). The message is thread-local.
 * - Token ids are int32_t indices into the model's vocabulary.
 * - Logits are float32, n_vocab of them, unnormalised (pre-softmax).
 * - Tensor shapes follow ggml: ne[0] is the contiguous (column) dimension.
 * - Sizes in bytes unless a name says otherwise (_mib: 2^20 bytes, _s:
 *   seconds, _us: microseconds).
 *
 * Threads and GL contexts
 * - GGUF handles, models and samplers hold no GL state. A model is
 *   read-only once open: any number of threads may tokenize, detokenize
 *   and create sessions on it at once. A sampler or detokenizer belongs to
 *   one thread at a time.
 * - Each GPU session and each pdvm_device owns its own EGL context. A GL
 *   context can be current on one thread only, so a GPU session (or
 *   device) must be created, used and freed on one thread. Every call on it
 *   first makes its own context current on that thread, whatever was
 *   current before, and leaves it current: several sessions may be used
 *   interleaved on one thread. A server runs its sessions on one engine
 *   thread and hands requests to it through a queue.
 */
#ifndef PDVM_H
#define PDVM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Marks the exported API; the library is built with -fvisibility=hidden. */
#if defined(__GNUC__) || defined(__clang__)
#define PDVM_API __attribute__((visibility("default")))
#else
#define PDVM_API
#endif

typedef enum pdvm_status {
    PDVM_OK = 0,
    PDVM_ERR_INVALID_ARG,   /* caller passed something unusable */
    PDVM_ERR_IO,            /* open/read/mmap failed, or not a regular file */
    PDVM_ERR_FORMAT,        /* malformed or hostile model file */
    PDVM_ERR_UNSUPPORTED,   /* valid file, but a type/architecture/tokenizer we do not run */
    PDVM_ERR_NOMEM,         /* host or GPU allocation failed */
    PDVM_ERR_NO_PLATFORM,   /* no EGL platform gave an OpenGL ES 3.1 context */
    PDVM_ERR_GPU,           /* GL error, shader compile/link failure, driver limit */
    PDVM_ERR_CONTEXT_FULL,  /* the KV cache has no room for the tokens fed */
} pdvm_status;

/* Short constant name of a status ("format error", ...). Never NULL. */
PDVM_API const char *pdvm_status_str(pdvm_status st);

/* The message of the last failure on this thread; "" when none. The pointer
 * stays valid until the next pdvm call on this thread. */
PDVM_API const char *pdvm_last_error(void);

/* -------------------------------------------------------------- GGUF files
 * Read access to any GGUF v2/v3 file (models, vocabularies, test vectors),
 * as gguf-dump shows it. Spec: ggml docs/gguf.md. The file is mapped
 * read-only; every count, length and offset is validated against the file
 * size at open, so the accessors never read outside the map. */

typedef struct pdvm_gguf pdvm_gguf;

/* Metadata value types, numbered as in the file. */
typedef enum pdvm_gguf_type {
    PDVM_GGUF_TYPE_UINT8 = 0,
    PDVM_GGUF_TYPE_INT8 = 1,
    PDVM_GGUF_TYPE_UINT16 = 2,
    PDVM_GGUF_TYPE_INT16 = 3,
    PDVM_GGUF_TYPE_UINT32 = 4,
    PDVM_GGUF_TYPE_INT32 = 5,
    PDVM_GGUF_TYPE_FLOAT32 = 6,
    PDVM_GGUF_TYPE_BOOL = 7,
    PDVM_GGUF_TYPE_STRING = 8,
    PDVM_GGUF_TYPE_ARRAY = 9,
    PDVM_GGUF_TYPE_UINT64 = 10,
    PDVM_GGUF_TYPE_INT64 = 11,
    PDVM_GGUF_TYPE_FLOAT64 = 12,
} pdvm_gguf_type;

/* A string inside the map: NOT NUL-terminated, may contain NULs. */
typedef struct pdvm_gguf_str {
    const char *ptr;
    uint64_t len;
} pdvm_gguf_str;

/* A metadata value. Integers land in u (unsigned types) or i (signed),
 * f32/f64 in f, bool in b, strings in s; arrays set elem_type and n only
 * (elements through pdvm_gguf_kv_item). */
typedef struct pdvm_gguf_value {
    pdvm_gguf_type type;
    union {
        uint64_t u;
        int64_t i;
        double f;
        bool b;
        pdvm_gguf_str s;
    } v;
    pdvm_gguf_type elem_type; /* arrays */
    uint64_t n;               /* arrays: element count */
} pdvm_gguf_value;

/* One tensor of the table. ne[0] is contiguous; unused dimensions are 1.
 * type is the ggml type id; type_name as ggml prints it ("q4_K"). */
typedef struct pdvm_gguf_tensor_info {
    pdvm_gguf_str name;
    uint32_t type;
    const char *type_name;
    uint32_t n_dims;       /* 1..4 */
    int64_t ne[4];
    uint64_t offset;       /* bytes from the start of the data section */
    uint64_t nbytes;
} pdvm_gguf_tensor_info;

/* Open, map and validate. A path that is not a regular file (a FIFO, a
 * directory, a device) is refused before anything blocks on it.
 * Errors: PDVM_ERR_IO (cannot open/map, not a regular file),
 * PDVM_ERR_FORMAT (message has the byte offset or tensor name),
 * PDVM_ERR_UNSUPPORTED (big-endian file, version other than 2/3),
 * PDVM_ERR_NOMEM. Known ggml types we cannot decode are accepted here. */
PDVM_API pdvm_status pdvm_gguf_open(const char *path, pdvm_gguf **out);
/* Unmap and free. NULL is accepted. */
PDVM_API void pdvm_gguf_close(pdvm_gguf *g);

PDVM_API uint32_t pdvm_gguf_version(const pdvm_gguf *g);
PDVM_API uint32_t pdvm_gguf_alignment(const pdvm_gguf *g);    /* general.alignment, default 32 */
PDVM_API uint64_t pdvm_gguf_data_offset(const pdvm_gguf *g);  /* start of the tensor data */
PDVM_API uint64_t pdvm_gguf_file_size(const pdvm_gguf *g);

/* Metadata, indexed 0..n_kv-1 in file order. Out-of-range indices give an
 * empty key, false, or "" (never a read outside the map). */
PDVM_API uint64_t pdvm_gguf_n_kv(const pdvm_gguf *g);
PDVM_API pdvm_gguf_str pdvm_gguf_key(const pdvm_gguf *g, uint64_t i);
PDVM_API bool pdvm_gguf_kv_value(const pdvm_gguf *g, uint64_t i, pdvm_gguf_value *out);
/* Element j of array kv i whose elements are scalars or strings; false when
 * out of range or when the elements are arrays themselves. */
PDVM_API bool pdvm_gguf_kv_item(const pdvm_gguf *g, uint64_t i, uint64_t j, pdvm_gguf_value *out);
/* Value of kv i as gguf-dump prints it (strings quoted, arrays of more than
 * max_items abbreviated with their length); at most cap bytes with the NUL. */
PDVM_API void pdvm_gguf_kv_to_text(const pdvm_gguf *g, uint64_t i, size_t max_items, char *buf,
                                   size_t cap);
/* "u8", "i32", "f32", "bool", "str", "arr", ...; "?" for anything else. */
PDVM_API const char *pdvm_gguf_type_name(pdvm_gguf_type t);
/* Text helpers for dumps, each writing at most cap bytes with the NUL:
 * a GGUF string (keys and names are arbitrary bytes) with bytes outside
 * 0x20..0x7e as '?' and "..." when cut; a float in its shortest decimal
 * that reads back to the same f32 (is_f32) or f64; a shape as "[a, b]". */
PDVM_API void pdvm_gguf_str_to_text(pdvm_gguf_str s, char *buf, size_t cap);
PDVM_API void pdvm_gguf_float_to_text(double v, bool is_f32, char *buf, size_t cap);
PDVM_API void pdvm_gguf_shape_to_text(const int64_t *ne, uint32_t n_dims, char *buf, size_t cap);

PDVM_API uint64_t pdvm_gguf_n_tensors(const pdvm_gguf *g);
/* Tensor i of the table; false when i is out of range. */
PDVM_API bool pdvm_gguf_get_tensor(const pdvm_gguf *g, uint64_t i, pdvm_gguf_tensor_info *out);
/* Decode every tensor whose type the CPU can decode and look for NaN and
 * infinities (llama.cpp's --check-tensors). Tensors of types pdvm cannot
 * decode are skipped. Errors: PDVM_ERR_FORMAT naming the first bad tensor,
 * the element index and its value. */
PDVM_API pdvm_status pdvm_gguf_check_tensors(const pdvm_gguf *g);

/* ------------------------------------------------------------------ model */

typedef enum pdvm_rope_type {
    PDVM_ROPE_NORM = 0, /* rotate adjacent pairs (x[2i], x[2i+1]): GGUF "llama" */
    PDVM_ROPE_NEOX = 2, /* rotate halves (x[i], x[i + n_rot/2]): qwen2, phi3 */
} pdvm_rope_type;

/* Hyperparameters as bound from GGUF metadata (llama.cpp key names in
 * brackets). All counts are in elements. */
typedef struct pdvm_hparams {
    char arch[32];          /* general.architecture: llama, qwen2, qwen3, phi3, gemma2, gemma3 */
    uint32_t n_vocab;       /* tokenizer.ggml.tokens length, else token_embd ne[1] */
    uint32_t n_ctx_train;   /* {arch}.context_length */
    uint32_t n_embd;        /* {arch}.embedding_length */
    uint32_t n_layer;       /* {arch}.block_count */
    uint32_t n_ff;          /* {arch}.feed_forward_length */
    uint32_t n_head;        /* {arch}.attention.head_count */
    uint32_t n_head_kv;     /* {arch}.attention.head_count_kv (default n_head) */
    uint32_t head_dim;      /* {arch}.attention.key_length (default n_embd / n_head;
                             * value_length must equal it) */
    uint32_t n_rot;         /* {arch}.rope.dimension_count (default head_dim) */
    float rms_eps;          /* {arch}.attention.layer_norm_rms_epsilon */
    float rope_freq_base;   /* {arch}.rope.freq_base (default 10000) */
    pdvm_rope_type rope_type;
    uint32_t n_swa;         /* {arch}.attention.sliding_window: positions a
                             * sliding-window layer attends to (0: none) */
} pdvm_hparams;

typedef struct pdvm_model pdvm_model;

/* How the file's bytes are held (llama.cpp's --mmap/--no-mmap/--mlock). On
 * boards whose GPU shares the RAM (and on llvmpipe) the GPU's copy of the
 * weights is in that RAM too, so what the process keeps of the file comes
 * on top of it:
 * - use_mmap (default): the file is mapped; a GPU session's upload reads
 *   each piece through the map and drops those pages from the process
 *   right after, so a GPU session costs the file size once (the GPU copy)
 *   plus a few MiB; the pages stay in the page cache, which the kernel
 *   reclaims under pressure and which makes the next load fast. A CPU
 *   session reads the weights through the map (resident as it touches
 *   them, reclaimable).
 * - use_mmap false: the file is read with read(), never mapped: a GPU
 *   upload through a staging buffer of a few MiB (same peak as mmap); a CPU
 *   session reads the whole data section into the process's own memory
 *   (the file size, not reclaimable, for as long as the model is open).
 *   For file systems where mapping is slow or impossible.
 * - use_mlock: the whole file is read in and locked in RAM for as long as
 *   the model is open (never paged out or dropped): the file size on top
 *   of the GPU copy, i.e. twice the weights on a unified-memory board;
 *   worth it for the CPU backend only. Needs RLIMIT_MEMLOCK (ulimit -l) of
 *   the file size, or CAP_IPC_LOCK. */
typedef struct pdvm_model_params {
    bool check_tensors;     /* decode every tensor at load and refuse NaN/Inf
                             * (pdvm_gguf_check_tensors); costs a pass over
                             * the whole file */
    bool use_mmap;          /* map the file (default true); false: read() it */
    bool use_mlock;         /* lock the file's bytes in RAM (default false) */
} pdvm_model_params;

/* Defaults: check_tensors false, use_mmap true, use_mlock false. */
PDVM_API pdvm_model_params pdvm_model_default_params(void);

/* Open a GGUF file (v2 or v3), validate it, bind the architecture's tensors
 * and load the tokenizer. The file is memory-mapped read-only (or read, see
 * pdvm_model_params) and stays open until pdvm_model_close. params NULL
 * means the defaults.
 * Errors: PDVM_ERR_INVALID_ARG (NULL path or out), PDVM_ERR_IO (cannot
 * open/map/read, not a regular file), PDVM_ERR_FORMAT (malformed file,
 * message names the byte offset or tensor; a NaN/Inf with check_tensors),
 * PDVM_ERR_UNSUPPORTED (tensor type, architecture or tokenizer model we do
 * not run, named), PDVM_ERR_NOMEM (also: use_mlock refused, with the
 * RLIMIT_MEMLOCK in force). Messages start with the path. */
PDVM_API pdvm_status pdvm_model_load(const char *path, const pdvm_model_params *params,
                                     pdvm_model **out);
/* pdvm_model_load with the default parameters. */
PDVM_API pdvm_status pdvm_model_open(const char *path, pdvm_model **out);

/* Unmap and free. NULL is accepted. The model must outlive its sessions. */
PDVM_API void pdvm_model_close(pdvm_model *model);

/* Bound hyperparameters; valid while the model is open. */
PDVM_API const pdvm_hparams *pdvm_model_hparams(const pdvm_model *model);
/* Weights bound: the sum of ne[0] * ne[1] over the model's tensors. */
PDVM_API uint64_t pdvm_model_n_params(const pdvm_model *model);

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
PDVM_API pdvm_status pdvm_tokenize(const pdvm_model *model, const char *text, size_t len,
                                   bool add_special, bool parse_special, int32_t *out,
                                   size_t cap, size_t *n_out);

/* The bytes a token stands for (byte-level pieces decoded, U+2581 -> space, <0xXX> -> the
 * byte); control and unknown tokens give "" unless special (then their text). Writes at most
 * cap bytes, no NUL; *len gets the byte count also when it exceeds cap (then
 * PDVM_ERR_INVALID_ARG; buf may be NULL with cap 0 to ask for the length). No UTF-8 hold-back:
 * a piece may be part of a character. Errors: PDVM_ERR_INVALID_ARG also for an id outside
 * the vocabulary. */
PDVM_API pdvm_status pdvm_token_to_piece(const pdvm_model *model, int32_t token, bool special,
                                         char *buf, size_t cap, size_t *len);

/* True for the tokens that end generation: EOS, EOT, EOM and the FIM pad/repo/separator ids
 * from the GGUF, and the tokens llama.cpp recognizes by text ("<|eot_id|>", "<|im_end|>",
 * "<|end|>", "<end_of_turn>", "<|endoftext|>", "</s>", ...). False outside the vocabulary. */
PDVM_API bool pdvm_token_is_eog(const pdvm_model *model, int32_t token);

/* tokenizer.ggml.add_bos_token / add_eos_token as llama.cpp defaults them per model. */
PDVM_API bool pdvm_model_add_bos(const pdvm_model *model);
PDVM_API bool pdvm_model_add_eos(const pdvm_model *model);

/* Open only the tokenizer of a GGUF file (vocab-only files with no tensors too); the model
 * has hparams arch and n_vocab and no weights (a session on it fails with
 * PDVM_ERR_INVALID_ARG). Free with pdvm_model_close. Errors as pdvm_model_open. */
PDVM_API pdvm_status pdvm_model_open_vocab(const char *path, pdvm_model **out);

/* Streaming detokenizer: turns ids into UTF-8 without ever emitting a broken multi-byte
 * sequence (bytes of an incomplete character are held back until it completes; a sequence
 * that cannot complete becomes U+FFFD). special: render control tokens (as llama-cli's
 * --special). When the vocabulary adds a dummy-prefix space (SentencePiece), the first piece
 * that prints anything loses one leading space. Errors: PDVM_ERR_INVALID_ARG, PDVM_ERR_NOMEM. */
typedef struct pdvm_detok pdvm_detok;
PDVM_API pdvm_status pdvm_detok_create(const pdvm_model *model, bool special, pdvm_detok **out);
/* The text of one more token: *text points into the detokenizer's own buffer (NUL-terminated,
 * *len bytes, any length), valid until its next call. Errors: PDVM_ERR_INVALID_ARG for an id
 * outside the vocabulary or NULL arguments; PDVM_ERR_NOMEM. */
PDVM_API pdvm_status pdvm_detok_push(pdvm_detok *d, int32_t token, const char **text,
                                     size_t *len);
/* The held-back bytes of an unfinished character, as U+FFFD (or ""). Same rules. */
PDVM_API pdvm_status pdvm_detok_flush(pdvm_detok *d, const char **text, size_t *len);
/* Free a detokenizer. NULL is accepted. */
PDVM_API void pdvm_detok_free(pdvm_detok *d);

/* Special token ids; -1 when the model has none. */
PDVM_API int32_t pdvm_token_bos(const pdvm_model *model);
PDVM_API int32_t pdvm_token_eos(const pdvm_model *model);

/* ----------------------------------------------------------------- device
 * A headless EGL context on its own, to see what the engine would run on
 * (`pdvm info`). Sessions open their own. */

typedef struct pdvm_device pdvm_device;

/* Compute limits as the driver reports them (or the GLES 3.1 minimums under
 * PDVM_LIMITS=minimum). GL enum names in brackets. */
typedef struct pdvm_device_limits {
    int32_t max_ssbo_bindings;   /* GL_MAX_COMPUTE_SHADER_STORAGE_BLOCKS */
    int32_t max_invocations;     /* GL_MAX_COMPUTE_WORK_GROUP_INVOCATIONS */
    int32_t max_shared_bytes;    /* GL_MAX_COMPUTE_SHARED_MEMORY_SIZE */
    int32_t max_wg_size[3];      /* GL_MAX_COMPUTE_WORK_GROUP_SIZE */
    int32_t max_wg_count[3];     /* GL_MAX_COMPUTE_WORK_GROUP_COUNT */
    int64_t max_ssbo_bytes;      /* GL_MAX_SHADER_STORAGE_BLOCK_SIZE, lowered by
                                  * PDVM_MAX_SSBO_BYTES when set */
    int32_t ssbo_align;          /* GL_SHADER_STORAGE_BUFFER_OFFSET_ALIGNMENT */
    bool subgroup;               /* GL_KHR_shader_subgroup with compute arithmetic */
    uint32_t subgroup_size;
    uint32_t subgroup_features;  /* GL_SUBGROUP_SUPPORTED_FEATURES_KHR bits */
    bool timer_query;            /* GL_EXT_disjoint_timer_query */
    bool minimum;                /* PDVM_LIMITS=minimum in force */
} pdvm_device_limits;

/* What the platform, EGL and GL report. */
typedef struct pdvm_device_info {
    char platform[16];          /* "gbm", "device", "surfaceless" */
    char platform_report[1024]; /* why the platforms before it were not chosen */
    char device[128];           /* "/dev/dri/renderD128", "EGL device 0 (/dev/dri/card1)",
                                 * "default display" */
    char egl_vendor[64], egl_version[64];
    char gl_version[128], gl_vendor[64], renderer[128], glsl_version[128];
    char mesa_driver[32];       /* the Mesa driver that runs the shaders, as GALLIUM_DRIVER
                                 * and MESA_LOADER_DRIVER_OVERRIDE name it ("llvmpipe",
                                 * "zink", "v3d", "panfrost", "msm" for Freedreno,
                                 * "iris", ...); "" when the driver is not Mesa's */
    char dri_driver[32];        /* the DRI driver Mesa's EGL loaded (EGL_MESA_query_driver):
                                 * "swrast" or "kms_swrast" when a software rasterizer
                                 * hosts mesa_driver; "" when not Mesa */
    int32_t n_binary_formats;   /* GL_NUM_PROGRAM_BINARY_FORMATS */
    int32_t binary_formats[8];  /* the first of GL_PROGRAM_BINARY_FORMATS */
    bool debug_output;          /* GL_KHR_debug messages are collected */
    char timing[128];           /* how GPU time is measured, and why */
    char cache_dir[256];        /* program-binary cache; "" when off */
    pdvm_device_limits limits;
} pdvm_device_info;

/* Open a context on `platform` ("gbm", "device", "surfaceless"; NULL or ""
 * tries them in that order, honouring $PDVM_PLATFORM).
 * Errors: PDVM_ERR_NO_PLATFORM listing every platform tried and why it
 * failed; PDVM_ERR_INVALID_ARG (unknown platform name, a malformed
 * PDVM_LIMITS or PDVM_MAX_SSBO_BYTES, with the accepted values);
 * PDVM_ERR_NOMEM. */
PDVM_API pdvm_status pdvm_device_open(const char *platform, pdvm_device **out);
/* Destroy the context. NULL is accepted. */
PDVM_API void pdvm_device_close(pdvm_device *d);
/* Valid until pdvm_device_close. */
PDVM_API const pdvm_device_info *pdvm_device_get_info(const pdvm_device *d);
/* The driver's i-th OpenGL ES extension name (glGetStringi(GL_EXTENSIONS,
 * i)), or NULL when i is past the last or d is NULL. Makes d's context
 * current on the calling thread; the string is the driver's, valid until
 * pdvm_device_close. */
PDVM_API const char *pdvm_device_extension(pdvm_device *d, size_t i);
/* SSBO read bandwidth in GB/s (1e9 B/s) over a buffer of `bytes` (at least
 * 4096, clamped to max_ssbo_bytes): the best of several read kernels and
 * runs. Errors: PDVM_ERR_INVALID_ARG (bytes < 4096), PDVM_ERR_GPU,
 * PDVM_ERR_NOMEM. */
PDVM_API pdvm_status pdvm_device_measure_bandwidth(pdvm_device *d, uint64_t bytes, double *gbps);
/* Microseconds of one tiny dispatch that depends on the previous one.
 * Errors: PDVM_ERR_GPU. */
PDVM_API pdvm_status pdvm_device_measure_latency(pdvm_device *d, double *us);

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
PDVM_API const char *pdvm_model_chat_template(const pdvm_model *model);

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
PDVM_API pdvm_status pdvm_chat_apply_template(const char *tmpl, const pdvm_chat_message *msgs,
                                              size_t n_msgs, bool add_assistant, char *buf,
                                              size_t cap, size_t *len);

/* The llama.cpp name of the format tmpl is recognised as ("chatml",
 * "llama3", ...; a static string), or NULL when tmpl is NULL or not
 * recognised. Different names can format identically (granite-4.0 and
 * granite-4.1). One format llama.cpp detects has no llama.cpp name: it is
 * reported as "dots1" (dots.llm1), which, as in llama.cpp, is not accepted
 * as a name. */
PDVM_API const char *pdvm_chat_template_name(const char *tmpl);

/* ---------------------------------------------------------------- session */

typedef enum pdvm_backend {
    PDVM_BACKEND_GPU = 0, /* fused GLES compute chain (default) */
    PDVM_BACKEND_CPU = 1, /* the float32 reference forward pass */
} pdvm_backend;

/* Progress of a long step of session creation: stage is "uploading
 * weights" (done/total in bytes) or "compiling shaders" (in programs).
 * Called on the creating thread, at most a few hundred times a stage. */
typedef void (*pdvm_progress_fn)(const char *stage, uint64_t done, uint64_t total, void *user);

typedef struct pdvm_session_params {
    uint32_t n_ctx;          /* KV cache length in positions (at most 1 << 20),
                              * of each sequence; 0: min(n_ctx_train, 4096),
                              * 4096 when the model does not say */
    uint32_t n_seq;          /* independent sequences (a server's slots), each
                              * with its own n_ctx positions of KV cache, so
                              * the cache costs n_seq times one sequence's;
                              * 0 means 1; at most 256 */
    pdvm_backend backend;
    bool unfused;            /* GPU: one operation per dispatch (baseline/debug) */
    const char *platform;    /* GPU: "gbm", "device", "surfaceless" or NULL for auto
                              * (then PDVM_PLATFORM is honoured) */
    bool verbose;            /* allocation report and the dispatch plan on stderr */
    pdvm_progress_fn progress; /* NULL: none */
    void *progress_user;
} pdvm_session_params;

/* Defaults: n_ctx 0, n_seq 1, GPU backend, fused, auto platform, quiet, no
 * progress. */
PDVM_API pdvm_session_params pdvm_session_default_params(void);

/* A session holds one model's weights on one backend and a KV cache of
 * n_seq independent sequences, each with positions 0..n_ctx-1: several
 * conversations (a server's slots) share the weights and, on the GPU, one
 * context. A token attends only to the earlier tokens of its own sequence.
 * Threads: a session is used from one thread at a time (a GPU session from
 * the thread that created it: its GL context is bound to that thread); the
 * calls below are not safe to make on one session from two threads at once. */
typedef struct pdvm_session pdvm_session;

/* Create an inference session (KV cache for n_seq x n_ctx positions, on
 * the chosen backend). The model must outlive the session. A GPU session opens its own
 * EGL context, uploads the weights, plans every dispatch of the chain and
 * builds its programs (from the program-binary cache when it can). Before
 * allocating anything it adds up its weights, KV cache and scratch and
 * compares them with what the system can give: the free video memory a
 * discrete GPU reports (GL_NVX_gpu_memory_info, GL_ATI_meminfo), else
 * MemAvailable of /proc/meminfo (GPUs that share the RAM, llvmpipe), or
 * PDVM_MEM_AVAILABLE_MIB when set (0: no check).
 * Errors: PDVM_ERR_INVALID_ARG (NULL model or out, n_ctx over 1 << 20,
 * n_seq over 256, an unknown backend, a malformed tuning variable such as PDVM_MV_WG or
 * PDVM_MEM_AVAILABLE_MIB), PDVM_ERR_NO_PLATFORM, PDVM_ERR_GPU,
 * PDVM_ERR_NOMEM (also: a GPU session that does not fit, refused before
 * allocating, the message giving what it needs, what is available and the
 * n_ctx that would fit), PDVM_ERR_IO (a CPU session on a model opened
 * without mmap reads its weights in), PDVM_ERR_UNSUPPORTED (a weight type
 * or shape the backend has no kernel for, named). */
PDVM_API pdvm_status pdvm_session_create(pdvm_model *model, const pdvm_session_params *params,
                                         pdvm_session **out);
/* Free the session, its KV cache and (GPU) its context and buffers. NULL is
 * accepted. */
PDVM_API void pdvm_session_free(pdvm_session *s);

/* A batch of tokens for pdvm_session_decode (llama.cpp's llama_batch with
 * one sequence per token). The arrays belong to the caller and are read
 * only during the call. */
typedef struct pdvm_batch {
    const int32_t *tokens;   /* [n] token ids */
    const uint32_t *seq;     /* [n] the sequence of each token (< n_seq);
                              * NULL: every token is sequence 0's */
    const bool *logits;      /* [n] true: keep this token's logits; NULL: keep
                              * those of the last token of each sequence
                              * present in the batch */
    size_t n;
} pdvm_batch;

/* Append each token of the batch to its sequence at that sequence's next
 * position and compute the logits asked for. The tokens of one sequence
 * keep their batch order (a token sees the ones before it in the batch);
 * tokens of different sequences may interleave in any way and never see
 * each other. Today every backend runs the tokens one at a time; the
 * result does not depend on how a batch is split or interleaved (on the
 * CPU bit for bit).
 * Nothing is computed and nothing changes (positions, the logits of the
 * previous call) when the batch is refused:
 * PDVM_ERR_INVALID_ARG (s, b or b->tokens NULL, n 0, an id outside the
 * vocabulary or a seq >= n_seq: the message names the batch index),
 * PDVM_ERR_CONTEXT_FULL (a sequence would pass n_ctx: the message names the
 * sequence, its position and its token count; the other sequences are
 * untouched). PDVM_ERR_GPU: the positions stay where they were, but the
 * cache entries past them and the logits are undefined (feed again or
 * reset). */
PDVM_API pdvm_status pdvm_session_decode(pdvm_session *s, const pdvm_batch *b);

/* The logits (n_vocab floats) of token i of the last successful
 * pdvm_session_decode or pdvm_session_eval, or NULL when that token's were
 * not kept, i is past the batch, or s is NULL. Owned by the session; valid
 * until the next decode or eval on it. */
PDVM_API const float *pdvm_session_logits(const pdvm_session *s, size_t i);

/* Feed n tokens to sequence 0 and compute the logits of the last one
 * (pdvm_session_decode of one sequence). *logits points to n_vocab floats
 * owned by the session, valid until the next decode or eval. Errors:
 * PDVM_ERR_CONTEXT_FULL when pos + n > n_ctx (nothing is computed),
 * PDVM_ERR_INVALID_ARG for an id outside the vocabulary or NULL arguments,
 * PDVM_ERR_GPU. */
PDVM_API pdvm_status pdvm_session_eval(pdvm_session *s, const int32_t *tokens, size_t n,
                                       const float **logits);

/* Positions filled in sequence seq's KV cache (its next position); 0 for
 * a NULL session or seq >= n_seq. */
PDVM_API uint32_t pdvm_session_seq_pos(const pdvm_session *s, uint32_t seq);
/* Keep positions [0, pos) of sequence seq and forget the rest (a server
 * keeps the common prefix of a slot's next prompt: llama-server's prompt
 * cache); the next token of seq goes to position pos. pos == the current
 * position changes nothing; pos 0 always succeeds. The CPU backend keeps
 * every position and always succeeds. The GPU backend keeps a
 * sliding-window layer (Gemma 2/3) as a ring of n_swa positions per
 * sequence, in which a position is overwritten by the one n_swa later: it
 * succeeds when the sequence never got past n_swa positions, when pos >=
 * (current position - 1), or when the model has no such layer (or n_ctx
 * <= n_swa); otherwise the window the next token needs is gone:
 * PDVM_ERR_UNSUPPORTED and nothing changes (reset the sequence with pos 0
 * and feed the prefix again). Errors: PDVM_ERR_INVALID_ARG (NULL session,
 * seq >= n_seq, pos past the current position). */
PDVM_API pdvm_status pdvm_session_seq_truncate(pdvm_session *s, uint32_t seq, uint32_t pos);

/* Sequence 0's position (pdvm_session_seq_pos(s, 0)). */
PDVM_API uint32_t pdvm_session_pos(const pdvm_session *s);
/* KV cache length of each sequence of this session. */
PDVM_API uint32_t pdvm_session_n_ctx(const pdvm_session *s);
/* Number of sequences (n_seq resolved: at least 1); 0 for NULL. */
PDVM_API uint32_t pdvm_session_n_seq(const pdvm_session *s);
/* Forget everything: every sequence's position back to 0. */
PDVM_API void pdvm_session_reset(pdvm_session *s);

/* Counters since the session was created, over every sequence. A decode
 * (or eval) call counts as prefill when some sequence gets more than one
 * token in it, else as decode: a server that advances all its busy slots
 * by one token a call sees its generation speed in decode_tokens /
 * decode_s, and a call that also carries a prompt counts, whole, as
 * prefill (time cannot be split between the tokens of one call). The
 * tokens a server generated are its own count. Times are wall-clock
 * seconds of the calling thread inside pdvm_session_decode/eval (the
 * logits read back included); cpu_s is that thread's CPU time there (the
 * driver's command submission and the engine's own work; a CPU renderer's
 * worker threads not included). */
typedef struct pdvm_session_stats {
    uint64_t dispatches;      /* compute dispatches issued, counted by the runtime */
    uint64_t tokens;          /* tokens evaluated */
    uint64_t prefill_tokens, decode_tokens;
    uint64_t prefill_dispatches, decode_dispatches;
    double prefill_s, decode_s;
    double prefill_cpu_s, decode_cpu_s;
    double weight_mib, kv_mib, scratch_mib; /* GPU memory allocated */
    char device[128];         /* GL renderer, or "cpu" */
    char platform[32];        /* EGL platform, or "" */
} pdvm_session_stats;
/* Fill *out (zeros for a NULL session). */
PDVM_API void pdvm_session_get_stats(const pdvm_session *s, pdvm_session_stats *out);

/* Per-dispatch GPU time, by step name ("norm+matvec+swiglu", "attn", ...):
 * timer queries where the driver has GL_EXT_disjoint_timer_query, else
 * glFinish around each dispatch. Profiling serialises the chain: use it to
 * see where time goes, not to measure throughput. */
typedef struct pdvm_profile_entry {
    char name[48];
    uint64_t calls;
    double total_us;
} pdvm_profile_entry;
/* Turn profiling on (sums start from zero) or off. Errors:
 * PDVM_ERR_INVALID_ARG (NULL, or a CPU session). */
PDVM_API pdvm_status pdvm_session_set_profile(pdvm_session *s, bool on);
/* Copy the sums since profiling went on into out (largest total first);
 * returns the number written (at most cap). */
PDVM_API size_t pdvm_session_get_profile(pdvm_session *s, pdvm_profile_entry *out, size_t cap);

/* ---------------------------------------------------------------- sampler */

/* Sampling parameters and order follow llama.cpp's default chain:
 * repetition penalty (over the last repeat_last_n tokens, CTRL-style:
 * positive logits divided, negative multiplied, once per distinct token)
 * -> top-k -> top-p -> min-p -> temperature -> draw from the softmax.
 * top-p and min-p judge probabilities at temperature 1 (as llama.cpp);
 * temperature only shapes the final draw. temp <= 0 means greedy: argmax
 * (lowest id on ties) after the repetition penalty, i.e. of the raw logits
 * with the default penalty 1.0. The RNG is xoshiro256** seeded by
 * splitmix64(seed): the same seed gives the same text on every machine.
 * Sources: Keskar et al. 2019 (CTRL penalty), Fan et al. 2018 (top-k),
 * Holtzman et al. 2020 (top-p), Nguyen et al. 2024 (min-p). */
typedef struct pdvm_sampler_params {
    float temp;            /* default 0.8 */
    int32_t top_k;         /* default 40; <= 0 disables */
    float top_p;           /* default 0.95; >= 1 disables */
    float min_p;           /* default 0.05; <= 0 disables */
    float repeat_penalty;  /* default 1.0 (disabled) */
    int32_t repeat_last_n; /* default 64 */
    uint64_t seed;         /* default 0xFFFFFFFF: same seed, same text */
} pdvm_sampler_params;

PDVM_API pdvm_sampler_params pdvm_sampler_default_params(void);

typedef struct pdvm_sampler pdvm_sampler;
/* A sampler over n_vocab logits (1..1<<24) with its own RNG and penalty
 * history. Errors: PDVM_ERR_INVALID_ARG (NULL, n_vocab out of range, a NaN
 * temperature, top_p or min_p, repeat_penalty not in (0, inf),
 * repeat_last_n outside 0..1<<20), PDVM_ERR_NOMEM. */
PDVM_API pdvm_status pdvm_sampler_create(const pdvm_sampler_params *p, uint32_t n_vocab,
                                         pdvm_sampler **out);
/* Pick the next token from n_vocab logits (not modified). */
PDVM_API int32_t pdvm_sampler_sample(pdvm_sampler *s, const float *logits);
/* Record a token (prompt or generated) for the repetition penalty. */
PDVM_API void pdvm_sampler_accept(pdvm_sampler *s, int32_t token);
/* Free a sampler. NULL is accepted. */
PDVM_API void pdvm_sampler_free(pdvm_sampler *s);

#ifdef __cplusplus
}
#endif
#endif /* PDVM_H */

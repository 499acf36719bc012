/* The model behind pdvm_model: hyperparameters from {arch}.* keys, the
 * architecture's math (activation, scales, soft-caps, sliding windows,
 * RoPE scaling), the tensors of each decoder layer (shape-checked,
 * pointing into the GGUF map; fused tensors bound as row views) and the
 * tokenizer. model.c binds an architecture from its table row; everything
 * downstream (reference, GPU plan, upload, synthetic models) walks the
 * layer slots below instead of naming tensors. */
#ifndef PDVM_MODEL_H
#define PDVM_MODEL_H

#include <stdbool.h>
#include <stddef.h>

#include "gguf.h"
#include "pdvm.h"

struct pdvm_tokenizer;

/* llama.cpp's LLAMA_MAX_LAYERS. */
#define PDVM_MAX_LAYERS 512

/* A bound weight: y = W x has x of length ne[0] (n_in) and y of length
 * ne[1] (n_out); row r (ne[0] elements in the block format of `type`)
 * starts at data + r * row_bytes. A 1-D tensor (norm, bias) has ne[1] 1.
 * name is NULL for a slot the file does not fill (optional tensors). A row
 * view of a fused tensor (attn_qkv, phi3's ffn_up) carries the fused
 * tensor's name and row0, its first row there. */
typedef struct pdvm_tensor {
    const char *name;   /* NUL-terminated copy (llama.cpp name) */
    uint32_t type;      /* enum pdvm_type */
    int64_t ne[2];      /* n_in, n_out (1-D tensors: ne[1] == 1) */
    uint64_t row_bytes;
    uint64_t nbytes;
    const void *data;   /* inside the GGUF map; NULL for synthetic models */
    uint32_t row0;      /* views: first row within the named tensor */
} pdvm_tensor;

static inline bool pdvm_tensor_present(const pdvm_tensor *t) { return t->name != NULL; }

/* The tensors of one decoder layer, by llama.cpp's names after "blk.N.";
 * t[] and the named fields are the same storage (walk t[] to visit all). */
typedef enum pdvm_layer_slot {
    PDVM_LT_ATTN_NORM = 0,
    PDVM_LT_ATTN_Q,
    PDVM_LT_ATTN_K,
    PDVM_LT_ATTN_V,
    PDVM_LT_ATTN_Q_B,
    PDVM_LT_ATTN_K_B,
    PDVM_LT_ATTN_V_B,
    PDVM_LT_ATTN_Q_NORM,
    PDVM_LT_ATTN_K_NORM,
    PDVM_LT_ATTN_OUTPUT,
    PDVM_LT_ATTN_POST_NORM,
    PDVM_LT_FFN_NORM,
    PDVM_LT_FFN_GATE,
    PDVM_LT_FFN_UP,
    PDVM_LT_FFN_DOWN,
    PDVM_LT_FFN_POST_NORM,
    PDVM_LT_COUNT
} pdvm_layer_slot;

typedef union pdvm_layer {
    struct {
        pdvm_tensor attn_norm;      /* [n_embd] */
        pdvm_tensor attn_q;         /* [n_embd, n_head * head_dim] */
        pdvm_tensor attn_k;         /* [n_embd, n_head_kv * head_dim] */
        pdvm_tensor attn_v;         /* [n_embd, n_head_kv * head_dim] */
        pdvm_tensor attn_q_b;       /* [n_head * head_dim] (optional) */
        pdvm_tensor attn_k_b;       /* [n_head_kv * head_dim] (optional) */
        pdvm_tensor attn_v_b;       /* [n_head_kv * head_dim] (optional) */
        pdvm_tensor attn_q_norm;    /* [head_dim] (optional) */
        pdvm_tensor attn_k_norm;    /* [head_dim] (optional) */
        pdvm_tensor attn_output;    /* [n_head * head_dim, n_embd] */
        pdvm_tensor attn_post_norm; /* [n_embd] (optional) */
        pdvm_tensor ffn_norm;       /* [n_embd] */
        pdvm_tensor ffn_gate;       /* [n_embd, n_ff] */
        pdvm_tensor ffn_up;         /* [n_embd, n_ff] */
        pdvm_tensor ffn_down;       /* [n_ff, n_embd] */
        pdvm_tensor ffn_post_norm;  /* [n_embd] (optional) */
    };
    pdvm_tensor t[PDVM_LT_COUNT];
} pdvm_layer;

/* llama.cpp's name of a slot ("attn_q", "attn_q.bias" for a bias slot is
 * "attn_q" with suffix "bias"). */
const char *pdvm_layer_slot_name(pdvm_layer_slot s);
const char *pdvm_layer_slot_suffix(pdvm_layer_slot s); /* "weight" or "bias" */
/* The slot's ne[0], ne[1] for these hyperparameters (1-D: ne[1] == 1). */
void pdvm_layer_slot_shape(pdvm_layer_slot s, const pdvm_hparams *hp, int64_t ne[2]);

typedef enum pdvm_act {
    PDVM_ACT_SILU = 0,      /* SwiGLU (Shazeer 2020): silu(gate) * up */
    PDVM_ACT_GELU_TANH = 1, /* GeGLU with the tanh approximation of GELU
                             * (Hendrycks & Gimpel 2016): gelu(gate) * up */
} pdvm_act;

/* The architecture's math beyond pdvm_hparams, as llama.cpp computes it. */
typedef struct pdvm_arch_params {
    pdvm_act act;
    float embd_scale;        /* the embedding row times this (gemma: sqrt(n_embd)) */
    float attn_scale;        /* score = softcap(attn_scale * q.k) */
    float attn_softcap;      /* tanh soft-cap of scores, 0: off (gemma2) */
    float final_softcap;     /* tanh soft-cap of the logits, 0: off (gemma2/3) */
    float rope_freq_scale;   /* linear RoPE scaling: 1 / rope.scaling.factor */
    float rope_attn_factor;  /* rope.scaling.attn_factor: cos/sin scaled (LongRoPE) */
    float rope_freq_base_swa, rope_freq_scale_swa; /* sliding-window layers */
    uint32_t n_ctx_orig;     /* rope.scaling.original_context_length */
    bool swa[PDVM_MAX_LAYERS]; /* layer attends to a window of hp.n_swa positions */
} pdvm_arch_params;

struct pdvm_model {
    pdvm_gguf *gguf;
    pdvm_hparams hp;
    pdvm_arch_params ap;
    pdvm_tensor tok_embd;    /* [n_embd, n_vocab] */
    pdvm_tensor output_norm; /* [n_embd] */
    pdvm_tensor output;      /* [n_embd, n_vocab]; == tok_embd when tied */
    pdvm_tensor rope_freqs;  /* [n_rot / 2] RoPE frequency divisors (Llama 3.1+), optional */
    pdvm_tensor rope_long, rope_short; /* [n_rot / 2] LongRoPE factors (phi3), optional */
    pdvm_layer *layers;      /* n_layer of them */
    struct pdvm_tokenizer *tok;
    uint64_t n_params;
    char *chat_template;     /* tokenizer.chat_template copy; NULL when absent */
};

/* The RoPE frequency divisors a session with a context of n_ctx positions
 * uses (llama.cpp's get_rope_factors: rope_freqs, else long when n_ctx
 * exceeds n_ctx_orig, else short); NULL when none. */
const pdvm_tensor *pdvm_model_rope_factors(const pdvm_model *m, uint32_t n_ctx);

/* Bind hyperparameters and tensors of an already opened GGUF (the model
 * takes ownership of g on success only). Does not load the tokenizer.
 * Errors: PDVM_ERR_UNSUPPORTED (architecture, tensor type, a tensor the
 * architecture does not use), PDVM_ERR_FORMAT (missing key without a
 * llama.cpp default, missing tensor, wrong shape: the message names the
 * tensor and both shapes). */
pdvm_status pdvm_model_bind(pdvm_gguf *g, pdvm_model *out);
void pdvm_model_unbind(pdvm_model *m);

/* pdvm_model_open over an already opened GGUF (bind + tokenizer), for
 * callers that open from memory (tests, fuzzing). Takes ownership of g on
 * success only; free with pdvm_model_close. */
pdvm_status pdvm_model_open_gguf(pdvm_gguf *g, pdvm_model **out);

#endif

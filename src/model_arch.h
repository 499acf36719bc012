/* The architecture table: one row per GGUF general.architecture, saying
 * which tensors a layer has (and which are optional), which are fused and
 * bound as row views, the RoPE layout, the activation and the rest of the
 * math, as llama.cpp's src/models/<arch>.cpp computes it. The binder
 * (model.c), the hyperparameters (model_hparams.c) and, through the bound
 * model, everything downstream follow the row. */
#ifndef PDVM_MODEL_ARCH_H
#define PDVM_MODEL_ARCH_H

#include <stdbool.h>
#include <stdint.h>

#include "model.h"

/* What a row says of a layer slot. */
enum { ARCH_NONE = 0, ARCH_OPTIONAL = 1, ARCH_REQUIRED = 2 };

typedef struct pdvm_arch {
    const char *name;          /* general.architecture and key prefix */
    pdvm_rope_type rope_type;
    bool n_rot_is_head_dim;    /* llama.cpp rejects another n_rot (llama) */
    uint8_t need[PDVM_LT_COUNT];
    bool ffn_up_fused;         /* ffn_up holds the gate rows then the up rows (phi3) */
    bool output_tied;          /* output is token_embd, always (gemma2) */
    pdvm_act act;
    bool embd_scale;           /* embeddings times sqrt(n_embd) (gemma) */
    bool attn_scale_key;       /* {arch}.attention.scale overrides 1/sqrt(head_dim) (llama) */
    uint32_t big_n_layer;      /* gemma: at this depth (27B) the query scale is
                                * 1/sqrt(n_embd/n_head), not 1/sqrt(head_dim); 0: none */
    float attn_softcap;        /* default; 0: none, else {arch}.attn_logit_softcapping
                                * overrides it */
    float final_softcap;       /* default (0: none) */
    bool softcap_keys;         /* {arch}.final_logit_softcapping is read */
    uint32_t swa_pattern;      /* default sliding-window pattern: layer il is a
                                * window layer when il % p < p - 1; 0: no windows */
    uint32_t n_swa;            /* default window (gemma2: 4096); 0: only from the key */
    bool swa_base_is_base;     /* window layers' RoPE base defaults to the model's (gemma2) */
} pdvm_arch;

/* The row for an architecture name; NULL when pdvm does not run it. */
const pdvm_arch *pdvm_arch_find(gguf_str name);
/* "llama, qwen2, qwen3, phi3, gemma2, gemma3" for messages. */
const char *pdvm_arch_names(void);

#endif

/* Hyperparameters of an architecture from its {arch}.* GGUF keys
 * (internal to model.c / model_hparams.c, and the synthetic models of the
 * bench, which take the same defaults without a file). */
#ifndef PDVM_MODEL_HPARAMS_H
#define PDVM_MODEL_HPARAMS_H

#include <stdbool.h>

#include "gguf.h"
#include "model.h"
#include "model_arch.h"
#include "pdvm.h"

/* Tensor dimensions a binding can ask for, resolved from pdvm_hparams. */
typedef enum pdvm_dim {
    PDVM_DIM_ONE,
    PDVM_DIM_EMBD,
    PDVM_DIM_Q,       /* n_head * head_dim */
    PDVM_DIM_KV,      /* n_head_kv * head_dim */
    PDVM_DIM_FF,
    PDVM_DIM_FF2,     /* 2 * n_ff: phi3's fused ffn_up */
    PDVM_DIM_VOCAB,
    PDVM_DIM_HEAD,    /* head_dim: Q/K norms */
    PDVM_DIM_ROT2,    /* n_rot / 2: RoPE factors */
} pdvm_dim;

/* Fill every field of hp and ap except hp->arch and hp->rope_type (set by
 * the caller from the row), with llama.cpp's defaults where it has one.
 * Errors: PDVM_ERR_FORMAT naming the key, PDVM_ERR_UNSUPPORTED (a RoPE
 * scaling type, per-layer values that differ, value_length != key_length). */
pdvm_status pdvm_bind_hparams(const pdvm_gguf *g, const pdvm_arch *row, pdvm_hparams *hp,
                              pdvm_arch_params *ap);

/* The row's activation, embedding scale, query scale and soft-caps for
 * these hyperparameters, before any key overrides them. */
void pdvm_arch_math_defaults(const pdvm_arch *row, const pdvm_hparams *hp, pdvm_arch_params *ap);

/* llama.cpp's sliding-window period: layer l of n_layer attends to a
 * window when l % pattern < pattern - 1 (pattern 0: every layer). */
void pdvm_arch_swa_layers(uint32_t pattern, uint32_t n_layer, pdvm_arch_params *ap);

#endif

/* Hyperparameters of an architecture from its {arch}.* GGUF keys
 * (internal to model.c / model_hparams.c). */
#ifndef PDVM_MODEL_HPARAMS_H
#define PDVM_MODEL_HPARAMS_H

#include <stdbool.h>

#include "gguf.h"
#include "pdvm.h"

/* Tensor dimensions a binding can ask for, resolved from pdvm_hparams. */
typedef enum pdvm_dim {
    PDVM_DIM_ONE,
    PDVM_DIM_EMBD,
    PDVM_DIM_Q,     /* n_head * head_dim */
    PDVM_DIM_KV,    /* n_head_kv * head_dim */
    PDVM_DIM_FF,
    PDVM_DIM_VOCAB,
} pdvm_dim;

/* llama.cpp's LLAMA_MAX_LAYERS. */
#define PDVM_MAX_LAYERS 512

/* Fill every field of hp except arch and rope_type (set by the caller from
 * the architecture row). n_rot_is_head_dim: llama.cpp rejects an n_rot
 * other than head_dim for this architecture. */
pdvm_status pdvm_bind_hparams(const pdvm_gguf *g, bool n_rot_is_head_dim, pdvm_hparams *hp);

#endif

/* The model behind pdvm_model: hyperparameters from {arch}.* keys, the
 * tensors of each decoder layer (shape-checked, pointing into the GGUF map)
 * and the tokenizer. model.c binds an architecture from its table row. */
#ifndef PDVM_MODEL_H
#define PDVM_MODEL_H

#include "gguf.h"
#include "pdvm.h"

struct pdvm_tokenizer;

/* A bound weight: y = W x has x of length ne[0] (n_in) and y of length
 * ne[1] (n_out); row r (ne[0] elements in the block format of `type`)
 * starts at data + r * row_bytes. */
typedef struct pdvm_tensor {
    const char *name;   /* NUL-terminated copy (llama.cpp name) */
    uint32_t type;      /* enum pdvm_type */
    int64_t ne[2];      /* n_in, n_out (1-D tensors: ne[1] == 1) */
    uint64_t row_bytes;
    uint64_t nbytes;
    const void *data;   /* inside the GGUF map */
} pdvm_tensor;

typedef struct pdvm_layer {
    pdvm_tensor attn_norm;  /* [n_embd] */
    pdvm_tensor attn_q;      /* [n_embd, n_head * head_dim] */
    pdvm_tensor attn_k;      /* [n_embd, n_head_kv * head_dim] */
    pdvm_tensor attn_v;      /* [n_embd, n_head_kv * head_dim] */
    pdvm_tensor attn_output; /* [n_head * head_dim, n_embd] */
    pdvm_tensor ffn_norm;    /* [n_embd] */
    pdvm_tensor ffn_gate;    /* [n_embd, n_ff] */
    pdvm_tensor ffn_up;      /* [n_embd, n_ff] */
    pdvm_tensor ffn_down;    /* [n_ff, n_embd] */
} pdvm_layer;

struct pdvm_model {
    pdvm_gguf *gguf;
    pdvm_hparams hp;
    pdvm_tensor tok_embd;    /* [n_embd, n_vocab] */
    pdvm_tensor output_norm; /* [n_embd] */
    pdvm_tensor output;      /* [n_embd, n_vocab]; == tok_embd when tied */
    pdvm_layer *layers;      /* n_layer of them */
    struct pdvm_tokenizer *tok;
    uint64_t n_params;
    char *chat_template;     /* tokenizer.chat_template, NUL-terminated; NULL if absent */
};

/* Bind hyperparameters and tensors of an already opened GGUF (the model
 * takes ownership of g on success only). Does not load the tokenizer.
 * Errors: PDVM_ERR_UNSUPPORTED (architecture, tensor type), PDVM_ERR_FORMAT
 * (missing key without a llama.cpp default, missing tensor, wrong shape:
 * the message names the tensor and both shapes). */
pdvm_status pdvm_model_bind(pdvm_gguf *g, pdvm_model *out);
void pdvm_model_unbind(pdvm_model *m);

/* pdvm_model_open over an already opened GGUF (bind + tokenizer), for
 * callers that open from memory (tests, fuzzing). Takes ownership of g on
 * success only; free with pdvm_model_close. */
pdvm_status pdvm_model_open_gguf(pdvm_gguf *g, pdvm_model **out);

#endif

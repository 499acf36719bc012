/* The rows of the architecture table (see model_arch.h). Mistral, SmolLM
 * and Llama 3.x files declare "llama"; Qwen2.5 "qwen2"; Phi-3, Phi-3.5,
 * Phi-4 and Phi-4-mini "phi3". */
#include <string.h>

#include "model_arch.h"

#define R ARCH_REQUIRED
#define O ARCH_OPTIONAL

/* Slots, in pdvm_layer_slot order:
 *  attn_norm q k v | q_b k_b v_b | q_norm k_norm | attn_output attn_post_norm |
 *  ffn_norm ffn_gate ffn_up ffn_down ffn_post_norm */
static const pdvm_arch archs[] = {
    {.name = "llama", .rope_type = PDVM_ROPE_NORM, .n_rot_is_head_dim = true,
     .need = {R, R, R, R, O, O, O, 0, 0, R, 0, R, R, R, R, 0},
     .act = PDVM_ACT_SILU, .attn_scale_key = true},
    {.name = "qwen2", .rope_type = PDVM_ROPE_NEOX,
     .need = {R, R, R, R, R, R, R, 0, 0, R, 0, R, R, R, R, 0},
     .act = PDVM_ACT_SILU},
    {.name = "qwen3", .rope_type = PDVM_ROPE_NEOX,
     .need = {R, R, R, R, O, O, O, R, R, R, 0, R, R, R, R, 0},
     .act = PDVM_ACT_SILU},
    {.name = "phi3", .rope_type = PDVM_ROPE_NEOX,
     .need = {R, R, R, R, O, O, O, 0, 0, R, 0, R, 0, R, R, 0},
     .ffn_up_fused = true, .act = PDVM_ACT_SILU},
    {.name = "gemma2", .rope_type = PDVM_ROPE_NEOX,
     .need = {R, R, R, R, O, O, O, 0, 0, R, R, R, R, R, R, R},
     .output_tied = true, .act = PDVM_ACT_GELU_TANH, .embd_scale = true, .big_n_layer = 46,
     .attn_softcap = 50.0f, .final_softcap = 30.0f, .softcap_keys = true, .swa_pattern = 2,
     .n_swa = 4096, .swa_base_is_base = true},
    {.name = "gemma3", .rope_type = PDVM_ROPE_NEOX,
     .need = {R, R, R, R, O, O, O, R, R, R, R, R, R, R, R, R},
     .act = PDVM_ACT_GELU_TANH, .embd_scale = true, .big_n_layer = 62, .softcap_keys = true,
     .swa_pattern = 6},
};

#undef R
#undef O

const pdvm_arch *pdvm_arch_find(gguf_str name)
{
    for (size_t i = 0; i < sizeof archs / sizeof archs[0]; i++)
        if (gguf_str_eq(name, archs[i].name)) return &archs[i];
    return NULL;
}

const char *pdvm_arch_names(void) { return "llama, qwen2, qwen3, phi3, gemma2, gemma3"; }

/* Small random-weight GGUF models of each supported architecture, with
 * the real vocabulary of the family (copied from ../shared/models/vocab),
 * written deterministically from a seed. The oracle program
 * (tests/golden/arch_oracle.c) runs llama.cpp on the very same files, so
 * its greedy ids and logits are committed and the tests regenerate the file
 * to compare. Test helper (linked into every test binary). */
#ifndef PDVM_TEST_ARCH_MODELS_H
#define PDVM_TEST_ARCH_MODELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct arch_spec {
    const char *name;   /* file stem: "qwen2" */
    const char *arch;   /* general.architecture */
    const char *vocab;  /* a file in the vocab folder: "ggml-vocab-qwen2.gguf" */
    uint32_t n_embd, n_layer, n_head, n_head_kv, head_dim, n_ff, n_ctx_train, n_rot;
    float rope_base, rms_eps;
    bool bias;          /* Q/K/V biases */
    bool qk_norm;       /* per-head Q/K RMSNorm */
    bool post_norms;    /* post_attention_norm, post_ffw_norm */
    bool fused_qkv;     /* attn_qkv */
    bool fused_up;      /* ffn_up holds gate and up */
    bool tied;          /* no output.weight */
    bool rope_freqs;    /* Llama 3.1 rope_freqs.weight */
    bool longrope;      /* rope_factors_long/short, attn factor, original context */
    uint32_t n_swa, swa_pattern; /* sliding window keys (0: not written) */
    float rope_base_swa, rope_scale; /* keys written when non-zero */
    float attn_softcap, final_softcap; /* keys written when non-zero */
    bool embd_f32;      /* token_embd in f32 whatever the weight type */
    uint32_t qkv_extra_rows; /* hostile files: attn_qkv rows beyond q + k + v */
} arch_spec;

/* The architectures the tests cover (one per family of the issue). */
size_t arch_spec_count(void);
const arch_spec *arch_spec_at(size_t i);
/* One of those by name, or one of three large shapes that are not among them
 * (too large to loop over): "tinyllama-1.1b", TinyLlama-1.1B's shape (n_embd
 * 2048, 22 layers, 32 heads, 4 KV heads, n_ff 5632, llama-spm vocabulary);
 * "llama-3-8b", Llama-3-8B's (n_embd 4096, 32 layers, 8 KV heads, n_ff
 * 14336, llama-bpe vocabulary);
 * "big-embd", a 637 MB file (at q4_0) that is mostly its f32 token
 * embedding (llama-spm vocabulary, n_embd 4096, one layer), of which a
 * token reads one row: a large upload that decodes fast on llvmpipe. NULL
 * when unknown. */
const arch_spec *arch_spec_find(const char *name);

/* Weight type names a spec is written in: "f32", "f16", "q8_0", "q4_0",
 * "q5_0", "q4_K", ...; K and IQ types fall back for rows whose length is
 * not a multiple of 256 (q5_0 for 4-bit types, q8_0 otherwise), as
 * llama.cpp's quantizer does. */
bool arch_type_from_name(const char *name, uint32_t *type);

/* Write the model to path: 2-D weights in `type` with random valid blocks
 * from seed, norms and biases f32. dequant_f32: write every weight as the
 * exact f32 values its blocks decode to instead (the file llama.cpp is run
 * on, so its activations stay f32 as pdvm's do). vocab_dir: folder of the
 * vocabulary files. Returns false (message on stderr) on failure. */
bool arch_model_write(const arch_spec *s, uint32_t type, uint64_t seed, bool dequant_f32,
                      const char *vocab_dir, const char *path);

#endif

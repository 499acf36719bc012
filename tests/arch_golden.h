/* The architecture goldens (tests/golden/arch/<spec>-<type>.tsv, written by
 * tests/golden/arch_oracle.c from llama.cpp): read one, regenerate its model
 * file, and compare a run's per-step logits with it. Test helper. */
#ifndef PDVM_TEST_ARCH_GOLDEN_H
#define PDVM_TEST_ARCH_GOLDEN_H

#include <stdbool.h>
#include <stdint.h>

#include "arch_models.h"

enum { GOLDEN_STEPS = 64, GOLDEN_TOP = 8 };

typedef struct arch_golden {
    const arch_spec *spec;
    char type_name[16];
    uint32_t type;
    uint64_t seed;
    uint32_t n_ctx;
    int32_t prompt[64];
    uint32_t n_prompt;
    char text[8192];            /* llama-cli's continuation, escaped as in the file */
    int until_eog;
    int32_t ids[GOLDEN_STEPS];
    int32_t top_id[GOLDEN_STEPS][GOLDEN_TOP];
    float top_logit[GOLDEN_STEPS][GOLDEN_TOP];
} arch_golden;

/* The (spec, type) pairs on record, in a fixed order; NULL past the end. */
const char *arch_golden_name(size_t i); /* "qwen2-q8_0" */

/* Read tests/golden/arch/<name>.tsv (fails the test when it cannot). */
void arch_golden_read(const char *name, arch_golden *g);

/* Write the golden's model (quantized as recorded, not the f32 twin) into
 * a file under dir; path receives it. Skips/fails like test_model_path when
 * the vocabulary folder is missing. */
void arch_golden_model(const arch_golden *g, const char *dir, char *path, size_t cap);

/* llama-cli's continuation as pdvm prints it: unescaped, and each
 * maximal ill-formed UTF-8 subsequence (llama.cpp prints a byte-level
 * token's raw bytes) as one U+FFFD. out needs 3 * sizeof g->text. */
void arch_golden_text(const arch_golden *g, char *out, size_t cap);

/* `pdvm run -m path -p "Once upon a time" -n 64 --temp 0 -c 256 --backend
 * backend` with env (see cli_opts) must print the prompt and the golden's
 * text (the golden's prompt is that one); fails the test otherwise. */
void arch_golden_expect_cli_text(const arch_golden *g, const char *path, const char *backend,
                                 const char *const *env);

/* Largest |ours - llama.cpp| over the recorded top logits of a step,
 * relative to the step's largest |logit|. */
double arch_golden_step_err(const arch_golden *g, int step, const float *logits);

#endif

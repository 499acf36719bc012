/* Greedy generation compared token for token with llama.cpp's outputs in
 * tests/golden (see its README for how they were produced). */
#ifndef PDVM_GOLDEN_CHECK_H
#define PDVM_GOLDEN_CHECK_H

#include "pdvm.h"

/* For every prompt line of tests/golden/<golden>.tsv: tokenize with the
 * model <model_file> (ids must equal the golden prompt ids), generate
 * greedily on `backend` as many tokens as the golden line has, and assert
 * the ids and the detokenized text are equal. Skips or fails per
 * PDVM_REQUIRE_MODELS when the model is missing. */
void golden_check(const char *model_file, const char *golden, pdvm_backend backend);

#endif

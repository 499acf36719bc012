/* What `pdvm bench` needs beyond the public API, in one documented internal
 * header (src/cli includes pdvm.h and this, nothing else of src/): synthetic
 * models (real shapes, no file), switching a GPU session between the fused
 * and unfused chains, decoding at a depth without filling the cache first,
 * and the bare mat-vec kernel timed. These functions are linked from
 * libpdvm.a; libpdvm.so does not export them. */
#ifndef PDVM_BENCH_H
#define PDVM_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pdvm.h"

/* ------------------------------------------------------ synthetic models */

/* The shapes known, by index (NULL past the end). */
size_t pdvm_synthetic_count(void);
const char *pdvm_synthetic_name(size_t i);

/* The named shape ("llama-3-8b", ...) with every 2-D weight in `type` (a
 * ggml type id, see pdvm_bench_parse_type) and F32 norms; its tensors have
 * no file data: a GPU session fills them with random valid blocks generated
 * on the GPU, so a benchmark times what a real model of that shape costs
 * (the CPU backend refuses them). Free with pdvm_synthetic_free.
 * Errors: PDVM_ERR_INVALID_ARG (unknown name, listing the known ones),
 * PDVM_ERR_UNSUPPORTED (type), PDVM_ERR_NOMEM. */
pdvm_status pdvm_synthetic_model(const char *name, uint32_t type, pdvm_model **out);
void pdvm_synthetic_free(pdvm_model *m);

/* Write the named shape as a GGUF file at path that pdvm and llama.cpp
 * both load: the tensors of pdvm_synthetic_model (phi3's Q/K/V and
 * gate/up fused as its files have them), 2-D weights in `type` as random
 * blocks whose f16 scales give each matrix an RMS of about 1/sqrt(n_in)
 * (there are no CPU quantizers: quants are random bytes), norms near 1,
 * biases small, and a generated SentencePiece vocabulary of n_vocab
 * tokens (<unk>, <s>, </s>, 256 byte tokens, letter pieces). Deterministic
 * in seed. *data_bytes: the size of the tensor data. Errors:
 * PDVM_ERR_INVALID_ARG (unknown name), PDVM_ERR_UNSUPPORTED (type),
 * PDVM_ERR_IO (the partial file is removed), PDVM_ERR_NOMEM. */
pdvm_status pdvm_synthetic_write_gguf(const char *name, uint32_t type, uint64_t seed,
                                      const char *path, uint64_t *data_bytes);

/* Bytes of all weights one decode step reads: every layer matrix and norm,
 * the output matrix and norm, one embedding row. */
uint64_t pdvm_bench_weight_bytes_per_token(const pdvm_model *m);
/* Name of the weight type holding most of the layer matrices ("q4_0"). */
const char *pdvm_bench_model_type(const pdvm_model *m);
/* A weight type by its ggml name in any case, as `--type` takes it
 * ("q4_0", "q4_K" or "q4_k", "f16", ...); false for a type the GPU cannot
 * run. pdvm_bench_type_names writes the accepted names, ", "-separated,
 * into buf (cap bytes, truncated to fit), for help texts. */
bool pdvm_bench_parse_type(const char *name, uint32_t *type);
void pdvm_bench_type_names(char *buf, size_t cap);
/* ggml's name of a type id ("q4_K"), and the bytes of one row of cols
 * elements of it (0 when cols is not a multiple of its block). */
const char *pdvm_bench_type_name(uint32_t type);
uint64_t pdvm_bench_row_bytes(uint32_t type, uint32_t cols);

/* ---------------------------------------------------- GPU session hooks */

/* Choose the chain the next evals of a GPU session use, so fused and
 * unfused alternate on one context and one upload.
 * Errors: PDVM_ERR_INVALID_ARG (not a GPU session). */
pdvm_status pdvm_bench_set_unfused(pdvm_session *s, bool unfused);
/* Move the session's position to pos (<= n_ctx) without computing the
 * positions before it: the cache there holds whatever it held, which is
 * fine for timing a decode at depth pos, and nothing else.
 * Errors: PDVM_ERR_INVALID_ARG (pos > n_ctx). */
pdvm_status pdvm_bench_seek(pdvm_session *s, uint32_t pos);

/* Time the decode mat-vec kernel alone on the device: y[rows] =
 * W[rows x cols] x with random W of `type`; median microseconds a call
 * over reps calls. Errors: PDVM_ERR_UNSUPPORTED (type, or weights over the
 * SSBO block limit), PDVM_ERR_INVALID_ARG (reps < 1, rows 0), PDVM_ERR_GPU,
 * PDVM_ERR_NOMEM. */
pdvm_status pdvm_bench_matvec(pdvm_device *d, uint32_t type, uint32_t rows, uint32_t cols,
                              int reps, double *us);

/* The same for the prefill mat-mat kernel (matmul.comp) on n_tok random
 * input rows (n_tok 0: the mat-vec). */
pdvm_status pdvm_bench_matmul(pdvm_device *d, uint32_t type, uint32_t rows, uint32_t cols,
                              uint32_t n_tok, int reps, double *us);

/* The median of n > 0 samples (sorts v). */
double pdvm_bench_median(double *v, size_t n);

#endif

/* Checks of multi-sequence sessions shared by the CPU and GPU tests
 * (test_session_seq.c, test_gpu_session_seq.c): token streams fed to
 * several sequences of one session in random interleaved batches, against
 * the same streams fed one token at a time to a single-sequence session.
 * Test helper (linked into every test binary). Include after <cmocka.h>. */
#ifndef PDVM_TEST_SEQ_CHECK_H
#define PDVM_TEST_SEQ_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pdvm.h"

enum { SEQ_CHECK_MAX = 8 };

/* One token stream per sequence, and the logits a lone sequence gets for
 * each of its tokens ([len[q]][n_vocab]). */
typedef struct seq_streams {
    uint32_t n_seq, n_vocab;
    uint32_t len[SEQ_CHECK_MAX];
    int32_t *tok[SEQ_CHECK_MAX];
    float *expect[SEQ_CHECK_MAX];
} seq_streams;

/* n_seq streams of random ids below n_vocab (lengths len[]) from seed. */
void seq_streams_random(seq_streams *st, uint32_t n_seq, const uint32_t *len, uint32_t n_vocab,
                        uint64_t seed);
/* Fill expect[] by feeding each stream alone to `single` (a one-sequence
 * session, reset before each stream), one token per eval. */
void seq_streams_expect(seq_streams *st, pdvm_session *single);
void seq_streams_free(seq_streams *st);

/* What a check found. */
typedef struct seq_result {
    double worst;       /* largest relative error of a kept row */
    uint32_t rows;      /* rows compared */
    uint32_t batches;
    uint32_t mixed;     /* batches with several sequences, one with more than one token */
    uint32_t argmax_ok; /* rows whose argmax equals the lone sequence's */
} seq_result;

/* Feed every stream into `multi` (n_seq >= st->n_seq sequences, all at
 * position 0) in random batches from seed: runs of 1..6 tokens of random
 * sequences, up to 12 tokens a batch, logits flags random (random_flags)
 * or NULL (the last of each sequence). After each batch: positions, the
 * rows that must be NULL, and each kept row against the lone sequence's
 * (bit for bit when tol is 0, else relative error <= tol). */
void seq_check_interleaved(pdvm_session *multi, const seq_streams *st, uint64_t seed,
                           bool random_flags, double tol, seq_result *res);

/* Rows equal: bit for bit when tol is 0; returns the relative error. */
double seq_check_rows(const float *got, const float *want, uint32_t n, double tol);

int32_t seq_argmax(const float *x, uint32_t n);

#endif

/* Multi-sequence checks shared by the session tests (seq_check.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "seq_check.h"
#include "test_util.h"

void seq_streams_random(seq_streams *st, uint32_t n_seq, const uint32_t *len, uint32_t n_vocab,
                        uint64_t seed)
{
    assert_true(n_seq >= 1 && n_seq <= SEQ_CHECK_MAX);
    memset(st, 0, sizeof *st);
    st->n_seq = n_seq;
    st->n_vocab = n_vocab;
    for (uint32_t q = 0; q < n_seq; q++) {
        st->len[q] = len[q];
        st->tok[q] = malloc((len[q] ? len[q] : 1) * sizeof *st->tok[q]);
        assert_non_null(st->tok[q]);
        for (uint32_t i = 0; i < len[q]; i++)
            st->tok[q][i] = (int32_t)(test_rand_u64(&seed) % n_vocab);
    }
}

void seq_streams_expect(seq_streams *st, pdvm_session *single)
{
    for (uint32_t q = 0; q < st->n_seq; q++) {
        pdvm_session_reset(single);
        size_t row = st->n_vocab;
        st->expect[q] = malloc((st->len[q] ? st->len[q] : 1) * row * sizeof(float));
        assert_non_null(st->expect[q]);
        for (uint32_t i = 0; i < st->len[q]; i++) {
            const float *lg = NULL;
            if (pdvm_session_eval(single, &st->tok[q][i], 1, &lg) != PDVM_OK)
                fail_msg("stream %u token %u: %s", q, i, pdvm_last_error());
            memcpy(st->expect[q] + i * row, lg, row * sizeof(float));
        }
    }
    pdvm_session_reset(single);
}

void seq_streams_free(seq_streams *st)
{
    for (uint32_t q = 0; q < st->n_seq; q++) {
        free(st->tok[q]);
        free(st->expect[q]);
    }
    memset(st, 0, sizeof *st);
}

int32_t seq_argmax(const float *x, uint32_t n)
{
    uint32_t best = 0;
    for (uint32_t i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return (int32_t)best;
}

double seq_check_rows(const float *got, const float *want, uint32_t n, double tol)
{
    assert_non_null(got);
    double e = rel_err(got, want, n);
    if (tol == 0.0) assert_memory_equal(got, want, n * sizeof(float));
    else if (!(e <= tol)) fail_msg("logits rel err %.3g over %.3g", e, tol);
    return e;
}

/* One random batch over what is left of the streams (fed[q] so far). */
typedef struct batch_buf {
    int32_t tok[12];
    uint32_t seq[12];
    bool flag[12];
    uint32_t pos[12];
    size_t n;
} batch_buf;

static bool all_fed(const seq_streams *st, const uint32_t *fed)
{
    for (uint32_t q = 0; q < st->n_seq; q++)
        if (fed[q] < st->len[q]) return false;
    return true;
}

static void make_batch(const seq_streams *st, const uint32_t *fed, uint64_t *rng, batch_buf *b)
{
    uint32_t taken[SEQ_CHECK_MAX] = {0};
    size_t cap = 1 + test_rand_u64(rng) % 12;
    b->n = 0;
    while (b->n < cap) {
        uint32_t q = (uint32_t)(test_rand_u64(rng) % st->n_seq), tries = 0;
        while (fed[q] + taken[q] >= st->len[q] && tries++ < st->n_seq) q = (q + 1) % st->n_seq;
        uint32_t left = st->len[q] - fed[q] - taken[q];
        if (left == 0) break; /* every stream is used up */
        uint32_t run = 1 + (uint32_t)(test_rand_u64(rng) % 6);
        if (run > left) run = left;
        for (uint32_t k = 0; k < run && b->n < cap; k++, b->n++) {
            b->seq[b->n] = q;
            b->pos[b->n] = fed[q] + taken[q];
            b->tok[b->n] = st->tok[q][fed[q] + taken[q]];
            b->flag[b->n] = test_rand_u64(rng) & 1;
            taken[q]++;
        }
    }
}

/* Whether token i keeps logits when the batch gives no flags. */
static bool last_of_seq(const batch_buf *b, size_t i)
{
    for (size_t j = i + 1; j < b->n; j++)
        if (b->seq[j] == b->seq[i]) return false;
    return true;
}

static void check_batch(pdvm_session *s, const seq_streams *st, const batch_buf *b,
                        bool random_flags, double tol, seq_result *res)
{
    uint32_t per_seq[SEQ_CHECK_MAX] = {0}, n_seqs = 0;
    bool multi_token = false;
    for (size_t i = 0; i < b->n; i++) {
        n_seqs += per_seq[b->seq[i]]++ == 0;
        multi_token |= per_seq[b->seq[i]] > 1;
        bool keep = random_flags ? b->flag[i] : last_of_seq(b, i);
        const float *got = pdvm_session_logits(s, i);
        if (!keep) {
            assert_null(got);
            continue;
        }
        const float *want = st->expect[b->seq[i]] + (size_t)b->pos[i] * st->n_vocab;
        double e = seq_check_rows(got, want, st->n_vocab, tol);
        if (e > res->worst) res->worst = e;
        res->rows++;
        res->argmax_ok += seq_argmax(got, st->n_vocab) == seq_argmax(want, st->n_vocab);
    }
    assert_null(pdvm_session_logits(s, b->n));
    res->mixed += n_seqs > 1 && multi_token;
}

void seq_check_interleaved(pdvm_session *multi, const seq_streams *st, uint64_t seed,
                           bool random_flags, double tol, seq_result *res)
{
    memset(res, 0, sizeof *res);
    uint32_t fed[SEQ_CHECK_MAX] = {0};
    uint64_t rng = seed;
    batch_buf b;
    while (!all_fed(st, fed)) {
        make_batch(st, fed, &rng, &b);
        pdvm_batch batch = {b.tok, b.seq, random_flags ? b.flag : NULL, b.n};
        if (pdvm_session_decode(multi, &batch) != PDVM_OK)
            fail_msg("batch %u: %s", res->batches, pdvm_last_error());
        for (size_t i = 0; i < b.n; i++) fed[b.seq[i]]++;
        for (uint32_t q = 0; q < st->n_seq; q++)
            assert_int_equal(pdvm_session_seq_pos(multi, q), fed[q]);
        check_batch(multi, st, &b, random_flags, tol, res);
        res->batches++;
    }
}

/* Synthetic shapes written as GGUF files (pdvm_synthetic_write_gguf,
 * src/bench/synth_gguf.c): the file opens as a model with the shape's
 * hyperparameters and, tensor for tensor, the synthetic model's names,
 * types (fallbacks included) and shapes; weights have the RMS aimed at and
 * no non-finite value; the vocabulary round-trips text; the same seed
 * gives the same bytes and another seed others; bad arguments leave no
 * file. Whether llama.cpp loads the files is checked outside CI
 * (bench/README.md). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model.h"
#include "pdvm.h"
#include "pdvm_bench.h"
#include "quant.h"
#include "test_util.h"

static char path_a[64], path_b[64];

static int setup(void **state)
{
    (void)state;
    snprintf(path_a, sizeof path_a, "/tmp/pdvm_synth_a_%d.gguf", (int)getpid());
    snprintf(path_b, sizeof path_b, "/tmp/pdvm_synth_b_%d.gguf", (int)getpid());
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(path_a);
    unlink(path_b);
    return 0;
}

static uint32_t type_of(const char *name)
{
    uint32_t t = 0;
    assert_true(pdvm_bench_parse_type(name, &t));
    return t;
}

static void same_tensor(const pdvm_tensor *want, const pdvm_tensor *got)
{
    assert_true(pdvm_tensor_present(got));
    assert_string_equal(want->name, got->name);
    assert_int_equal(want->type, got->type);
    assert_int_equal(want->ne[0], got->ne[0]);
    assert_int_equal(want->ne[1], got->ne[1]);
}

/* RMS of a matrix's first rows, and that every value is finite. */
static double rms_rows(const pdvm_tensor *t, int64_t n_rows)
{
    float *row = malloc((size_t)t->ne[0] * sizeof *row);
    assert_non_null(row);
    double ss = 0;
    for (int64_t r = 0; r < n_rows; r++) {
        pdvm_dequant_row(t->type, (const uint8_t *)t->data + r * t->row_bytes, row, t->ne[0]);
        for (int64_t i = 0; i < t->ne[0]; i++) {
            assert_true(isfinite(row[i]));
            ss += (double)row[i] * row[i];
        }
    }
    free(row);
    return sqrt(ss / ((double)n_rows * t->ne[0]));
}

/* The file against the synthetic model of the same name and type. */
static void check_file(const char *shape, const char *type)
{
    uint64_t bytes = 0;
    assert_int_equal(pdvm_synthetic_write_gguf(shape, type_of(type), 7, path_a, &bytes), PDVM_OK);
    assert_true(bytes > 0);
    pdvm_model *want, *got;
    assert_int_equal(pdvm_synthetic_model(shape, type_of(type), &want), PDVM_OK);
    assert_int_equal(pdvm_model_open(path_a, &got), PDVM_OK);
    const pdvm_hparams *a = pdvm_model_hparams(want), *b = pdvm_model_hparams(got);
    assert_string_equal(a->arch, b->arch);
    assert_int_equal(a->n_vocab, b->n_vocab);
    assert_int_equal(a->n_embd, b->n_embd);
    assert_int_equal(a->n_layer, b->n_layer);
    assert_int_equal(a->n_ff, b->n_ff);
    assert_int_equal(a->n_head, b->n_head);
    assert_int_equal(a->n_head_kv, b->n_head_kv);
    assert_int_equal(a->head_dim, b->head_dim);
    assert_true(a->rope_freq_base == b->rope_freq_base);
    same_tensor(&want->tok_embd, &got->tok_embd);
    same_tensor(&want->output, &got->output);
    for (uint32_t l = 0; l < a->n_layer; l++)
        for (int k = 0; k < PDVM_LT_COUNT; k++) {
            const pdvm_tensor *w = &want->layers[l].t[k], *g = &got->layers[l].t[k];
            assert_int_equal(pdvm_tensor_present(w), pdvm_tensor_present(g));
            if (pdvm_tensor_present(w)) same_tensor(w, g);
        }
    /* Matrices at RMS 1/sqrt(n_in) within the random scale factors. */
    const pdvm_layer *L = &got->layers[a->n_layer - 1];
    const pdvm_tensor *mats[] = {&L->attn_q, &L->attn_output, &L->ffn_up, &L->ffn_down};
    for (size_t i = 0; i < 4; i++) {
        double target = 1.0 / sqrt((double)mats[i]->ne[0]), rms = rms_rows(mats[i], 16);
        assert_true(rms > 0.6 * target && rms < 1.6 * target);
    }
    rms_rows(&got->output, got->output.ne[1]);
    pdvm_model_close(got);
    pdvm_synthetic_free(want);
}

static void test_matches_synthetic_q4_0(void **state)
{
    (void)state;
    check_file("stories15M", "q4_0");
}

/* q4_K: rows of n_embd 288 are not a multiple of 256 and fall back to
 * q5_0 (ffn_down's rows of 768 stay q4_K), as in the synthetic model. */
static void test_matches_synthetic_fallback(void **state)
{
    (void)state;
    check_file("stories15M", "q4_K");
    check_file("stories15M", "f16");
}

/* Text through the generated vocabulary: pieces and byte tokens. */
static void test_vocab_round_trip(void **state)
{
    (void)state;
    uint64_t bytes;
    assert_int_equal(pdvm_synthetic_write_gguf("stories15M", type_of("q8_0"), 1, path_a, &bytes),
                     PDVM_OK);
    pdvm_model *m;
    assert_int_equal(pdvm_model_open(path_a, &m), PDVM_OK);
    const char *text = "once upon a time, 42 caf\xc3\xa9s";
    int32_t ids[128];
    size_t n = 0;
    assert_int_equal(pdvm_tokenize(m, text, strlen(text), false, false, ids, 128, &n), PDVM_OK);
    assert_true(n > 3);
    char out[256];
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k;
        assert_true(ids[i] >= 0 && (uint32_t)ids[i] < pdvm_model_hparams(m)->n_vocab);
        assert_int_equal(pdvm_token_to_piece(m, ids[i], false, out + len, sizeof out - len, &k),
                         PDVM_OK);
        len += k;
    }
    out[len] = '\0';
    /* SentencePiece adds a space at the start of the text. */
    assert_string_equal(out[0] == ' ' ? out + 1 : out, text);
    pdvm_model_close(m);
}

static void test_seed(void **state)
{
    (void)state;
    uint64_t bytes;
    uint32_t t = type_of("q4_0");
    assert_int_equal(pdvm_synthetic_write_gguf("stories15M", t, 3, path_a, &bytes), PDVM_OK);
    assert_int_equal(pdvm_synthetic_write_gguf("stories15M", t, 3, path_b, &bytes), PDVM_OK);
    size_t na, nb;
    uint8_t *a = test_read_file(path_a, &na), *b = test_read_file(path_b, &nb);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na);
    free(b);
    assert_int_equal(pdvm_synthetic_write_gguf("stories15M", t, 4, path_b, &bytes), PDVM_OK);
    b = test_read_file(path_b, &nb);
    assert_int_equal(na, nb);
    assert_true(memcmp(a, b, na) != 0);
    free(a);
    free(b);
}

static void test_errors_leave_no_file(void **state)
{
    (void)state;
    uint64_t bytes;
    assert_int_equal(pdvm_synthetic_write_gguf("no-such-shape", type_of("q4_0"), 1, path_a, &bytes),
                     PDVM_ERR_INVALID_ARG);
    assert_non_null(strstr(pdvm_last_error(), "llama-3-8b")); /* lists the known ones */
    assert_int_equal(access(path_a, F_OK), -1);
    assert_int_equal(pdvm_synthetic_write_gguf("stories15M", PDVM_TYPE_Q8_K, 1, path_a, &bytes),
                     PDVM_ERR_UNSUPPORTED);
    assert_int_equal(access(path_a, F_OK), -1);
    assert_int_equal(pdvm_synthetic_write_gguf("stories15M", type_of("q4_0"), 1,
                                               "/nonexistent/dir/x.gguf", &bytes),
                     PDVM_ERR_IO);
    assert_non_null(strstr(pdvm_last_error(), "/nonexistent/dir/x.gguf"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_matches_synthetic_q4_0, setup, teardown),
        cmocka_unit_test_setup_teardown(test_matches_synthetic_fallback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vocab_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors_leave_no_file, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Reference kernels against naive double-precision versions on random
 * inputs (relative error < 1e-5), and properties of the whole forward pass
 * on stories260K: prefill equals token-by-token evaluation, and RoPE/GQA
 * layouts match their definitions. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "model.h"
#include "quant.h"
#include "rand_weights.h"
#include "ref_matvec.h"
#include "reference.h"
#include "test_util.h"
#include "tokenizer.h"

#define TOL 1e-5

static float *rand_vec(size_t n, uint64_t seed, float lo, float hi)
{
    float *v = malloc(n * sizeof *v);
    assert_non_null(v);
    test_fill_random(v, n, seed, lo, hi);
    return v;
}

static void expect_close(const float *got, const double *want, size_t n, const char *what)
{
    float *w = malloc(n * sizeof *w);
    assert_non_null(w);
    for (size_t i = 0; i < n; i++) w[i] = (float)want[i];
    double e = rel_err(got, w, n);
    free(w);
    if (!(e < TOL)) fail_msg("%s: relative error %.3g", what, e);
}

/* ------------------------------------------------------------- RMSNorm */

static void test_rmsnorm(void **state)
{
    (void)state;
    const uint32_t n = 4096;
    float *x = rand_vec(n, 1, -3.0f, 3.0f), *w = rand_vec(n, 2, 0.5f, 1.5f);
    float *out = malloc(n * sizeof *out);
    double *want = malloc(n * sizeof *want);
    for (int with_w = 0; with_w <= 1; with_w++) {
        double ss = 0.0;
        for (uint32_t i = 0; i < n; i++) ss += (double)x[i] * x[i];
        double scale = 1.0 / sqrt(ss / n + 1e-5);
        for (uint32_t i = 0; i < n; i++) want[i] = x[i] * scale * (with_w ? w[i] : 1.0);
        pdvm_ref_rmsnorm(out, x, with_w ? w : NULL, n, 1e-5f);
        expect_close(out, want, n, with_w ? "rmsnorm" : "rmsnorm without weight");
    }
    memcpy(out, x, n * sizeof *x); /* in place */
    pdvm_ref_rmsnorm(out, out, w, n, 1e-5f);
    expect_close(out, want, n, "rmsnorm in place");
    free(x), free(w), free(out), free(want);
}

/* -------------------------------------------------------------- matvec */

/* Encode random weights in `type` and the exact values they decode to. */
static void *make_weights(uint32_t type, int64_t n_in, int64_t n_out, double *values,
                          uint64_t seed)
{
    uint64_t rb = 0;
    assert_int_equal(pdvm_type_row_bytes(type, n_in, &rb), PDVM_OK);
    uint8_t *data = malloc(rb * n_out);
    assert_non_null(data);
    uint64_t st = seed;
    for (int64_t r = 0; r < n_out; r++) {
        uint8_t *row = data + r * rb;
        double *val = values + r * n_in;
        int64_t units = type == PDVM_TYPE_F32 || type == PDVM_TYPE_F16 ? n_in : n_in / 32;
        for (int64_t b = 0; b < units; b++) {
            if (type == PDVM_TYPE_F32) {
                float f = test_rand_float(&st, -1.0f, 1.0f);
                memcpy(row + 4 * b, &f, 4);
                val[b] = f;
            } else if (type == PDVM_TYPE_F16) {
                uint16_t h = pdvm_f32_to_f16(test_rand_float(&st, -1.0f, 1.0f));
                memcpy(row + 2 * b, &h, 2);
                val[b] = pdvm_f16_to_f32(h);
            } else {
                /* Q8_0: f16 d + 32 int8; Q4_0: f16 d + 16 bytes, low nibbles
                 * are elements 0..15, high nibbles 16..31, value (q - 8) * d. */
                uint16_t d = pdvm_f32_to_f16(test_rand_float(&st, 0.001f, 0.05f));
                double df = pdvm_f16_to_f32(d);
                uint8_t *blk = row + b * (type == PDVM_TYPE_Q8_0 ? 34 : 18);
                memcpy(blk, &d, 2);
                for (int j = 0; j < (type == PDVM_TYPE_Q8_0 ? 32 : 16); j++) {
                    uint8_t q = (uint8_t)(test_rand_u64(&st) & 0xff);
                    blk[2 + j] = q;
                    if (type == PDVM_TYPE_Q8_0) {
                        val[32 * b + j] = (int8_t)q * df;
                    } else {
                        val[32 * b + j] = ((q & 15) - 8) * df;
                        val[32 * b + j + 16] = ((q >> 4) - 8) * df;
                    }
                }
            }
        }
    }
    return data;
}

static void check_matvec(uint32_t type)
{
    const int64_t n_in = 256, n_out = 96;
    double *vals = malloc(sizeof(double) * n_in * n_out), *want = malloc(sizeof(double) * n_out);
    void *data = make_weights(type, n_in, n_out, vals, 10 + type);
    float *x = rand_vec(n_in, 3, -1.0f, 1.0f), *y = malloc(n_out * sizeof *y);
    pdvm_tensor w = {"w", type, {n_in, n_out}, 0, 0, data, 0};
    assert_int_equal(pdvm_type_row_bytes(type, n_in, &w.row_bytes), PDVM_OK);
    w.nbytes = w.row_bytes * n_out;
    for (int64_t r = 0; r < n_out; r++) {
        want[r] = 0.0;
        for (int64_t i = 0; i < n_in; i++) want[r] += vals[r * n_in + i] * x[i];
    }
    pdvm_ref_matvec(&w, x, y);
    expect_close(y, want, n_out, pdvm_type_name(type));
    free(vals), free(want), free(data), free(x), free(y);
}

static void test_matvec(void **state)
{
    (void)state;
    check_matvec(PDVM_TYPE_F32);
    check_matvec(PDVM_TYPE_F16);
    check_matvec(PDVM_TYPE_Q8_0);
    check_matvec(PDVM_TYPE_Q4_0);
}

/* Both mat-vec paths (rows decoded per call, and a weight decoded once)
 * give every row exactly pdvm_dot_row's sum: same terms, same order, so
 * the goldens' agreement with llama.cpp carries over bit for bit. Every
 * decodable type, a row count that is not a multiple of the row group. */
static void test_matvec_equals_dot_row(void **state)
{
    (void)state;
    const uint32_t n_in = 512, n_out = 2 * REF_ROWS + 5;
    float *x = rand_vec(n_in, 4, -1.0f, 1.0f), want[2 * REF_ROWS + 5], got[2 * REF_ROWS + 5];
    int types = 0;
    for (uint32_t type = 0; type < PDVM_TYPE_COUNT; type++) {
        if (!pdvm_type_can_dequant(type)) continue;
        pdvm_tensor w = {"w", type, {n_in, n_out}, 0, 0, NULL, 0};
        uint8_t *data = rand_weights(type, n_in, n_out, 5, &w.row_bytes);
        assert_non_null(data);
        w.data = data;
        w.nbytes = w.row_bytes * n_out;
        for (uint32_t r = 0; r < n_out; r++)
            want[r] = pdvm_dot_row(type, data + r * w.row_bytes, x, n_in);
        memset(got, 0xff, sizeof got);
        pdvm_ref_matvec(&w, x, got);
        if (memcmp(got, want, sizeof want))
            fail_msg("%s: pdvm_ref_matvec differs from pdvm_dot_row", pdvm_type_name(type));
        float *dec = pdvm_ref_decode(&w);
        assert_non_null(dec);
        memset(got, 0xff, sizeof got);
        pdvm_ref_matvec_decoded(&w, dec, x, got);
        if (memcmp(got, want, sizeof want))
            fail_msg("%s: decoded mat-vec differs from pdvm_dot_row", pdvm_type_name(type));
        free(dec);
        free(data);
        types++;
    }
    assert_true(types >= 15);
    free(x);
}

/* ---------------------------------------------------------------- RoPE */

static void naive_rope(double *v, uint32_t n_head, uint32_t head_dim, uint32_t n_rot,
                       uint32_t pos, double base, pdvm_rope_type type)
{
    for (uint32_t h = 0; h < n_head; h++) {
        double *hv = v + (size_t)h * head_dim;
        for (uint32_t i = 0; i < n_rot / 2; i++) {
            double theta = pos * pow(base, -2.0 * i / n_rot);
            uint32_t a = type == PDVM_ROPE_NORM ? 2 * i : i;
            uint32_t b = type == PDVM_ROPE_NORM ? 2 * i + 1 : i + n_rot / 2;
            double x0 = hv[a], x1 = hv[b];
            hv[a] = x0 * cos(theta) - x1 * sin(theta);
            hv[b] = x0 * sin(theta) + x1 * cos(theta);
        }
    }
}

static void check_rope(pdvm_rope_type type, uint32_t n_rot, uint32_t pos, float base)
{
    const uint32_t n_head = 4, head_dim = 64, n = n_head * head_dim;
    float *v = rand_vec(n, pos + n_rot, -1.0f, 1.0f);
    double *want = malloc(n * sizeof *want);
    for (uint32_t i = 0; i < n; i++) want[i] = v[i];
    naive_rope(want, n_head, head_dim, n_rot, pos, base, type);
    pdvm_ref_rope(v, n_head, head_dim, n_rot, pos, base, type);
    char what[64];
    snprintf(what, sizeof what, "rope %s n_rot %u pos %u", type == PDVM_ROPE_NORM ? "norm" : "neox",
             n_rot, pos);
    expect_close(v, want, n, what);
    free(v), free(want);
}

static void test_rope(void **state)
{
    (void)state;
    const uint32_t positions[] = {0, 1, 7, 511, 4000};
    for (size_t i = 0; i < 5; i++) {
        check_rope(PDVM_ROPE_NORM, 64, positions[i], 10000.0f);
        check_rope(PDVM_ROPE_NEOX, 64, positions[i], 1000000.0f);
        check_rope(PDVM_ROPE_NORM, 32, positions[i], 10000.0f); /* partial rotation */
        check_rope(PDVM_ROPE_NEOX, 32, positions[i], 500000.0f);
    }
}

/* The layouts differ: NORM rotates (0, 1), NEOX rotates (0, n_rot/2). */
static void test_rope_layouts(void **state)
{
    (void)state;
    float v[8] = {1, 0, 0, 0, 0, 0, 0, 0}, w[8] = {1, 0, 0, 0, 0, 0, 0, 0};
    pdvm_ref_rope(v, 1, 8, 8, 1, 10000.0f, PDVM_ROPE_NORM);
    pdvm_ref_rope(w, 1, 8, 8, 1, 10000.0f, PDVM_ROPE_NEOX);
    assert_float_equal(v[1], sinf(1.0f), 1e-6);
    assert_float_equal(v[4], 0.0f, 0);
    assert_float_equal(w[4], sinf(1.0f), 1e-6);
    assert_float_equal(w[1], 0.0f, 0);
}

/* ----------------------------------------------------------- attention */

static void test_attention_head(void **state)
{
    (void)state;
    const uint32_t head_dim = 64, n_pos = 37;
    const size_t stride = 3 * head_dim; /* positions interleaved with other heads */
    float *q = rand_vec(head_dim, 4, -1.0f, 1.0f);
    float *k = rand_vec(stride * n_pos, 5, -1.0f, 1.0f), *v = rand_vec(stride * n_pos, 6, -2, 2);
    float out[64];
    double want[64] = {0}, sc[37], max = -INFINITY, sum = 0.0;
    for (uint32_t t = 0; t < n_pos; t++) {
        sc[t] = 0.0;
        for (uint32_t d = 0; d < head_dim; d++) sc[t] += (double)q[d] * k[t * stride + d];
        sc[t] /= sqrt((double)head_dim);
        if (sc[t] > max) max = sc[t];
    }
    for (uint32_t t = 0; t < n_pos; t++) sum += sc[t] = exp(sc[t] - max);
    for (uint32_t t = 0; t < n_pos; t++)
        for (uint32_t d = 0; d < head_dim; d++) want[d] += sc[t] / sum * v[t * stride + d];
    pdvm_ref_attention_head(q, k, v, n_pos, head_dim, stride, out);
    expect_close(out, want, head_dim, "attention_head");
    /* One position: the output is that position's value. */
    pdvm_ref_attention_head(q, k, v, 1, head_dim, stride, out);
    for (uint32_t d = 0; d < head_dim; d++) want[d] = v[d];
    expect_close(out, want, head_dim, "attention_head n_pos 1");
    free(q), free(k), free(v);
}

static void test_swiglu(void **state)
{
    (void)state;
    const uint32_t n = 1000;
    float *g = rand_vec(n, 7, -6.0f, 6.0f), *u = rand_vec(n, 8, -2.0f, 2.0f);
    float *out = malloc(n * sizeof *out);
    double *want = malloc(n * sizeof *want);
    for (uint32_t i = 0; i < n; i++) want[i] = g[i] / (1.0 + exp(-(double)g[i])) * u[i];
    pdvm_ref_swiglu(g, u, out, n);
    expect_close(out, want, n, "swiglu");
    pdvm_ref_swiglu(g, u, g, n); /* out aliasing gate */
    expect_close(g, want, n, "swiglu in place");
    free(g), free(u), free(out), free(want);
}

/* --------------------------------------------------- whole forward pass */

static pdvm_model *open_stories(void)
{
    char path[TEST_PATH_MAX];
    test_model_path("stories260K.gguf", path, sizeof path);
    pdvm_model *m = NULL;
    if (pdvm_model_open(path, &m) != PDVM_OK) fail_msg("%s", pdvm_last_error());
    return m;
}

/* Running the same tokens again from position 0 overwrites the KV cache and
 * gives the same logits bit for bit; skipping logits changes nothing. */
static void test_forward_repeatable(void **state)
{
    (void)state;
    pdvm_model *m = open_stories();
    uint32_t n_vocab = (uint32_t)m->output.ne[1];
    pdvm_ref_state *s = NULL;
    assert_int_equal(pdvm_ref_create(m, 16, &s), PDVM_OK);
    float *a = malloc(n_vocab * sizeof *a), *b = malloc(n_vocab * sizeof *b);
    const int32_t toks[] = {1, 403, 407, 261, 378};
    for (uint32_t i = 0; i < 5; i++)
        assert_int_equal(pdvm_ref_forward(s, toks[i], i, a), PDVM_OK);
    for (uint32_t i = 0; i < 5; i++)
        assert_int_equal(pdvm_ref_forward(s, toks[i], i, i == 4 ? b : NULL), PDVM_OK);
    assert_memory_equal(a, b, n_vocab * sizeof *a);
    for (uint32_t i = 0; i < n_vocab; i++) assert_true(isfinite(a[i]));
    /* The known continuation of "Once upon a time" starts with ",". */
    uint32_t best = 0;
    for (uint32_t i = 1; i < n_vocab; i++)
        if (a[i] > a[best]) best = i;
    size_t len;
    const char *piece = pdvm_tokenizer_piece(m->tok, (int32_t)best, &len);
    assert_int_equal(len, 1);
    assert_memory_equal(piece, ",", 1);
    assert_int_equal(pdvm_ref_forward(s, 512, 0, a), PDVM_ERR_INVALID_ARG);
    assert_int_equal(pdvm_ref_forward(s, 1, 16, a), PDVM_ERR_CONTEXT_FULL);
    free(a), free(b);
    pdvm_ref_free(s);
    pdvm_model_close(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rmsnorm),
        cmocka_unit_test(test_matvec),
        cmocka_unit_test(test_matvec_equals_dot_row),
        cmocka_unit_test(test_rope),
        cmocka_unit_test(test_rope_layouts),
        cmocka_unit_test(test_attention_head),
        cmocka_unit_test(test_swiglu),
        cmocka_unit_test(test_forward_repeatable),
    };
    return cmocka_run_group_tests_name("reference", tests, NULL, NULL);
}

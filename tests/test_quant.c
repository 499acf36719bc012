/* Block formats: decoding bit-exact with ggml's reference (the vectors in
 * quant-vectors.gguf were produced by ggml itself), half-float rounding,
 * the type table, and pdvm_dot_row's order of accumulation. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gguf.h"
#include "quant.h"
#include "test_util.h"

/* The vector files: ggml's encodings and decodings of one f32 source. */
typedef struct vector_file {
    const char *path; /* NULL: quant-vectors.gguf of the shared models */
    const char *types[12];
    size_t n_types;
} vector_file;

static const vector_file vector_files[] = {
    {NULL,
     {"f16", "bf16", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "q2_K", "q3_K", "q4_K", "q5_K",
      "q6_K"},
     12},
    {"tests/data/iq4-vectors.gguf", {"iq4_nl", "iq4_xs"}, 2}, /* tests/data/README.md */
};
#define N_VECTOR_FILES (sizeof vector_files / sizeof vector_files[0])

static pdvm_gguf *open_vector_file(const vector_file *v)
{
    char path[TEST_PATH_MAX];
    if (v->path) snprintf(path, sizeof path, "%s", v->path);
    else test_model_path("quant-vectors.gguf", path, sizeof path);
    pdvm_gguf *g = NULL;
    if (pdvm_gguf_open(path, &g) != PDVM_OK) fail_msg("%s", pdvm_last_error());
    return g;
}

static pdvm_gguf *open_vectors(void) { return open_vector_file(&vector_files[0]); }

static const gguf_tensor *tensor_of(const pdvm_gguf *g, const char *type, const char *what)
{
    char name[64];
    snprintf(name, sizeof name, "%s.%s", type, what);
    const gguf_tensor *t = pdvm_gguf_find_tensor(g, name);
    if (!t) fail_msg("vector file has no tensor %s", name);
    return t;
}

static uint64_t row_bytes(const gguf_tensor *t)
{
    uint64_t rb = 0;
    assert_int_equal(pdvm_type_row_bytes(t->type, t->ne[0], &rb), PDVM_OK);
    return rb;
}

/* Every row of <type>.quantized decodes to exactly <type>.dequantized. */
static void check_bit_exact(const pdvm_gguf *g, const char *type)
{
    const gguf_tensor *q = tensor_of(g, type, "quantized");
    const gguf_tensor *d = tensor_of(g, type, "dequantized");
    assert_string_equal(pdvm_type_name(q->type), type);
    assert_true(pdvm_type_can_dequant(q->type));
    assert_int_equal(d->type, PDVM_TYPE_F32);
    assert_int_equal(q->ne[0], d->ne[0]);
    assert_int_equal(q->ne[1], d->ne[1]);
    int64_t n = q->ne[0];
    float *out = malloc((size_t)n * sizeof *out);
    assert_non_null(out);
    for (int64_t r = 0; r < q->ne[1]; r++) {
        const uint8_t *src = (const uint8_t *)q->data + r * row_bytes(q);
        const uint8_t *ref = (const uint8_t *)d->data + r * n * 4;
        pdvm_dequant_row(q->type, src, out, n);
        if (memcmp(out, ref, (size_t)n * 4) != 0)
            fail_msg("%s row %lld differs from ggml's decoding", type, (long long)r);
    }
    free(out);
}

static void test_vectors_bit_exact(void **state)
{
    (void)state;
    for (size_t f = 0; f < N_VECTOR_FILES; f++) {
        pdvm_gguf *g = open_vector_file(&vector_files[f]);
        for (size_t k = 0; k < vector_files[f].n_types; k++)
            check_bit_exact(g, vector_files[f].types[k]);
        pdvm_gguf_close(g);
    }
}

/* ggml's f16 encoding of the source equals ours (round to nearest even). */
static void test_f16_encoding_matches_ggml(void **state)
{
    (void)state;
    pdvm_gguf *g = open_vectors();
    const gguf_tensor *src = pdvm_gguf_find_tensor(g, "source.f32");
    const gguf_tensor *q = tensor_of(g, "f16", "quantized");
    assert_non_null(src);
    int64_t n = src->ne[0] * src->ne[1];
    for (int64_t i = 0; i < n; i++) {
        float f;
        uint16_t h;
        memcpy(&f, (const uint8_t *)src->data + 4 * i, 4);
        memcpy(&h, (const uint8_t *)q->data + 2 * i, 2);
        assert_int_equal(pdvm_f32_to_f16(f), h);
    }
    pdvm_gguf_close(g);
}

static void test_half_roundtrip_all_codes(void **state)
{
    (void)state;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = pdvm_f16_to_f32((uint16_t)h);
        bool nan = ((h >> 10) & 0x1F) == 0x1F && (h & 0x3FF) != 0;
        if (nan) {
            assert_true(isnan(f));
            assert_true(isnan(pdvm_f16_to_f32(pdvm_f32_to_f16(f))));
        } else {
            assert_int_equal(pdvm_f32_to_f16(f), h);
        }
    }
}

static void test_half_rounding_edges(void **state)
{
    (void)state;
    assert_int_equal(pdvm_f32_to_f16(65504.0f), 0x7BFF);
    assert_int_equal(pdvm_f32_to_f16(65519.99f), 0x7BFF);
    assert_int_equal(pdvm_f32_to_f16(65520.0f), 0x7C00); /* tie rounds to even: inf */
    assert_int_equal(pdvm_f32_to_f16(1e10f), 0x7C00);
    assert_int_equal(pdvm_f32_to_f16(-INFINITY), 0xFC00);
    assert_int_equal(pdvm_f32_to_f16(0x1p-24f), 0x0001);
    assert_int_equal(pdvm_f32_to_f16(0x1p-25f), 0x0000);          /* tie to even: 0 */
    assert_int_equal(pdvm_f32_to_f16(0x1.8p-24f), 0x0002);        /* 1.5 ulp: tie to 2 */
    assert_int_equal(pdvm_f32_to_f16(0x1.000002p-25f), 0x0001);   /* just above the tie */
    assert_int_equal(pdvm_f32_to_f16(0x1.ff8p-15f), 0x03FF);      /* largest subnormal */
    assert_int_equal(pdvm_f32_to_f16(0x1.ffcp-15f), 0x0400);      /* tie carries into normal */
    assert_int_equal(pdvm_f32_to_f16(1.0f + 0x1p-11f), 0x3C00);   /* tie to even */
    assert_int_equal(pdvm_f32_to_f16(1.0f + 0x1.8p-10f), 0x3C02); /* tie to even, up */
    assert_int_equal(pdvm_f32_to_f16(-0.0f), 0x8000);
    assert_true(pdvm_f16_to_f32(0x8000) == 0.0f && signbit(pdvm_f16_to_f32(0x8000)));
    assert_true(pdvm_bf16_to_f32(0x3F80) == 1.0f);
    assert_true(pdvm_bf16_to_f32(0xC049) == -3.140625f);
}

static void test_type_table(void **state)
{
    (void)state;
    static const struct {
        uint32_t id;
        const char *name;
        uint32_t elems, bytes;
        bool dequant;
    } rows[] = {
        {0, "f32", 1, 4, true},          {1, "f16", 1, 2, true},
        {2, "q4_0", 32, 18, true},       {3, "q4_1", 32, 20, true},
        {6, "q5_0", 32, 22, true},       {7, "q5_1", 32, 24, true},
        {8, "q8_0", 32, 34, true},       {9, "q8_1", 32, 36, false},
        {10, "q2_K", 256, 84, true},     {11, "q3_K", 256, 110, true},
        {12, "q4_K", 256, 144, true},    {13, "q5_K", 256, 176, true},
        {14, "q6_K", 256, 210, true},    {15, "q8_K", 256, 292, false},
        {16, "iq2_xxs", 256, 66, false}, {19, "iq1_s", 256, 50, false},
        {20, "iq4_nl", 32, 18, true},    {23, "iq4_xs", 256, 136, true},
        {29, "iq1_m", 256, 56, false},   {30, "bf16", 1, 2, true},
        {34, "tq1_0", 256, 54, false},   {35, "tq2_0", 256, 66, false},
        {39, "mxfp4", 32, 17, false},    {40, "nvfp4", 64, 36, false},
        {41, "q1_0", 128, 18, false},    {42, "q2_0", 64, 18, false},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        assert_string_equal(pdvm_type_name(rows[i].id), rows[i].name);
        assert_int_equal(pdvm_type_block_elems(rows[i].id), rows[i].elems);
        assert_int_equal(pdvm_type_block_bytes(rows[i].id), rows[i].bytes);
        assert_int_equal(pdvm_type_can_dequant(rows[i].id), rows[i].dequant);
    }
    static const uint32_t unknown[] = {4, 5, 31, 32, 33, 36, 37, 38, 43, 1000, UINT32_MAX};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        assert_string_equal(pdvm_type_name(unknown[i]), "unknown");
        assert_int_equal(pdvm_type_block_elems(unknown[i]), 0);
        assert_int_equal(pdvm_type_block_bytes(unknown[i]), 0);
        assert_false(pdvm_type_can_dequant(unknown[i]));
    }
}

static void test_row_bytes(void **state)
{
    (void)state;
    uint64_t b = 0;
    assert_int_equal(pdvm_type_row_bytes(PDVM_TYPE_Q4_0, 64, &b), PDVM_OK);
    assert_int_equal(b, 36);
    assert_int_equal(pdvm_type_row_bytes(PDVM_TYPE_Q6_K, 512, &b), PDVM_OK);
    assert_int_equal(b, 420);
    assert_int_equal(pdvm_type_row_bytes(PDVM_TYPE_F16, 3, &b), PDVM_OK);
    assert_int_equal(b, 6);
    assert_int_equal(pdvm_type_row_bytes(PDVM_TYPE_Q4_0, 33, &b), PDVM_ERR_FORMAT);
    assert_non_null(strstr(pdvm_last_error(), "q4_0"));
    assert_int_equal(pdvm_type_row_bytes(PDVM_TYPE_Q4_K, -256, &b), PDVM_ERR_FORMAT);
    assert_int_equal(pdvm_type_row_bytes(4, 32, &b), PDVM_ERR_UNSUPPORTED);
    assert_int_equal(pdvm_type_row_bytes(PDVM_TYPE_F32, INT64_MAX, &b), PDVM_ERR_FORMAT);
}

/* dot_row accumulates in the order of dequantize-then-dot, so the two agree
 * exactly, for every format. */
static void check_dot_rows(const pdvm_gguf *g, const vector_file *v)
{
    const gguf_tensor *src = pdvm_gguf_find_tensor(g, "source.f32");
    assert_non_null(src);
    int64_t n = src->ne[0];
    float *x = malloc((size_t)n * sizeof *x), *row = malloc((size_t)n * sizeof *row);
    assert_true(x && row);
    test_fill_random(x, (size_t)n, 42, -1.0f, 1.0f);
    for (size_t k = 0; k <= v->n_types; k++) {
        const gguf_tensor *q = k < v->n_types ? tensor_of(g, v->types[k], "quantized") : src;
        for (int64_t r = 0; r < q->ne[1]; r++) {
            const uint8_t *p = (const uint8_t *)q->data + r * row_bytes(q);
            pdvm_dequant_row(q->type, p, row, n);
            float ref = 0.0f;
            for (int64_t i = 0; i < n; i++) ref += row[i] * x[i];
            float got = pdvm_dot_row(q->type, p, x, n);
            if (memcmp(&got, &ref, sizeof got) != 0)
                fail_msg("%s row %lld: dot %.9g, dequant-then-dot %.9g",
                         pdvm_type_name(q->type), (long long)r, got, ref);
        }
    }
    free(x);
    free(row);
}

static void test_dot_row_matches_dequant_then_dot(void **state)
{
    (void)state;
    for (size_t f = 0; f < N_VECTOR_FILES; f++) {
        pdvm_gguf *g = open_vector_file(&vector_files[f]);
        check_dot_rows(g, &vector_files[f]);
        pdvm_gguf_close(g);
    }
}

/* The CPU decodes exactly the types the supported model families' files
 * use; every other known type (IQ1/IQ2/IQ3, TQ*, ...) is refused. */
static void test_decodable_set(void **state)
{
    (void)state;
    static const char *const want[] = {"f32",  "f16",  "q4_0", "q4_1", "q5_0",
                                       "q5_1", "q8_0", "q2_K", "q3_K", "q4_K",
                                       "q5_K", "q6_K", "iq4_nl", "iq4_xs", "bf16"};
    size_t n = 0;
    for (uint32_t t = 0; t < PDVM_TYPE_COUNT; t++) {
        if (!pdvm_type_can_dequant(t)) continue;
        assert_true(n < sizeof want / sizeof want[0]);
        assert_string_equal(pdvm_type_name(t), want[n]);
        n++;
    }
    assert_int_equal(n, sizeof want / sizeof want[0]);
}

/* Decoding must not depend on the alignment of the source bytes. */
static void test_unaligned_source(void **state)
{
    (void)state;
    pdvm_gguf *g = open_vectors();
    const gguf_tensor *q = tensor_of(g, "q4_K", "quantized");
    uint64_t rb = row_bytes(q);
    uint8_t *buf = malloc(rb + 1);
    float *a = malloc(512 * sizeof *a), *b = malloc(512 * sizeof *b);
    assert_true(buf && a && b && q->ne[0] == 512);
    memcpy(buf + 1, q->data, rb);
    pdvm_dequant_row(q->type, q->data, a, 512);
    pdvm_dequant_row(q->type, buf + 1, b, 512);
    assert_memory_equal(a, b, 512 * sizeof *a);
    free(buf);
    free(a);
    free(b);
    pdvm_gguf_close(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors_bit_exact),
        cmocka_unit_test(test_f16_encoding_matches_ggml),
        cmocka_unit_test(test_half_roundtrip_all_codes),
        cmocka_unit_test(test_half_rounding_edges),
        cmocka_unit_test(test_type_table),
        cmocka_unit_test(test_row_bytes),
        cmocka_unit_test(test_dot_row_matches_dequant_then_dot),
        cmocka_unit_test(test_decodable_set),
        cmocka_unit_test(test_unaligned_source),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Truncated and corrupted copies of the real model files: every header
 * prefix, spread prefixes through the data, and 8-byte overwrites at
 * seeded random places. Each goes through the reader, the binder and the
 * tokenizer (pdvm_model_open_gguf), and a bound model has the first and
 * last row of every weight decoded. The buffer is malloc'd to the exact
 * file size, so under ASan (make SANITIZE=1) any read outside it aborts:
 * passing means no crash, no over-read, and an error message whenever the
 * status is not OK. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <dirent.h>

#include "gguf.h"
#include "model.h"
#include "quant.h"
#include "test_util.h"

#define SPREAD_PREFIXES 200
#define OVERWRITES 2000

static const char *const files[] = {"stories260K.gguf", "stories260K-f16.gguf",
                                    "stories260K-q8_0.gguf", "stories260K-q4_0.gguf"};

static void touch_tensor(const pdvm_tensor *t, float *scratch, float *sink)
{
    if (!pdvm_type_can_dequant(t->type)) fail_msg("%s bound with type %u", t->name, t->type);
    const uint8_t *last = (const uint8_t *)t->data + (uint64_t)(t->ne[1] - 1) * t->row_bytes;
    pdvm_dequant_row(t->type, t->data, scratch, t->ne[0]);
    *sink += scratch[0] + pdvm_dot_row(t->type, last, scratch, t->ne[0]);
}

/* Decode the first and last row of every bound weight. */
static void touch_model(const pdvm_model *m)
{
    int64_t widest = m->hp.n_embd > m->hp.n_ff ? m->hp.n_embd : m->hp.n_ff;
    float *scratch = malloc((size_t)widest * sizeof *scratch), sink = 0.0f;
    assert_non_null(scratch);
    touch_tensor(&m->tok_embd, scratch, &sink);
    touch_tensor(&m->output, scratch, &sink);
    touch_tensor(&m->output_norm, scratch, &sink);
    for (uint32_t l = 0; l < m->hp.n_layer; l++) {
        const pdvm_layer *L = &m->layers[l];
        const pdvm_tensor *ts[] = {&L->attn_norm, &L->attn_q,     &L->attn_k,   &L->attn_v,    &L->attn_output,
                                   &L->ffn_norm,  &L->ffn_gate, &L->ffn_up, &L->ffn_down};
        for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) touch_tensor(ts[i], scratch, &sink);
    }
    free(scratch);
}

/* Open + bind + tokenizer on a private exact-size copy. Returns the status. */
static pdvm_status try_bytes(const uint8_t *src, size_t len)
{
    uint8_t *buf = malloc(len ? len : 1);
    assert_non_null(buf);
    if (len) memcpy(buf, src, len);
    pdvm_gguf *g = NULL;
    pdvm_model *m = NULL;
    pdvm_status st = pdvm_gguf_open_memory(buf, len, &g);
    if (st == PDVM_OK) {
        st = pdvm_model_open_gguf(g, &m);
        if (st == PDVM_OK) {
            touch_model(m);
            pdvm_model_close(m);
        } else {
            pdvm_gguf_close(g);
        }
    }
    if (st != PDVM_OK && pdvm_last_error()[0] == '\0')
        fail_msg("status %s without a message (%zu bytes)", pdvm_status_str(st), len);
    free(buf);
    return st;
}

static uint64_t header_bytes(const uint8_t *data, size_t size)
{
    pdvm_gguf *g = NULL;
    if (pdvm_gguf_open_memory(data, size, &g) != PDVM_OK) fail_msg("%s", pdvm_last_error());
    uint64_t h = pdvm_gguf_data_offset(g);
    pdvm_gguf_close(g);
    return h;
}

static void test_prefixes(void **state)
{
    (void)state;
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        char path[TEST_PATH_MAX];
        size_t size;
        test_model_path(files[f], path, sizeof path);
        uint8_t *data = test_read_file(path, &size);
        assert_int_equal(try_bytes(data, size), PDVM_OK);
        uint64_t header = header_bytes(data, size);
        /* Every prefix through the header: all field boundaries included. */
        for (size_t len = 0; len <= header; len++)
            if (try_bytes(data, len) == PDVM_OK) fail_msg("%s: prefix %zu accepted", files[f], len);
        for (size_t k = 0; k < SPREAD_PREFIXES; k++) {
            size_t len = (size_t)header + (size - 1 - (size_t)header) * k / SPREAD_PREFIXES;
            if (try_bytes(data, len) == PDVM_OK) fail_msg("%s: prefix %zu accepted", files[f], len);
        }
        free(data);
    }
}

static void test_overwrites(void **state)
{
    (void)state;
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        char path[TEST_PATH_MAX];
        size_t size;
        test_model_path(files[f], path, sizeof path);
        uint8_t *data = test_read_file(path, &size), *copy = malloc(size);
        assert_non_null(copy);
        uint64_t header = header_bytes(data, size), seed = 0x5EED0000u + f;
        size_t failed = 0;
        for (size_t k = 0; k < OVERWRITES; k++) {
            memcpy(copy, data, size);
            /* Three in four land in the header, where the parsing is. */
            uint64_t span = (k % 4 ? header : size) - 8;
            size_t at = (size_t)(test_rand_u64(&seed) % span);
            uint64_t v = test_rand_u64(&seed);
            memcpy(copy + at, &v, 8);
            failed += try_bytes(copy, size) != PDVM_OK;
        }
        /* Corrupting the header must be caught at least sometimes, and the
         * untouched data region must still load sometimes. */
        assert_true(failed > 0);
        assert_true(failed < OVERWRITES);
        print_message("%s: %zu of %d overwritten copies rejected\n", files[f], failed,
                      OVERWRITES);
        free(copy);
        free(data);
    }
}

/* Inputs kept from fuzzing (tests/fuzz/regressions, relative to the
 * project root where tests run): each loads or fails with a message. */
static void test_regressions(void **state)
{
    (void)state;
    const char *dir = "tests/fuzz/regressions";
    DIR *d = opendir(dir);
    if (!d) fail_msg("cannot open %s (run tests from the project root)", dir);
    size_t replayed = 0, loaded = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n < 5 || strcmp(e->d_name + n - 5, ".gguf") != 0) continue;
        char path[TEST_PATH_MAX];
        size_t size;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        uint8_t *data = test_read_file(path, &size);
        loaded += try_bytes(data, size) == PDVM_OK;
        replayed++;
        free(data);
    }
    closedir(d);
    assert_true(replayed > 0);
    assert_true(loaded > 0); /* the tiny valid llama seed binds */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prefixes),
        cmocka_unit_test(test_overwrites),
        cmocka_unit_test(test_regressions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "golden_check.h"
#include "test_util.h"

enum { MAX_IDS = 512, MAX_TEXT = 8192 };

typedef struct golden_line {
    char prompt[512];
    int32_t prompt_ids[MAX_IDS], gen_ids[MAX_IDS];
    size_t n_prompt, n_gen;
    char text[MAX_TEXT];
} golden_line;

static size_t parse_ids(const char *s, const char *end, int32_t *out)
{
    size_t n = 0;
    while (s < end && n < MAX_IDS) {
        char *next;
        long v = strtol(s, &next, 10);
        if (next == s) break;
        out[n++] = (int32_t)v;
        s = next;
    }
    return n;
}

/* The golden text escapes \ TAB LF CR. */
static void unescape(const char *s, const char *end, char *out, size_t cap)
{
    size_t n = 0;
    for (; s < end && n + 1 < cap; s++) {
        char c = *s;
        if (c == '\\' && s + 1 < end) {
            c = *++s;
            c = c == 't' ? '\t' : c == 'n' ? '\n' : c == 'r' ? '\r' : c;
        }
        out[n++] = c;
    }
    out[n] = '\0';
}

static bool parse_line(char *line, golden_line *g)
{
    char *f[4];
    f[0] = line;
    for (int i = 1; i < 4; i++) {
        char *tab = strchr(f[i - 1], '\t');
        if (!tab) return false;
        *tab = '\0';
        f[i] = tab + 1;
    }
    f[3][strcspn(f[3], "\n")] = '\0';
    if (strlen(f[0]) >= sizeof g->prompt) return false;
    memcpy(g->prompt, f[0], strlen(f[0]) + 1);
    g->n_prompt = parse_ids(f[1], f[1] + strlen(f[1]), g->prompt_ids);
    g->n_gen = parse_ids(f[2], f[2] + strlen(f[2]), g->gen_ids);
    unescape(f[3], f[3] + strlen(f[3]), g->text, sizeof g->text);
    return g->n_prompt > 0 && g->n_gen > 0;
}

static int32_t argmax(const float *x, uint32_t n)
{
    uint32_t best = 0;
    for (uint32_t i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return (int32_t)best;
}

static void check_prompt(pdvm_model *m, pdvm_backend backend, const golden_line *g)
{
    int32_t ids[MAX_IDS];
    size_t n = 0;
    assert_int_equal(pdvm_tokenize(m, g->prompt, strlen(g->prompt), true, false, ids, MAX_IDS, &n),
                     PDVM_OK);
    assert_int_equal(n, g->n_prompt);
    assert_memory_equal(ids, g->prompt_ids, n * sizeof *ids);

    pdvm_session_params sp = pdvm_session_default_params();
    sp.backend = backend;
    sp.n_ctx = (uint32_t)(g->n_prompt + g->n_gen + 1);
    pdvm_session *s = NULL;
    assert_int_equal(pdvm_session_create(m, &sp, &s), PDVM_OK);
    pdvm_detok *d = NULL;
    assert_int_equal(pdvm_detok_create(m, false, &d), PDVM_OK);
    static char text[MAX_TEXT];
    size_t len = 0, n_piece;
    const char *piece;
    /* The golden text is the continuation of the prompt's text, so the
     * detokenizer sees the prompt first (its output is dropped). */
    for (size_t i = 0; i < n; i++)
        assert_int_equal(pdvm_detok_push(d, ids[i], &piece, &n_piece), PDVM_OK);
    const float *logits = NULL;
    assert_int_equal(pdvm_session_eval(s, ids, n, &logits), PDVM_OK);
    const uint32_t n_vocab = pdvm_model_hparams(m)->n_vocab;
    for (size_t i = 0; i < g->n_gen; i++) {
        int32_t tok = argmax(logits, n_vocab);
        if (tok != g->gen_ids[i])
            fail_msg("'%s': step %zu: got token %d, llama.cpp chose %d", g->prompt, i, tok,
                     g->gen_ids[i]);
        assert_int_equal(pdvm_detok_push(d, tok, &piece, &n_piece), PDVM_OK);
        assert_true(len + n_piece < sizeof text);
        memcpy(text + len, piece, n_piece);
        len += n_piece;
        if (i + 1 < g->n_gen) assert_int_equal(pdvm_session_eval(s, &tok, 1, &logits), PDVM_OK);
    }
    assert_int_equal(pdvm_detok_flush(d, &piece, &n_piece), PDVM_OK);
    assert_true(len + n_piece < sizeof text);
    memcpy(text + len, piece, n_piece);
    text[len + n_piece] = '\0';
    assert_string_equal(text, g->text);
    pdvm_detok_free(d);
    pdvm_session_free(s);
}

void golden_check(const char *model_file, const char *golden, pdvm_backend backend)
{
    char path[TEST_PATH_MAX], gpath[TEST_PATH_MAX];
    test_model_path(model_file, path, sizeof path);
    snprintf(gpath, sizeof gpath, "tests/golden/%s.tsv", golden);
    FILE *f = fopen(gpath, "r");
    if (!f) fail_msg("cannot open %s (run tests from the project root)", gpath);
    pdvm_model *m = NULL;
    assert_int_equal(pdvm_model_open(path, &m), PDVM_OK);
    static char line[65536];
    static golden_line g;
    int n_lines = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || line[0] == '\n') continue;
        if (!parse_line(line, &g)) fail_msg("%s: malformed line %d", gpath, n_lines + 1);
        check_prompt(m, backend, &g);
        n_lines++;
    }
    fclose(f);
    pdvm_model_close(m);
    assert_true(n_lines >= 4);
}

/* The tokenizer against llama.cpp on real vocabularies:
 *  - every .inp string of every vocabulary in <models>/vocab gives the .out
 *    ids (llama.cpp's test-tokenizer-0 vectors; add_special and
 *    parse_special off), also in $PDVM_EXTRA_VOCAB_DIR when set;
 *  - tests/data/tokenizer/<name>.tsv: llama.cpp's ids for each string of
 *    strings.txt with add_special and parse_special on and off (some files
 *    with one key overridden: tokenizer.ggml.pre, to run every
 *    pre-tokenizer, or a SentencePiece flag), its
 *    special ids, flags, end-of-generation ids and a digest of every
 *    token's piece; where llama.cpp's detokenizer gives the string back,
 *    ours must too (pieces, and the streaming detokenizer for valid UTF-8).
 * The .tsv files come from tests/golden/tok_oracle.c (see its README). */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gguf.h"
#include "model.h"
#include "pdvm.h"
#include "test_util.h"
#include "tokenizer.h"
#include "tokenizer_impl.h"

#define DATA_DIR "tests/data/tokenizer"
#define MAX_STRINGS 1024

/* ------------------------------------------------------------ helpers */

typedef struct bytes {
    char *p;
    size_t n;
} bytes;

/* Whole file, NUL-terminated. */
static char *slurp(const char *path, size_t *n)
{
    uint8_t *b = test_read_file(path, n);
    char *s = realloc(b, *n + 1);
    assert_non_null(s);
    s[*n] = '\0';
    return s;
}

/* The vocabulary with one key overridden as the oracle did: "-", or
 * tokenizer.ggml.pre=NAME, or a bool flag KEY=true|false. */
static pdvm_model *vocab_model(const char *path, const char *override)
{
    static const char pre_key[] = "tokenizer.ggml.pre=";
    pdvm_gguf *g = NULL;
    if (pdvm_gguf_open(path, &g) != PDVM_OK) fail_msg("%s", pdvm_last_error());
    pdvm_model *m = calloc(1, sizeof *m);
    assert_non_null(m);
    bool pre = strncmp(override, pre_key, sizeof pre_key - 1) == 0;
    pdvm_status st = pre ? pdvm_tokenizer_load_pre(g, override + sizeof pre_key - 1, &m->tok)
                         : pdvm_tokenizer_load(g, &m->tok);
    pdvm_gguf_close(g);
    if (st != PDVM_OK) fail_msg("%s (%s): %s", path, override, pdvm_last_error());
    const char *eq = strchr(override, '=');
    bool v = eq && strcmp(eq + 1, "true") == 0;
    if (strncmp(override, "tokenizer.ggml.add_space_prefix=", 32) == 0)
        m->tok->add_space_prefix = v;
    else if (strncmp(override, "tokenizer.ggml.add_bos_token=", 29) == 0)
        m->tok->add_bos = v;
    else if (strncmp(override, "tokenizer.ggml.add_eos_token=", 29) == 0)
        m->tok->add_eos = v;
    else if (!pre && strcmp(override, "-") != 0)
        fail_msg("override %s: not one the test knows", override);
    return m;
}

static void free_model(pdvm_model *m)
{
    pdvm_tokenizer_free(m->tok);
    free(m);
}

/* All ids of text; *n ids, malloc'd. */
static int32_t *tokenize(const pdvm_model *m, const char *s, size_t len, bool add, bool parse,
                         size_t *n)
{
    pdvm_status st = pdvm_tokenize(m, s, len, add, parse, NULL, 0, n);
    assert_true(st == PDVM_OK || (st == PDVM_ERR_INVALID_ARG && *n > 0));
    int32_t *ids = malloc((*n + 1) * sizeof *ids);
    assert_non_null(ids);
    size_t again = 0;
    assert_int_equal(pdvm_tokenize(m, s, len, add, parse, ids, *n, &again), PDVM_OK);
    assert_int_equal(again, *n);
    return ids;
}

static void format_ids(const int32_t *ids, size_t n, char *out, size_t cap)
{
    size_t at = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n && at + 16 < cap; i++)
        at += (size_t)snprintf(out + at, cap - at, i ? " %d" : "%d", ids[i]);
}

/* ------------------------------------------------------ .inp / .out */

static int inp_out_file(const char *dir, const char *name)
{
    char path[TEST_PATH_MAX], inp[TEST_PATH_MAX + 8], outp[TEST_PATH_MAX + 8];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(inp, sizeof inp, "%s.inp", path);
    snprintf(outp, sizeof outp, "%s.out", path);
    FILE *probe = fopen(outp, "rb");
    if (!probe) return 0;
    fclose(probe);
    pdvm_model *m = NULL;
    pdvm_status st = pdvm_model_open_vocab(path, &m);
    if (st == PDVM_ERR_UNSUPPORTED) { /* e.g. WordPiece files among llama.cpp's */
        print_message("    skipped: %s\n", pdvm_last_error());
        return 0;
    }
    if (st != PDVM_OK) fail_msg("%s", pdvm_last_error());
    size_t ni, no;
    char *in = slurp(inp, &ni), *out = slurp(outp, &no);
    static const char sep[] = "\n__ggml_vocab_test__\n";
    char *s = in, *line = out;
    int cases = 0;
    for (char *end; (end = strstr(s, sep)) != NULL; s = end + strlen(sep), cases++) {
        char *nl = strchr(line, '\n');
        assert_non_null(nl);
        *nl = '\0';
        while (*line == ' ') line++;
        size_t n;
        int32_t *ids = tokenize(m, s, (size_t)(end - s), false, false, &n);
        static char got[1 << 16];
        format_ids(ids, n, got, sizeof got);
        if (strcmp(got, line) != 0)
            fail_msg("%s case %d '%.*s':\n want %s\n got  %s", name, cases, (int)(end - s), s,
                     line, got);
        free(ids);
        line = nl + 1;
    }
    free(in);
    free(out);
    pdvm_model_close(m);
    return cases;
}

static int inp_out_dir(const char *dir, int *files)
{
    DIR *d = opendir(dir);
    if (!d) fail_msg("cannot list %s", dir);
    int cases = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        size_t n = strlen(e->d_name);
        if (n < 5 || strcmp(e->d_name + n - 5, ".gguf") != 0) continue;
        int c = inp_out_file(dir, e->d_name);
        cases += c;
        *files += c > 0;
    }
    closedir(d);
    return cases;
}

static void test_inp_out(void **state)
{
    (void)state;
    char probe[TEST_PATH_MAX], dir[TEST_PATH_MAX];
    test_model_path("vocab/ggml-vocab-llama-bpe.gguf", probe, sizeof probe); /* skips or fails */
    snprintf(dir, sizeof dir, "%s/vocab", test_models_dir());
    int files = 0, cases = inp_out_dir(dir, &files);
    assert_true(files >= 7);
    print_message("    %d .inp/.out cases in %d vocabularies of %s\n", cases, files, dir);
    const char *extra = getenv("PDVM_EXTRA_VOCAB_DIR");
    if (extra && *extra) {
        files = 0;
        cases = inp_out_dir(extra, &files);
        print_message("    %d .inp/.out cases in %d vocabularies of %s\n", cases, files, extra);
    }
}

/* ---------------------------------------------------- oracle strings */

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static bytes unescape(const char *s, size_t n)
{
    bytes b = {malloc(n + 1), 0};
    assert_non_null(b.p);
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '\\') {
            b.p[b.n++] = s[i];
            continue;
        }
        assert_true(++i < n);
        switch (s[i]) {
        case '\\': b.p[b.n++] = '\\'; break;
        case 'n': b.p[b.n++] = '\n'; break;
        case 'r': b.p[b.n++] = '\r'; break;
        case 't': b.p[b.n++] = '\t'; break;
        case 'x':
            assert_true(i + 2 < n && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0);
            b.p[b.n++] = (char)(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
            i += 2;
            break;
        default: fail_msg("bad escape \\%c in strings.txt", s[i]);
        }
    }
    return b;
}

static size_t load_strings(bytes *v)
{
    size_t len, count = 0;
    char *all = slurp(DATA_DIR "/strings.txt", &len);
    for (char *line = all; *line;) {
        char *nl = strchr(line, '\n');
        size_t n = nl ? (size_t)(nl - line) : strlen(line);
        if (line[0] != '#') {
            assert_true(count < MAX_STRINGS);
            v[count++] = unescape(line, n);
        }
        line += n + (nl != NULL);
    }
    free(all);
    return count;
}

/* Strict UTF-8 (RFC 3629): the streaming detokenizer gives such text back. */
static bool valid_utf8(const char *p, size_t n)
{
    for (size_t i = 0; i < n;) {
        uint8_t b = (uint8_t)p[i];
        size_t k = b < 0x80 ? 1 : b >= 0xC2 && b <= 0xDF ? 2 : b >= 0xE0 && b <= 0xEF ? 3
                 : b >= 0xF0 && b <= 0xF4 ? 4 : 0;
        if (k == 0 || i + k > n) return false;
        uint32_t cp = k == 1 ? b : b & (0x7F >> k);
        for (size_t j = 1; j < k; j++) {
            if (((uint8_t)p[i + j] & 0xC0) != 0x80) return false;
            cp = (cp << 6) | ((uint8_t)p[i + j] & 0x3F);
        }
        if ((k == 3 && cp < 0x800) || (k == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += k;
    }
    return true;
}

/* llama_detokenize without its space clean-up: the pieces, the first one
 * without its leading space when the vocabulary adds a dummy prefix. */
static bool pieces_give_back(const pdvm_model *m, const int32_t *ids, size_t n, bytes s)
{
    static char buf[1 << 16];
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len;
        if (pdvm_token_to_piece(m, ids[i], true, buf + at, sizeof buf - at, &len) != PDVM_OK)
            return false;
        if (i == 0 && len > 0 && buf[at] == ' ' && pdvm_tokenizer_add_space_prefix(m->tok)) {
            memmove(buf + at, buf + at + 1, len - 1);
            len--;
        }
        at += len;
    }
    return at == s.n && memcmp(buf, s.p, s.n) == 0;
}

static bool detok_gives_back(const pdvm_model *m, const int32_t *ids, size_t n, bytes s)
{
    static char buf[1 << 16];
    size_t at = 0, len;
    const char *text;
    pdvm_detok *d = NULL;
    assert_int_equal(pdvm_detok_create(m, true, &d), PDVM_OK);
    for (size_t i = 0; i <= n; i++) {
        if (i < n)
            assert_int_equal(pdvm_detok_push(d, ids[i], &text, &len), PDVM_OK);
        else
            assert_int_equal(pdvm_detok_flush(d, &text, &len), PDVM_OK);
        assert_true(at + len <= sizeof buf);
        memcpy(buf + at, text, len);
        at += len;
    }
    pdvm_detok_free(d);
    return at == s.n && memcmp(buf, s.p, s.n) == 0;
}

static uint64_t fnv64(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

static void check_meta(const pdvm_model *m, const char *key, const char *rest, const char *file)
{
    char got[1 << 12];
    if (strcmp(key, "meta") == 0) {
        snprintf(got, sizeof got, "%u\t%d\t%d\t%d\t%d", pdvm_tokenizer_n_vocab(m->tok),
                 pdvm_token_bos(m), pdvm_token_eos(m), pdvm_model_add_bos(m),
                 pdvm_model_add_eos(m));
    } else if (strcmp(key, "eog") == 0) {
        size_t at = 0;
        got[0] = '\0';
        for (uint32_t t = 0; t < pdvm_tokenizer_n_vocab(m->tok) && at + 16 < sizeof got; t++)
            if (pdvm_token_is_eog(m, (int32_t)t))
                at += (size_t)snprintf(got + at, sizeof got - at, at ? "\t%u" : "%u", t);
    } else {
        bool special = rest[0] == '1';
        uint64_t h = 14695981039346656037ull;
        static char piece[1 << 16];
        for (uint32_t t = 0; t < pdvm_tokenizer_n_vocab(m->tok); t++) {
            size_t len;
            assert_int_equal(pdvm_token_to_piece(m, (int32_t)t, special, piece, sizeof piece, &len),
                             PDVM_OK);
            uint32_t l32 = (uint32_t)len;
            h = fnv64(fnv64(h, &l32, 4), piece, len);
        }
        snprintf(got, sizeof got, "%d\t%016llx", special, (unsigned long long)h);
    }
    if (strcmp(got, rest) != 0) fail_msg("%s: %s: want %s, got %s", file, key, rest, got);
}

typedef struct oracle_stats {
    int lines, round_trips, detok_round_trips;
} oracle_stats;

/* One "K AP RT ids" line. */
static void check_line(const pdvm_model *m, const bytes *strings, size_t n_strings, char *line,
                       const char *file, oracle_stats *st)
{
    int k, add, parse, rt, used = 0;
    char mode[3];
    if (sscanf(line, "%d\t%2s\t%d\t%n", &k, mode, &rt, &used) != 3 || used == 0)
        fail_msg("%s: bad line '%s'", file, line);
    assert_true(k >= 0 && (size_t)k < n_strings);
    add = mode[0] == '1';
    parse = mode[1] == '1';
    bytes s = strings[k];
    size_t n;
    int32_t *ids = tokenize(m, s.p, s.n, add, parse, &n);
    static char got[1 << 16];
    format_ids(ids, n, got, sizeof got);
    if (strcmp(got, line + used) != 0)
        fail_msg("%s: string %d (add_special %d, parse_special %d) '%.*s':\n want %s\n got  %s",
                 file, k, add, parse, (int)s.n, s.p, line + used, got);
    if (rt && !add) {
        if (!pieces_give_back(m, ids, n, s))
            fail_msg("%s: string %d: the pieces do not give '%.*s' back", file, k, (int)s.n, s.p);
        st->round_trips++;
        if (valid_utf8(s.p, s.n)) {
            if (!detok_gives_back(m, ids, n, s))
                fail_msg("%s: string %d: the detokenizer does not give '%.*s' back", file, k,
                         (int)s.n, s.p);
            st->detok_round_trips++;
        }
    }
    st->lines++;
    free(ids);
}

static void oracle_file(const char *name, const bytes *strings, size_t n_strings, int *lines)
{
    char path[TEST_PATH_MAX], vocab[TEST_PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", DATA_DIR, name);
    size_t len;
    char *all = slurp(path, &len);
    pdvm_model *m = NULL;
    oracle_stats st = {0};
    for (char *line = all; *line;) {
        char *nl = strchr(line, '\n');
        assert_non_null(nl);
        *nl = '\0';
        char *tab = strchr(line, '\t');
        if (line[0] == '#' || !tab) {
        } else if (strncmp(line, "vocab\t", 6) == 0) {
            snprintf(vocab, sizeof vocab, "vocab/%s", tab + 1);
        } else if (strncmp(line, "override\t", 9) == 0) {
            test_model_path(vocab, path, sizeof path); /* skips or fails */
            m = vocab_model(path, tab + 1);
        } else if (line[0] >= '0' && line[0] <= '9') {
            assert_non_null(m);
            check_line(m, strings, n_strings, line, name, &st);
        } else {
            assert_non_null(m);
            *tab = '\0';
            check_meta(m, line, tab + 1, name);
        }
        line = nl + 1;
    }
    assert_true(st.lines > 0);
    print_message("    %-28s %4d id lines, %3d round trips (%3d through the detokenizer)\n", name,
                  st.lines, st.round_trips, st.detok_round_trips);
    *lines += st.lines;
    free_model(m);
    free(all);
}

static void test_oracle_strings(void **state)
{
    (void)state;
    static bytes strings[MAX_STRINGS];
    size_t n = load_strings(strings);
    assert_true(n >= 200);
    DIR *d = opendir(DATA_DIR);
    assert_non_null(d);
    int files = 0, lines = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        size_t k = strlen(e->d_name);
        if (k < 4 || strcmp(e->d_name + k - 4, ".tsv") != 0) continue;
        oracle_file(e->d_name, strings, n, &lines);
        files++;
    }
    closedir(d);
    assert_true(files >= 7);
    print_message("    %zu strings, %d files, %d id lines equal to llama.cpp's\n", n, files, lines);
    for (size_t i = 0; i < n; i++) free(strings[i].p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inp_out),
        cmocka_unit_test(test_oracle_strings),
    };
    return cmocka_run_group_tests_name("tokenizer vs llama.cpp", tests, NULL, NULL);
}

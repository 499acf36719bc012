/* Tokenizer oracle: llama.cpp's own tokenizer (the prebuilt library of node-llama-cpp), run on
 * vocab-only GGUF files, to produce the reference ids in tests/data/tokenizer/. Our code; it links
 * only llama.h. Build and use: tests/golden/README.md ("Tokenizer ids").
 *
 *   tok_oracle ids  VOCAB.gguf STRINGS.txt [KEY=VALUE]
 *                                 reference lines for every string (stdout); KEY=VALUE overrides
 *                                 one key: tokenizer.ggml.pre (a string) or a bool key such as
 *                                 tokenizer.ggml.add_space_prefix (true/false)
 *   tok_oracle time VOCAB.gguf FILE [IDS]          tokenize FILE's bytes once (as llama-tokenize
 *                                                  -f FILE: BOS and special tokens), print the
 *                                                  count and the seconds; IDS gets the ids as
 *                                                  `pdvm tokenize --ids` prints them
 *
 * STRINGS.txt: one string per line with the escapes \\ \n \r \t \xHH; lines starting with '#'
 * are comments. Output lines (tab separated), after '#' comment lines naming the vocabulary and
 * the override:
 *   vocab  the file's name;  override  KEY=VALUE or "-"
 *   meta   n_vocab bos eos add_bos add_eos
 *   eog    the end-of-generation ids, ascending
 *   pieces SPECIAL FNV    FNV-1a 64 over every token's piece (length, then bytes), special 0/1
 *   K      AP      RT  IDS
 * K: string number (0-based, comments not counted); A: add_special; P: parse_special; RT: 1 when
 * llama_detokenize(IDS, remove_special=false, unparse_special=true) gives the string back. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "llama.h"

static void quiet_log(enum ggml_log_level level, const char *text, void *user)
{
    (void)user;
    if (level == GGML_LOG_LEVEL_ERROR) fputs(text, stderr);
}

static int hex_value(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Unescape line[0..n) in place; returns the new length, -1 on a bad escape. */
static long unescape(char *line, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (line[i] != '\\') {
            line[o++] = line[i];
            continue;
        }
        if (++i >= n) return -1;
        switch (line[i]) {
        case '\\': line[o++] = '\\'; break;
        case 'n': line[o++] = '\n'; break;
        case 'r': line[o++] = '\r'; break;
        case 't': line[o++] = '\t'; break;
        case 'x': {
            if (i + 2 >= n) return -1;
            int hi = hex_value(line[i + 1]), lo = hex_value(line[i + 2]);
            if (hi < 0 || lo < 0) return -1;
            line[o++] = (char)(hi * 16 + lo);
            i += 2;
            break;
        }
        default: return -1;
        }
    }
    return (long)o;
}

/* override: "tokenizer.ggml.pre=NAME" or "KEY=true|false". */
static struct llama_model *load_vocab(const char *path, const char *override)
{
    struct llama_model_params mp = llama_model_default_params();
    struct llama_model_kv_override kv[2];
    memset(kv, 0, sizeof kv);
    const char *eq = override ? strchr(override, '=') : NULL;
    if (override && (!eq || (size_t)(eq - override) >= sizeof kv[0].key)) {
        fprintf(stderr, "tok_oracle: override '%s' is not KEY=VALUE\n", override);
        return NULL;
    }
    if (eq) {
        snprintf(kv[0].key, sizeof kv[0].key, "%.*s", (int)(eq - override), override);
        if (strcmp(kv[0].key, "tokenizer.ggml.pre") == 0) {
            kv[0].tag = LLAMA_KV_OVERRIDE_TYPE_STR;
            snprintf(kv[0].val_str, sizeof kv[0].val_str, "%s", eq + 1);
        } else {
            kv[0].tag = LLAMA_KV_OVERRIDE_TYPE_BOOL;
            kv[0].val_bool = strcmp(eq + 1, "true") == 0;
        }
        mp.kv_overrides = kv;
    }
    mp.vocab_only = true;
    struct llama_model *m = llama_model_load_from_file(path, mp);
    if (!m) fprintf(stderr, "tok_oracle: cannot load %s\n", path);
    return m;
}

static int32_t *tokenize(const struct llama_vocab *v, const char *s, size_t n, bool add, bool parse,
                         int32_t *count)
{
    int32_t cap = (int32_t)n + 8;
    int32_t *ids = malloc((size_t)cap * sizeof *ids);
    int32_t k = llama_tokenize(v, s, (int32_t)n, ids, cap, add, parse);
    if (k < 0) {
        cap = -k;
        ids = realloc(ids, (size_t)cap * sizeof *ids);
        k = llama_tokenize(v, s, (int32_t)n, ids, cap, add, parse);
    }
    *count = k;
    return ids;
}

static bool round_trips(const struct llama_vocab *v, const int32_t *ids, int32_t k, const char *s,
                        size_t n)
{
    int32_t cap = (int32_t)n * 4 + 64;
    char *buf = malloc((size_t)cap);
    int32_t len = llama_detokenize(v, ids, k, buf, cap, false, true);
    if (len < 0) {
        cap = -len;
        buf = realloc(buf, (size_t)cap);
        len = llama_detokenize(v, ids, k, buf, cap, false, true);
    }
    bool same = len >= 0 && (size_t)len == n && memcmp(buf, s, n) == 0;
    free(buf);
    return same;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

static void print_meta(const struct llama_vocab *v)
{
    int32_t n_vocab = llama_vocab_n_tokens(v);
    printf("meta\t%d\t%d\t%d\t%d\t%d\n", n_vocab, llama_vocab_bos(v), llama_vocab_eos(v),
           llama_vocab_get_add_bos(v), llama_vocab_get_add_eos(v));
    printf("eog");
    for (int32_t t = 0; t < n_vocab; t++)
        if (llama_vocab_is_eog(v, t)) printf("\t%d", t);
    printf("\n");
    char buf[4096];
    for (int special = 0; special <= 1; special++) {
        uint64_t h = 14695981039346656037ull;
        for (int32_t t = 0; t < n_vocab; t++) {
            int32_t len = llama_token_to_piece(v, t, buf, sizeof buf, 0, special);
            if (len < 0) {
                fprintf(stderr, "tok_oracle: piece of %d is over %zu bytes\n", t, sizeof buf);
                exit(1);
            }
            uint32_t l32 = (uint32_t)len;
            h = fnv(h, &l32, 4);
            h = fnv(h, buf, (size_t)len);
        }
        printf("pieces\t%d\t%016llx\n", special, (unsigned long long)h);
    }
}

static int cmd_ids(const struct llama_vocab *v, const char *vocab_path, const char *strings_path,
                   const char *pre)
{
    FILE *f = fopen(strings_path, "rb");
    if (!f) {
        perror(strings_path);
        return 1;
    }
    const char *base = strrchr(vocab_path, '/');
    printf("# llama.cpp's ids (tests/golden/tok_oracle.c) for tests/data/tokenizer/strings.txt\n");
    printf("vocab\t%s\n", base ? base + 1 : vocab_path);
    printf("override\t%s\n", pre ? pre : "-");
    print_meta(v);
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    int k = 0;
    while ((got = getline(&line, &cap, f)) >= 0) {
        size_t n = (size_t)got;
        if (n > 0 && line[n - 1] == '\n') n--;
        if (n > 0 && line[0] == '#') continue;
        long len = unescape(line, n);
        if (len < 0) {
            fprintf(stderr, "tok_oracle: bad escape in string %d\n", k);
            return 1;
        }
        for (int mode = 0; mode < 4; mode++) {
            bool add = mode & 2, parse = mode & 1;
            int32_t count;
            int32_t *ids = tokenize(v, line, (size_t)len, add, parse, &count);
            printf("%d\t%d%d\t%d\t", k, add, parse, round_trips(v, ids, count, line, (size_t)len));
            for (int32_t i = 0; i < count; i++) printf(i ? " %d" : "%d", ids[i]);
            printf("\n");
            free(ids);
        }
        k++;
    }
    free(line);
    fclose(f);
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* As `llama-tokenize -f FILE --show-count`: add_special and parse_special on. */
static int cmd_time(const struct llama_vocab *v, const char *path, const char *ids_path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return 1;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = malloc((size_t)n + 1);
    if (fread(text, 1, (size_t)n, f) != (size_t)n) return 1;
    fclose(f);
    double t0 = now_s();
    int32_t count;
    int32_t *ids = tokenize(v, text, (size_t)n, true, true, &count);
    double t1 = now_s();
    printf("llama.cpp: %ld bytes -> %d tokens in %.3f s\n", n, count, t1 - t0);
    FILE *out = ids_path ? fopen(ids_path, "w") : NULL;
    if (out) {
        fputc('[', out);
        for (int32_t i = 0; i < count; i++) fprintf(out, i ? ", %d" : "%d", ids[i]);
        fputs("]\n", out);
        fclose(out);
    }
    free(ids);
    free(text);
    return 0;
}

int main(int argc, char **argv)
{
    bool ids = argc >= 2 && strcmp(argv[1], "ids") == 0;
    bool timing = argc >= 2 && strcmp(argv[1], "time") == 0;
    if (!((ids || timing) && (argc == 4 || argc == 5))) {
        fprintf(stderr, "usage: tok_oracle ids VOCAB.gguf STRINGS.txt [PRE] | "
                        "time VOCAB.gguf FILE [IDS]\n");
        return 2;
    }
    const char *pre = ids && argc == 5 ? argv[4] : NULL;
    llama_log_set(quiet_log, NULL);
    llama_backend_init();
    double t0 = now_s();
    struct llama_model *m = load_vocab(argv[2], pre);
    if (!m) return 1;
    if (strcmp(argv[1], "time") == 0) fprintf(stderr, "tok_oracle: vocabulary loaded in %.3f s\n",
                                              now_s() - t0);
    const struct llama_vocab *v = llama_model_get_vocab(m);
    int r = ids ? cmd_ids(v, argv[2], argv[3], pre)
                : cmd_time(v, argv[3], argc == 5 ? argv[4] : NULL);
    llama_model_free(m);
    llama_backend_free();
    return r;
}

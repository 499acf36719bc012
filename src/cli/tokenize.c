/* `pdvm tokenize`: the token ids of a text, with llama-tokenize's flags.
 * The text comes from -p, -f FILE or --stdin; a file and stdin are taken
 * byte for byte (a trailing newline is text too). BOS/EOS are added when
 * the model asks for BOS (as llama-tokenize) unless --no-bos; special-token
 * text is parsed unless --no-parse-special. Only the tokenizer is loaded,
 * so vocab-only GGUF files work. Output: the ids space-separated on one
 * line, or `[id, id, ...]` with --ids, or one `id 'piece'` line per token
 * with --pieces; then `Total number of tokens: N` with --show-count. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "cli.h"
#include "pdvm.h"

typedef struct tok_opts {
    const char *model, *prompt, *file;
    bool from_stdin, ids, pieces, no_bos, no_parse_special, show_count;
} tok_opts;

static const char SYNOPSIS[] = "-m MODEL (-p TEXT | -f FILE | --stdin) [options]";

static int check_source(const tok_opts *o)
{
    int sources = (o->prompt != NULL) + (o->file != NULL) + o->from_stdin;
    if (!o->model || sources != 1) {
        fprintf(stderr, "pdvm tokenize: -m MODEL and one of -p TEXT, -f FILE, --stdin are "
                        "required (see pdvm tokenize --help)\n");
        return PDVM_EXIT_USAGE;
    }
    if (o->ids && o->pieces) {
        fprintf(stderr, "pdvm tokenize: --ids and --pieces do not go together\n");
        return PDVM_EXIT_USAGE;
    }
    return -1;
}

static int parse_opts(int argc, char **argv, tok_opts *o)
{
    *o = (tok_opts){0};
    const pdvm_arg args[] = {
        {"-m", "--model", PDVM_ARG_STR, &o->model, 0, 0, "PATH",
         "GGUF file (vocab-only is enough)"},
        {"-p", "--prompt", PDVM_ARG_STR, &o->prompt, 0, 0, "TEXT", "text to tokenize"},
        {"-f", "--file", PDVM_ARG_STR, &o->file, 0, 0, "FILE", "tokenize the bytes of FILE"},
        {NULL, "--stdin", PDVM_ARG_FLAG, &o->from_stdin, 0, 0, NULL, "tokenize standard input"},
        {NULL, "--ids", PDVM_ARG_FLAG, &o->ids, 0, 0, NULL, "print [id, id, ...]"},
        {NULL, "--pieces", PDVM_ARG_FLAG, &o->pieces, 0, 0, NULL,
         "print id and piece (its text, control tokens included) per line"},
        {NULL, "--no-bos", PDVM_ARG_FLAG, &o->no_bos, 0, 0, NULL, "add no BOS/EOS"},
        {NULL, "--no-parse-special", PDVM_ARG_FLAG, &o->no_parse_special, 0, 0, NULL,
         "special-token text (<|eot_id|>, ...) is plain text"},
        {NULL, "--show-count", PDVM_ARG_FLAG, &o->show_count, 0, 0, NULL,
         "print the number of tokens last"},
    };
    size_t n_args = sizeof args / sizeof args[0];
    int r = pdvm_args_parse("tokenize", args, n_args, argc, argv);
    if (r == PDVM_ARGS_HELP) {
        pdvm_args_usage(stdout, "tokenize", SYNOPSIS, args, n_args);
        return PDVM_EXIT_OK;
    }
    if (r != PDVM_ARGS_OK) return PDVM_EXIT_USAGE;
    return check_source(o);
}

/* All bytes of f into *buf (malloc'd). */
static bool read_all(FILE *f, char **buf, size_t *len)
{
    size_t cap = 1 << 16, n = 0;
    char *p = malloc(cap);
    while (p) {
        n += fread(p + n, 1, cap - n, f);
        if (n < cap) break;
        char *q = realloc(p, 2 * cap);
        if (!q) {
            free(p);
            p = NULL;
            break;
        }
        p = q;
        cap *= 2;
    }
    if (!p || ferror(f)) {
        free(p);
        return false;
    }
    *buf = p;
    *len = n;
    return true;
}

static int read_text(const tok_opts *o, char **text, size_t *len)
{
    if (o->prompt) {
        *len = strlen(o->prompt);
        *text = malloc(*len + 1);
        if (*text) memcpy(*text, o->prompt, *len + 1);
        return *text ? -1 : PDVM_EXIT_FAIL;
    }
    FILE *f = o->file ? fopen(o->file, "rb") : stdin;
    bool ok = f && read_all(f, text, len);
    if (f && f != stdin) fclose(f);
    if (ok) return -1;
    fprintf(stderr, "pdvm tokenize: cannot read %s\n", o->file ? o->file : "standard input");
    return PDVM_EXIT_FAIL;
}

static void print_piece(const pdvm_model *m, int32_t id)
{
    char small[256];
    size_t len = 0;
    if (pdvm_token_to_piece(m, id, true, small, sizeof small, &len) == PDVM_OK) {
        printf("%d '%.*s'\n", id, (int)len, small);
        return;
    }
    char *big = malloc(len);
    if (big && pdvm_token_to_piece(m, id, true, big, len, &len) == PDVM_OK)
        printf("%d '%.*s'\n", id, (int)len, big);
    free(big);
}

static void print_ids(const tok_opts *o, const pdvm_model *m, const int32_t *ids, size_t n)
{
    if (o->pieces) {
        for (size_t i = 0; i < n; i++) print_piece(m, ids[i]);
    } else {
        const char *sep = o->ids ? ", " : " ";
        if (o->ids) putchar('[');
        for (size_t i = 0; i < n; i++) printf(i ? "%s%d" : "%.0s%d", sep, ids[i]);
        puts(o->ids ? "]" : "");
    }
    if (o->show_count) printf("Total number of tokens: %zu\n", n);
}

/* The ids usually fit in one per byte; when they do not (byte fallback),
 * pdvm_tokenize has said how many there are and the second call fits. */
static pdvm_status tokenize_all(const tok_opts *o, const pdvm_model *m, const char *text,
                                size_t len, int32_t **ids, size_t *n)
{
    bool add_special = pdvm_model_add_bos(m) && !o->no_bos, parse = !o->no_parse_special;
    size_t cap = len + 16;
    for (int attempt = 0; attempt < 2; attempt++) {
        free(*ids);
        *ids = malloc(cap * sizeof **ids);
        if (!*ids) return PDVM_ERR_NOMEM;
        pdvm_status st = pdvm_tokenize(m, text, len, add_special, parse, *ids, cap, n);
        if (st != PDVM_ERR_INVALID_ARG || *n <= cap) return st;
        cap = *n;
    }
    return PDVM_ERR_INVALID_ARG;
}

int pdvm_cli_tokenize(int argc, char **argv)
{
    tok_opts o;
    int r = parse_opts(argc, argv, &o);
    if (r >= 0) return r;
    pdvm_model *m = NULL;
    pdvm_status st = pdvm_model_open_vocab(o.model, &m);
    if (st != PDVM_OK) {
        fprintf(stderr, "pdvm tokenize: %s\n", pdvm_last_error());
        return pdvm_cli_exit_code(st);
    }
    char *text = NULL;
    size_t len = 0, n = 0;
    int32_t *ids = NULL;
    r = read_text(&o, &text, &len);
    if (r < 0) {
        st = tokenize_all(&o, m, text, len, &ids, &n);
        if (st == PDVM_OK) {
            print_ids(&o, m, ids, n);
            r = PDVM_EXIT_OK;
        } else {
            fprintf(stderr, "pdvm tokenize: %s\n",
                    st == PDVM_ERR_NOMEM ? "out of memory" : pdvm_last_error());
            r = pdvm_cli_exit_code(st);
        }
    }
    free(ids);
    free(text);
    pdvm_model_close(m);
    return r;
}

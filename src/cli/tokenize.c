/* `pdvm tokenize`: the token ids of a text (BOS included unless --no-bos),
 * space-separated; with --pieces one `id 'piece'` line per token. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "cli.h"
#include "model.h"
#include "tokenizer.h"

typedef struct tok_opts {
    const char *model, *prompt;
    bool pieces, no_bos;
} tok_opts;

static int parse_opts(int argc, char **argv, tok_opts *o)
{
    *o = (tok_opts){0};
    const pdvm_arg args[] = {
        {"-m", "--model", PDVM_ARG_STR, &o->model, 0, 0, "PATH", "GGUF model file"},
        {"-p", "--prompt", PDVM_ARG_STR, &o->prompt, 0, 0, "TEXT", "text to tokenize"},
        {NULL, "--pieces", PDVM_ARG_FLAG, &o->pieces, 0, 0, NULL, "print id and piece per line"},
        {NULL, "--no-bos", PDVM_ARG_FLAG, &o->no_bos, 0, 0, NULL, "do not prepend BOS"},
    };
    size_t n_args = sizeof args / sizeof args[0];
    int r = pdvm_args_parse("tokenize", args, n_args, argc, argv);
    if (r == PDVM_ARGS_HELP) {
        pdvm_args_usage(stdout, "tokenize", "-m MODEL -p TEXT [--pieces] [--no-bos]", args,
                        n_args);
        return PDVM_EXIT_OK;
    }
    if (r != PDVM_ARGS_OK) return PDVM_EXIT_USAGE;
    if (!o->model || !o->prompt) {
        fprintf(stderr, "pdvm tokenize: -m MODEL and -p TEXT are required\n");
        return PDVM_EXIT_USAGE;
    }
    return -1;
}

static void print_ids(const pdvm_model *m, const int32_t *ids, size_t n, bool pieces)
{
    for (size_t i = 0; i < n; i++) {
        if (pieces) {
            size_t len = 0;
            const char *p = pdvm_tokenizer_piece(m->tok, ids[i], &len);
            printf("%d '%.*s'\n", ids[i], (int)len, p ? p : "");
        } else {
            printf(i ? " %d" : "%d", ids[i]);
        }
    }
    if (!pieces) putchar('\n');
}

int pdvm_cli_tokenize(int argc, char **argv)
{
    tok_opts o;
    int r = parse_opts(argc, argv, &o);
    if (r >= 0) return r;
    pdvm_model *m = NULL;
    pdvm_status st = pdvm_model_open(o.model, &m);
    if (st != PDVM_OK) {
        fprintf(stderr, "pdvm tokenize: %s: %s\n", o.model, pdvm_last_error());
        return pdvm_cli_exit_code(st);
    }
    bool add_bos = !o.no_bos && pdvm_tokenizer_add_bos(m->tok);
    size_t cap = strlen(o.prompt) + 3, n = 0;
    int32_t *ids = malloc(cap * sizeof *ids);
    st = ids ? pdvm_tokenize(m, o.prompt, add_bos, ids, cap, &n) : PDVM_ERR_NOMEM;
    if (st == PDVM_OK) {
        print_ids(m, ids, n, o.pieces);
        r = PDVM_EXIT_OK;
    } else {
        fprintf(stderr, "pdvm tokenize: %s\n", ids ? pdvm_last_error() : "out of memory");
        r = pdvm_cli_exit_code(st);
    }
    free(ids);
    pdvm_model_close(m);
    return r;
}

/* `pdvm perplexity`: llama-perplexity's measure and output. The text
 * (-f FILE, byte for byte) is tokenized with BOS as the model asks and cut
 * into chunks of n_ctx tokens (the rest dropped); each chunk starts a fresh
 * context with its first token replaced by BOS (when the model adds BOS),
 * and the negative log-likelihood of each token in the chunk's second half
 * given everything before it in the chunk is summed: positions j in
 * [n_ctx/2, n_ctx - 1) predict token j + 1, -log softmax(logits_j)[t_j+1]
 * with the softmax in double after subtracting the largest logit. After
 * each chunk `[i]PPL,` with the running perplexity exp(mean NLL); at the
 * end `Final estimate: PPL = P +/- E`, E = P * sqrt((mean NLL^2 -
 * mean NLL^2) / (count - 1)), as llama.cpp's perplexity tool computes
 * them (tools/perplexity). The first half of a chunk is one batch (the
 * batched prefill on the GPU); the second half is evaluated token by token
 * for its logits. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "cli.h"
#include "pdvm.h"

typedef struct ppl_opts {
    const char *model, *file, *backend, *platform;
    uint32_t n_ctx, n_chunks;
} ppl_opts;

static const char SYNOPSIS[] = "-m MODEL -f FILE [-c N] [--chunks N] [--backend gpu|cpu]";

static int parse_opts(int argc, char **argv, ppl_opts *o)
{
    *o = (ppl_opts){.backend = "gpu", .n_ctx = 512};
    const pdvm_arg args[] = {
        {"-m", "--model", PDVM_ARG_STR, &o->model, 0, 0, "PATH", "GGUF model file"},
        {"-f", "--file", PDVM_ARG_STR, &o->file, 0, 0, "FILE", "text to measure"},
        {"-c", "--ctx-size", PDVM_ARG_U32, &o->n_ctx, 4, 1 << 20, "N",
         "tokens a chunk (default 512)"},
        {NULL, "--chunks", PDVM_ARG_U32, &o->n_chunks, 0, 1 << 30, "N",
         "at most N chunks (default all)"},
        {NULL, "--backend", PDVM_ARG_STR, &o->backend, 0, 0, "gpu|cpu", "engine (default gpu)"},
        {NULL, "--platform", PDVM_ARG_STR, &o->platform, 0, 0, "P", "EGL platform"},
    };
    size_t n_args = sizeof args / sizeof args[0];
    int r = pdvm_args_parse("perplexity", args, n_args, argc, argv);
    if (r == PDVM_ARGS_HELP) {
        pdvm_args_usage(stdout, "perplexity", SYNOPSIS, args, n_args);
        return -1;
    }
    if (r != PDVM_ARGS_OK) return PDVM_EXIT_USAGE;
    if (!o->model || !o->file) {
        fprintf(stderr, "pdvm perplexity: -m MODEL and -f FILE are required (see --help)\n");
        return PDVM_EXIT_USAGE;
    }
    if (strcmp(o->backend, "gpu") != 0 && strcmp(o->backend, "cpu") != 0) {
        fprintf(stderr, "pdvm perplexity: --backend must be gpu or cpu, got '%s'\n", o->backend);
        return PDVM_EXIT_USAGE;
    }
    return 0;
}

/* -log softmax(logits)[tok]. */
static double nll_of(const float *logits, uint32_t n_vocab, int32_t tok)
{
    float mx = logits[0];
    for (uint32_t i = 1; i < n_vocab; i++)
        if (logits[i] > mx) mx = logits[i];
    double sum = 0.0;
    for (uint32_t i = 0; i < n_vocab; i++) sum += expf(logits[i] - mx);
    return -((double)(logits[tok] - mx) - log(sum));
}

typedef struct ppl_sum {
    double nll, nll2;
    uint64_t count;
} ppl_sum;

/* One chunk of n tokens (tokens[0] already BOS where asked). */
static pdvm_status chunk(pdvm_session *s, const int32_t *tok, uint32_t n, uint32_t n_vocab,
                         ppl_sum *sum)
{
    const uint32_t first = n / 2;
    const float *logits;
    pdvm_session_reset(s);
    pdvm_status st = pdvm_session_eval(s, tok, first, &logits);
    for (uint32_t j = first; j + 1 < n && st == PDVM_OK; j++) {
        st = pdvm_session_eval(s, &tok[j], 1, &logits);
        if (st != PDVM_OK) break;
        double v = nll_of(logits, n_vocab, tok[j + 1]);
        sum->nll += v;
        sum->nll2 += v * v;
        sum->count++;
    }
    return st;
}

static int measure(const ppl_opts *o, pdvm_model *m, int32_t *tok, size_t n_tok)
{
    const uint32_t n_ctx = o->n_ctx, n_vocab = pdvm_model_hparams(m)->n_vocab;
    if (n_tok < 2 * (size_t)n_ctx) {
        fprintf(stderr, "pdvm perplexity: you need at least %u tokens to evaluate perplexity with "
                        "a context of %u; %s tokenizes to only %zu tokens\n",
                2 * n_ctx, n_ctx, o->file, n_tok);
        return PDVM_EXIT_FAIL;
    }
    size_t n_chunk = n_tok / n_ctx;
    if (o->n_chunks && o->n_chunks < n_chunk) n_chunk = o->n_chunks;
    pdvm_session_params sp = pdvm_session_default_params();
    sp.n_ctx = n_ctx;
    sp.platform = o->platform;
    sp.backend = strcmp(o->backend, "cpu") == 0 ? PDVM_BACKEND_CPU : PDVM_BACKEND_GPU;
    pdvm_session *s = NULL;
    pdvm_status st = pdvm_session_create(m, &sp, &s);
    if (st != PDVM_OK) return pdvm_cli_fail("perplexity", st);
    fprintf(stderr, "pdvm perplexity: calculating perplexity over %zu chunks, n_ctx=%u, "
                    "backend %s\n", n_chunk, n_ctx, o->backend);
    const int32_t bos = pdvm_token_bos(m);
    ppl_sum sum = {0};
    for (size_t i = 0; i < n_chunk && st == PDVM_OK; i++) {
        int32_t *c = tok + i * n_ctx;
        if (bos >= 0) c[0] = bos;
        st = chunk(s, c, n_ctx, n_vocab, &sum);
        if (st == PDVM_OK) printf("[%zu]%.4f,", i + 1, exp(sum.nll / (double)sum.count));
        fflush(stdout);
    }
    pdvm_session_free(s);
    if (st != PDVM_OK) return pdvm_cli_fail("perplexity", st);
    printf("\n");
    double nll = sum.nll / (double)sum.count, nll2 = sum.nll2 / (double)sum.count;
    double ppl = exp(nll), var = nll2 - nll * nll;
    double err = var > 0 ? sqrt(var / (double)(sum.count - 1)) * ppl : 0.0;
    printf("Final estimate: PPL = %.4f +/- %.5f\n", ppl, err);
    return PDVM_EXIT_OK;
}

int pdvm_cli_perplexity(int argc, char **argv)
{
    ppl_opts o;
    int rc = parse_opts(argc, argv, &o);
    if (rc) return rc < 0 ? PDVM_EXIT_OK : rc;
    size_t len;
    char *text = pdvm_cli_read_file("perplexity", o.file, &len);
    if (!text) return PDVM_EXIT_FAIL;
    pdvm_model *m = NULL;
    pdvm_status st = pdvm_model_open(o.model, &m);
    int32_t *tok = NULL;
    size_t n = 0;
    if (st == PDVM_OK) st = pdvm_tokenize(m, text, len, true, false, NULL, 0, &n);
    if (st == PDVM_ERR_INVALID_ARG && n > 0) st = PDVM_OK; /* the sizing call */
    if (st == PDVM_OK && !(tok = malloc((n ? n : 1) * sizeof *tok))) st = PDVM_ERR_NOMEM;
    if (st == PDVM_OK) st = pdvm_tokenize(m, text, len, true, false, tok, n, &n);
    free(text);
    rc = st == PDVM_OK ? measure(&o, m, tok, n) : pdvm_cli_fail("perplexity", st);
    free(tok);
    pdvm_model_close(m);
    return rc;
}

/* llama.cpp's perplexity of a text (the measure of its tools/perplexity,
 * one sequence per chunk), for `pdvm perplexity` to be compared with:
 * tokenize with BOS (special text not parsed, as common_tokenize), chunks
 * of N_CTX tokens with the first replaced by BOS, all logits of a chunk
 * from one llama_decode, NLL of positions [N_CTX/2, N_CTX-1) predicting
 * the next token. Prints `[i]PPL,` per chunk and the final estimate.
 * Context as llama-perplexity's defaults (f16 KV cache) but one thread.
 * Build and run: see tests/golden/README.md (perplexity section). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llama.h"

static void quiet(enum ggml_log_level l, const char *t, void *u) { (void)l, (void)t, (void)u; }

static char *read_all(const char *path, long *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc(*len + 1);
    if (b && fread(b, 1, *len, f) != (size_t)*len) b = (free(b), NULL);
    fclose(f);
    return b;
}

int main(int argc, char **argv)
{
    if (argc != 4) return fprintf(stderr, "usage: perplexity_oracle MODEL TEXT N_CTX\n"), 2;
    const int n_ctx = atoi(argv[3]);
    llama_log_set(quiet, NULL);
    ggml_backend_load_all_from_path(getenv("LLAMA_LIB_DIR"));
    llama_backend_init();
    struct llama_model_params mp = llama_model_default_params();
    mp.n_gpu_layers = 0;
    struct llama_model *m = llama_model_load_from_file(argv[1], mp);
    if (!m) return fprintf(stderr, "cannot load %s\n", argv[1]), 1;
    const struct llama_vocab *vocab = llama_model_get_vocab(m);
    struct llama_context_params cp = llama_context_default_params();
    cp.n_ctx = n_ctx, cp.n_batch = n_ctx, cp.n_ubatch = n_ctx, cp.n_seq_max = 1;
    cp.n_threads = cp.n_threads_batch = 1;
    struct llama_context *ctx = llama_init_from_model(m, cp);
    long len;
    char *text = read_all(argv[2], &len);
    if (!ctx || !text) return fprintf(stderr, "context or text failed\n"), 1;
    int n_tok = -llama_tokenize(vocab, text, (int)len, NULL, 0, true, false);
    llama_token *tok = malloc(sizeof *tok * n_tok);
    llama_tokenize(vocab, text, (int)len, tok, n_tok, true, false);
    const int n_vocab = llama_vocab_n_tokens(vocab), n_chunk = n_tok / n_ctx, first = n_ctx / 2;
    printf("tokens %d, chunks %d, n_ctx %d\n", n_tok, n_chunk, n_ctx);
    struct llama_batch b = llama_batch_init(n_ctx, 0, 1);
    double nll = 0, nll2 = 0;
    int count = 0;
    for (int c = 0; c < n_chunk; c++) {
        llama_memory_clear(llama_get_memory(ctx), true);
        b.n_tokens = n_ctx;
        for (int j = 0; j < n_ctx; j++) {
            b.token[j] = j == 0 && llama_vocab_get_add_bos(vocab) ? llama_vocab_bos(vocab)
                                                                 : tok[c * n_ctx + j];
            b.pos[j] = j, b.n_seq_id[j] = 1, b.seq_id[j][0] = 0, b.logits[j] = j >= first;
        }
        if (llama_decode(ctx, b) != 0) return fprintf(stderr, "decode failed\n"), 1;
        for (int j = first; j < n_ctx - 1; j++) {
            const float *lg = llama_get_logits_ith(ctx, j);
            float mx = lg[0];
            for (int i = 1; i < n_vocab; i++) mx = lg[i] > mx ? lg[i] : mx;
            double sum = 0;
            for (int i = 0; i < n_vocab; i++) sum += expf(lg[i] - mx);
            double v = -((double)(lg[tok[c * n_ctx + j + 1]] - mx) - log(sum));
            nll += v, nll2 += v * v, count++;
        }
        printf("[%d]%.4f,", c + 1, exp(nll / count));
    }
    nll /= count, nll2 /= count;
    double ppl = exp(nll), var = nll2 - nll * nll;
    printf("\nFinal estimate: PPL = %.4f +/- %.5f\n", ppl, var > 0 ? sqrt(var / (count - 1)) * ppl : 0);
    llama_batch_free(b);
    llama_free(ctx);
    llama_model_free(m);
    free(tok);
    free(text);
    return 0;
}

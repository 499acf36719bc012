/* The oracle for the architecture tests: llama.cpp (the prebuilt library of
 * node-llama-cpp 3.22.1) runs greedy generation on the exact-f32 twin of
 * each test model that tests/arch_models.c writes, and this program writes
 * what it saw to tests/golden/arch/<spec>-<type>.tsv. Our code; not built
 * by the Makefile (CI has no llama.cpp). How to rebuild: README.md here.
 *
 * For each (spec, type) it tries seeds 1, 2, ... until every one of the 64
 * greedy steps has a top-2 logit margin of at least MIN_MARGIN (logits
 * spread over tens: the engines' rounding differences are ~1e-4 there), so
 * that they cannot flip a token. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ggml-backend.h"
#include "llama.h"

#include "arch_models.h"

enum { STEPS = 64, TOP = 8, N_CTX = 256, MAX_SEED = 60 };
#define MIN_MARGIN 0.02f
static const char PROMPT[] = "Once upon a time";

typedef struct run {
    llama_token prompt[64];
    int n_prompt;
    llama_token ids[STEPS];
    llama_token top_id[STEPS][TOP];
    float top_logit[STEPS][TOP];
    float min_margin;
} run;

static void top_k(const float *lg, int n, llama_token *id, float *val)
{
    for (int k = 0; k < TOP; k++) id[k] = -1, val[k] = -INFINITY;
    for (int i = 0; i < n; i++) {
        if (lg[i] <= val[TOP - 1]) continue;
        int k = TOP - 1;
        for (; k > 0 && lg[i] > val[k - 1]; k--) id[k] = id[k - 1], val[k] = val[k - 1];
        id[k] = i, val[k] = lg[i];
    }
}

static int run_llama(const char *path, run *r)
{
    struct llama_model_params mp = llama_model_default_params();
    mp.n_gpu_layers = 0;
    struct llama_model *m = llama_model_load_from_file(path, mp);
    if (!m) return -1;
    const struct llama_vocab *vocab = llama_model_get_vocab(m);
    struct llama_context_params cp = llama_context_default_params();
    cp.n_ctx = N_CTX, cp.n_batch = N_CTX, cp.n_ubatch = N_CTX, cp.n_seq_max = 1;
    cp.n_threads = cp.n_threads_batch = 1;
    cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
    cp.type_k = GGML_TYPE_F32, cp.type_v = GGML_TYPE_F32;
    struct llama_context *ctx = llama_init_from_model(m, cp);
    if (!ctx) return -1;
    /* llama-cli's defaults: BOS as the vocabulary asks, special text parsed. */
    r->n_prompt = llama_tokenize(vocab, PROMPT, (int)strlen(PROMPT), r->prompt, 64, true, true);
    int n_vocab = llama_vocab_n_tokens(vocab);
    if (llama_decode(ctx, llama_batch_get_one(r->prompt, r->n_prompt)) != 0) return -1;
    r->min_margin = INFINITY;
    for (int s = 0; s < STEPS; s++) {
        const float *lg = llama_get_logits_ith(ctx, -1);
        top_k(lg, n_vocab, r->top_id[s], r->top_logit[s]);
        r->ids[s] = r->top_id[s][0];
        float margin = r->top_logit[s][0] - r->top_logit[s][1];
        if (margin < r->min_margin) r->min_margin = margin;
        if (llama_decode(ctx, llama_batch_get_one(&r->ids[s], 1)) != 0) return -1;
    }
    llama_free(ctx);
    llama_model_free(m);
    return 0;
}

/* The continuation as llama-cli prints it: pieces up to the first
 * end-of-generation token, control tokens not rendered. */
static void continuation(const char *path, const run *r, char *text, size_t cap, int *n_until_eog)
{
    struct llama_model_params mp = llama_model_default_params();
    mp.vocab_only = true;
    struct llama_model *m = llama_model_load_from_file(path, mp);
    const struct llama_vocab *vocab = llama_model_get_vocab(m);
    size_t n = 0;
    *n_until_eog = STEPS;
    for (int s = 0; s < STEPS; s++) {
        if (llama_vocab_is_eog(vocab, r->ids[s])) {
            *n_until_eog = s;
            break;
        }
        char piece[256];
        int k = llama_token_to_piece(vocab, r->ids[s], piece, sizeof piece, 0, false);
        for (int i = 0; i < k && n + 3 < cap; i++) {
            char c = piece[i];
            if (c == '\\' || c == '\t' || c == '\n' || c == '\r') {
                text[n++] = '\\';
                c = c == '\\' ? '\\' : c == '\t' ? 't' : c == '\n' ? 'n' : 'r';
            }
            text[n++] = c;
        }
    }
    text[n] = '\0';
    llama_model_free(m);
}

static int write_tsv(const char *out, const arch_spec *s, const char *type, uint64_t seed,
                     const run *r, const char *text, int n_until_eog)
{
    FILE *f = fopen(out, "w");
    if (!f) return -1;
    fprintf(f, "# llama.cpp greedy on the exact-f32 twin of tests/arch_models.c's %s in %s\n",
            s->name, type);
    fprintf(f, "seed\t%llu\nn_ctx\t%d\nprompt\t%s\nprompt_ids", (unsigned long long)seed, N_CTX,
            PROMPT);
    for (int i = 0; i < r->n_prompt; i++) fprintf(f, "%c%d", i ? ' ' : '\t', r->prompt[i]);
    fprintf(f, "\nmin_margin\t%.4f\nuntil_eog\t%d\ntext\t%s\n", r->min_margin, n_until_eog, text);
    for (int st = 0; st < STEPS; st++) {
        fprintf(f, "%d\t%d", st, r->ids[st]);
        for (int k = 0; k < TOP; k++) fprintf(f, "\t%d:%.6g", r->top_id[st][k], r->top_logit[st][k]);
        fputc('\n', f);
    }
    return fclose(f);
}

static void quiet(enum ggml_log_level level, const char *text, void *user)
{
    (void)user;
    if (level >= GGML_LOG_LEVEL_ERROR) fputs(text, stderr);
}

/* arch_oracle VOCAB_DIR OUT_DIR SPEC TYPE [SPEC TYPE ...] */
int main(int argc, char **argv)
{
    if (argc < 5 || argc % 2 == 0) {
        fprintf(stderr, "usage: arch_oracle VOCAB_DIR OUT_DIR SPEC TYPE [SPEC TYPE ...]\n");
        return 2;
    }
    llama_log_set(quiet, NULL);
    /* The CPU backends sit beside libllama (LLAMA_LIB_DIR). */
    ggml_backend_load_all_from_path(getenv("LLAMA_LIB_DIR"));
    llama_backend_init();
    for (int a = 3; a < argc; a += 2) {
        const arch_spec *s = arch_spec_find(argv[a]);
        uint32_t type;
        if (!s || !arch_type_from_name(argv[a + 1], &type)) return fprintf(stderr, "bad %s %s\n", argv[a], argv[a + 1]), 2;
        static run r;
        uint64_t seed = 1;
        char twin[256], out[512], text[8192];
        snprintf(twin, sizeof twin, "/tmp/arch-oracle-%s-%s.gguf", s->name, argv[a + 1]);
        for (; seed <= MAX_SEED; seed++) {
            if (!arch_model_write(s, type, seed, true, argv[1], twin) || run_llama(twin, &r) != 0)
                return fprintf(stderr, "%s %s: llama.cpp failed\n", s->name, argv[a + 1]), 1;
            if (r.min_margin >= MIN_MARGIN) break;
        }
        if (seed > MAX_SEED) return fprintf(stderr, "%s: no seed with clear margins\n", s->name), 1;
        int until;
        continuation(twin, &r, text, sizeof text, &until);
        snprintf(out, sizeof out, "%s/%s-%s.tsv", argv[2], s->name, argv[a + 1]);
        if (write_tsv(out, s, argv[a + 1], seed, &r, text, until) != 0) return 1;
        printf("%s %s: seed %llu, min margin %.3f, %d tokens before an end-of-generation one\n",
               s->name, argv[a + 1], (unsigned long long)seed, r.min_margin, until);
        remove(twin);
    }
    llama_backend_free();
    return 0;
}

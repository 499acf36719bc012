/* `pdvm run`: generate text from a prompt, flags as llama-cli spells them.
 * stdout carries only the prompt and the generated text (streamed, flushed
 * per token); stderr carries progress and, last, one `stats:` line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "args.h"
#include "cli.h"
#include "model.h"
#include "session.h"

typedef struct run_opts {
    const char *model, *prompt, *backend, *platform;
    int32_t n_predict;
    uint32_t n_ctx;
    pdvm_sampler_params sp;
    bool unfused, verbose, special;
} run_opts;

typedef struct run_state {
    pdvm_model *model;
    pdvm_session *sess;
    pdvm_sampler *smp;
    pdvm_detok *detok;
    int32_t *prompt;
    size_t n_prompt;
} run_state;

typedef struct run_timing {
    double prefill_s, decode_s;
    uint64_t decode_tokens, decode_dispatches;
} run_timing;

static const char SYNOPSIS[] = "-m MODEL -p PROMPT [options]";

static int parse_opts(int argc, char **argv, run_opts *o)
{
    *o = (run_opts){.backend = "gpu", .n_predict = -1, .sp = pdvm_sampler_default_params()};
    const pdvm_arg args[] = {
        {"-m", "--model", PDVM_ARG_STR, &o->model, 0, 0, "PATH", "GGUF model file"},
        {"-p", "--prompt", PDVM_ARG_STR, &o->prompt, 0, 0, "TEXT", "prompt to continue"},
        {"-n", "--n-predict", PDVM_ARG_I32, &o->n_predict, -1, 2147483647.0, "N",
         "tokens to generate (default -1: until EOS or the context is full)"},
        {"-c", "--ctx-size", PDVM_ARG_U32, &o->n_ctx, 0, PDVM_MAX_N_CTX, "N",
         "context length (default 0: min(trained, 4096))"},
        {NULL, "--temp", PDVM_ARG_F32, &o->sp.temp, -1e9, 1e9, "T",
         "temperature (default 0.8; <= 0: greedy)"},
        {NULL, "--top-k", PDVM_ARG_I32, &o->sp.top_k, -1, 2147483647.0, "K",
         "top-k (default 40; <= 0: off)"},
        {NULL, "--top-p", PDVM_ARG_F32, &o->sp.top_p, 0, 1, "P", "top-p (default 0.95; 1: off)"},
        {NULL, "--min-p", PDVM_ARG_F32, &o->sp.min_p, 0, 1, "P", "min-p (default 0.05; 0: off)"},
        {NULL, "--repeat-penalty", PDVM_ARG_F32, &o->sp.repeat_penalty, 1e-6, 1e6, "R",
         "repetition penalty (default 1.0: off)"},
        {NULL, "--repeat-last-n", PDVM_ARG_I32, &o->sp.repeat_last_n, 0, 1 << 20, "N",
         "tokens the penalty looks back (default 64)"},
        {NULL, "--seed", PDVM_ARG_SEED, &o->sp.seed, 0, 0, "S", "RNG seed (default 4294967295)"},
        {NULL, "--backend", PDVM_ARG_STR, &o->backend, 0, 0, "gpu|cpu", "engine (default gpu)"},
        {NULL, "--unfused", PDVM_ARG_FLAG, &o->unfused, 0, 0, NULL,
         "GPU: one operation per dispatch"},
        {NULL, "--platform", PDVM_ARG_STR, &o->platform, 0, 0, "P",
         "GPU: EGL platform gbm|device|surfaceless"},
        {"-v", "--verbose", PDVM_ARG_FLAG, &o->verbose, 0, 0, NULL, "GPU buffers and KV slabs in detail"},
        {NULL, "--special", PDVM_ARG_FLAG, &o->special, 0, 0, NULL,
         "print control tokens (<|eot_id|>, ...) as text"},
    };
    size_t n_args = sizeof args / sizeof args[0];
    int r = pdvm_args_parse("run", args, n_args, argc, argv);
    if (r == PDVM_ARGS_HELP) {
        pdvm_args_usage(stdout, "run", SYNOPSIS, args, n_args);
        return PDVM_EXIT_OK;
    }
    if (r != PDVM_ARGS_OK) return PDVM_EXIT_USAGE;
    if (!o->model || !o->prompt) {
        fprintf(stderr, "pdvm run: -m MODEL and -p PROMPT are required (see pdvm run --help)\n");
        return PDVM_EXIT_USAGE;
    }
    if (strcmp(o->backend, "gpu") != 0 && strcmp(o->backend, "cpu") != 0) {
        fprintf(stderr, "pdvm run: --backend must be gpu or cpu, got '%s'\n", o->backend);
        return PDVM_EXIT_USAGE;
    }
    return -1; /* continue */
}

static int fail(const char *what, pdvm_status st)
{
    fprintf(stderr, "pdvm run: %s: %s\n", what, pdvm_last_error());
    return pdvm_cli_exit_code(st);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int tokenize_prompt(const run_opts *o, run_state *rs)
{
    /* As llama-cli: BOS/EOS as the model asks, special-token text parsed. The
     * first call only counts (byte fallback can give more ids than bytes). */
    size_t len = strlen(o->prompt), n = 0;
    pdvm_status st = pdvm_tokenize(rs->model, o->prompt, len, true, true, NULL, 0, &n);
    if (st != PDVM_OK && n == 0) return fail("tokenizing the prompt", st);
    rs->prompt = malloc((n ? n : 1) * sizeof *rs->prompt);
    if (!rs->prompt) return fail("prompt", PDVM_ERR_NOMEM);
    st = pdvm_tokenize(rs->model, o->prompt, len, true, true, rs->prompt, n, &n);
    if (st != PDVM_OK) return fail("tokenizing the prompt", st);
    rs->n_prompt = n;
    uint32_t n_ctx = pdvm_session_resolve_n_ctx(rs->model, o->n_ctx);
    if (n == 0) {
        fprintf(stderr, "pdvm run: the prompt is empty and the model adds no BOS\n");
        return PDVM_EXIT_USAGE;
    }
    if (n > n_ctx) {
        fprintf(stderr, "pdvm run: the prompt has %zu tokens but the context holds %u (-c)\n", n,
                n_ctx);
        return PDVM_EXIT_USAGE;
    }
    return -1;
}

static int open_all(const run_opts *o, run_state *rs)
{
    pdvm_status st = pdvm_model_open(o->model, &rs->model);
    if (st != PDVM_OK) return fail(o->model, st);
    int r = tokenize_prompt(o, rs);
    if (r >= 0) return r;
    pdvm_session_params sp = pdvm_session_default_params();
    sp.n_ctx = o->n_ctx;
    sp.backend = strcmp(o->backend, "cpu") == 0 ? PDVM_BACKEND_CPU : PDVM_BACKEND_GPU;
    sp.unfused = o->unfused;
    sp.platform = o->platform;
    sp.verbose = o->verbose;
    st = pdvm_session_create(rs->model, &sp, &rs->sess);
    if (st != PDVM_OK) return fail("creating the session", st);
    st = pdvm_sampler_create(&o->sp, (uint32_t)rs->model->output.ne[1], &rs->smp);
    if (st != PDVM_OK) return fail("sampler", st);
    st = pdvm_detok_create(rs->model, o->special, &rs->detok);
    if (st != PDVM_OK) return fail("detokenizer", st);
    return -1;
}

static void close_all(run_state *rs)
{
    pdvm_detok_free(rs->detok);
    pdvm_sampler_free(rs->smp);
    pdvm_session_free(rs->sess);
    pdvm_model_close(rs->model);
    free(rs->prompt);
}

static void report_start(const run_opts *o, const run_state *rs)
{
    pdvm_session_stats st;
    pdvm_session_get_stats(rs->sess, &st);
    const pdvm_hparams *hp = pdvm_model_hparams(rs->model);
    fprintf(stderr, "pdvm run: %s (%s, %u layers, n_embd %u), backend %s on %s, n_ctx %u, "
                    "prompt %zu tokens\n", o->model, hp->arch, hp->n_layer, hp->n_embd,
            o->backend, st.device, pdvm_session_n_ctx(rs->sess), rs->n_prompt);
    if (strcmp(o->backend, "gpu") == 0) /* what the load allocated on the GPU */
        fprintf(stderr, "pdvm run: memory: weights %.2f MiB, KV cache %.2f MiB, scratch %.2f MiB"
                        "%s%s\n", st.weight_mib, st.kv_mib, st.scratch_mib,
                st.platform[0] ? ", platform " : "", st.platform);
}

/* Echo the prompt as typed, and run its ids through the detokenizer so that
 * the first generated piece is not mistaken for the first after BOS. */
static void echo_prompt(const run_opts *o, run_state *rs)
{
    const char *text;
    size_t len;
    for (size_t i = 0; i < rs->n_prompt; i++) {
        pdvm_detok_push(rs->detok, rs->prompt[i], &text, &len);
        pdvm_sampler_accept(rs->smp, rs->prompt[i]);
    }
    fputs(o->prompt, stdout);
    fflush(stdout);
}

static pdvm_status emit_token(run_state *rs, int32_t tok)
{
    const char *text;
    size_t len;
    pdvm_status st = pdvm_detok_push(rs->detok, tok, &text, &len);
    if (st != PDVM_OK) return st;
    fwrite(text, 1, len, stdout);
    fflush(stdout);
    return PDVM_OK;
}

static uint64_t dispatches(const pdvm_session *s)
{
    pdvm_session_stats st;
    pdvm_session_get_stats(s, &st);
    return st.dispatches;
}

static int generate(const run_opts *o, run_state *rs, run_timing *t)
{
    const float *logits;
    double t0 = now_s();
    pdvm_status st = pdvm_session_eval(rs->sess, rs->prompt, rs->n_prompt, &logits);
    t->prefill_s = now_s() - t0;
    if (st != PDVM_OK) return fail("prefill", st);
    echo_prompt(o, rs); /* after the prefill, so that a failure leaves stdout empty */
    uint64_t d0 = dispatches(rs->sess);
    for (int32_t n_gen = 0; o->n_predict < 0 || n_gen < o->n_predict;) {
        int32_t tok = pdvm_sampler_sample(rs->smp, logits);
        if (pdvm_token_is_eog(rs->model, tok)) break;
        pdvm_sampler_accept(rs->smp, tok);
        n_gen++;
        if ((st = emit_token(rs, tok)) != PDVM_OK) return fail("detokenizing", st);
        if (o->n_predict >= 0 && n_gen >= o->n_predict) break;
        if (pdvm_session_pos(rs->sess) >= pdvm_session_n_ctx(rs->sess)) {
            fprintf(stderr, "pdvm run: the context is full (%u positions); stopping "
                            "(raise -c for longer output)\n", pdvm_session_n_ctx(rs->sess));
            break;
        }
        t0 = now_s();
        st = pdvm_session_eval(rs->sess, &tok, 1, &logits);
        t->decode_s += now_s() - t0;
        if (st != PDVM_OK) return fail("decode", st);
        t->decode_tokens++;
    }
    t->decode_dispatches = dispatches(rs->sess) - d0;
    return -1;
}

static void finish_output(run_state *rs)
{
    const char *text;
    size_t len;
    if (pdvm_detok_flush(rs->detok, &text, &len) == PDVM_OK) fwrite(text, 1, len, stdout);
    fputc('\n', stdout);
    fflush(stdout);
}

static void report_stats(const run_state *rs, const run_timing *t)
{
    double prefill_tps = t->prefill_s > 0 ? rs->n_prompt / t->prefill_s : 0.0;
    double decode_tps = t->decode_s > 0 ? t->decode_tokens / t->decode_s : 0.0;
    double per_token = t->decode_tokens ? (double)t->decode_dispatches / t->decode_tokens : 0.0;
    fprintf(stderr, "stats: prefill_tokens=%zu prefill_tps=%.1f decode_tokens=%llu "
                    "decode_tps=%.1f dispatches_per_token=%.1f\n",
            rs->n_prompt, prefill_tps, (unsigned long long)t->decode_tokens, decode_tps,
            per_token);
}

int pdvm_cli_run(int argc, char **argv)
{
    run_opts o;
    int r = parse_opts(argc, argv, &o);
    if (r >= 0) return r;
    run_state rs = {0};
    run_timing t = {0};
    r = open_all(&o, &rs);
    if (r < 0) {
        report_start(&o, &rs);
        r = generate(&o, &rs, &t);
        if (r < 0) finish_output(&rs);
    }
    close_all(&rs); /* before the stats, which must be the last line on stderr */
    if (r < 0) report_stats(&rs, &t);
    return r < 0 ? PDVM_EXIT_OK : r;
}

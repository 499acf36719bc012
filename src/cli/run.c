/* `pdvm run`: generate text from a prompt, flags as llama-cli spells them.
 * stdout carries only the prompt and the generated text (streamed, flushed
 * per token; the first failed write stops the run); stderr carries
 * progress and, last, one `stats:` line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "chat_cnv.h"
#include "cli.h"

typedef struct run_opts {
    const char *model, *prompt, *file, *backend, *platform;
    const char *system, *chat_template; /* -cnv */
    int32_t n_predict;
    uint32_t n_ctx;
    pdvm_sampler_params sp;
    bool unfused, verbose, check_tensors, special;
    bool mmap, no_mmap, mlock;
    bool cnv;
} run_opts;

typedef struct run_state {
    pdvm_model *model;
    pdvm_session *sess;
    pdvm_sampler *smp;
    pdvm_detok *detok;
    char *text;      /* the prompt's bytes: -p, or the whole -f file */
    size_t text_len;
    int32_t *prompt;
    size_t n_prompt;
} run_state;

static const char SYNOPSIS[] = "-m MODEL (-p PROMPT | -f FILE | -cnv [-sys TEXT]) [options]";

static int parse_opts(int argc, char **argv, run_opts *o)
{
    *o = (run_opts){.backend = "gpu", .n_predict = -1, .sp = pdvm_sampler_default_params()};
    const pdvm_arg args[] = {
        {"-m", "--model", PDVM_ARG_STR, &o->model, 0, 0, "PATH", "GGUF model file"},
        {"-p", "--prompt", PDVM_ARG_STR, &o->prompt, 0, 0, "TEXT", "prompt to continue"},
        {"-f", "--file", PDVM_ARG_STR, &o->file, 0, 0, "FILE",
         "read the prompt from FILE (its bytes as they are; - is stdin)"},
        {"-n", "--n-predict", PDVM_ARG_I32, &o->n_predict, -1, 2147483647.0, "N",
         "tokens to generate (default -1: until EOS or the context is full)"},
        {"-c", "--ctx-size", PDVM_ARG_U32, &o->n_ctx, 0, 1 << 20, "N",
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
        {NULL, "--check-tensors", PDVM_ARG_FLAG, &o->check_tensors, 0, 0, NULL,
         "check every tensor for NaN/Inf at load"},
        {NULL, "--special", PDVM_ARG_FLAG, &o->special, 0, 0, NULL,
         "print control tokens' text too (as llama-cli --special)"},
        {NULL, "--mmap", PDVM_ARG_FLAG, &o->mmap, 0, 0, NULL,
         "map the model file (default): pages dropped as they reach the GPU"},
        {NULL, "--no-mmap", PDVM_ARG_FLAG, &o->no_mmap, 0, 0, NULL,
         "read the model file instead of mapping it"},
        {NULL, "--mlock", PDVM_ARG_FLAG, &o->mlock, 0, 0, NULL,
         "keep the whole file locked in RAM (on top of the GPU copy)"},
        {"-v", "--verbose", PDVM_ARG_FLAG, &o->verbose, 0, 0, NULL,
         "GPU buffers, KV slabs and the dispatch plan"},
        {"-cnv", "--conversation", PDVM_ARG_FLAG, &o->cnv, 0, 0, NULL,
         "chat on the terminal with the chat template (-p: the first message)"},
        {"-sys", "--system-prompt", PDVM_ARG_STR, &o->system, 0, 0, "TEXT",
         "-cnv: the system message"},
        {NULL, "--chat-template", PDVM_ARG_STR, &o->chat_template, 0, 0, "NAME",
         "-cnv: llama.cpp template name instead of the model's (chatml, llama3, ...)"},
    };
    size_t n_args = sizeof args / sizeof args[0];
    int r = pdvm_args_parse("run", args, n_args, argc, argv);
    if (r == PDVM_ARGS_HELP) {
        pdvm_args_usage(stdout, "run", SYNOPSIS, args, n_args);
        return PDVM_EXIT_OK;
    }
    if (r != PDVM_ARGS_OK) return PDVM_EXIT_USAGE;
    if (o->cnv && (!o->model || o->file)) {
        fprintf(stderr, "pdvm run: -cnv needs -m MODEL and takes no -f (see pdvm run --help)\n");
        return PDVM_EXIT_USAGE;
    }
    if (o->cnv) return -1; /* the rest is checked by run_cnv */
    if (!o->model || !o->prompt == !o->file) {
        fprintf(stderr, "pdvm run: -m MODEL and one of -p PROMPT or -f FILE are required "
                        "(see pdvm run --help)\n");
        return PDVM_EXIT_USAGE;
    }
    if (o->mmap && o->no_mmap) {
        fprintf(stderr, "pdvm run: --mmap and --no-mmap contradict each other\n");
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
    fprintf(stderr, "pdvm run: %s%s%s\n", what, what[0] ? ": " : "", pdvm_last_error());
    return pdvm_cli_exit_code(st);
}

static int load_prompt_text(const run_opts *o, run_state *rs)
{
    if (o->prompt) {
        rs->text_len = strlen(o->prompt);
        rs->text = malloc(rs->text_len + 1);
        if (!rs->text) return fprintf(stderr, "pdvm run: out of memory\n"), PDVM_EXIT_FAIL;
        memcpy(rs->text, o->prompt, rs->text_len + 1);
        return -1;
    }
    rs->text = pdvm_cli_read_file("run", o->file, &rs->text_len);
    return rs->text ? -1 : PDVM_EXIT_USAGE;
}

/* As llama-cli: BOS (and EOS) as the vocabulary asks, special-token text
 * in the prompt parsed. Counted first: byte fallback can give more ids
 * than bytes. */
static int tokenize_prompt(const run_opts *o, run_state *rs)
{
    size_t n = 0;
    pdvm_status st = pdvm_tokenize(rs->model, rs->text, rs->text_len, true, true, NULL, 0, &n);
    if (st != PDVM_OK && st != PDVM_ERR_INVALID_ARG) return fail("tokenizing the prompt", st);
    if (st == PDVM_ERR_INVALID_ARG && n == 0) return fail("tokenizing the prompt", st);
    rs->prompt = malloc((n ? n : 1) * sizeof *rs->prompt);
    if (!rs->prompt) return fprintf(stderr, "pdvm run: out of memory\n"), PDVM_EXIT_FAIL;
    st = pdvm_tokenize(rs->model, rs->text, rs->text_len, true, true, rs->prompt, n, &n);
    if (st != PDVM_OK) return fail("tokenizing the prompt", st);
    rs->n_prompt = n;
    /* The session's n_ctx as pdvm.h defines the default. */
    uint32_t train = pdvm_model_hparams(rs->model)->n_ctx_train;
    uint32_t n_ctx = o->n_ctx ? o->n_ctx : (train == 0 || train > 4096 ? 4096 : train);
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

static int open_all(const run_opts *o, run_state *rs, pdvm_cli_progress *progress)
{
    pdvm_model_params mp = pdvm_model_default_params();
    mp.check_tensors = o->check_tensors;
    mp.use_mmap = !o->no_mmap;
    mp.use_mlock = o->mlock;
    pdvm_status st = pdvm_model_load(o->model, &mp, &rs->model);
    if (st != PDVM_OK) return fail("", st); /* the message starts with the path */
    int r = tokenize_prompt(o, rs);
    if (r >= 0) return r;
    pdvm_session_params sp = pdvm_session_default_params();
    sp.n_ctx = o->n_ctx;
    sp.backend = strcmp(o->backend, "cpu") == 0 ? PDVM_BACKEND_CPU : PDVM_BACKEND_GPU;
    sp.unfused = o->unfused;
    sp.platform = o->platform;
    sp.verbose = o->verbose;
    sp.progress = pdvm_cli_progress_cb;
    sp.progress_user = progress;
    st = pdvm_session_create(rs->model, &sp, &rs->sess);
    if (st != PDVM_OK) return fail("creating the session", st);
    st = pdvm_sampler_create(&o->sp, pdvm_model_hparams(rs->model)->n_vocab, &rs->smp);
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
    free(rs->text);
}

static void report_start(const run_opts *o, const run_state *rs)
{
    pdvm_session_stats st;
    pdvm_session_get_stats(rs->sess, &st);
    const pdvm_hparams *hp = pdvm_model_hparams(rs->model);
    fprintf(stderr, "pdvm run: %s (%s, %u layers, n_embd %u), backend %s on %s, n_ctx %u, "
                    "prompt %zu tokens\n", o->model, hp->arch, hp->n_layer, hp->n_embd,
            o->backend, st.device, pdvm_session_n_ctx(rs->sess), rs->n_prompt);
    /* What the load allocated on the GPU, and the process's peak so far
     * (the GPU's buffers are in it where the GPU shares the RAM). */
    if (strcmp(o->backend, "gpu") == 0)
        fprintf(stderr, "pdvm run: memory: weights %.2f MiB, KV cache %.2f MiB, scratch %.2f MiB, "
                        "peak RSS %.1f MiB%s%s\n", st.weight_mib, st.kv_mib, st.scratch_mib,
                pdvm_cli_peak_rss_mib(), st.platform[0] ? ", platform " : "", st.platform);
    else
        fprintf(stderr, "pdvm run: memory: KV cache %.2f MiB, peak RSS %.1f MiB\n", st.kv_mib,
                pdvm_cli_peak_rss_mib());
}

/* Echo the prompt as given, and run its ids through the detokenizer so that
 * the first generated piece is not mistaken for the first after BOS. */
static bool echo_prompt(run_state *rs)
{
    const char *text;
    size_t len;
    for (size_t i = 0; i < rs->n_prompt; i++) {
        pdvm_detok_push(rs->detok, rs->prompt[i], &text, &len);
        pdvm_sampler_accept(rs->smp, rs->prompt[i]);
    }
    return pdvm_cli_write("run", rs->text, rs->text_len);
}

/* -1: go on; else the exit code. */
static int emit_token(run_state *rs, int32_t tok)
{
    const char *text;
    size_t len;
    pdvm_status st = pdvm_detok_push(rs->detok, tok, &text, &len);
    if (st != PDVM_OK) return fail("detokenizing", st);
    return pdvm_cli_write("run", text, len) ? -1 : PDVM_EXIT_FAIL;
}

static int generate(const run_opts *o, run_state *rs)
{
    const float *logits;
    pdvm_status st = pdvm_session_eval(rs->sess, rs->prompt, rs->n_prompt, &logits);
    if (st != PDVM_OK) return fail("prefill", st);
    /* After the prefill, so that a failure leaves stdout empty. */
    if (!echo_prompt(rs)) return PDVM_EXIT_FAIL;
    for (int32_t n_gen = 0; o->n_predict < 0 || n_gen < o->n_predict;) {
        int32_t tok = pdvm_sampler_sample(rs->smp, logits);
        if (pdvm_token_is_eog(rs->model, tok)) break; /* EOS, EOT, <|im_end|>, ... */
        pdvm_sampler_accept(rs->smp, tok);
        n_gen++;
        int r = emit_token(rs, tok);
        if (r >= 0) return r;
        if (o->n_predict >= 0 && n_gen >= o->n_predict) break;
        if (pdvm_session_pos(rs->sess) >= pdvm_session_n_ctx(rs->sess)) {
            fprintf(stderr, "pdvm run: the context is full (%u positions); stopping "
                            "(raise -c for longer output)\n", pdvm_session_n_ctx(rs->sess));
            break;
        }
        if ((st = pdvm_session_eval(rs->sess, &tok, 1, &logits)) != PDVM_OK)
            return fail("decode", st);
    }
    return -1;
}

static int finish_output(run_state *rs)
{
    const char *text = "";
    size_t len = 0;
    if (pdvm_detok_flush(rs->detok, &text, &len) != PDVM_OK) len = 0;
    if (!pdvm_cli_write("run", text, len)) return PDVM_EXIT_FAIL;
    return pdvm_cli_write("run", "\n", 1) ? -1 : PDVM_EXIT_FAIL;
}

/* The prompt's eval is the prefill; the decode figures cover the generated
 * tokens. cpu_us_per_token: this thread's CPU time per decoded token;
 * peak_rss_mib: the process's peak resident set over the whole run. */
static void report_stats(const pdvm_session_stats *s)
{
    double prefill_tps = s->prefill_s > 0 ? s->prefill_tokens / s->prefill_s : 0.0;
    double decode_tps = s->decode_s > 0 ? s->decode_tokens / s->decode_s : 0.0;
    double n = s->decode_tokens ? (double)s->decode_tokens : 1.0;
    fprintf(stderr, "stats: prefill_tokens=%llu prefill_tps=%.1f decode_tokens=%llu "
                    "decode_tps=%.1f dispatches_per_token=%.1f cpu_us_per_token=%.1f "
                    "peak_rss_mib=%.1f\n",
            (unsigned long long)s->prefill_tokens, prefill_tps,
            (unsigned long long)s->decode_tokens, decode_tps,
            s->decode_tokens ? (double)s->decode_dispatches / n : 0.0,
            s->decode_tokens ? 1e6 * s->decode_cpu_s / n : 0.0, pdvm_cli_peak_rss_mib());
}

/* -cnv: the conversation loop of chat_cnv.c with this command's flags. */
static int run_cnv(const run_opts *o)
{
    if (o->mmap && o->no_mmap) {
        fprintf(stderr, "pdvm run: --mmap and --no-mmap contradict each other\n");
        return PDVM_EXIT_USAGE;
    }
    if (strcmp(o->backend, "gpu") != 0 && strcmp(o->backend, "cpu") != 0) {
        fprintf(stderr, "pdvm run: --backend must be gpu or cpu, got '%s'\n", o->backend);
        return PDVM_EXIT_USAGE;
    }
    pdvm_cnv_opts c = {.model = o->model, .system = o->system, .first = o->prompt,
                       .chat_template = o->chat_template, .smp = o->sp,
                       .n_predict = o->n_predict, .special = o->special};
    c.mp = pdvm_model_default_params();
    c.mp.check_tensors = o->check_tensors;
    c.mp.use_mmap = !o->no_mmap;
    c.mp.use_mlock = o->mlock;
    c.sp = pdvm_session_default_params();
    c.sp.n_ctx = o->n_ctx;
    c.sp.backend = strcmp(o->backend, "cpu") == 0 ? PDVM_BACKEND_CPU : PDVM_BACKEND_GPU;
    c.sp.unfused = o->unfused;
    c.sp.platform = o->platform;
    c.sp.verbose = o->verbose;
    return pdvm_cli_chat_cnv(&c);
}

int pdvm_cli_run(int argc, char **argv)
{
    run_opts o;
    int r = parse_opts(argc, argv, &o);
    if (r >= 0) return r;
    if (o.cnv) return run_cnv(&o);
    run_state rs = {0};
    pdvm_cli_progress progress = {.cmd = "run"};
    pdvm_session_stats stats = {0};
    r = load_prompt_text(&o, &rs);
    if (r < 0) r = open_all(&o, &rs, &progress);
    if (r < 0) {
        report_start(&o, &rs);
        r = generate(&o, &rs);
        if (r < 0) r = finish_output(&rs);
        pdvm_session_get_stats(rs.sess, &stats);
    }
    close_all(&rs); /* before the stats, which must be the last line on stderr */
    if (r < 0) report_stats(&stats);
    return r < 0 ? PDVM_EXIT_OK : r;
}

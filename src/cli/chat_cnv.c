#define _GNU_SOURCE /* getline */
#include "chat_cnv.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "cli.h"

typedef struct cnv {
    const pdvm_cnv_opts *o;
    const char *tmpl;
    pdvm_model *model;
    pdvm_session *sess;
    pdvm_sampler *smp;
    pdvm_chat_message *msgs;   /* contents owned (strdup'd) */
    size_t n_msgs, cap_msgs;
    int32_t *kv;               /* the ids in the KV cache, in order */
    size_t n_kv, cap_kv;
    int sig_fd;                /* SIGINT, blocked and read here */
    unsigned turn;
} cnv;

static int fail(const char *what, pdvm_status st)
{
    fprintf(stderr, "pdvm run: %s%s%s\n", what, what[0] ? ": " : "", pdvm_last_error());
    return pdvm_cli_exit_code(st);
}

static int oom(void)
{
    fprintf(stderr, "pdvm run: out of memory\n");
    return PDVM_EXIT_FAIL;
}

static bool add_message(cnv *c, const char *role, const char *content, size_t len)
{
    if (c->n_msgs == c->cap_msgs) {
        size_t cap = c->cap_msgs ? 2 * c->cap_msgs : 8;
        pdvm_chat_message *m = realloc(c->msgs, cap * sizeof *m);
        if (!m) return false;
        c->msgs = m;
        c->cap_msgs = cap;
    }
    char *copy = strndup(content, len);
    if (!copy) return false;
    c->msgs[c->n_msgs++] = (pdvm_chat_message){role, copy};
    return true;
}

static bool kv_push(cnv *c, const int32_t *ids, size_t n)
{
    if (c->n_kv + n > c->cap_kv) {
        size_t cap = (c->n_kv + n) * 2;
        int32_t *k = realloc(c->kv, cap * sizeof *k);
        if (!k) return false;
        c->kv = k;
        c->cap_kv = cap;
    }
    memcpy(c->kv + c->n_kv, ids, n * sizeof *ids);
    c->n_kv += n;
    return true;
}

/* True once Ctrl-C was pressed (consumes it). */
static bool interrupted(const cnv *c)
{
    struct pollfd p = {.fd = c->sig_fd, .events = POLLIN};
    if (poll(&p, 1, 0) <= 0) return false;
    struct signalfd_siginfo si;
    return read(c->sig_fd, &si, sizeof si) == (ssize_t)sizeof si;
}

/* The next line of input without its newline; NULL at end of input or
 * Ctrl-C. */
static char *read_line(cnv *c, size_t *len)
{
    if (!pdvm_cli_write("run", "\n> ", 3)) return NULL;
    struct pollfd p[2] = {{.fd = 0, .events = POLLIN}, {.fd = c->sig_fd, .events = POLLIN}};
    while (poll(p, 2, -1) < 0)
        if (errno != EINTR) return NULL;
    if (p[1].revents & POLLIN) return NULL;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, stdin);
    if (n < 0) {
        free(line);
        return NULL;
    }
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
    *len = (size_t)n;
    return line;
}

/* The whole conversation as ids, the assistant's turn opened. */
static int format_ids(cnv *c, int32_t **ids, size_t *n)
{
    size_t len = 0;
    pdvm_status st = pdvm_chat_apply_template(c->tmpl, c->msgs, c->n_msgs, true, NULL, 0, &len);
    if (st != PDVM_OK && st != PDVM_ERR_INVALID_ARG) return fail("chat template", st);
    char *text = malloc(len + 1);
    if (!text) return oom();
    st = pdvm_chat_apply_template(c->tmpl, c->msgs, c->n_msgs, true, text, len + 1, &len);
    size_t cnt = 0;
    if (st == PDVM_OK) st = pdvm_tokenize(c->model, text, len, true, true, NULL, 0, &cnt);
    if (st == PDVM_ERR_INVALID_ARG && cnt > 0) st = PDVM_OK;
    *ids = st == PDVM_OK ? malloc((cnt ? cnt : 1) * sizeof **ids) : NULL;
    if (st == PDVM_OK && !*ids) st = PDVM_ERR_NOMEM;
    if (st == PDVM_OK) st = pdvm_tokenize(c->model, text, len, true, true, *ids, cnt, n);
    free(text);
    if (st != PDVM_OK) {
        free(*ids);
        *ids = NULL;
        return fail("formatting the conversation", st);
    }
    return -1;
}

/* Feed what the KV cache lacks of ids[0, n); returns -1 or an exit code.
 * A cache that is not a prefix of the conversation (the template changed
 * an earlier turn, or the answer tokenizes differently) starts over. */
static int feed_prompt(cnv *c, const int32_t *ids, size_t n, const float **logits)
{
    uint32_t n_ctx = pdvm_session_n_ctx(c->sess);
    if (n > n_ctx) {
        fprintf(stderr, "pdvm run: the conversation has %zu tokens and no longer fits the "
                        "context of %u (-c)\n", n, n_ctx);
        return PDVM_EXIT_FAIL;
    }
    size_t k = 0;
    while (k < n && k < c->n_kv && c->kv[k] == ids[k]) k++;
    if (k == n) k--; /* the last id is fed again for its logits */
    if (k < c->n_kv) {
        pdvm_session_reset(c->sess);
        c->n_kv = 0;
        k = 0;
    }
    fprintf(stderr, "pdvm run: turn %u: %zu prompt tokens, %zu in the KV cache, %zu fed at "
                    "position %u\n", c->turn, n, k, n - k, pdvm_session_pos(c->sess));
    pdvm_status st = pdvm_session_eval(c->sess, ids + k, n - k, logits);
    if (st != PDVM_OK) return fail("prefill", st);
    for (size_t i = k; i < n; i++) pdvm_sampler_accept(c->smp, ids[i]);
    return kv_push(c, ids + k, n - k) ? -1 : oom();
}

typedef struct answer {
    char *text;
    size_t len, cap;
} answer;

static bool answer_add(answer *a, const char *t, size_t n)
{
    if (a->len + n + 1 > a->cap) {
        size_t cap = (a->len + n + 1) * 2;
        char *p = realloc(a->text, cap);
        if (!p) return false;
        a->text = p;
        a->cap = cap;
    }
    memcpy(a->text + a->len, t, n);
    a->len += n;
    a->text[a->len] = '\0';
    return true;
}

/* Print text and keep it as the answer; false when either failed. */
static bool say(answer *a, const char *t, size_t n)
{
    return pdvm_cli_write("run", t, n) && answer_add(a, t, n);
}

/* Sample until end of turn, n_predict, a full context or Ctrl-C. The ids
 * fed go to the KV record; the text to *a. */
static int generate(cnv *c, pdvm_detok *d, const float *logits, answer *a)
{
    const char *t;
    size_t len;
    for (int32_t n_gen = 0; c->o->n_predict < 0 || n_gen < c->o->n_predict; n_gen++) {
        if (interrupted(c)) break;
        int32_t tok = pdvm_sampler_sample(c->smp, logits);
        if (pdvm_token_is_eog(c->model, tok)) break;
        pdvm_sampler_accept(c->smp, tok);
        pdvm_status st = pdvm_detok_push(d, tok, &t, &len);
        if (st != PDVM_OK) return fail("detokenizing", st);
        if (!say(a, t, len)) return PDVM_EXIT_FAIL;
        if (pdvm_session_pos(c->sess) >= pdvm_session_n_ctx(c->sess)) {
            fprintf(stderr, "\npdvm run: the context is full (%u positions)\n",
                    pdvm_session_n_ctx(c->sess));
            break;
        }
        if ((st = pdvm_session_eval(c->sess, &tok, 1, &logits)) != PDVM_OK)
            return fail("decode", st);
        if (!kv_push(c, &tok, 1)) return oom();
    }
    if (pdvm_detok_flush(d, &t, &len) == PDVM_OK && !say(a, t, len)) return PDVM_EXIT_FAIL;
    return -1;
}

/* One user message and the answer to it. */
static int turn(cnv *c, const char *user, size_t len)
{
    if (!add_message(c, "user", user, len)) return oom();
    c->turn++;
    int32_t *ids = NULL;
    size_t n = 0;
    const float *logits = NULL;
    int r = format_ids(c, &ids, &n);
    if (r < 0) r = feed_prompt(c, ids, n, &logits);
    pdvm_detok *d = NULL;
    if (r < 0) {
        pdvm_status st = pdvm_detok_create(c->model, c->o->special, &d);
        if (st != PDVM_OK) r = fail("detokenizer", st);
    }
    if (r < 0) {
        /* As in pdvm run: the prompt through the detokenizer first, so the
         * answer's first piece keeps its leading space. */
        const char *t;
        size_t tl;
        for (size_t i = 0; i < n; i++) pdvm_detok_push(d, ids[i], &t, &tl);
        pdvm_detok_flush(d, &t, &tl);
        answer a = {0};
        r = generate(c, d, logits, &a);
        if (r < 0 && !add_message(c, "assistant", a.text ? a.text : "", a.len)) r = oom();
        free(a.text);
    }
    pdvm_detok_free(d);
    free(ids);
    return r;
}

static int open_all(cnv *c)
{
    const pdvm_cnv_opts *o = c->o;
    pdvm_status st = pdvm_model_load(o->model, &o->mp, &c->model);
    if (st != PDVM_OK) return fail("", st);
    c->tmpl = o->chat_template ? o->chat_template : pdvm_model_chat_template(c->model);
    if (!c->tmpl) c->tmpl = "chatml"; /* llama.cpp's choice for a file without one */
    size_t len = 0;
    if (pdvm_chat_apply_template(c->tmpl, NULL, 0, true, NULL, 0, &len) ==
        PDVM_ERR_UNSUPPORTED) {
        fprintf(stderr, "pdvm run: the chat template is not one pdvm recognises; use "
                        "--chat-template NAME (%s)\n", pdvm_last_error());
        return PDVM_EXIT_USAGE;
    }
    pdvm_cli_progress progress = {.cmd = "run"};
    pdvm_session_params sp = o->sp;
    sp.progress = pdvm_cli_progress_cb;
    sp.progress_user = &progress;
    if ((st = pdvm_session_create(c->model, &sp, &c->sess)) != PDVM_OK)
        return fail("creating the session", st);
    st = pdvm_sampler_create(&o->smp, pdvm_model_hparams(c->model)->n_vocab, &c->smp);
    if (st != PDVM_OK) return fail("sampler", st);
    if (o->system && !add_message(c, "system", o->system, strlen(o->system))) return oom();
    fprintf(stderr, "pdvm run: conversation mode, chat template %s, n_ctx %u; end with "
                    "Ctrl-D, or Ctrl-C at the prompt\n",
            pdvm_chat_template_name(c->tmpl) ? pdvm_chat_template_name(c->tmpl) : c->tmpl,
            pdvm_session_n_ctx(c->sess));
    return -1;
}

static void close_all(cnv *c)
{
    for (size_t i = 0; i < c->n_msgs; i++) free((char *)c->msgs[i].content);
    free(c->msgs);
    free(c->kv);
    pdvm_sampler_free(c->smp);
    pdvm_session_free(c->sess);
    pdvm_model_close(c->model);
}

int pdvm_cli_chat_cnv(const pdvm_cnv_opts *o)
{
    cnv c = {.o = o, .sig_fd = -1};
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigprocmask(SIG_BLOCK, &set, NULL);
    c.sig_fd = signalfd(-1, &set, SFD_CLOEXEC);
    if (c.sig_fd < 0) return fprintf(stderr, "pdvm run: signalfd: %s\n", strerror(errno)), 1;
    /* Unbuffered, so that poll() on fd 0 never misses a line stdio read ahead. */
    setvbuf(stdin, NULL, _IONBF, 0);
    int r = open_all(&c);
    if (r < 0 && o->first) r = turn(&c, o->first, strlen(o->first));
    while (r < 0) {
        size_t len = 0;
        char *line = read_line(&c, &len);
        if (!line) break;
        if (len > 0) r = turn(&c, line, len);
        free(line);
    }
    if (r < 0 && !pdvm_cli_write("run", "\n", 1)) r = PDVM_EXIT_FAIL;
    close_all(&c);
    close(c.sig_fd);
    return r < 0 ? PDVM_EXIT_OK : r;
}

/* `pdvm run -cnv` in a terminal: tmux runs it on a pseudo-terminal and
 * types two user turns. The second turn must continue the KV cache of the
 * first (its prompt is not prefilled again: the history is in the cache),
 * and its answer must equal a one-shot `pdvm run` over the whole
 * conversation formatted with the template. CPU backend, so that the ASan
 * build covers it too. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli_util.h"
#include "test_util.h"

typedef struct term {
    char sock[64];   /* tmux -L: a server of our own */
    char dir[64];    /* out (the chat's stdout) and log (its stderr) */
} term;

static int tmux(const term *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int tmux(const term *t, const char *fmt, ...)
{
    char args[4096], cmd[4200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "tmux -L %s -f /dev/null %s >/dev/null 2>&1", t->sock, args);
    return system(cmd);
}

static char *slurp(const term *t, const char *name)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", t->dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) return strdup("");
    char *b = calloc(1, 1 << 20);
    size_t n = fread(b, 1, (1 << 20) - 1, f);
    b[n] = '\0';
    fclose(f);
    return b;
}

static size_t count(const char *s, const char *needle)
{
    size_t n = 0;
    for (const char *p = s; (p = strstr(p, needle)) != NULL; p += strlen(needle)) n++;
    return n;
}

/* Wait (polling, at most 60 s) until the chat's stdout shows `prompts`
 * input prompts, i.e. the answer before the last one is complete. */
static char *wait_prompts(const term *t, size_t prompts)
{
    struct timespec tick = {0, 20 * 1000 * 1000};
    for (int i = 0; i < 3000; i++) {
        char *out = slurp(t, "out");
        if (count(out, "\n> ") >= prompts) return out;
        free(out);
        nanosleep(&tick, NULL);
    }
    char *log = slurp(t, "log");
    fail_msg("the chat did not show prompt %zu; stderr: %s", prompts, log);
    return NULL;
}

/* The answer between the n-th and the next input prompt (1-based). */
static char *answer(const char *out, int n)
{
    const char *p = out;
    for (int i = 0; i < n; i++) {
        p = strstr(p, "\n> ");
        assert_non_null(p);
        p += 3;
    }
    const char *e = strstr(p, "\n> ");
    assert_non_null(e);
    return strndup(p, (size_t)(e - p));
}

static void two_turns_continue_the_kv_cache(void **state)
{
    (void)state;
    char model[TEST_PATH_MAX];
    test_model_path("stories260K.gguf", model, sizeof model);
    const char *bin = getenv("PDVM_BIN");
    bin = bin && *bin ? bin : "build/pdvm";
    char *abs = realpath(bin, NULL), *abs_model = realpath(model, NULL);
    assert_non_null(abs);
    assert_non_null(abs_model);
    term t;
    snprintf(t.sock, sizeof t.sock, "pdvm-cnv-%d", (int)getpid());
    snprintf(t.dir, sizeof t.dir, "/tmp/pdvm-cnv-XXXXXX");
    assert_non_null(mkdtemp(t.dir));
    const char *runner = getenv("PDVM_RUNNER"); /* an emulator, for a cross build */
    int rc = tmux(&t, "new-session -d -s chat -x 160 -y 50 "
                      "\"%s %s run -m %s -cnv -sys 'You tell stories.' --temp 0 -n 12 "
                      "--backend cpu 2>%s/log | tee %s/out\"",
                  runner ? runner : "", abs, abs_model, t.dir, t.dir);
    assert_int_equal(rc, 0);
    free(wait_prompts(&t, 1));
    assert_int_equal(tmux(&t, "send-keys -t chat 'Tell me about a cat' Enter"), 0);
    free(wait_prompts(&t, 2));
    assert_int_equal(tmux(&t, "send-keys -t chat 'What did the cat do next?' Enter"), 0);
    char *out = wait_prompts(&t, 3);
    assert_int_equal(tmux(&t, "send-keys -t chat C-d"), 0);
    char *a1 = answer(out, 1), *a2 = answer(out, 2), *log = slurp(&t, "log");
    tmux(&t, "kill-server");

    /* Turn 2 starts where turn 1's prompt and answer left the cache. */
    unsigned p1, c1, f1, at1, p2, c2, f2, at2;
    const char *l1 = strstr(log, "turn 1:"), *l2 = strstr(log, "turn 2:");
    if (!l1 || !l2) fail_msg("no turn lines in: %s", log);
    assert_int_equal(sscanf(l1, "turn 1: %u prompt tokens, %u in the KV cache, %u fed at "
                                "position %u", &p1, &c1, &f1, &at1), 4);
    assert_int_equal(sscanf(l2, "turn 2: %u prompt tokens, %u in the KV cache, %u fed at "
                                "position %u", &p2, &c2, &f2, &at2), 4);
    assert_int_equal(c1, 0);
    assert_int_equal(c2, p1 + 12); /* the first prompt and the 12 answer tokens */
    assert_int_equal(at2, c2);
    assert_int_equal(f2, p2 - c2);

    /* The same as one run over the whole conversation (chatml: the model
     * carries no template). */
    char prompt[4096];
    snprintf(prompt, sizeof prompt,
             "<|im_start|>system\nYou tell stories.<|im_end|>\n<|im_start|>user\nTell me about "
             "a cat<|im_end|>\n<|im_start|>assistant\n%s<|im_end|>\n<|im_start|>user\nWhat did "
             "the cat do next?<|im_end|>\n<|im_start|>assistant\n", a1);
    cli_result r = cli_run((const char *const[]){"run", "-m", model, "--backend", "cpu", "--temp",
                                                 "0", "-n", "12", "-p", prompt, NULL},
                           NULL);
    assert_int_equal(r.code, 0);
    size_t ol = strlen(r.out), al = strlen(a2);
    if (ol && r.out[ol - 1] == '\n') r.out[--ol] = '\0';
    if (ol < al || strcmp(r.out + ol - al, a2) != 0)
        fail_msg("turn 2 answered '%s'; one run over the conversation: '%s'", a2, r.out);
    assert_true(al > 0);
    cli_result_free(&r);
    free(a1);
    free(a2);
    free(log);
    free(out);
    free(abs);
    free(abs_model);
    char path[128];
    snprintf(path, sizeof path, "%s/out", t.dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/log", t.dir);
    unlink(path);
    rmdir(t.dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(two_turns_continue_the_kv_cache),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

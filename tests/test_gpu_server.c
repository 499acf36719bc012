/* `pdvm serve` on the GPU engine (llvmpipe in CI): greedy completions equal
 * `pdvm run --temp 0` on the same engine, alone and with four requests
 * sent at once to two slots (batched in one decode call). The HTTP
 * behaviour itself is tested on the CPU engine in test_server_http.c. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "cli_util.h"
#include "srv_client.h"
#include "test_util.h"

static char model[TEST_PATH_MAX];

static const char *const PROMPTS[2] = {"Once upon a time", "The little dog"};

/* What `pdvm run --temp 0 -n 12` prints after the prompt. */
static char *run_greedy(const char *prompt)
{
    cli_result r = cli_run((const char *const[]){"run", "-m", model, "--platform", "surfaceless",
                                                 "--temp", "0", "-n", "12", "-p", prompt, NULL},
                           NULL);
    assert_int_equal(r.code, 0);
    size_t pl = strlen(prompt), ol = strlen(r.out);
    assert_true(ol >= pl && !memcmp(r.out, prompt, pl));
    if (ol > pl && r.out[ol - 1] == '\n') r.out[--ol] = '\0';
    char *t = strdup(r.out + pl);
    cli_result_free(&r);
    return t;
}

static char *body(const char *prompt)
{
    char *b = malloc(256);
    snprintf(b, 256, "{\"prompt\":\"%s\",\"max_tokens\":12,\"temperature\":0}", prompt);
    return b;
}

static char *text_of(http_res *r)
{
    if (r->status != 200) fail_msg("status %d: %s", r->status, r->body);
    json_object *o = json_tokener_parse(r->body), *c = NULL;
    assert_non_null(o);
    assert_true(json_object_object_get_ex(o, "choices", &c));
    c = json_object_array_get_idx(c, 0);
    assert_true(json_object_object_get_ex(c, "text", &c));
    char *t = strdup(json_object_get_string(c));
    json_object_put(o);
    http_res_free(r);
    return t;
}

static void greedy_equals_pdvm_run_alone_and_together(void **state)
{
    (void)state;
    test_model_path("stories260K.gguf", model, sizeof model);
    char *want[2] = {run_greedy(PROMPTS[0]), run_greedy(PROMPTS[1])};
    srv_proc p;
    srv_start(&p, (const char *const[]){"-m", model, "--platform", "surfaceless", "-c", "256",
                                        "-np", "2", NULL});
    for (int i = 0; i < 2; i++) {
        char *b = body(PROMPTS[i]);
        http_res r = http_req(&p, "POST", "/v1/completions", b, NULL);
        char *t = text_of(&r);
        assert_string_equal(t, want[i]);
        free(t);
        free(b);
    }
    http_call calls[4];
    for (int i = 0; i < 4; i++) {
        char *b = body(PROMPTS[i % 2]);
        calls[i] = http_start(&p, "POST", "/v1/completions", b, NULL);
        free(b);
    }
    for (int i = 0; i < 4; i++) {
        http_res r = http_wait(&calls[i]);
        char *t = text_of(&r);
        if (strcmp(t, want[i % 2]) != 0)
            fail_msg("request %d: '%s', pdvm run: '%s'", i, t, want[i % 2]);
        free(t);
    }
    assert_int_equal(srv_stop(&p), 0);
    free(want[0]);
    free(want[1]);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(greedy_equals_pdvm_run_alone_and_together),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

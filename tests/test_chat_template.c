/* Chat templates against llama.cpp: every built-in name and every real
 * template string in tests/data/chat (written by tests/golden/chat_oracle.c
 * from llama.cpp's own llama_chat_apply_template) over every conversation
 * there, byte for byte; then buffer sizes, argument errors, unrecognised
 * templates, calls from several threads, and the model's template key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "chat_template.h"
#include "gguf.h"
#include "gguf_writer.h"
#include "model.h"
#include "pdvm.h"
#include "test_util.h"

#define PROMPTS_JSON "tests/data/chat/prompts.json"
#define TEMPLATES_JSON "tests/data/chat/templates.json"
#define MAX_MSGS 32

typedef struct conv {
    const char *id;
    size_t n;
    pdvm_chat_message m[MAX_MSGS];
} conv;

typedef struct data {
    json_object *prompts, *templates;
    json_object *names;     /* [{name, prompts}] */
    json_object *by_name;   /* name -> prompts (borrowed) */
    conv convs[32];
    size_t n_convs;
} data;

static data D;

static const char *jget_str(json_object *o, const char *key)
{
    json_object *v;
    assert_true(json_object_object_get_ex(o, key, &v));
    return json_object_get_string(v);
}

static json_object *jget(json_object *o, const char *key)
{
    json_object *v = NULL;
    assert_true(json_object_object_get_ex(o, key, &v));
    return v;
}

static void load_convs(json_object *arr)
{
    D.n_convs = json_object_array_length(arr);
    assert_true(D.n_convs <= sizeof D.convs / sizeof D.convs[0]);
    for (size_t c = 0; c < D.n_convs; c++) {
        json_object *o = json_object_array_get_idx(arr, c), *msgs = jget(o, "messages");
        D.convs[c].id = jget_str(o, "id");
        D.convs[c].n = json_object_array_length(msgs);
        assert_true(D.convs[c].n <= MAX_MSGS);
        for (size_t i = 0; i < D.convs[c].n; i++) {
            json_object *m = json_object_array_get_idx(msgs, i);
            D.convs[c].m[i] = (pdvm_chat_message){jget_str(m, "role"), jget_str(m, "content")};
        }
    }
}

static int setup(void **state)
{
    (void)state;
    D.prompts = json_object_from_file(PROMPTS_JSON);
    D.templates = json_object_from_file(TEMPLATES_JSON);
    if (!D.prompts || !D.templates) {
        fprintf(stderr, "cannot parse %s / %s (run from the project root)\n", PROMPTS_JSON, TEMPLATES_JSON);
        return -1;
    }
    load_convs(jget(D.prompts, "conversations"));
    D.names = jget(D.prompts, "names");
    D.by_name = json_object_new_object();
    for (size_t i = 0; i < json_object_array_length(D.names); i++) {
        json_object *n = json_object_array_get_idx(D.names, i);
        json_object_object_add(D.by_name, jget_str(n, "name"), json_object_get(jget(n, "prompts")));
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    json_object_put(D.by_name);
    json_object_put(D.prompts);
    json_object_put(D.templates);
    return 0;
}

static const conv *conv_by_id(const char *id)
{
    for (size_t c = 0; c < D.n_convs; c++)
        if (strcmp(D.convs[c].id, id) == 0) return &D.convs[c];
    fail_msg("conversation %s missing", id);
    return NULL;
}

/* Our prompt (malloc'd) for tmpl over c; fails the test on an error. */
static char *format(const char *tmpl, const conv *c, bool add, size_t *len)
{
    size_t need = 0;
    assert_int_equal(pdvm_chat_apply_template(tmpl, c->m, c->n, add, NULL, 0, &need), PDVM_ERR_INVALID_ARG);
    char *buf = malloc(need + 1);
    assert_non_null(buf);
    pdvm_status st = pdvm_chat_apply_template(tmpl, c->m, c->n, add, buf, need + 1, len);
    if (st != PDVM_OK) fail_msg("%s: %s", c->id, pdvm_last_error());
    assert_int_equal(*len, need);
    return buf;
}

/* Compare our prompts for tmpl with llama.cpp's for every case of `expected`
 * ([{conversation, add_assistant, prompt}]); returns the number checked. */
static size_t check_prompts(const char *what, const char *tmpl, json_object *expected)
{
    size_t n = json_object_array_length(expected);
    assert_int_equal(n, 2 * D.n_convs);
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(expected, i);
        const conv *c = conv_by_id(jget_str(e, "conversation"));
        bool add = json_object_get_boolean(jget(e, "add_assistant"));
        json_object *p = jget(e, "prompt");
        size_t want_len = (size_t)json_object_get_string_len(p), len;
        char *got = format(tmpl, c, add, &len);
        if (len != want_len || memcmp(got, json_object_get_string(p), len) != 0) {
            size_t k = 0;
            while (k < len && k < want_len && got[k] == json_object_get_string(p)[k]) k++;
            fail_msg("%s, conversation %s, add_assistant %d: %zu bytes vs llama.cpp's %zu, first "
                     "difference at byte %zu:\n ours: %s\n llama.cpp: %s",
                     what, c->id, add, len, want_len, k, got, json_object_get_string(p));
        }
        free(got);
    }
    return n;
}

/* ------------------------------------------------------------------ cases */

static void builtin_names_match(void **state)
{
    (void)state;
    size_t n = json_object_array_length(D.names), k = 0;
    for (size_t i = 0; i < chat_format_count(); i++) {
        const chat_format *f = chat_format_at(i);
        if (f->no_name) continue;
        assert_true(k < n);
        assert_string_equal(f->name, jget_str(json_object_array_get_idx(D.names, k), "name"));
        assert_string_equal(pdvm_chat_template_name(f->name), f->name);
        k++;
    }
    assert_int_equal(k, n);
}

static void every_name_byte_identical(void **state)
{
    (void)state;
    size_t cases = 0;
    for (size_t i = 0; i < json_object_array_length(D.names); i++) {
        json_object *n = json_object_array_get_idx(D.names, i);
        cases += check_prompts(jget_str(n, "name"), jget_str(n, "name"), jget(n, "prompts"));
    }
    print_message("%zu prompts of %zu names over %zu conversations match llama.cpp\n", cases,
                  json_object_array_length(D.names), D.n_convs);
}

static size_t check_unrecognised(const char *label, const char *tmpl)
{
    const conv *c = &D.convs[0];
    char buf[64];
    size_t len = 7;
    assert_null(pdvm_chat_template_name(tmpl));
    if (pdvm_chat_apply_template(tmpl, c->m, c->n, true, buf, sizeof buf, &len) != PDVM_ERR_UNSUPPORTED)
        fail_msg("%s: llama.cpp refuses this template, we did not", label);
    assert_int_equal(len, 0);
    assert_non_null(strstr(pdvm_last_error(), "not recognised"));
    return 1;
}

/* Each real template: recognised as one of the names llama.cpp's prompts
 * are identical to, and formats exactly as llama.cpp formatted it. */
static void every_template_string(void **state)
{
    (void)state;
    json_object *arr = jget(D.templates, "templates");
    size_t cases = 0, supported = 0, refused = 0;
    for (size_t i = 0; i < json_object_array_length(arr); i++) {
        json_object *t = json_object_array_get_idx(arr, i), *same = jget(t, "identical_to");
        const char *label = jget_str(t, "label"), *tmpl = jget_str(t, "template");
        if (!same) {
            refused += check_unrecognised(label, tmpl);
            continue;
        }
        const char *ours = pdvm_chat_template_name(tmpl);
        if (!ours) fail_msg("%s: llama.cpp recognises this template, we do not", label);
        bool listed = json_object_array_length(same) == 0 && strcmp(ours, "dots1") == 0;
        for (size_t k = 0; k < json_object_array_length(same); k++)
            listed |= strcmp(ours, json_object_get_string(json_object_array_get_idx(same, k))) == 0;
        if (!listed) fail_msg("%s: recognised as %s, llama.cpp's prompts are another format's", label, ours);
        json_object *expected = json_object_array_length(same) == 0
                                    ? jget(t, "prompts")
                                    : jget(D.by_name, json_object_get_string(json_object_array_get_idx(same, 0)));
        cases += check_prompts(label, tmpl, expected);
        supported++;
    }
    print_message("%zu template strings: %zu recognised (%zu prompts match llama.cpp), %zu refused as "
                  "llama.cpp refuses them\n",
                  json_object_array_length(arr), supported, cases, refused);
}

/* Cases the prompts cannot tell apart: the rule that picked the format. */
static void detection_details(void **state)
{
    (void)state;
    assert_string_equal(pdvm_chat_template_name("<|start_of_role|><tools>g4_default_system_message"),
                        "granite-4.0");
    assert_string_equal(pdvm_chat_template_name("<|start_of_role|><tool_call>"), "granite-4.1");
    assert_string_equal(pdvm_chat_template_name("<|endofuserprompt|>"), "dots1");
    assert_null(pdvm_chat_template_name("dots1"));
    assert_null(pdvm_chat_template_name(NULL));
    assert_string_equal(pdvm_chat_template_name("mistral-v7"), "mistral-v7");
    assert_string_equal(pdvm_chat_template_name("mistral-whatever"), "llama2");
}

static void buffer_sizes(void **state)
{
    (void)state;
    const conv *c = conv_by_id("llama-test");
    size_t need = 0, len = 0;
    assert_int_equal(pdvm_chat_apply_template("llama3", c->m, c->n, true, NULL, 0, &need), PDVM_ERR_INVALID_ARG);
    assert_true(need > 100);
    assert_non_null(strstr(pdvm_last_error(), "needs"));
    char *full = format("llama3", c, true, &len);
    char *buf = malloc(need + 16);
    assert_non_null(buf);

    memset(buf, 'x', need + 16);
    assert_int_equal(pdvm_chat_apply_template("llama3", c->m, c->n, true, buf, need, &len), PDVM_ERR_INVALID_ARG);
    assert_int_equal(len, need);
    assert_int_equal(buf[0], '\0');

    memset(buf, 'x', need + 16);
    assert_int_equal(pdvm_chat_apply_template("llama3", c->m, c->n, true, buf, need + 8, &len), PDVM_OK);
    assert_int_equal(len, need);
    assert_memory_equal(buf, full, need);
    assert_int_equal(buf[need], '\0');
    for (size_t i = need + 1; i < need + 16; i++) assert_int_equal(buf[i], 'x');
    free(buf);
    free(full);

    /* An empty prompt still needs its NUL. */
    assert_int_equal(pdvm_chat_apply_template("chatml", NULL, 0, false, NULL, 0, &len), PDVM_ERR_INVALID_ARG);
    assert_int_equal(len, 0);
    char one[1] = {'x'};
    assert_int_equal(pdvm_chat_apply_template("chatml", NULL, 0, false, one, 1, &len), PDVM_OK);
    assert_int_equal(one[0], '\0');
}

static void null_arguments(void **state)
{
    (void)state;
    char buf[256];
    size_t len = 99;
    pdvm_chat_message ok[1] = {{"user", "hi"}};
    pdvm_chat_message no_role[2] = {{"user", "hi"}, {NULL, "x"}};
    pdvm_chat_message no_content[1] = {{"user", NULL}};
    assert_int_equal(pdvm_chat_apply_template(NULL, ok, 1, true, buf, sizeof buf, &len), PDVM_ERR_INVALID_ARG);
    assert_int_equal(len, 0);
    assert_int_equal(pdvm_chat_apply_template("chatml", ok, 1, true, buf, sizeof buf, NULL), PDVM_ERR_INVALID_ARG);
    assert_int_equal(pdvm_chat_apply_template("chatml", NULL, 1, true, buf, sizeof buf, &len), PDVM_ERR_INVALID_ARG);
    assert_int_equal(pdvm_chat_apply_template("chatml", ok, 1, true, NULL, 8, &len), PDVM_ERR_INVALID_ARG);
    assert_int_equal(pdvm_chat_apply_template("chatml", no_role, 2, true, buf, sizeof buf, &len),
                     PDVM_ERR_INVALID_ARG);
    assert_non_null(strstr(pdvm_last_error(), "message 1 has a NULL role"));
    assert_int_equal(pdvm_chat_apply_template("chatml", no_content, 1, true, buf, sizeof buf, &len),
                     PDVM_ERR_INVALID_ARG);
    assert_non_null(strstr(pdvm_last_error(), "message 0 has a NULL content"));
    assert_null(pdvm_model_chat_template(NULL));
}

static void unrecognised_template_message(void **state)
{
    (void)state;
    pdvm_chat_message m[1] = {{"user", "hi"}};
    char buf[64];
    size_t len;
    const char *tmpl = "{% for message in messages %}{{ message['content'] }}\n{% endfor %} and much more text";
    assert_int_equal(pdvm_chat_apply_template(tmpl, m, 1, true, buf, sizeof buf, &len), PDVM_ERR_UNSUPPORTED);
    const char *e = pdvm_last_error();
    assert_non_null(strstr(e, "not recognised"));
    assert_non_null(strstr(e, "{% for message in messages %}{{ message['content'] }} {% endfor %}"));
    assert_non_null(strstr(e, "..."));
    assert_non_null(strstr(e, "chatml"));
}

/* No hidden shared state: threads formatting different names at once get
 * exactly llama.cpp's prompts. */
typedef struct job {
    size_t first, step;
    size_t mismatches;
} job;

static void *format_names(void *arg)
{
    job *j = arg;
    char *buf = malloc(1 << 16);
    for (size_t i = j->first; buf && i < json_object_array_length(D.names); i += j->step) {
        json_object *n = json_object_array_get_idx(D.names, i), *ps = NULL, *p = NULL, *cv = NULL;
        json_object_object_get_ex(n, "prompts", &ps);
        for (size_t k = 0; k < json_object_array_length(ps); k++) {
            json_object *e = json_object_array_get_idx(ps, k), *add = NULL;
            json_object_object_get_ex(e, "prompt", &p);
            json_object_object_get_ex(e, "conversation", &cv);
            json_object_object_get_ex(e, "add_assistant", &add);
            const conv *c = NULL;
            for (size_t q = 0; q < D.n_convs; q++)
                if (strcmp(D.convs[q].id, json_object_get_string(cv)) == 0) c = &D.convs[q];
            size_t len;
            const char *name = json_object_get_string(json_object_object_get(n, "name"));
            if (!c || pdvm_chat_apply_template(name, c->m, c->n, json_object_get_boolean(add), buf, 1 << 16, &len) ||
                strcmp(buf, json_object_get_string(p)) != 0)
                j->mismatches++;
        }
    }
    free(buf);
    return NULL;
}

static void concurrent_calls(void **state)
{
    (void)state;
    enum { N = 4 };
    pthread_t th[N];
    job jobs[N];
    for (size_t i = 0; i < N; i++) {
        jobs[i] = (job){i, N, 0};
        assert_int_equal(pthread_create(&th[i], NULL, format_names, &jobs[i]), 0);
    }
    for (size_t i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(jobs[i].mismatches, 0);
    }
}

/* stories260K with one more metadata entry, tokenizer.chat_template =
 * tmpl padded with spaces so the entry is a whole number of alignment
 * units: every later offset then stays valid. */
static uint8_t *with_chat_template(const uint8_t *file, size_t size, const char *tmpl, size_t *out_size,
                                   char *padded, size_t cap)
{
    pdvm_gguf *g = NULL;
    assert_int_equal(pdvm_gguf_open_memory(file, size, &g), PDVM_OK);
    uint32_t align = pdvm_gguf_alignment(g);
    uint64_t n_kv = pdvm_gguf_n_kv(g);
    pdvm_gguf_close(g);
    size_t key = strlen("tokenizer.chat_template"), n = strlen(tmpl);
    while ((8 + key + 4 + 8 + n) % align) n++;
    assert_true(n < cap);
    memset(padded, ' ', n);
    memcpy(padded, tmpl, strlen(tmpl));
    padded[n] = '\0';
    gw kv = {0};
    gw_kv_str(&kv, "tokenizer.chat_template", padded);
    uint8_t *out = malloc(size + kv.len);
    assert_non_null(out);
    memcpy(out, file, 24); /* magic, version, n_tensors, n_kv */
    n_kv++;
    memcpy(out + 16, &n_kv, 8);
    memcpy(out + 24, kv.buf, kv.len);
    memcpy(out + 24 + kv.len, file + 24, size - 24);
    *out_size = size + kv.len;
    gw_free(&kv);
    return out;
}

static void model_chat_template(void **state)
{
    (void)state;
    char path[TEST_PATH_MAX];
    test_model_path("stories260K.gguf", path, sizeof path);
    pdvm_model *m = NULL;
    assert_int_equal(pdvm_model_open(path, &m), PDVM_OK);
    assert_null(pdvm_model_chat_template(m)); /* the file has none */
    pdvm_model_close(m);

    size_t size, patched_size;
    uint8_t *file = test_read_file(path, &size);
    char want[512];
    uint8_t *patched = with_chat_template(
        file, size, "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n'}}{% endfor %}",
        &patched_size, want, sizeof want);
    pdvm_gguf *g = NULL;
    assert_int_equal(pdvm_gguf_open_memory(patched, patched_size, &g), PDVM_OK);
    assert_int_equal(pdvm_model_open_gguf(g, &m), PDVM_OK);
    const char *t = pdvm_model_chat_template(m);
    assert_non_null(t);
    assert_string_equal(t, want);
    assert_string_equal(pdvm_chat_template_name(t), "chatml");
    pdvm_model_close(m);
    free(patched);
    free(file);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(builtin_names_match),
        cmocka_unit_test(every_name_byte_identical),
        cmocka_unit_test(every_template_string),
        cmocka_unit_test(detection_details),
        cmocka_unit_test(buffer_sizes),
        cmocka_unit_test(null_arguments),
        cmocka_unit_test(unrecognised_template_message),
        cmocka_unit_test(concurrent_calls),
        cmocka_unit_test(model_chat_template),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

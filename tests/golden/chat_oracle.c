/* Oracle for pdvm's chat templates: runs llama.cpp's own
 * llama_chat_apply_template (the prebuilt libllama of node-llama-cpp) over
 * every built-in template name and every real template string we can find,
 * for a fixed set of conversations, and writes what it produced as JSON.
 * This is our code over llama.cpp's C API; nothing of pdvm is used. CI never
 * runs it (no llama.cpp there); tests/data/chat/ holds its output.
 *
 * usage: chat_oracle LLAMA_SRC VOCAB_DIR OUT_DIR DATE
 *   LLAMA_SRC  llama.cpp source of the same release (tests/test-chat-template.cpp,
 *              models/templates/ *.jinja, models/ggml-vocab-*.gguf)
 *   VOCAB_DIR  ../shared/models/vocab (GGUFs with tokenizer.chat_template)
 *   OUT_DIR    tests/data/chat: writes prompts.json and templates.json
 *   DATE       recorded in the provenance (the output is otherwise deterministic)
 * Build: see tests/data/chat/README.md. */
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "gguf.h"
#include "llama.h"

#define MAX_MSGS 16

typedef struct conv {
    const char *id;
    const char *about;
    size_t n;
    llama_chat_message m[MAX_MSGS];
} conv;

/* The conversations every template is applied to. The first is the one in
 * llama.cpp's tests/test-chat-template.cpp, the second adds that file's
 * tool-call turns. */
static const conv CONVS[] = {
    {"llama-test", "tests/test-chat-template.cpp's conversation", 6,
     {{"system", "You are a helpful assistant"}, {"user", "Hello"}, {"assistant", "Hi there"},
      {"user", "Who are you"}, {"assistant", "   I am an assistant   "}, {"user", "Another question"}}},
    {"llama-test-tools", "the same plus the tool-call turns of the granite cases", 9,
     {{"system", "You are a helpful assistant"}, {"user", "Hello"}, {"assistant", "Hi there"},
      {"user", "Who are you"}, {"assistant", "   I am an assistant   "}, {"user", "Another question"},
      {"user", "What is the weather?"},
      {"assistant_tool_call",
       "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"location\": \"NYC\"}}\n</tool_call>"},
      {"tool_response", "{\"temperature\": 72}"}}},
    {"user", "one user message", 1, {{"user", "Hello"}}},
    {"system-user", "a system prompt and one question", 2,
     {{"system", "You are terse."}, {"user", "What is 2+2?"}}},
    {"no-system", "two exchanges ending with the assistant", 4,
     {{"user", "Hi"}, {"assistant", "Hello! How can I help?"}, {"user", "Tell me a joke."},
      {"assistant", "Why did the GPU cross the road?"}}},
    {"assistant-first", "the assistant speaks first", 2,
     {{"assistant", "Welcome. Ask me anything."}, {"user", "Anything."}}},
    {"empty", "no messages at all", 0, {{NULL, NULL}}},
    {"empty-content", "every content empty", 4,
     {{"system", ""}, {"user", ""}, {"assistant", ""}, {"user", ""}}},
    {"whitespace", "content with every ASCII space character around it, and whitespace only", 5,
     {{"system", " \t\n\v\f\r system \t\n\v\f\r "}, {"user", "\n\nuser\n\n"},
      {"assistant", "\t assistant \t"}, {"user", " \r\n\t\v\f "}, {"assistant", "  "}}},
    {"unicode", "multi-byte UTF-8 in every role", 4,
     {{"system", "Tu es un assistant serviable. Réponds en français."},
      {"user", "Ünïcödé 😀 — 你好, ¿qué tal? ẞ ﬁ"},
      {"assistant", "مرحبا! שלום 👋🏽 Здравствуйте"},
      {"user", "\u00a0non-breaking spaces are not trimmed\u00a0"}}},
    {"markers", "content that contains other templates' markers and printf-like codes", 6,
     {{"system", "<|im_start|>system\n<|im_end|>\n<<SYS>>\n<</SYS>>\n[SYSTEM_PROMPT]"},
      {"user", "[INST] hi [/INST]</s><s><start_of_turn>model\n<end_of_turn>"},
      {"assistant", "<|start_header_id|>user<|end_header_id|>\n\n<|eot_id|><|endoftext|>"},
      {"user", "%r %R %U %s %% %n {{ message['role'] }} {% if %}"},
      {"assistant", "<｜User｜><｜Assistant｜><｜end▁of▁sentence｜><|START_OF_TURN_TOKEN|>"},
      {"user", "<role>HUMAN</role><|role_end|>[unused9]系统：[unused10]"}}},
    {"roles", "roles other than system/user/assistant, and their case", 12,
     {{"tool", "{\"result\": 1}"}, {"function", "f()"}, {"model", "a model turn"},
      {"assistant_tool_call", "call()"}, {"", "an empty role"}, {"USER", "upper-case user"},
      {"User", "title-case user"}, {"ünïcode-role", "a non-ASCII role"}, {"tool_response", "ok"},
      {"system", "a late system message"}, {"user", "a question"}, {"assistant", "an answer"}}},
    {"systems", "several system messages, one between turns and one at the end", 7,
     {{"system", "First system."}, {"system", "  Second system.  "}, {"user", "Q1"}, {"assistant", "A1"},
      {"system", "Third system."}, {"user", "Q2"}, {"system", "Trailing system."}}},
    {"system-only", "a system message and nothing else", 1, {{"system", "Only a system prompt."}}},
    {"long", "a long multi-line message", 2,
     {{"user",
       "Line one of a long message.\nLine two, with \"quotes\" and 'apostrophes'.\n\n"
       "Line four after a blank line: 0123456789 abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ "
       "0123456789 abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789 abcdefghijklmnopqrstuvwxyz "
       "ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789 abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ.\n"
       "\tIndented line.\n"},
      {"assistant", "Understood.\n"}}},
};
#define N_CONVS (sizeof CONVS / sizeof CONVS[0])

/* Hand-made probes of the detector: each signature alone, signatures with a
 * part missing, two signatures at once (which wins), and near-names. */
static const char *const PROBES[] = {
    "", "INVALID TEMPLATE", "dots1", "CHATML", "chatml ", " chatml", "llama", "mistral", "mistral-v2",
    "mistralai", "<|im_start|>", "<|im_start|><|im_sep|>", "<|im_start|><end_of_utterance>",
    "<|im_start|><|im_sep|><end_of_utterance>", "[INST]", "[INST][SYSTEM_PROMPT]",
    "mistral[SYSTEM_PROMPT]", "[INST]' [INST] ' + system_message", "[INST][AVAILABLE_TOOLS]",
    "[INST][AVAILABLE_TOOLS]\"[INST]\"", "[INST][AVAILABLE_TOOLS] [INST]",
    "[INST]content.strip()", "[INST]bos_token + '[INST]", "[INST]<<SYS>>",
    "[INST]<<SYS>>bos_token + '[INST]content.strip()", "<<SYS>>", "<|assistant|>", "<|end|>",
    "<|assistant|><|end|>", "<|assistant|><|end|><|user|>", "[gMASK]<sop>",
    "<|assistant|><|user|>", "<|assistant|><|user|></s>", "<|assistant|><|user|><|tool_declare|>",
    "<|{{ item['role'] }}|><|begin_of_image|>", "<|{{ item['role'] }}|>", "<|user|><|endoftext|>",
    "<|user|>", "bos_token + message['role']", "<start_of_turn>",
    "'\\n\\nAssistant: ' + eos_token", "GPT4 Correct ", "USER: ASSISTANT: ",
    "USER: ASSISTANT: SYSTEM: ", "USER: ", "### Instruction:<|EOT|>", "### Instruction:",
    "<|START_OF_TURN_TOKEN|><|USER_TOKEN|>", "<|START_OF_TURN_TOKEN|>",
    "<|start_header_id|><|end_header_id|>", "<|start_header_id|>", "[gMASK]sop", "<用户>",
    "'Assistant: ' + message['content'] + eos_token",
    "<｜Assistant｜><｜User｜><｜end▁of▁sentence｜>", "<｜Assistant｜><｜User｜>",
    "[|system|][|assistant|][|endofturn|]", "[|system|][|assistant|][|endofturn|][|tool|]",
    "[|system|][|assistant|]", "rwkv-world", "{{- 'User: ' + message['content']|trim + '\\n\\n' -}}",
    "<|start_of_role|>", "<|start_of_role|><tool_call>", "<|start_of_role|><tools>",
    "<|start_of_role|><tools>g4_default_system_message",
    "message['role'] + additional_special_tokens[0] + message['content'] + additional_special_tokens[1]",
    "<|role_start|>", " Ассистент:", "<role>ASSISTANT</role>'HUMAN'",
    "<role>ASSISTANT</role>\"HUMAN\"<think>", "<role>ASSISTANT</role>\"HUMAN\"",
    "<role>ASSISTANT</role><role>HUMAN</role><|role_end|>", "<role>ASSISTANT</role>",
    "<|header_start|><|header_end|>", "<|endofuserprompt|>", "<|extra_0|><|extra_4|>",
    "<|extra_0|>", "<|start|><|channel|>", "<|start|>",
    "<｜hy_Assistant｜><｜hy_begin▁of▁sentence｜>", "<｜hy_Assistant｜><｜hy_place▁holder▁no▁3｜>",
    "<｜hy_Assistant｜>", "<|im_assistant|>assistant<|im_middle|>", "<seed:bos>",
    "'Assistant: '  + message['content'] + '<|separator|>",
    "'Assistant: ' + message['content'] + '<|separator|>", "[unused9]系统：[unused10]",
    "<|begin|><|end|><|content|>", "<|begin|><|content|>", "<|im_start|>[INST]",
    "[INST]<|im_start|>", "<start_of_turn><|start_header_id|><|end_header_id|>",
    "<|start_header_id|><|end_header_id|><start_of_turn>", "<|user|><|endoftext|><|assistant|><|end|>",
};
#define N_PROBES (sizeof PROBES / sizeof PROBES[0])

typedef struct tmpl {
    char *source; /* where the string came from */
    char *label;  /* model or file name */
    char *text;
} tmpl;

typedef struct tmpl_list {
    tmpl *v;
    size_t n, cap;
} tmpl_list;

static void die(const char *what)
{
    fprintf(stderr, "chat_oracle: %s\n", what);
    exit(1);
}

static char *dup_str(const char *s)
{
    char *d = strdup(s);
    if (!d) die("out of memory");
    return d;
}

static void add_tmpl(tmpl_list *l, const char *source, const char *label, char *text_owned)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
        if (!l->v) die("out of memory");
    }
    l->v[l->n++] = (tmpl){dup_str(source), dup_str(label), text_owned};
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (!s || fread(s, 1, (size_t)n, f) != (size_t)n) die("cannot read a file");
    s[n] = '\0';
    fclose(f);
    return s;
}

/* The formatted prompt, malloc'd; NULL when llama.cpp refuses the template. */
static char *apply(const char *t, const conv *c, bool add_ass)
{
    int32_t n = llama_chat_apply_template(t, c->m, c->n, add_ass, NULL, 0);
    if (n < 0) return NULL;
    char *buf = malloc((size_t)n + 1);
    if (!buf) die("out of memory");
    if (llama_chat_apply_template(t, c->m, c->n, add_ass, buf, n + 1) != n) die("length changed");
    buf[n] = '\0';
    return buf;
}

/* ---- C string literals of tests/test-chat-template.cpp (escapes: \n \t \" \\) */

static const char *skip_space(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
    return p;
}

static char unescape(char c)
{
    switch (c) {
    case 'n': return '\n';
    case 't': return '\t';
    case 'r': return '\r';
    case '0': return '\0';
    default: return c; /* \" \\ \' */
    }
}

/* Parse [U8C(] [u8]"..." ["..."]... at p; *end receives where it stopped. */
static char *parse_literal(const char *p, const char **end)
{
    p = skip_space(p);
    if (strncmp(p, "U8C(", 4) == 0) p += 4;
    size_t cap = strlen(p) + 1, n = 0;
    char *out = malloc(cap);
    if (!out) die("out of memory");
    for (;;) {
        p = skip_space(p);
        if (strncmp(p, "u8\"", 3) == 0) p += 2;
        if (*p != '"') break;
        for (p++; *p && *p != '"'; p++) out[n++] = *p == '\\' ? unescape(*++p) : *p;
        if (*p != '"') die("unterminated literal");
        p++;
    }
    out[n] = '\0';
    *end = p;
    return out;
}

static void load_test_cpp(tmpl_list *l, const char *src_dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/test-chat-template.cpp", src_dir);
    char *src = read_text(path);
    if (!src) die("cannot read tests/test-chat-template.cpp");
    const char *p = src;
    while ((p = strstr(p, "/* .name= */"))) {
        const char *end;
        char *name = parse_literal(p + strlen("/* .name= */"), &end);
        /* Two cases spell the marker without '=': accept both. */
        const char *q = strstr(end, "/* .template_str");
        const char *next = strstr(end, "/* .name= */");
        if (!q || (next && q > next) || !(q = strstr(q, "*/"))) die("a test case without template_str");
        char *text = parse_literal(q + 2, &end);
        add_tmpl(l, "llama.cpp tests/test-chat-template.cpp", name, text);
        free(name);
        p = end;
    }
    free(src);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names in dir ending with suffix (and starting with prefix). */
static size_t list_dir(const char *dir, const char *prefix, const char *suffix, char ***out)
{
    DIR *d = opendir(dir);
    if (!d) die("cannot open a directory");
    char **v = NULL;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name), sl = strlen(suffix);
        if (len < sl || strcmp(e->d_name + len - sl, suffix) != 0) continue;
        if (strncmp(e->d_name, prefix, strlen(prefix)) != 0) continue;
        v = realloc(v, (n + 1) * sizeof *v);
        if (!v) die("out of memory");
        v[n++] = dup_str(e->d_name);
    }
    closedir(d);
    qsort(v, n, sizeof *v, cmp_str);
    *out = v;
    return n;
}

static void load_jinja(tmpl_list *l, const char *src_dir)
{
    char dir[4096], path[8192];
    snprintf(dir, sizeof dir, "%s/models/templates", src_dir);
    char **names;
    size_t n = list_dir(dir, "", ".jinja", &names);
    for (size_t i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        char *text = read_text(path);
        if (!text) die("cannot read a template");
        add_tmpl(l, "llama.cpp models/templates", names[i], text);
        free(names[i]);
    }
    free(names);
}

/* Every tokenizer.chat_template* key of every GGUF in dir. */
static void load_gguf_dir(tmpl_list *l, const char *dir, const char *source)
{
    char path[8192], label[8192];
    char **names;
    size_t n = list_dir(dir, "ggml-vocab-", ".gguf", &names);
    for (size_t i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        struct gguf_context *g = gguf_init_from_file(path, (struct gguf_init_params){true, NULL});
        if (!g) die("cannot read a GGUF");
        for (int64_t k = 0; k < gguf_get_n_kv(g); k++) {
            const char *key = gguf_get_key(g, k);
            if (strncmp(key, "tokenizer.chat_template", 23) != 0) continue;
            if (gguf_get_kv_type(g, k) != GGUF_TYPE_STRING) continue;
            snprintf(label, sizeof label, "%s %s", names[i], key);
            add_tmpl(l, source, label, dup_str(gguf_get_val_str(g, k)));
        }
        gguf_free(g);
        free(names[i]);
    }
    free(names);
}

/* ---- output */

static json_object *jstr(const char *s) { return json_object_new_string(s); }

static json_object *prompts_of(const char *t, bool *supported)
{
    json_object *arr = json_object_new_array();
    *supported = true;
    for (size_t c = 0; c < N_CONVS; c++) {
        for (int add = 0; add < 2; add++) {
            char *p = apply(t, &CONVS[c], add);
            if (!p) {
                *supported = false;
                continue;
            }
            json_object *o = json_object_new_object();
            json_object_object_add(o, "conversation", jstr(CONVS[c].id));
            json_object_object_add(o, "add_assistant", json_object_new_boolean(add));
            json_object_object_add(o, "prompt", jstr(p));
            json_object_array_add(arr, o);
            free(p);
        }
    }
    if (!*supported && json_object_array_length(arr) > 0) die("refused for some conversations only");
    return arr;
}

static json_object *conversations_json(void)
{
    json_object *arr = json_object_new_array();
    for (size_t c = 0; c < N_CONVS; c++) {
        json_object *o = json_object_new_object(), *msgs = json_object_new_array();
        json_object_object_add(o, "id", jstr(CONVS[c].id));
        json_object_object_add(o, "about", jstr(CONVS[c].about));
        for (size_t i = 0; i < CONVS[c].n; i++) {
            json_object *m = json_object_new_object();
            json_object_object_add(m, "role", jstr(CONVS[c].m[i].role));
            json_object_object_add(m, "content", jstr(CONVS[c].m[i].content));
            json_object_array_add(msgs, m);
        }
        json_object_object_add(o, "messages", msgs);
        json_object_array_add(arr, o);
    }
    return arr;
}

static json_object *provenance(const char *date)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "tool",
                           jstr("llama.cpp llama_chat_apply_template, called by tests/golden/chat_oracle.c"));
    json_object_object_add(o, "library",
                           jstr("libllama.v0.5.0.so from @node-llama-cpp/linux-x64@3.22.1 (prebuilt)"));
    json_object_object_add(o, "llama_cpp_release", jstr("v0.5.0"));
    json_object_object_add(o, "source_snapshot",
                           jstr("node-llama-cpp 3.22.1 llama/gitRelease.bundle, commit "
                                "de3ff815ea7d559ee917f063901b8986f038abc6 (2026-09-28)"));
    json_object_object_add(o, "date", jstr(date));
    json_object_object_add(o, "command",
                           jstr("build/chat_oracle /tmp/llama.cpp ../shared/models/vocab tests/data/chat DATE"));
    return o;
}

/* Names whose prompts equal `prompts` on every case (byte for byte). */
static json_object *identical_names(json_object *prompts, json_object *by_name)
{
    json_object *arr = json_object_new_array();
    const char *want = json_object_to_json_string_ext(prompts, JSON_C_TO_STRING_PLAIN);
    char *w = dup_str(want);
    json_object_object_foreach(by_name, name, p) {
        if (strcmp(w, json_object_to_json_string_ext(p, JSON_C_TO_STRING_PLAIN)) == 0)
            json_object_array_add(arr, jstr(name));
    }
    free(w);
    return arr;
}

static void write_json(const char *dir, const char *file, json_object *o)
{
    char path[8192];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    if (json_object_to_file_ext(path, o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE) != 0)
        die("cannot write the output");
}

static json_object *names_json(json_object *by_name)
{
    int32_t n = llama_chat_builtin_templates(NULL, 0);
    const char **names = malloc((size_t)n * sizeof *names);
    if (!names) die("out of memory");
    llama_chat_builtin_templates(names, (size_t)n);
    json_object *arr = json_object_new_array();
    for (int32_t i = 0; i < n; i++) {
        bool ok;
        json_object *p = prompts_of(names[i], &ok);
        if (!ok) die("a built-in name is refused");
        json_object *o = json_object_new_object();
        json_object_object_add(o, "name", jstr(names[i]));
        json_object_object_add(o, "prompts", p);
        json_object_array_add(arr, o);
        json_object_object_add(by_name, names[i], json_object_get(p));
    }
    free(names);
    return arr;
}

static json_object *templates_json(const tmpl_list *l, json_object *by_name, size_t *n_supported)
{
    json_object *arr = json_object_new_array();
    for (size_t i = 0; i < l->n; i++) {
        bool ok;
        json_object *p = prompts_of(l->v[i].text, &ok);
        json_object *o = json_object_new_object();
        json_object_object_add(o, "source", jstr(l->v[i].source));
        json_object_object_add(o, "label", jstr(l->v[i].label));
        json_object_object_add(o, "template", jstr(l->v[i].text));
        if (ok) {
            /* llama.cpp detects one template it has no name for (dots1):
             * its prompts are stored with the string itself. */
            json_object *same = identical_names(p, by_name);
            json_object_object_add(o, "identical_to", same);
            if (json_object_array_length(same) == 0) json_object_object_add(o, "prompts", json_object_get(p));
            (*n_supported)++;
        } else {
            json_object_object_add(o, "identical_to", NULL);
        }
        json_object_put(p);
        json_object_array_add(arr, o);
    }
    return arr;
}

int main(int argc, char **argv)
{
    if (argc != 5) die("usage: chat_oracle LLAMA_SRC VOCAB_DIR OUT_DIR DATE");
    tmpl_list l = {0};
    load_test_cpp(&l, argv[1]);
    load_gguf_dir(&l, argv[2], "../shared/models/vocab");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/models", argv[1]);
    load_gguf_dir(&l, dir, "llama.cpp models");
    load_jinja(&l, argv[1]);
    for (size_t i = 0; i < N_PROBES; i++) add_tmpl(&l, "probe", "hand-made detector probe", dup_str(PROBES[i]));

    json_object *by_name = json_object_new_object();
    json_object *prompts = json_object_new_object();
    json_object_object_add(prompts, "provenance", provenance(argv[4]));
    json_object_object_add(prompts, "conversations", conversations_json());
    json_object_object_add(prompts, "names", names_json(by_name));
    write_json(argv[3], "prompts.json", prompts);

    size_t n_supported = 0;
    json_object *templates = json_object_new_object();
    json_object_object_add(templates, "provenance", provenance(argv[4]));
    json_object_object_add(templates, "templates", templates_json(&l, by_name, &n_supported));
    write_json(argv[3], "templates.json", templates);
    fprintf(stderr, "chat_oracle: %d names x %zu conversations x 2; %zu template strings (%zu supported)\n",
            llama_chat_builtin_templates(NULL, 0), N_CONVS, l.n, n_supported);
    return 0;
}

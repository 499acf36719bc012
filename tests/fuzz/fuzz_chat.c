/* libFuzzer target for the chat templates: template detection and
 * formatting of random conversations. Input: byte 0 holds flags (bit 0
 * add_assistant, bit 1 use the built-in format picked by byte 1 instead of
 * a random template), then NUL-separated chunks: the template, then role,
 * content, role, content, ... A one-byte role chunk picks a common role so
 * every branch of a format is reached. Any input must give a prompt whose
 * length is what the size query said, or an error with a message. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat_template.h"

#define MAX_MSGS 64

static const char *const ROLES[] = {"system", "user", "assistant", "tool", "model", "function",
                                    "assistant_tool_call", ""};

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_chat: %s (%s)\n", what, pdvm_last_error());
        abort();
    }
}

/* Split text (NUL-terminated, `size` bytes before the final NUL) into
 * NUL-separated chunks. */
static size_t split(char *text, size_t size, char **chunk, size_t max)
{
    size_t n = 0;
    for (char *p = text; p <= text + size && n < max; p += strlen(p) + 1) chunk[n++] = p;
    return n;
}

static void format_and_check(const char *tmpl, const pdvm_chat_message *m, size_t n, bool add)
{
    const char *name = pdvm_chat_template_name(tmpl);
    size_t need = 1, len = 0;
    pdvm_status st = pdvm_chat_apply_template(tmpl, m, n, add, NULL, 0, &need);
    if (st == PDVM_ERR_UNSUPPORTED) {
        check(name == NULL && need == 0 && pdvm_last_error()[0] != '\0', "refusal");
        return;
    }
    check(st == PDVM_ERR_INVALID_ARG && name != NULL, "size query");
    char *buf = malloc(need + 1);
    if (!buf) return;
    st = pdvm_chat_apply_template(tmpl, m, n, add, buf, need + 1, &len);
    check(st == PDVM_OK && len == need && strlen(buf) == len, "prompt");
    if (need > 0) {
        st = pdvm_chat_apply_template(tmpl, m, n, add, buf, need, &len);
        check(st == PDVM_ERR_INVALID_ARG && len == need && buf[0] == '\0', "short buffer");
    }
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    char *text = malloc(size - 1);
    if (!text) return 0;
    memcpy(text, data + 2, size - 2);
    text[size - 2] = '\0';
    char *chunk[1 + 2 * MAX_MSGS];
    size_t n_chunks = split(text, size - 2, chunk, sizeof chunk / sizeof chunk[0]);
    pdvm_chat_message m[MAX_MSGS];
    size_t n = 0;
    for (size_t i = 1; i + 1 < n_chunks; i += 2, n++) {
        bool pick = strlen(chunk[i]) == 1;
        m[n].role = pick ? ROLES[(unsigned char)chunk[i][0] % (sizeof ROLES / sizeof ROLES[0])] : chunk[i];
        m[n].content = chunk[i + 1];
    }
    const char *tmpl = chunk[0];
    if (data[0] & 2) tmpl = chat_format_at(data[1] % chat_format_count())->name;
    format_and_check(tmpl, m, n, data[0] & 1);
    free(text);
    return 0;
}

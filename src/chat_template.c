/* Applying a chat format: the bounded writer, the generic per-message
 * formatter and the public entry point. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chat_template.h"
#include "error.h"

void chat_put(chat_out *o, const char *s, size_t n)
{
    if (n > SIZE_MAX - o->len) {
        o->len = SIZE_MAX;
        return;
    }
    if (o->len < o->cap && n <= o->cap - o->len) memcpy(o->buf + o->len, s, n);
    o->len += n;
}

void chat_puts(chat_out *o, const char *s) { chat_put(o, s, strlen(s)); }

/* isspace() of the C locale, whatever locale the caller set. */
static bool c_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

static const char *trim_start(const char *s)
{
    while (c_space(*s)) s++;
    return s;
}

size_t chat_trimmed_len(const char *s)
{
    s = trim_start(s);
    size_t n = strlen(s);
    while (n > 0 && c_space(s[n - 1])) n--;
    return n;
}

void chat_put_trimmed(chat_out *o, const char *s) { chat_put(o, trim_start(s), chat_trimmed_len(s)); }

static char ascii_upper(char c) { return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c; }

static void put_role(chat_out *o, const char *role, char how)
{
    if (how == 'r') {
        chat_puts(o, role);
        return;
    }
    for (size_t i = 0; role[i]; i++) {
        char c = how == 'U' || i == 0 ? ascii_upper(role[i]) : role[i];
        chat_put(o, &c, 1);
    }
}

/* pre with %r / %R / %U replaced by the role. */
static void put_pre(chat_out *o, const char *pre, const char *role)
{
    const char *p;
    while ((p = strchr(pre, '%')) && p[1]) {
        chat_put(o, pre, (size_t)(p - pre));
        put_role(o, role, p[1]);
        pre = p + 2;
    }
    chat_puts(o, pre);
}

static const chat_turn *turn_of(const chat_format *f, const char *role)
{
    for (size_t i = 0; i < CHAT_MAX_TURNS; i++) {
        const chat_turn *t = &f->turns[i];
        if (!t->role || strcmp(t->role, role) == 0) return t;
    }
    return NULL;
}

void chat_apply_turns(const chat_format *f, chat_out *o, const pdvm_chat_message *m, size_t n,
                      bool add_assistant)
{
    bool inside = f->start != NULL;
    if (f->start) chat_puts(o, f->start);
    for (size_t i = 0; i < n; i++) {
        const chat_turn *t = turn_of(f, m[i].role);
        if (!t || !t->pre || ((t->flags & CHAT_FIRST_ONLY) && i > 0)) continue;
        if (!inside && f->open) chat_puts(o, f->open);
        inside = !(t->flags & CHAT_CLOSES);
        put_pre(o, t->pre, m[i].role);
        if (t->flags & CHAT_TRIM) chat_put_trimmed(o, m[i].content);
        else chat_puts(o, m[i].content);
        chat_puts(o, t->post);
    }
    if (add_assistant && f->gen) chat_puts(o, f->gen);
}

static pdvm_status check_args(const char *tmpl, const pdvm_chat_message *msgs, size_t n_msgs,
                              const char *buf, size_t cap, const size_t *len)
{
    if (!tmpl || !len || (n_msgs > 0 && !msgs) || (!buf && cap > 0))
        return pdvm_fail(PDVM_ERR_INVALID_ARG, "pdvm_chat_apply_template: NULL argument");
    for (size_t i = 0; i < n_msgs; i++) {
        if (!msgs[i].role || !msgs[i].content)
            return pdvm_fail(PDVM_ERR_INVALID_ARG, "chat message %zu has a NULL %s", i,
                             msgs[i].role ? "content" : "role");
    }
    return PDVM_OK;
}

/* The first bytes of an unrecognised template, printable, for the message. */
static void template_excerpt(const char *tmpl, char *out, size_t cap)
{
    size_t n = 0;
    for (const char *p = tmpl; *p && n + 5 < cap; p++) {
        unsigned char c = (unsigned char)*p;
        out[n++] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
    }
    out[n] = '\0';
    if (tmpl[n] != '\0') strcat(out, "...");
}

pdvm_status pdvm_chat_apply_template(const char *tmpl, const pdvm_chat_message *msgs, size_t n_msgs,
                                     bool add_assistant, char *buf, size_t cap, size_t *len)
{
    if (len) *len = 0;
    PDVM_TRY(check_args(tmpl, msgs, n_msgs, buf, cap, len));
    const chat_format *f = chat_format_detect(tmpl);
    if (!f) {
        char seen[72];
        template_excerpt(tmpl, seen, sizeof seen);
        return pdvm_fail(PDVM_ERR_UNSUPPORTED,
                         "chat template not recognised (%zu bytes: \"%s\"): it is not a llama.cpp "
                         "template name and has none of the signatures llama.cpp detects; "
                         "name one, e.g. chatml or llama3",
                         strlen(tmpl), seen);
    }
    chat_out o = {buf, cap, 0};
    f->apply(f, &o, msgs, n_msgs, add_assistant);
    *len = o.len;
    if (o.len >= cap) {
        if (cap > 0) buf[0] = '\0';
        return pdvm_fail(PDVM_ERR_INVALID_ARG, "chat prompt needs %zu bytes and a NUL, buffer has %zu",
                         o.len, cap);
    }
    buf[o.len] = '\0';
    return PDVM_OK;
}

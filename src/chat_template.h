/* Chat templates as llama.cpp's llama_chat_apply_template applies them
 * (src/llama-chat.cpp of the release in tests/data/chat/README.md): a
 * fixed set of formats, each picked by its llama.cpp name or recognised in
 * a Jinja template string by llama.cpp's signature substrings. Not a Jinja
 * interpreter. Formats are rows of a table (chat_formats.c); the detector
 * is a table of signature rules (chat_detect.c). */
#ifndef PDVM_CHAT_TEMPLATE_H
#define PDVM_CHAT_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>

#include "gguf.h"
#include "pdvm.h"

/* Output that never overflows: bytes past cap are counted, not written. */
typedef struct chat_out {
    char *buf;
    size_t cap;
    size_t len; /* bytes the whole prompt needs (saturates at SIZE_MAX) */
} chat_out;

void chat_put(chat_out *o, const char *s, size_t n);
void chat_puts(chat_out *o, const char *s);
/* s without the leading and trailing bytes isspace() is true for in the C
 * locale (space, \t \n \v \f \r), as llama.cpp's trim. */
void chat_put_trimmed(chat_out *o, const char *s);
size_t chat_trimmed_len(const char *s);

/* How one role is written: pre, content, post. */
enum {
    CHAT_TRIM = 1u << 0,       /* content trimmed */
    CHAT_FIRST_ONLY = 1u << 1, /* written only as the first message, else dropped */
    CHAT_CLOSES = 1u << 2,     /* ends a turn: the next message opens one */
};

/* pre may hold "%r" (the role as given), "%R" (its first byte in ASCII
 * upper case) or "%U" (all ASCII letters upper case). role NULL: any role
 * not listed before it; a NULL pre drops the message. Unused slots are
 * zero, i.e. a default that drops. */
typedef struct chat_turn {
    const char *role;
    const char *pre;
    const char *post;
    unsigned flags;
} chat_turn;

#define CHAT_MAX_TURNS 6

typedef struct chat_format chat_format;
typedef void (*chat_apply_fn)(const chat_format *f, chat_out *o, const pdvm_chat_message *m,
                              size_t n, bool add_assistant);

struct chat_format {
    const char *name;  /* llama.cpp's name */
    bool no_name;      /* detected only: llama.cpp does not accept the name */
    chat_apply_fn apply;
    const char *start; /* written once before the messages; when set, the
                        * first message is already inside a turn */
    const char *open;  /* written before a message that starts a turn */
    const char *gen;   /* the assistant prefix written for add_assistant */
    chat_turn turns[CHAT_MAX_TURNS];
};

/* The generic formatter: start, then each message through its turn, then gen. */
void chat_apply_turns(const chat_format *f, chat_out *o, const pdvm_chat_message *m, size_t n,
                      bool add_assistant);

size_t chat_format_count(void);
const chat_format *chat_format_at(size_t i);

/* The format named exactly `name` (not the detected-only ones); NULL if none. */
const chat_format *chat_format_by_name(const char *name);

/* llama.cpp's rule: an exact name first, then the signature rules in order.
 * NULL when nothing matches. */
const chat_format *chat_format_detect(const char *tmpl);

/* A NUL-terminated copy of tokenizer.chat_template (*out NULL when the key
 * is absent or not a string). Errors: PDVM_ERR_NOMEM. */
pdvm_status pdvm_chat_template_load(const pdvm_gguf *g, char **out);

#endif

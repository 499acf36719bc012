/* Token -> bytes, as llama.cpp's llama_vocab::impl::token_to_piece (lstrip
 * 0): control and unknown tokens are empty unless special; control,
 * unknown and user-defined tokens are their text; normal SentencePiece
 * pieces turn U+2581 into spaces; normal byte-level pieces map each code
 * point back to its byte (one outside GPT-2's map gives llama.cpp's
 * "[UNK_BYTE_0x..]" text); byte pieces "<0xXX>" are that byte. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer_impl.h"

typedef struct piece_out {
    char *buf;
    size_t cap, len;
} piece_out;

static void put(piece_out *o, const void *p, size_t n)
{
    if (o->len < o->cap) {
        size_t k = o->cap - o->len < n ? o->cap - o->len : n;
        memcpy(o->buf + o->len, p, k);
    }
    o->len += n;
}

static void put_unescaped(piece_out *o, const char *p, size_t n)
{
    for (size_t i = 0; i < n;) {
        if (n - i >= PDVM_SPACE_MARK_LEN &&
            memcmp(p + i, PDVM_SPACE_MARK, PDVM_SPACE_MARK_LEN) == 0) {
            put(o, " ", 1);
            i += PDVM_SPACE_MARK_LEN;
        } else {
            put(o, p + i++, 1);
        }
    }
}

static void put_byte_level(piece_out *o, const char *p, size_t n)
{
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        i += pdvm_utf8_decode(p + i, n - i, &cp);
        int b = pdvm_cp_to_byte(cp);
        if (b >= 0) {
            uint8_t byte = (uint8_t)b;
            put(o, &byte, 1);
            continue;
        }
        char u[4], hex[16];
        size_t k = pdvm_utf8_encode(cp, u);
        put(o, "[UNK_BYTE_0x", 12);
        for (size_t j = 0; j < k; j++) {
            snprintf(hex, sizeof hex, "%02x", (uint8_t)u[j]);
            put(o, hex, 2);
        }
        put(o, p, n);
        put(o, "]", 1);
    }
}

/* llama.cpp reads the two characters after "<0x" with strtol, base 16. */
static void put_byte_piece(piece_out *o, const char *p, size_t n)
{
    if (n < 3) return; /* llama.cpp throws here */
    char hex[3] = {0};
    memcpy(hex, p + 3, n - 3 < 2 ? n - 3 : 2);
    uint8_t byte = (uint8_t)strtol(hex, NULL, 16);
    put(o, &byte, 1);
}

size_t pdvm_tokenizer_render(const pdvm_tokenizer *t, int32_t id, bool special, char *buf,
                             size_t cap)
{
    const uint32_t attr = t->attrs[id];
    const uint32_t special_kinds = PDVM_ATTR_UNKNOWN | PDVM_ATTR_CONTROL;
    const char *p = t->blob + t->offs[id];
    const size_t n = t->lens[id];
    piece_out o = {buf, cap, 0};
    if (!special && (attr & special_kinds)) return 0;
    if (attr & (special_kinds | PDVM_ATTR_USER_DEFINED))
        put(&o, p, n);
    else if ((attr & PDVM_ATTR_NORMAL) && t->type == PDVM_VOCAB_SPM)
        put_unescaped(&o, p, n);
    else if (attr & PDVM_ATTR_NORMAL)
        put_byte_level(&o, p, n);
    else if (attr & PDVM_ATTR_BYTE)
        put_byte_piece(&o, p, n);
    return o.len;
}

/* UTF-8 as the byte-level tokenizer sees it: llama.cpp's lenient decoder
 * (so that invalid input becomes the same U+FFFD code points it does) and
 * GPT-2's byte <-> code point map. */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "tokenizer_impl.h"

#define REPLACEMENT 0xFFFDu
#define MAX_CP 0x10FFFFu

static bool is_cont(const char *s, size_t i) { return ((uint8_t)s[i] & 0xC0) == 0x80; }

size_t pdvm_utf8_decode(const char *s, size_t n, uint32_t *cp)
{
    uint8_t b = (uint8_t)s[0];
    size_t need;
    uint32_t v;
    if (b < 0x80) {
        *cp = b;
        return 1;
    }
    if ((b & 0xE0) == 0xC0) {
        need = 2;
        v = b & 0x1Fu;
    } else if ((b & 0xF0) == 0xE0) {
        need = 3;
        v = b & 0x0Fu;
    } else if ((b & 0xF8) == 0xF0) {
        need = 4;
        v = b & 0x07u;
    } else {
        *cp = REPLACEMENT; /* a continuation byte or F8..FF */
        return 1;
    }
    if (need > n) {
        *cp = REPLACEMENT;
        return 1;
    }
    for (size_t i = 1; i < need; i++) {
        if (!is_cont(s, i)) {
            *cp = REPLACEMENT;
            return 1;
        }
        v = (v << 6) | ((uint8_t)s[i] & 0x3Fu);
    }
    if (v > MAX_CP) {
        *cp = REPLACEMENT;
        return 1;
    }
    *cp = v;
    return need;
}

size_t pdvm_utf8_encode(uint32_t cp, char out[4])
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

pdvm_status pdvm_utf8_canonical(const char *text, size_t len, char **canon, char **match,
                                size_t *n_out)
{
    /* Each input byte yields at most 3 output bytes (a lone byte -> U+FFFD). */
    *canon = malloc(3 * len + 1);
    *match = malloc(3 * len + 1);
    if (!*canon || !*match) {
        free(*canon);
        free(*match);
        *canon = *match = NULL;
        return pdvm_fail(PDVM_ERR_NOMEM, "tokenize: %zu bytes of text", len);
    }
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        i += pdvm_utf8_decode(text + i, len - i, &cp);
        size_t k = pdvm_utf8_encode(cp, *canon + o);
        bool surrogate = cp >= 0xD800 && cp <= 0xDFFF;
        if (surrogate)
            pdvm_utf8_encode(0xE000, *match + o);
        else
            memcpy(*match + o, *canon + o, k);
        o += k;
    }
    *n_out = o;
    return PDVM_OK;
}

/* bytes_to_unicode: '!'..'~', 0xA1..0xAC and 0xAE..0xFF stand for
 * themselves; the rest take U+0100 + their rank among the rest. */
static bool byte_is_printable(uint8_t b)
{
    return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
}

uint32_t pdvm_byte_to_cp(uint8_t b)
{
    if (byte_is_printable(b)) return b;
    /* Rank among the non-printable bytes below b. */
    uint32_t rank = b <= 0x20 ? b : b <= 0xA0 ? 0x21u + (b - 0x7Fu) : 0x43u;
    return 0x100u + rank;
}

int pdvm_cp_to_byte(uint32_t cp)
{
    if (cp < 0x100) return byte_is_printable((uint8_t)cp) ? (int)cp : -1;
    if (cp < 0x100 + 0x21) return (int)(cp - 0x100);               /* 0x00..0x20 */
    if (cp < 0x100 + 0x21 + 0x22) return (int)(cp - 0x121 + 0x7F); /* 0x7F..0xA0 */
    if (cp == 0x100 + 0x43) return 0xAD;
    return -1;
}

/* The streaming detokenizer: each token's bytes (pdvm_tokenizer_render)
 * go through a UTF-8 assembler, so that a character split across tokens
 * (byte fallback, byte-level pieces) is only emitted whole and invalid
 * sequences become U+FFFD. When the vocabulary adds a dummy-prefix space
 * (SentencePiece), the first piece that prints anything loses one leading
 * space. The text of a push lives in the detokenizer's own buffer, grown to
 * fit a piece of any length. */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "model.h"
#include "tokenizer.h"

struct pdvm_detok {
    const pdvm_tokenizer *t;
    bool special;
    uint8_t pending[4]; /* lead byte and continuation bytes seen so far */
    size_t n_pending, need;
    bool at_start;      /* nothing printed yet: the next piece's dummy-prefix space goes */
    char *piece;        /* the current token's bytes */
    size_t piece_cap;
    char *out;          /* what push/flush hand back */
    size_t out_cap, out_len;
};

pdvm_status pdvm_detok_create(const pdvm_model *model, bool special, pdvm_detok **out)
{
    if (!out) return pdvm_fail(PDVM_ERR_INVALID_ARG, "pdvm_detok_create: out is NULL");
    *out = NULL;
    if (!model || !model->tok)
        return pdvm_fail(PDVM_ERR_INVALID_ARG, "pdvm_detok_create: no model or no tokenizer");
    pdvm_detok *d = calloc(1, sizeof *d);
    if (!d) return pdvm_fail(PDVM_ERR_NOMEM, "pdvm_detok_create");
    d->t = model->tok;
    d->special = special;
    d->at_start = pdvm_tokenizer_add_space_prefix(d->t);
    *out = d;
    return PDVM_OK;
}

void pdvm_detok_free(pdvm_detok *d)
{
    if (!d) return;
    free(d->piece);
    free(d->out);
    free(d);
}

static bool grow(char **buf, size_t *cap, size_t need)
{
    if (need <= *cap) return true;
    size_t c = *cap ? *cap : 64;
    while (c < need) c *= 2;
    char *p = realloc(*buf, c);
    if (!p) return false;
    *buf = p;
    *cap = c;
    return true;
}

/* ------------------------------------------------------ UTF-8 assembler */

/* The caller reserved room (see pdvm_detok_push). */
static void out_bytes(pdvm_detok *d, const void *p, size_t n)
{
    memcpy(d->out + d->out_len, p, n);
    d->out_len += n;
}

static void out_replacement(pdvm_detok *d) { out_bytes(d, "\xEF\xBF\xBD", 3); }

/* Expected length of a sequence starting with a valid lead byte, else 0. */
static size_t utf8_need(uint8_t b)
{
    if (b >= 0xC2 && b <= 0xDF) return 2;
    if (b >= 0xE0 && b <= 0xEF) return 3;
    if (b >= 0xF0 && b <= 0xF4) return 4;
    return 0;
}

/* Second bytes that keep the sequence free of overlongs, surrogates and
 * code points above U+10FFFF (RFC 3629). */
static bool utf8_second_ok(uint8_t lead, uint8_t b)
{
    if (lead == 0xE0) return b >= 0xA0 && b <= 0xBF;
    if (lead == 0xED) return b >= 0x80 && b <= 0x9F;
    if (lead == 0xF0) return b >= 0x90 && b <= 0xBF;
    if (lead == 0xF4) return b >= 0x80 && b <= 0x8F;
    return b >= 0x80 && b <= 0xBF;
}

static void feed_byte(pdvm_detok *d, uint8_t b)
{
    if (d->n_pending > 0) {
        bool ok = d->n_pending == 1 ? utf8_second_ok(d->pending[0], b) : (b & 0xC0) == 0x80;
        if (ok) {
            d->pending[d->n_pending++] = b;
            if (d->n_pending == d->need) {
                out_bytes(d, d->pending, d->n_pending);
                d->n_pending = 0;
            }
            return;
        }
        out_replacement(d); /* the held sequence was cut short */
        d->n_pending = 0;
    }
    if (b < 0x80) {
        out_bytes(d, &b, 1);
    } else if ((d->need = utf8_need(b)) != 0) {
        d->pending[0] = b;
        d->n_pending = 1;
    } else {
        out_replacement(d);
    }
}

/* --------------------------------------------------------------- API */

static pdvm_status render(pdvm_detok *d, int32_t token, size_t *n)
{
    *n = pdvm_tokenizer_render(d->t, token, d->special, d->piece, d->piece_cap);
    if (*n <= d->piece_cap) return PDVM_OK;
    if (!grow(&d->piece, &d->piece_cap, *n))
        return pdvm_fail(PDVM_ERR_NOMEM, "pdvm_detok_push: a piece of %zu bytes", *n);
    *n = pdvm_tokenizer_render(d->t, token, d->special, d->piece, d->piece_cap);
    return PDVM_OK;
}

pdvm_status pdvm_detok_push(pdvm_detok *d, int32_t token, const char **text, size_t *len)
{
    if (text) *text = "";
    if (len) *len = 0;
    if (!d || !text || !len)
        return pdvm_fail(PDVM_ERR_INVALID_ARG, "pdvm_detok_push: NULL detok, text or len");
    uint32_t n_vocab = pdvm_tokenizer_n_vocab(d->t);
    if (token < 0 || (uint32_t)token >= n_vocab)
        return pdvm_fail(PDVM_ERR_INVALID_ARG, "pdvm_detok_push: token %d is outside the "
                                               "vocabulary (%u)", token, n_vocab);
    size_t n;
    PDVM_TRY(render(d, token, &n));
    /* At most 3 bytes out per byte in, plus a U+FFFD for what was held back, plus NUL. */
    if (!grow(&d->out, &d->out_cap, 3 * n + 8))
        return pdvm_fail(PDVM_ERR_NOMEM, "pdvm_detok_push: %zu bytes of text", 3 * n + 8);
    d->out_len = 0;
    size_t i = 0;
    if (n > 0 && d->at_start) {
        d->at_start = false;
        if (d->piece[0] == ' ') i = 1;
    }
    for (; i < n; i++) feed_byte(d, (uint8_t)d->piece[i]);
    d->out[d->out_len] = '\0';
    *text = d->out;
    *len = d->out_len;
    return PDVM_OK;
}

pdvm_status pdvm_detok_flush(pdvm_detok *d, const char **text, size_t *len)
{
    if (text) *text = "";
    if (len) *len = 0;
    if (!d || !text || !len)
        return pdvm_fail(PDVM_ERR_INVALID_ARG, "pdvm_detok_flush: NULL detok, text or len");
    if (!grow(&d->out, &d->out_cap, 4))
        return pdvm_fail(PDVM_ERR_NOMEM, "pdvm_detok_flush");
    d->out_len = 0;
    if (d->n_pending > 0) out_replacement(d);
    d->n_pending = 0;
    d->out[d->out_len] = '\0';
    *text = d->out;
    *len = d->out_len;
    return PDVM_OK;
}

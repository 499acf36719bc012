/* The public tokenizer API and the streaming detokenizer. Token text is
 * produced as llama.cpp's token_to_piece does for SentencePiece vocabularies
 * (U+2581 -> space, byte pieces -> raw bytes, control tokens -> nothing,
 * the unknown token -> U+2585), then passed through a UTF-8 assembler so
 * that a character split across byte-fallback tokens is only emitted whole. */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "model.h"
#include "tokenizer.h"

#define MIN_CAP 64

struct pdvm_detok {
    const pdvm_tokenizer *t;
    uint8_t pending[4]; /* lead byte and continuation bytes seen so far */
    size_t n_pending, need;
    bool at_start; /* next piece is the text's first: drop its dummy-prefix space */
};

static pdvm_status need_tokenizer(const pdvm_model *m, const char *fn)
{
    if (!m) return pdvm_fail(PDVM_ERR_INVALID_ARG, "%s: model is NULL", fn);
    if (!m->tok) return pdvm_fail(PDVM_ERR_INVALID_ARG, "%s: the model has no tokenizer", fn);
    return PDVM_OK;
}

pdvm_status pdvm_tokenize(const pdvm_model *model, const char *text, bool add_bos,
                          int32_t *out, size_t cap, size_t *n_out)
{
    if (n_out) *n_out = 0;
    PDVM_TRY(need_tokenizer(model, "pdvm_tokenize"));
    if (!text || !n_out || (!out && cap > 0))
        return pdvm_fail(PDVM_ERR_INVALID_ARG, "pdvm_tokenize: NULL text, out or n_out");
    return pdvm_tokenizer_encode(model->tok, text, strlen(text), add_bos, out, cap, n_out);
}

int32_t pdvm_token_bos(const pdvm_model *model)
{
    return model && model->tok ? pdvm_tokenizer_bos(model->tok) : -1;
}

int32_t pdvm_token_eos(const pdvm_model *model)
{
    return model && model->tok ? pdvm_tokenizer_eos(model->tok) : -1;
}

pdvm_status pdvm_detok_create(const pdvm_model *model, pdvm_detok **out)
{
    if (!out) return pdvm_fail(PDVM_ERR_INVALID_ARG, "pdvm_detok_create: out is NULL");
    *out = NULL;
    PDVM_TRY(need_tokenizer(model, "pdvm_detok_create"));
    pdvm_detok *d = calloc(1, sizeof *d);
    if (!d) return pdvm_fail(PDVM_ERR_NOMEM, "pdvm_detok_create");
    d->t = model->tok;
    d->at_start = pdvm_tokenizer_add_space_prefix(d->t);
    *out = d;
    return PDVM_OK;
}

void pdvm_detok_free(pdvm_detok *d) { free(d); }

/* ------------------------------------------------------- output buffer */

typedef struct text_out {
    char *buf;
    size_t cap, len;
    bool overflow;
} text_out;

static void out_bytes(text_out *o, const void *p, size_t n)
{
    if (o->len + n + 1 > o->cap) {
        o->overflow = true;
        return;
    }
    memcpy(o->buf + o->len, p, n);
    o->len += n;
    o->buf[o->len] = '\0';
}

static void out_replacement(text_out *o) { out_bytes(o, "\xEF\xBF\xBD", 3); }

/* ------------------------------------------------------ UTF-8 assembler */

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

static void feed_byte(pdvm_detok *d, uint8_t b, text_out *o)
{
    if (d->n_pending > 0) {
        bool ok = d->n_pending == 1 ? utf8_second_ok(d->pending[0], b) : (b & 0xC0) == 0x80;
        if (ok) {
            d->pending[d->n_pending++] = b;
            if (d->n_pending == d->need) {
                out_bytes(o, d->pending, d->n_pending);
                d->n_pending = 0;
            }
            return;
        }
        out_replacement(o); /* the held sequence was cut short */
        d->n_pending = 0;
    }
    if (b < 0x80) {
        out_bytes(o, &b, 1);
    } else if ((d->need = utf8_need(b)) != 0) {
        d->pending[0] = b;
        d->n_pending = 1;
    } else {
        out_replacement(o);
    }
}

static void feed_text(pdvm_detok *d, const char *s, size_t n, text_out *o)
{
    for (size_t i = 0; i < n; i++) feed_byte(d, (uint8_t)s[i], o);
}

/* ------------------------------------------------------- token -> bytes */

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* "<0xXX>" -> XX, or -1 when the piece is not spelled that way. */
static int byte_piece_value(const char *p, size_t n)
{
    if (n != 6 || memcmp(p, "<0x", 3) != 0 || p[5] != '>') return -1;
    int hi = hex_digit(p[3]), lo = hex_digit(p[4]);
    return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

/* Normal pieces: U+2581 becomes a space; the first one after BOS loses
 * its leading space (the dummy prefix the encoder added). */
static void feed_unescaped(pdvm_detok *d, const char *p, size_t n, text_out *o)
{
    for (size_t i = 0; i < n;) {
        if (n - i >= 3 && memcmp(p + i, "\xE2\x96\x81", 3) == 0) {
            if (!d->at_start) feed_byte(d, ' ', o);
            d->at_start = false;
            i += 3;
        } else {
            if (d->at_start && p[i] == ' ') {
                i++;
            } else {
                feed_byte(d, (uint8_t)p[i++], o);
            }
            d->at_start = false;
        }
    }
}

static void feed_token(pdvm_detok *d, int32_t token, text_out *o)
{
    size_t n;
    const char *p = pdvm_tokenizer_piece(d->t, token, &n);
    int type = pdvm_tokenizer_type(d->t, token);
    int byte;
    switch (type) {
    case PDVM_TOKEN_CONTROL:
        /* Only the text's first piece loses its dummy prefix: a BOS the
         * model generates mid-stream does not re-arm it (as llama.cpp). */
        return;
    case PDVM_TOKEN_UNUSED:
        return;
    case PDVM_TOKEN_UNKNOWN:
        feed_text(d, "\xE2\x96\x85", 3, o);
        break;
    case PDVM_TOKEN_BYTE:
        byte = byte_piece_value(p, n);
        if (byte >= 0) {
            if (!(d->at_start && byte == ' ')) feed_byte(d, (uint8_t)byte, o);
        } else {
            feed_text(d, p, n, o);
        }
        break;
    case PDVM_TOKEN_USER_DEFINED:
        feed_text(d, p, n, o);
        break;
    default:
        feed_unescaped(d, p, n, o);
        return;
    }
    d->at_start = false;
}

static pdvm_status check_buf(const char *fn, char *buf, size_t cap, size_t *len)
{
    if (len) *len = 0;
    if (!buf || !len || cap < MIN_CAP)
        return pdvm_fail(PDVM_ERR_INVALID_ARG, "%s: need a buffer of at least %d bytes", fn,
                         MIN_CAP);
    buf[0] = '\0';
    return PDVM_OK;
}

pdvm_status pdvm_detok_push(pdvm_detok *d, int32_t token, char *buf, size_t cap, size_t *len)
{
    PDVM_TRY(check_buf("pdvm_detok_push", buf, cap, len));
    if (!d) return pdvm_fail(PDVM_ERR_INVALID_ARG, "pdvm_detok_push: detok is NULL");
    uint32_t n_vocab = pdvm_tokenizer_n_vocab(d->t);
    if (token < 0 || (uint32_t)token >= n_vocab)
        return pdvm_fail(PDVM_ERR_INVALID_ARG, "pdvm_detok_push: token %d is outside the "
                                               "vocabulary (%u)", token, n_vocab);
    text_out o = {buf, cap, 0, false};
    feed_token(d, token, &o);
    *len = o.len;
    if (o.overflow)
        return pdvm_fail(PDVM_ERR_INVALID_ARG, "pdvm_detok_push: the text of token %d does not "
                                               "fit in %zu bytes", token, cap);
    return PDVM_OK;
}

pdvm_status pdvm_detok_flush(pdvm_detok *d, char *buf, size_t cap, size_t *len)
{
    PDVM_TRY(check_buf("pdvm_detok_flush", buf, cap, len));
    if (!d) return pdvm_fail(PDVM_ERR_INVALID_ARG, "pdvm_detok_flush: detok is NULL");
    text_out o = {buf, cap, 0, false};
    if (d->n_pending > 0) out_replacement(&o);
    d->n_pending = 0;
    *len = o.len;
    return PDVM_OK;
}

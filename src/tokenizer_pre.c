/* Pre-tokenizers of byte-level BPE vocabularies: for each
 * tokenizer.ggml.pre value llama.cpp accepts (src/llama-vocab.cpp,
 * llm_tokenizer_bpe), the regular expressions it splits text with, applied
 * one after the other, in PCRE2 syntax (UTF + Unicode properties, JIT
 * when available). The expressions are llama.cpp's with three rewrites
 * that keep every match the same:
 *   - \s and \S are spelled out as llama.cpp's whitespace set (Unicode
 *     White_Space; PCRE2's \s also takes U+180E);
 *   - ((?=[\p{L}])([^a-z])) is the class [^\P{L}a-z], one letter that is
 *     not a-z (no group frames on long words);
 *   - \s+$ gets (?<!\s) in front, so that a long run of spaces that does
 *     not end the text is rejected once, not once per space.
 * Letters, digits, marks and punctuation are PCRE2's Unicode properties
 * (Unicode 14 in PCRE2 10.42); llama.cpp's own tables are Unicode 15.1, so
 * the few code points assigned since differ (PCRE2 sees them unassigned).
 * Values whose splitting needs code of its own in llama.cpp (kimi-k2,
 * afmoe, tiny_aya, superbpe, gemma4, ...) are not here: they are reported
 * as unsupported. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "tokenizer_impl.h"

#define WS "\\t-\\r \\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}" \
           "\\x{205F}\\x{3000}"
#define S "[" WS "]"
#define NOT_S "[^" WS "]"
#define CONTRACTIONS "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])"
#define UPPERS "[^\\P{L}a-z]" /* llama.cpp: ((?=[\p{L}])([^a-z])) */
#define LOWERS "[^\\P{L}A-Z]" /* llama.cpp: ((?=[\p{L}])([^A-Z])) */

#define RE_GPT2 "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^" WS "\\p{L}\\p{N}]+|" S \
                "+(?!" NOT_S ")"
#define RE_TAIL "|" S "*[\\r\\n]+|" S "+(?!" NOT_S ")|" S "+"
#define RE_LLAMA3 CONTRACTIONS "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^" WS \
                  "\\p{L}\\p{N}]+[\\r\\n]*" RE_TAIL
#define RE_QWEN2 CONTRACTIONS "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^" WS \
                 "\\p{L}\\p{N}]+[\\r\\n]*" RE_TAIL
#define RE_QWEN35 CONTRACTIONS "|[^\\r\\n\\p{L}\\p{N}]?[\\p{L}\\p{M}]+|\\p{N}| ?[^" WS \
                  "\\p{L}\\p{M}\\p{N}]+[\\r\\n]*" RE_TAIL
#define RE_GPT4O_WORDS(n_rep)                                                               \
    "[^\\r\\n\\p{L}\\p{N}]?" UPPERS "*" LOWERS "+" n_rep "|[^\\r\\n\\p{L}\\p{N}]?" UPPERS \
    "+" LOWERS "*" n_rep
#define RE_GPT4O RE_GPT4O_WORDS("(?:" CONTRACTIONS ")?") "|\\p{N}{1,3}| ?[^" WS \
                 "\\p{L}\\p{N}]+[\\r\\n/]*" RE_TAIL
#define RE_TEKKEN RE_GPT4O_WORDS("") "|\\p{N}| ?[^" WS "\\p{L}\\p{N}]+[\\r\\n/]*" RE_TAIL
#define RE_JAIS2 CONTRACTIONS "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^" WS       \
                 "\\p{L}\\p{N}]+[\\r\\n]*|" S "*[\\r\\n]+|" S "{512}(?!" NOT_S ")|" S  \
                 "{256}(?!" NOT_S ")|" S "{128}(?!" NOT_S ")|" S "{64}(?!" NOT_S ")|" S \
                 "{32}(?!" NOT_S ")|" S "{16}(?!" NOT_S ")|" S "{8}(?!" NOT_S ")|" S    \
                 "{4}(?!" NOT_S ")|" S "{1,2}(?!" NOT_S ")|" S "{1}"
#define RE_DEEPSEEK3 "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\\r\\n\\p{L}\\p{P}" \
                     "\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\\r\\n]*" RE_TAIL
#define RE_SPARK "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\\r\\n\\p{L}\\p{P}" \
                 "\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+|[\\r\\n]|" S "+(?!" NOT_S ")|" S "+"
#define RE_BAILING "'(?:[sSdDmMtT]|[lL][lL]|[vV][eE]|[rR][eE])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|" \
                   "\\p{N}| ?[^" WS "\\p{L}\\p{N}]+[\\r\\n]*|" S "*[\\r\\n]|" S "+(?!" NOT_S \
                   ")|" S "+"
#define RE_SEED CONTRACTIONS "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1}| ?[^" WS \
                "\\p{L}\\p{N}\\r\\n]+" RE_TAIL
#define RE_NO_CONTRACTIONS "[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^" WS \
                           "\\p{L}\\p{N}]+[\\r\\n]*" RE_TAIL
#define RE_MINICPM5 CONTRACTIONS "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}+| ?[^" WS \
                    "\\p{L}\\p{N}]+[\\r\\n]*" RE_TAIL
#define RE_PORO \
    " ?[^(" WS "|.,!?\xE2\x80\xA6\xE3\x80\x82\xEF\xBC\x8C\xE3\x80\x81\xE0\xA5\xA4\xDB\x94\xD8\x8C)]+"
#define RE_CJK_DS "[\xE4\xB8\x80-\xE9\xBE\xA5\xE0\xA0\x80-\xE4\xB8\x80\xEA\xB0\x80-\xED\x9F\xBF]+"
#define RE_CJK_DS3 "[\xE4\xB8\x80-\xE9\xBE\xA5\xE3\x81\x80-\xE3\x82\x9F\xE3\x82\xA0-\xE3\x83\xBF]+"

/* deepseek-llm's letters, byte for byte as llama.cpp spells them (UTF-8). */
#define DS_LETTERS \
    "\xC2\xB5\xC3\x80-\xC3\x96\xC3\x98-\xC3\xB6\xC3\xB8-\xC6\xBA\xC6\xBC-\xC6\xBF\xC7\x84" \
    "-\xCA\x93\xCA\x95-\xCA\xAF\xCD\xB0-\xCD\xB3\xCD\xB6\xCD\xB7\xCD\xBB-\xCD\xBD\xCD\xBF" \
    "\xCE\x86\xCE\x88-\xCE\x8A\xCE\x8C\xCE\x8E-\xCE\xA1\xCE\xA3-\xCF\xB5\xCF\xB7-\xD2\x81" \
    "\xD2\x8A-\xD4\xAF\xD4\xB1-\xD5\x96\xE1\x82\xA0-\xE1\x83\x85\xE1\x8E\xA0-\xE1\x8F\xB5" \
    "\xE1\x8F\xB8-\xE1\x8F\xBD\xE1\xB2\x90-\xE1\xB2\xBA\xE1\xB2\xBD-\xE1\xB2\xBF" \
    "\xE1\xB4\x80-\xE1\xB4\xAB\xE1\xB5\xAB-\xE1\xB5\xB7\xE1\xB5\xB9-\xE1\xB6\x9A" \
    "\xE1\xB8\x80-\xE1\xBC\x95\xE1\xBC\x98-\xE1\xBC\x9D\xE1\xBC\xA0-\xE1\xBD\x85" \
    "\xE1\xBD\x88-\xE1\xBD\x8D\xE1\xBD\x90-\xE1\xBD\x97\xE1\xBD\x99\xE1\xBD\x9B" \
    "\xE1\xBD\x9D\xE1\xBD\x9F-\xE1\xBD\xBD\xE1\xBE\x80-\xE1\xBE\xB4\xE1\xBE\xB6-" \
    "\xE1\xBE\xBC\xE1\xBE\xBE\xE1\xBF\x82-\xE1\xBF\x84\xE1\xBF\x86-\xE1\xBF\x8C" \
    "\xE1\xBF\x90-\xE1\xBF\x93\xE1\xBF\x96-\xE1\xBF\x9B\xE1\xBF\xA0-\xE1\xBF\xAC" \
    "\xE1\xBF\xB2-\xE1\xBF\xB4\xE1\xBF\xB6-\xE1\xBF\xBC\xE2\x84\x82\xE2\x84\x87" \
    "\xE2\x84\x8A-\xE2\x84\x93\xE2\x84\x95\xE2\x84\x99-\xE2\x84\x9D\xE2\x84\xA4" \
    "\xE2\x84\xA6\xE2\x84\xA8\xE2\x84\xAA-\xE2\x84\xAD\xE2\x84\xAF-\xE2\x84\xB4" \
    "\xE2\x84\xB9\xE2\x84\xBC-\xE2\x84\xBF\xE2\x85\x85-\xE2\x85\x89\xE2\x85\x8E" \
    "\xE2\x86\x83\xE2\x86\x84\xE2\xB0\x80-\xE2\xB1\xBB\xE2\xB1\xBE-\xE2\xB3\xA4" \
    "\xE2\xB3\xAB-\xE2\xB3\xAE\xE2\xB3\xB2\xE2\xB3\xB3\xEA\x99\x80-\xEA\x99\xAD" \
    "\xEA\x9A\x80-\xEA\x9A\x9B\xEA\x9C\xA2-\xEA\x9D\xAF\xEA\x9D\xB1-\xEA\x9E\x87" \
    "\xEA\x9E\x8B-\xEA\x9E\x8E\xEA\xAD\xB0-\xEA\xAE\xBF\xEF\xAC\x80-\xEF\xAC\x86" \
    "\xEF\xAC\x93-\xEF\xAC\x97\xEF\xBC\xA1-\xEF\xBC\xBA\xEF\xBD\x81-\xEF\xBD\x9A" \
    "\xF0\x90\x90\x80-\xF0\x90\x91\x8F\xF0\x90\x92\xB0-\xF0\x90\x93\x93\xF0\x90\x93\x98-" \
    "\xF0\x90\x93\xBB\xF0\x90\xB2\x80-\xF0\x90\xB2\xB2\xF0\x90\xB3\x80-\xF0\x90\xB3\xB2" \
    "\xF0\x91\xA2\xA0-\xF0\x91\xA3\x9F\xF0\x9E\xA4\x80-\xF0\x9E\xA5\x83"

#define MAX_RE 6

typedef struct pre_kind {
    const char *names; /* tokenizer.ggml.pre values, '|'-separated */
    const char *re[MAX_RE];
    pdvm_pre_flags flags;
} pre_kind;

static const pre_kind KINDS[] = {
    {"default",
     {"[\\p{P}\\$\\+<=>\\^~\\|]+", RE_GPT2, "\\p{N}+", "[0-9][0-9][0-9]"},
     {false, false, false}},
    {"llama3|llama-v3|llama-bpe|falcon3|falcon-h1|pixtral|midm-2.0|lfm2|jina-v5-nano",
     {RE_LLAMA3},
     {true, true, false}},
    {"dbrx|smaug-bpe", {RE_LLAMA3}, {false, false, false}},
    {"glm4|chatglm-bpe", {RE_LLAMA3}, {false, false, true}},
    {"jais-2", {RE_JAIS2}, {false, false, false}},
    {"deepseek-llm",
     {"[\\r\\n]",
      S "?[A-Za-z" DS_LETTERS "]+",
      S "?[!-/:-~\xEF\xBC\x81-\xEF\xBC\x8F\xEF\xBC\x9A-\xEF\xBD\x9E\xE2\x80\x98-\xE2\x80\x9F"
                "\xE3\x80\x80-\xE3\x80\x82]+", "(?<!" S ")" S "+\\z", RE_CJK_DS, "\\p{N}+"},
     {false, false, false}},
    {"deepseek-coder",
     {"[\\r\\n]", S "?\\p{L}+", S "?\\p{P}+", RE_CJK_DS, "\\p{N}"},
     {false, false, false}},
    {"deepseek-v3|hunyuan-dense|hy_v4|joyai-llm",
     {"\\p{N}{1,3}", RE_CJK_DS3, RE_DEEPSEEK3},
     {false, false, false}},
    {"spark2_5", {"\\p{N}{1,3}", RE_CJK_DS3, RE_SPARK, "\\p{N}"}, {false, false, false}},
    {"falcon",
     {"[\\p{P}\\$\\+<=>\\^~\\|`]+", RE_GPT2, "[0-9][0-9][0-9]"},
     {false, false, false}},
    {"starcoder|refact|command-r|smollm|codeshell|exaone|minerva-7b|mellum2",
     {"\\p{N}", RE_GPT2},
     {false, false, false}},
    {"gpt-2|phi-2|jina-es|jina-de|gigachat|jina-v2-es|jina-v2-de|a.x-4.0|mellum|modern-bert|"
     "jina-v1-en|jina-v2-code|roberta-bpe|mpt|olmo|jais|exaone4|trillion|granite-docling",
     {RE_GPT2},
     {false, false, false}},
    {"qwen2|deepseek-r1-qwen|kormo|f2llmv2|megrez|stablelm2|hunyuan|solar-open|grok-2",
     {RE_QWEN2},
     {false, false, false}},
    {"qwen35", {RE_QWEN35}, {false, false, false}},
    {"ufakzeka", {RE_NO_CONTRACTIONS}, {false, false, false}},
    {"laguna", {"[^\\n]+|[\\n]+", RE_QWEN2}, {false, false, false}},
    {"poro-chat|bloom|gpt3-finnish", {RE_PORO}, {false, false, false}},
    {"viking", {RE_PORO, "\\p{N}"}, {false, false, false}},
    {"tekken", {RE_TEKKEN}, {true, true, false}},
    {"gpt-4o|llama4|kanana2|talkie|minimax-m2", {RE_GPT4O}, {false, false, false}},
    {"bailingmoe|bailingmoe2|llada-moe", {RE_BAILING}, {false, false, false}},
    {"seed-coder", {RE_SEED}, {false, false, false}},
    {"minicpm5", {"\\p{N}{1,3}", RE_MINICPM5}, {true, false, false}},
};

struct pdvm_pretok {
    pcre2_code *re[MAX_RE];
    size_t n_re;
};

static bool name_in_list(const char *list, const char *name, size_t n)
{
    for (const char *p = list;;) {
        const char *bar = strchr(p, '|');
        size_t k = bar ? (size_t)(bar - p) : strlen(p);
        if (k == n && memcmp(p, name, n) == 0) return true;
        if (!bar) return false;
        p = bar + 1;
    }
}

static pdvm_status compile_one(const char *pattern, pcre2_code **out)
{
    int err;
    PCRE2_SIZE at;
    *out = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP, &err,
                         &at, NULL);
    if (!*out) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof msg);
        return pdvm_fail(PDVM_ERR_UNSUPPORTED, "pre-tokenizer: PCRE2 rejects /%s/ at %zu: %s",
                         pattern, (size_t)at, (const char *)msg);
    }
    /* Without JIT (no support on this CPU) the interpreter gives the same matches. */
    (void)pcre2_jit_compile(*out, PCRE2_JIT_COMPLETE);
    return PDVM_OK;
}

pdvm_status pdvm_pretok_create(const char *name, size_t name_len, pdvm_pretok **out,
                               pdvm_pre_flags *flags)
{
    *out = NULL;
    const pre_kind *kind = NULL;
    for (size_t i = 0; i < sizeof KINDS / sizeof KINDS[0] && !kind; i++)
        if (name_in_list(KINDS[i].names, name, name_len)) kind = &KINDS[i];
    if (!kind) {
        int n = name_len > 64 ? 64 : (int)name_len;
        return pdvm_fail(PDVM_ERR_UNSUPPORTED, "tokenizer: tokenizer.ggml.pre '%.*s' is not "
                                               "supported", n, name);
    }
    pdvm_pretok *p = calloc(1, sizeof *p);
    if (!p) return pdvm_fail(PDVM_ERR_NOMEM, "pre-tokenizer");
    for (; p->n_re < MAX_RE && kind->re[p->n_re]; p->n_re++) {
        pdvm_status st = compile_one(kind->re[p->n_re], &p->re[p->n_re]);
        if (st != PDVM_OK) {
            pdvm_pretok_free(p);
            return st;
        }
    }
    *flags = kind->flags;
    *out = p;
    return PDVM_OK;
}

void pdvm_pretok_free(pdvm_pretok *p)
{
    if (!p) return;
    for (size_t i = 0; i < p->n_re; i++) pcre2_code_free(p->re[i]);
    free(p);
}

/* ------------------------------------------------------------- split */

typedef struct span_list {
    pdvm_span *v;
    size_t n, cap;
} span_list;

static bool spans_push(span_list *l, size_t start, size_t len)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        pdvm_span *v = realloc(l->v, cap * sizeof *v);
        if (!v) return false;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = (pdvm_span){start, len};
    return true;
}

/* Length of the UTF-8 character starting with lead byte b (valid text). */
static size_t char_len(uint8_t b) { return b < 0xC0 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4; }

/* Matches of re inside one word become words, and so does the text
 * between them (llama.cpp's unicode_regex_split_stl). */
static pdvm_status split_word(const pcre2_code *re, pcre2_match_data *md, const char *text,
                              pdvm_span w, span_list *dst)
{
    const char *s = text + w.start;
    size_t at = 0, last = 0;
    while (at < w.len) {
        int rc = pcre2_match(re, (PCRE2_SPTR)s, w.len, at, PCRE2_NO_UTF_CHECK, md, NULL);
        if (rc == PCRE2_ERROR_NOMATCH) break;
        if (rc < 0) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(rc, msg, sizeof msg);
            return pdvm_fail(PDVM_ERR_INVALID_ARG, "pre-tokenizer: PCRE2 match failed at byte "
                                                   "%zu: %s", w.start + at, (const char *)msg);
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        size_t m0 = ov[0], m1 = ov[1];
        if (m1 == m0) { /* no expression here matches empty text; step over it anyway */
            at = m0 + char_len((uint8_t)s[m0]);
            continue;
        }
        if ((m0 > last && !spans_push(dst, w.start + last, m0 - last)) ||
            !spans_push(dst, w.start + m0, m1 - m0))
            return pdvm_fail(PDVM_ERR_NOMEM, "pre-tokenizer: words");
        at = last = m1;
    }
    if (last < w.len && !spans_push(dst, w.start + last, w.len - last))
        return pdvm_fail(PDVM_ERR_NOMEM, "pre-tokenizer: words");
    return PDVM_OK;
}

static pdvm_status split_all(const pcre2_code *re, const char *text, const span_list *src,
                             span_list *dst)
{
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
    if (!md) return pdvm_fail(PDVM_ERR_NOMEM, "pre-tokenizer: match data");
    pdvm_status st = PDVM_OK;
    for (size_t i = 0; i < src->n && st == PDVM_OK; i++)
        st = split_word(re, md, text, src->v[i], dst);
    pcre2_match_data_free(md);
    return st;
}

pdvm_status pdvm_pretok_split(const pdvm_pretok *p, const char *match, size_t len,
                              pdvm_span **out, size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    span_list cur = {0}, next = {0};
    if (len > 0 && !spans_push(&cur, 0, len))
        return pdvm_fail(PDVM_ERR_NOMEM, "pre-tokenizer: words");
    for (size_t r = 0; r < p->n_re; r++) {
        next.n = 0;
        pdvm_status st = split_all(p->re[r], match, &cur, &next);
        if (st != PDVM_OK) {
            free(cur.v);
            free(next.v);
            return st;
        }
        span_list tmp = cur;
        cur = next;
        next = tmp;
    }
    free(next.v);
    *out = cur.v;
    *n_out = cur.n;
    return PDVM_OK;
}

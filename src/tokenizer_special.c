/* Special tokens as llama.cpp's llama_vocab::impl::load derives them from
 * the token texts, and the splitting of their text out of the input
 * (llama_vocab::impl::tokenizer_st_partition).
 *
 * llama.cpp walks an unordered map when it picks "the" end-of-turn or FIM
 * token among several candidate texts; here the lowest id wins, and tokens
 * of equal text length are matched lowest id first. Both only matter for
 * vocabularies with two candidates of one kind. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "tokenizer_impl.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))
#define FULLWIDTH_BAR "\xEF\xBD\x9C" /* U+FF5C, DeepSeek's special-token bar */

static const char *const EOT_TEXTS[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>",
    "<EOT>", "_<EOT>", "[EOT]", "<" FULLWIDTH_BAR "end" PDVM_SPACE_MARK "of" PDVM_SPACE_MARK
    "sentence" FULLWIDTH_BAR ">", "<end_of_utterance>",
};
static const char *const EOM_TEXTS[] = {"<|eom_id|>"};
static const char *const FIM_PRE_TEXTS[] = {
    "<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>",
    "<" FULLWIDTH_BAR "fim" PDVM_SPACE_MARK "begin" FULLWIDTH_BAR ">", "<PRE>",
    PDVM_SPACE_MARK "<PRE>", "<|code_prefix|>", "<|prefix|>",
};
static const char *const FIM_SUF_TEXTS[] = {
    "<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>",
    "<" FULLWIDTH_BAR "fim" PDVM_SPACE_MARK "hole" FULLWIDTH_BAR ">", "<SUF>",
    PDVM_SPACE_MARK "<SUF>", "<|code_suffix|>", "<|suffix|>",
};
static const char *const FIM_MID_TEXTS[] = {
    "<|fim_middle|>", "<fim-middle>", "<fim_middle>",
    "<" FULLWIDTH_BAR "fim" PDVM_SPACE_MARK "end" FULLWIDTH_BAR ">", "<MID>",
    PDVM_SPACE_MARK "<MID>", "<|code_middle|>", "<|middle|>",
};
static const char *const FIM_PAD_TEXTS[] = {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>",
                                            "[PAD]"};
static const char *const FIM_REP_TEXTS[] = {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>",
                                            "<REPO>", "<reponame>"};
static const char *const FIM_SEP_TEXTS[] = {"<|file_sep|>"};
static const char *const EOG_TEXTS[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>",
    "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]",
    "<|end_of_text|>", "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>",
    "<" FULLWIDTH_BAR "end" PDVM_SPACE_MARK "of" PDVM_SPACE_MARK "sentence" FULLWIDTH_BAR ">",
    "[e~[",
};
/* gpt-oss: always rendered, so user-defined. */
static const char *const RENDERED_TEXTS[] = {"<|channel|>", "<|message|>", "<|start|>",
                                             "<|constrain|>"};

enum { EOT, EOM, FIM_PRE, FIM_SUF, FIM_MID, FIM_PAD, FIM_REP, FIM_SEP, N_KIND };

typedef struct text_list {
    const char *const *v;
    size_t n;
    const char *key; /* tokenizer.ggml.<kind>_token_id */
} text_list;

static const text_list KIND_TEXTS[N_KIND] = {
    {EOT_TEXTS, N_OF(EOT_TEXTS), "tokenizer.ggml.eot_token_id"},
    {EOM_TEXTS, N_OF(EOM_TEXTS), "tokenizer.ggml.eom_token_id"},
    {FIM_PRE_TEXTS, N_OF(FIM_PRE_TEXTS), "tokenizer.ggml.fim_pre_token_id"},
    {FIM_SUF_TEXTS, N_OF(FIM_SUF_TEXTS), "tokenizer.ggml.fim_suf_token_id"},
    {FIM_MID_TEXTS, N_OF(FIM_MID_TEXTS), "tokenizer.ggml.fim_mid_token_id"},
    {FIM_PAD_TEXTS, N_OF(FIM_PAD_TEXTS), "tokenizer.ggml.fim_pad_token_id"},
    {FIM_REP_TEXTS, N_OF(FIM_REP_TEXTS), "tokenizer.ggml.fim_rep_token_id"},
    {FIM_SEP_TEXTS, N_OF(FIM_SEP_TEXTS), "tokenizer.ggml.fim_sep_token_id"},
};

/* Deprecated spellings, read after the FIM keys (so they win). */
static const struct {
    int kind;
    const char *key;
} OLD_KEYS[] = {
    {FIM_PRE, "tokenizer.ggml.prefix_token_id"},
    {FIM_SUF, "tokenizer.ggml.suffix_token_id"},
    {FIM_MID, "tokenizer.ggml.middle_token_id"},
};

static bool is(const pdvm_tokenizer *t, int32_t id, const char *text)
{
    size_t n = strlen(text);
    return t->lens[id] == n && memcmp(t->blob + t->offs[id], text, n) == 0;
}

static bool is_any(const pdvm_tokenizer *t, int32_t id, const char *const *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (is(t, id, v[i])) return true;
    return false;
}

/* llama.cpp's text loops visit each distinct text once: its last id. */
static bool canonical(const pdvm_tokenizer *t, int32_t id)
{
    return pdvm_tokenizer_find(t, t->blob + t->offs[id], t->lens[id]) == id;
}

/* Every text in the lists above starts with one of these bytes; checking
 * it first keeps the scan of a 150k-token vocabulary short. */
static bool may_be_listed(const pdvm_tokenizer *t, int32_t id)
{
    char c = t->blob[t->offs[id]];
    return (c == '<' || c == '[' || c == '_' || c == PDVM_SPACE_MARK[0]) && canonical(t, id);
}

static pdvm_status read_kind_ids(const pdvm_gguf *g, const pdvm_tokenizer *t, int32_t ids[N_KIND])
{
    const char *keys[N_KIND + N_OF(OLD_KEYS)];
    int kinds[N_KIND + N_OF(OLD_KEYS)];
    size_t n = 0;
    for (int k = 0; k < N_KIND; k++, n++) {
        ids[k] = -1;
        keys[n] = KIND_TEXTS[k].key;
        kinds[n] = k;
    }
    for (size_t i = 0; i < N_OF(OLD_KEYS); i++, n++) {
        keys[n] = OLD_KEYS[i].key;
        kinds[n] = OLD_KEYS[i].kind;
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t v;
        if (pdvm_gguf_find_key(g, keys[i]) < 0) continue;
        if (!pdvm_gguf_get_u32(g, keys[i], &v))
            return pdvm_fail(PDVM_ERR_FORMAT, "tokenizer: %s is not an unsigned integer",
                             keys[i]);
        if (v < t->n_vocab) ids[kinds[i]] = (int32_t)v;
    }
    return PDVM_OK;
}

/* Tokens found by their text become control tokens (the file may not say). */
static void detect_by_text(pdvm_tokenizer *t, int32_t ids[N_KIND])
{
    for (uint32_t i = 0; i < t->n_vocab; i++) {
        int32_t id = (int32_t)i;
        if (!may_be_listed(t, id)) continue;
        for (int k = 0; k < N_KIND; k++) {
            if (ids[k] >= 0 || !is_any(t, id, KIND_TEXTS[k].v, KIND_TEXTS[k].n)) continue;
            ids[k] = id;
            t->attrs[id] |= PDVM_ATTR_CONTROL;
        }
    }
    for (uint32_t i = 0; i < t->n_vocab; i++)
        if ((t->attrs[i] & PDVM_ATTR_CONTROL) && strstr(t->blob + t->offs[i], "unused") &&
            canonical(t, (int32_t)i))
            t->attrs[i] |= PDVM_ATTR_UNUSED;
}

/* Highest end-of-generation id with this text, -1 when none. */
static int32_t eog_with_text(const pdvm_tokenizer *t, const char *text)
{
    for (int32_t id = (int32_t)t->n_vocab - 1; id >= 0; id--)
        if (t->eog[id] && is(t, id, text)) return id;
    return -1;
}

/* o200k_harmony and solar-open end a message with <|end|> but not the
 * generation; Gemma 4 and PaddleOCR do not end it with </s>. */
static void eog_workarounds(pdvm_tokenizer *t)
{
    int32_t end = eog_with_text(t, "<|end|>");
    bool call = eog_with_text(t, "<|call|>") >= 0 || eog_with_text(t, "<|calls|>") >= 0;
    if (end >= 0 && call &&
        (eog_with_text(t, "<|return|>") >= 0 || eog_with_text(t, "<|flush|>") >= 0)) {
        t->eog[end] = 0;
        t->attrs[end] = PDVM_ATTR_USER_DEFINED;
    }
    int32_t s = eog_with_text(t, "</s>");
    if (s >= 0 && eog_with_text(t, "<|tool_response>") >= 0) {
        t->eog[s] = 0;
        t->attrs[s] = PDVM_ATTR_NORMAL;
    }
}

static pdvm_status build_eog(pdvm_tokenizer *t, const int32_t ids[N_KIND])
{
    t->eog = calloc(t->n_vocab, 1);
    if (!t->eog) return pdvm_fail(PDVM_ERR_NOMEM, "tokenizer: end-of-generation flags");
    const int32_t listed[] = {ids[FIM_PAD], ids[FIM_REP], ids[FIM_SEP], t->eos, ids[EOT],
                              ids[EOM]};
    for (uint32_t i = 0; i < t->n_vocab; i++) {
        int32_t id = (int32_t)i;
        if (!may_be_listed(t, id)) continue;
        if (is_any(t, id, EOG_TEXTS, N_OF(EOG_TEXTS))) {
            t->eog[id] = 1;
            t->attrs[id] |= PDVM_ATTR_CONTROL;
        }
        if (is_any(t, id, RENDERED_TEXTS, N_OF(RENDERED_TEXTS)))
            t->attrs[id] = PDVM_ATTR_USER_DEFINED;
    }
    for (size_t i = 0; i < N_OF(listed); i++)
        if (listed[i] >= 0) t->eog[listed[i]] = 1;
    eog_workarounds(t);
    return PDVM_OK;
}

/* ----------------------------------------------- per-model attributes */

static bool contains(gguf_str s, const char *sub)
{
    size_t n = strlen(sub);
    for (uint64_t i = 0; i + n <= s.len; i++)
        if (memcmp(s.ptr + i, sub, n) == 0) return true;
    return false;
}

static void set_attr(pdvm_tokenizer *t, const char *text, uint32_t attr, bool on)
{
    int32_t id = pdvm_tokenizer_find(t, text, strlen(text));
    if (id < 0) return;
    if (on)
        t->attrs[id] |= attr;
    else
        t->attrs[id] &= ~attr;
}

static gguf_str get_str(const pdvm_gguf *g, const char *key)
{
    gguf_str s = {"", 0};
    if (!pdvm_gguf_get_str(g, key, &s)) s = (gguf_str){"", 0};
    return s;
}

/* What llama.cpp sets by model name, pre-tokenizer or architecture: Phi-3
 * drops the whitespace after its special tokens, some encoders before
 * their mask token. name is general.name, lower-cased. */
static void model_attrs(const pdvm_gguf *g, const char *pre_override, pdvm_tokenizer *t)
{
    gguf_str pre = pre_override ? (gguf_str){pre_override, strlen(pre_override)}
                                : get_str(g, "tokenizer.ggml.pre");
    gguf_str arch = get_str(g, "general.architecture"), raw = get_str(g, "general.name");
    char name[256];
    size_t n = raw.len < sizeof name ? (size_t)raw.len : sizeof name - 1;
    for (size_t i = 0; i < n; i++) name[i] = (char)tolower((unsigned char)raw.ptr[i]);
    gguf_str lower = {name, n};
    if (contains(pre, "jina-v2-de") || contains(pre, "jina-v2-es") ||
        contains(pre, "jina-v2-code") || contains(arch, "nomic-bert-moe") ||
        contains(arch, "jina-bert-v3")) {
        set_attr(t, "<mask>", PDVM_ATTR_LSTRIP, true);
    } else if (contains(lower, "phi-3") || contains(lower, "phi3")) {
        for (uint32_t i = 0; i < t->n_special; i++) t->attrs[t->special[i]] |= PDVM_ATTR_RSTRIP;
        set_attr(t, "</s>", PDVM_ATTR_RSTRIP, true);
        set_attr(t, "<unk>", PDVM_ATTR_RSTRIP, false);
        set_attr(t, "<s>", PDVM_ATTR_RSTRIP, false);
        set_attr(t, "<|endoftext|>", PDVM_ATTR_RSTRIP, false);
    } else if (contains(lower, "modern-bert")) {
        set_attr(t, "[MASK]", PDVM_ATTR_LSTRIP, true);
    }
}

/* ------------------------------------------------- special-token list */

typedef struct by_len {
    uint32_t len;
    int32_t id;
} by_len;

static int longest_first(const void *a, const void *b)
{
    const by_len *x = a, *y = b;
    if (x->len != y->len) return x->len > y->len ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static pdvm_status build_special_list(pdvm_tokenizer *t)
{
    const uint32_t kinds = PDVM_ATTR_CONTROL | PDVM_ATTR_USER_DEFINED | PDVM_ATTR_UNKNOWN;
    by_len *order = malloc(t->n_vocab * sizeof *order);
    t->special = malloc(t->n_vocab * sizeof *t->special);
    t->special_rank = malloc(t->n_vocab * sizeof *t->special_rank);
    if (!order || !t->special || !t->special_rank) {
        free(order);
        return pdvm_fail(PDVM_ERR_NOMEM, "tokenizer: specials");
    }
    for (uint32_t i = 0; i < t->n_vocab; i++) {
        t->special_rank[i] = -1;
        if (t->attrs[i] & kinds) order[t->n_special++] = (by_len){t->lens[i], (int32_t)i};
    }
    qsort(order, t->n_special, sizeof *order, longest_first);
    for (uint32_t r = 0; r < t->n_special; r++) t->special[r] = order[r].id;
    free(order);
    t->special_max_len = t->n_special ? t->lens[t->special[0]] : 0;
    t->special_lens = calloc((size_t)t->special_max_len + 1, 1);
    if (!t->special_lens) return pdvm_fail(PDVM_ERR_NOMEM, "tokenizer: specials");
    for (uint32_t r = 0; r < t->n_special; r++) {
        int32_t id = t->special[r];
        uint8_t first = (uint8_t)t->blob[t->offs[id]];
        t->special_rank[id] = (int32_t)r;
        t->special_lens[t->lens[id]] = 1;
        t->special_first[first >> 3] |= (uint8_t)(1u << (first & 7));
    }
    return PDVM_OK;
}

pdvm_status pdvm_special_setup(const pdvm_gguf *g, const char *pre_override, pdvm_tokenizer *t)
{
    int32_t ids[N_KIND];
    PDVM_TRY(read_kind_ids(g, t, ids));
    detect_by_text(t, ids);
    PDVM_TRY(build_eog(t, ids));
    PDVM_TRY(build_special_list(t));
    model_attrs(g, pre_override, t);
    return PDVM_OK;
}

/* The public model entry points: open the GGUF, bind the architecture,
 * load the tokenizer; one owner (pdvm_model) for all three. The vocab-only
 * open loads the tokenizer alone (files with no tensors, like llama.cpp's
 * ggml-vocab-*.gguf); such a model has no weights and no session. */
#include <stdlib.h>
#include <string.h>

#include "chat_template.h"
#include "error.h"
#include "gguf_source.h"
#include "model.h"
#include "tokenizer.h"

pdvm_status pdvm_model_open_gguf(pdvm_gguf *g, pdvm_model **out)
{
    if (!g || !out) return pdvm_fail(PDVM_ERR_INVALID_ARG, "pdvm_model_open_gguf: NULL argument");
    *out = NULL;
    pdvm_model *m = calloc(1, sizeof *m);
    if (!m) return pdvm_fail(PDVM_ERR_NOMEM, "model");
    pdvm_status st = pdvm_model_bind(g, m);
    if (st == PDVM_OK) st = pdvm_tokenizer_load(g, &m->tok);
    if (st == PDVM_OK && pdvm_tokenizer_n_vocab(m->tok) != m->hp.n_vocab)
        st = pdvm_fail(PDVM_ERR_FORMAT, "tokenizer has %u tokens but the model binds %u",
                       pdvm_tokenizer_n_vocab(m->tok), m->hp.n_vocab);
    if (st == PDVM_OK) st = pdvm_chat_template_load(g, &m->chat_template);
    if (st != PDVM_OK) {
        /* g stays the caller's on failure. */
        m->gguf = NULL;
        if (m->tok) pdvm_tokenizer_free(m->tok);
        pdvm_model_unbind(m);
        free(m);
        return st;
    }
    *out = m;
    return PDVM_OK;
}

pdvm_model_params pdvm_model_default_params(void)
{
    return (pdvm_model_params){.check_tensors = false, .use_mmap = true, .use_mlock = false};
}

pdvm_status pdvm_model_load(const char *path, const pdvm_model_params *params, pdvm_model **out)
{
    if (!path || !out) return pdvm_fail(PDVM_ERR_INVALID_ARG, "pdvm_model_load: NULL argument");
    *out = NULL;
    pdvm_model_params p = params ? *params : pdvm_model_default_params();
    pdvm_gguf *g = NULL;
    /* Its messages start with the path. */
    PDVM_TRY(pdvm_gguf_open_opts(path, p.use_mmap, p.use_mlock, &g));
    pdvm_status st = p.check_tensors ? pdvm_gguf_check_tensors(g) : PDVM_OK;
    if (st == PDVM_OK) st = pdvm_model_open_gguf(g, out);
    if (st != PDVM_OK) {
        pdvm_gguf_close(g);
        return pdvm_fail_prefix(st, "%s", path);
    }
    return PDVM_OK;
}

pdvm_status pdvm_model_open(const char *path, pdvm_model **out)
{
    return pdvm_model_load(path, NULL, out);
}

/* hparams of a vocab-only model: the architecture name and n_vocab. */
static void vocab_hparams(const pdvm_gguf *g, pdvm_model *m)
{
    gguf_str arch;
    if (pdvm_gguf_get_str(g, "general.architecture", &arch)) {
        size_t n = arch.len < sizeof m->hp.arch ? (size_t)arch.len : sizeof m->hp.arch - 1;
        memcpy(m->hp.arch, arch.ptr, n);
    }
    m->hp.n_vocab = pdvm_tokenizer_n_vocab(m->tok);
}

pdvm_status pdvm_model_open_vocab(const char *path, pdvm_model **out)
{
    if (!path || !out)
        return pdvm_fail(PDVM_ERR_INVALID_ARG, "pdvm_model_open_vocab: NULL argument");
    *out = NULL;
    pdvm_gguf *g = NULL;
    PDVM_TRY(pdvm_gguf_open(path, &g));
    pdvm_model *m = calloc(1, sizeof *m);
    pdvm_status st = m ? pdvm_tokenizer_load(g, &m->tok) : pdvm_fail(PDVM_ERR_NOMEM, "model");
    if (st == PDVM_OK) vocab_hparams(g, m);
    pdvm_gguf_close(g); /* the tokenizer keeps its own copy */
    if (st != PDVM_OK) {
        free(m);
        return pdvm_fail_prefix(st, "%s", path);
    }
    *out = m;
    return PDVM_OK;
}

void pdvm_model_close(pdvm_model *model)
{
    if (!model) return;
    if (model->tok) pdvm_tokenizer_free(model->tok);
    free(model->chat_template);
    pdvm_model_unbind(model);
    free(model);
}

const pdvm_hparams *pdvm_model_hparams(const pdvm_model *model) { return &model->hp; }

uint64_t pdvm_model_n_params(const pdvm_model *model) { return model->n_params; }

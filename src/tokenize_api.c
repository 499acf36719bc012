/* The public tokenizer entry points (include/pdvm.h): argument checks over
 * the model's tokenizer. */
#include <string.h>

#include "error.h"
#include "model.h"
#include "tokenizer.h"

static pdvm_status need_tokenizer(const pdvm_model *m, const char *fn)
{
    if (!m) return pdvm_fail(PDVM_ERR_INVALID_ARG, "%s: model is NULL", fn);
    if (!m->tok) return pdvm_fail(PDVM_ERR_INVALID_ARG, "%s: the model has no tokenizer", fn);
    return PDVM_OK;
}

pdvm_status pdvm_tokenize(const pdvm_model *model, const char *text, size_t len, bool add_special,
                          bool parse_special, int32_t *out, size_t cap, size_t *n_out)
{
    if (n_out) *n_out = 0;
    PDVM_TRY(need_tokenizer(model, "pdvm_tokenize"));
    if ((!text && len > 0) || !n_out || (!out && cap > 0))
        return pdvm_fail(PDVM_ERR_INVALID_ARG, "pdvm_tokenize: NULL text, out or n_out");
    return pdvm_tokenizer_encode(model->tok, text ? text : "", len, add_special, parse_special,
                                 out, cap, n_out);
}

pdvm_status pdvm_token_to_piece(const pdvm_model *model, int32_t token, bool special, char *buf,
                                size_t cap, size_t *len)
{
    if (len) *len = 0;
    PDVM_TRY(need_tokenizer(model, "pdvm_token_to_piece"));
    if (!len || (!buf && cap > 0))
        return pdvm_fail(PDVM_ERR_INVALID_ARG, "pdvm_token_to_piece: NULL buf or len");
    uint32_t n_vocab = pdvm_tokenizer_n_vocab(model->tok);
    if (token < 0 || (uint32_t)token >= n_vocab)
        return pdvm_fail(PDVM_ERR_INVALID_ARG, "pdvm_token_to_piece: token %d is outside the "
                                               "vocabulary (%u)", token, n_vocab);
    *len = pdvm_tokenizer_render(model->tok, token, special, buf, cap);
    if (*len > cap)
        return pdvm_fail(PDVM_ERR_INVALID_ARG, "pdvm_token_to_piece: the piece of token %d is "
                                               "%zu bytes, over %zu", token, *len, cap);
    return PDVM_OK;
}

bool pdvm_token_is_eog(const pdvm_model *model, int32_t token)
{
    return model && model->tok && pdvm_tokenizer_is_eog(model->tok, token);
}

bool pdvm_model_add_bos(const pdvm_model *model)
{
    return model && model->tok && pdvm_tokenizer_add_bos(model->tok);
}

bool pdvm_model_add_eos(const pdvm_model *model)
{
    return model && model->tok && pdvm_tokenizer_add_eos(model->tok);
}

int32_t pdvm_token_bos(const pdvm_model *model)
{
    return model && model->tok ? pdvm_tokenizer_bos(model->tok) : -1;
}

int32_t pdvm_token_eos(const pdvm_model *model)
{
    return model && model->tok ? pdvm_tokenizer_eos(model->tok) : -1;
}

/* The chat template a GGUF carries (tokenizer.chat_template), kept by the
 * model as a NUL-terminated copy: the mapped string is not terminated. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chat_template.h"
#include "error.h"
#include "model.h"

pdvm_status pdvm_chat_template_load(const pdvm_gguf *g, char **out)
{
    gguf_str s;
    *out = NULL;
    if (!pdvm_gguf_get_str(g, "tokenizer.chat_template", &s)) return PDVM_OK;
    char *c = malloc((size_t)s.len + 1);
    if (!c) return pdvm_fail(PDVM_ERR_NOMEM, "tokenizer.chat_template: %llu bytes",
                             (unsigned long long)s.len);
    memcpy(c, s.ptr, (size_t)s.len);
    c[s.len] = '\0';
    *out = c;
    return PDVM_OK;
}

const char *pdvm_model_chat_template(const pdvm_model *model)
{
    return model ? model->chat_template : NULL;
}

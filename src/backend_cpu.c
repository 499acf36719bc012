/* The CPU backend: the reference forward pass behind the backend seam.
 * Prompt tokens run one at a time; only the last computes logits. */
#include "backend.h"
#include "error.h"
#include "gguf_source.h"
#include "reference.h"

#include <stdio.h>

static pdvm_status cpu_create(const pdvm_model *m, const pdvm_session_params *p, uint32_t n_ctx,
                              void **state)
{
    pdvm_ref_state *s;
    /* The reference reads every weight through its pointer. */
    PDVM_TRY(pdvm_gguf_load_data(m->gguf));
    PDVM_TRY(pdvm_ref_create(m, n_ctx, &s));
    if (p && p->verbose)
        fprintf(stderr, "pdvm: cpu reference backend, f32 KV cache %.2f MiB for %u positions\n",
                pdvm_ref_kv_bytes(s) / 1048576.0, n_ctx);
    *state = s;
    return PDVM_OK;
}

static pdvm_status cpu_eval(void *state, const int32_t *tokens, size_t n, uint32_t pos,
                            float *logits)
{
    for (size_t i = 0; i < n; i++)
        PDVM_TRY(pdvm_ref_forward(state, tokens[i], pos + (uint32_t)i,
                                  i + 1 == n ? logits : NULL));
    return PDVM_OK;
}

static void cpu_stats(const void *state, pdvm_session_stats *out)
{
    out->dispatches = 0;
    out->kv_mib = pdvm_ref_kv_bytes(state) / 1048576.0;
    snprintf(out->device, sizeof out->device, "cpu");
    out->platform[0] = '\0';
}

static void cpu_destroy(void *state) { pdvm_ref_free(state); }

const pdvm_backend_ops pdvm_backend_cpu_ops = {
    .name = "cpu", .create = cpu_create, .eval = cpu_eval, .stats = cpu_stats,
    .destroy = cpu_destroy,
};

/* The CPU backend: the reference forward pass behind the backend seam,
 * one f32 KV cache per sequence holding every position. A batch runs one
 * token at a time; only the tokens that keep logits compute them. */
#include <stdio.h>
#include <stdlib.h>

#include "backend.h"
#include "error.h"
#include "gguf_source.h"
#include "reference.h"

typedef struct cpu_state {
    pdvm_ref_state *ref;
    size_t n_vocab; /* floats of one logits row */
} cpu_state;

static pdvm_status cpu_create(const pdvm_model *m, const pdvm_session_params *p, uint32_t n_ctx,
                              uint32_t n_seq, void **state)
{
    /* The reference reads every weight through its pointer. */
    PDVM_TRY(pdvm_gguf_load_data(m->gguf));
    cpu_state *s = calloc(1, sizeof *s);
    if (!s) return pdvm_fail(PDVM_ERR_NOMEM, "cpu backend state");
    s->n_vocab = (size_t)m->output.ne[1];
    pdvm_status st = pdvm_ref_create_seq(m, n_ctx, n_seq, &s->ref);
    if (st != PDVM_OK) {
        free(s);
        return st;
    }
    if (p && p->verbose)
        fprintf(stderr, "pdvm: cpu reference backend, f32 KV cache %.2f MiB for %u positions "
                        "x %u sequence(s)\n", pdvm_ref_kv_bytes(s->ref) / 1048576.0, n_ctx, n_seq);
    *state = s;
    return PDVM_OK;
}

static pdvm_status cpu_decode(void *state, const pdvm_batch_token *t, size_t n, float *logits)
{
    cpu_state *s = state;
    for (size_t i = 0; i < n; i++) {
        float *row = t[i].out < 0 ? NULL : logits + (size_t)t[i].out * s->n_vocab;
        PDVM_TRY(pdvm_ref_forward_seq(s->ref, t[i].id, t[i].seq, t[i].pos, row));
    }
    return PDVM_OK;
}

/* Every position stays in the cache: any prefix can be kept. */
static pdvm_status cpu_seq_truncate(void *state, uint32_t seq, uint32_t cur, uint32_t pos)
{
    (void)state, (void)seq, (void)cur, (void)pos;
    return PDVM_OK;
}

static void cpu_stats(const void *state, pdvm_session_stats *out)
{
    const cpu_state *s = state;
    out->dispatches = 0;
    out->kv_mib = pdvm_ref_kv_bytes(s->ref) / 1048576.0;
    snprintf(out->device, sizeof out->device, "cpu");
    out->platform[0] = '\0';
}

static void cpu_destroy(void *state)
{
    cpu_state *s = state;
    if (!s) return;
    pdvm_ref_free(s->ref);
    free(s);
}

const pdvm_backend_ops pdvm_backend_cpu_ops = {
    .name = "cpu", .create = cpu_create, .decode = cpu_decode,
    .seq_truncate = cpu_seq_truncate, .stats = cpu_stats, .destroy = cpu_destroy,
};

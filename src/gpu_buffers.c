/* The KV-cache, activation and score buffers of the memory plans, and the
 * release of every buffer a GPU state holds. */
#include <stdlib.h>

#include "error.h"
#include "gpu_state.h"

static pdvm_status create_set(gpu_state *s, uint32_t n, const uint64_t *bytes,
                              pdvm_gl_buffer **out)
{
    *out = calloc(n ? n : 1, sizeof **out);
    if (!*out) return pdvm_fail(PDVM_ERR_NOMEM, "GPU backend: %u buffers", n);
    for (uint32_t b = 0; b < n; b++) PDVM_TRY(pdvm_gl_buffer_create(s->gl, bytes[b], NULL, &(*out)[b]));
    return PDVM_OK;
}

pdvm_status gpu_alloc_kv_act(gpu_state *s)
{
    PDVM_TRY(create_set(s, s->kvp.n_bufs, s->kvp.buf_bytes, &s->kbufs));
    PDVM_TRY(create_set(s, s->kvp.n_bufs, s->kvp.buf_bytes, &s->vbufs));
    /* Zeroed, so a kernel that reads an element nobody wrote sees 0, not
     * whatever the allocation held. */
    float *zero = calloc(s->ap.n_floats, sizeof *zero);
    if (!zero) return pdvm_fail(PDVM_ERR_NOMEM, "GPU backend: %u activations", s->ap.n_floats);
    pdvm_status st = pdvm_gl_buffer_create(s->gl, (uint64_t)s->ap.n_floats * 4, zero, &s->act);
    free(zero);
    PDVM_TRY(st);
    return pdvm_gl_check(s->gl, "KV cache and activation buffers");
}

pdvm_status gpu_alloc_scores(gpu_state *s)
{
    if (s->sbufs) return PDVM_OK;
    PDVM_TRY(gpu_plan_scores(&s->m->hp, s->n_ctx, s->block, &s->sp));
    s->sbufs = calloc(s->sp.n_bufs, sizeof *s->sbufs);
    if (!s->sbufs) return pdvm_fail(PDVM_ERR_NOMEM, "GPU backend: %u score buffers", s->sp.n_bufs);
    for (uint32_t b = 0; b < s->sp.n_bufs; b++)
        PDVM_TRY(pdvm_gl_buffer_create(s->gl, s->sp.buf_bytes, NULL, &s->sbufs[b]));
    return pdvm_gl_check(s->gl, "attention score buffers");
}

static void delete_set(gpu_state *s, pdvm_gl_buffer **set, uint32_t n)
{
    if (!*set) return;
    for (uint32_t b = 0; b < n; b++)
        if ((*set)[b].id) pdvm_gl_buffer_delete(s->gl, &(*set)[b]);
    free(*set);
    *set = NULL;
}

void gpu_release_buffers(gpu_state *s)
{
    delete_set(s, &s->wbufs, s->wp.n_bufs);
    delete_set(s, &s->kbufs, s->kvp.n_bufs);
    delete_set(s, &s->vbufs, s->kvp.n_bufs);
    delete_set(s, &s->sbufs, s->sp.n_bufs);
    if (s->act.id) pdvm_gl_buffer_delete(s->gl, &s->act);
}

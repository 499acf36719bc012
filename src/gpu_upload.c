/* The weight upload: the weight buffers of the plan, every part's rows
 * copied in their block format (Q4_0 and Q8_0 rows rearranged, see
 * gpu_repack.h), its norm copy as f32. Tensors without data (synthetic
 * models) are filled on the GPU with random valid blocks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "gpu_repack.h"
#include "gpu_state.h"
#include "quant.h"
#include "synth_fill.h"
#include "util.h"

enum { GPU_REPACK_CHUNK = 16 << 20, GPU_PROGRESS_STEP = 16 << 20 };

/* Bytes uploaded, reported every GPU_PROGRESS_STEP and at the end. */
typedef struct upload_progress {
    const gpu_state *s;
    uint64_t done, total, last;
} upload_progress;

static void progress(upload_progress *p, uint64_t bytes)
{
    p->done += bytes;
    if (!p->s->progress || (p->done - p->last < GPU_PROGRESS_STEP && p->done < p->total)) return;
    p->last = p->done;
    p->s->progress("uploading weights", p->done, p->total, p->s->progress_user);
}

/* Hash of the name: a synthetic tensor gets the same weights every run. */
static uint32_t tensor_seed(const pdvm_tensor *t, uint32_t row0)
{
    const char *name = t->name ? t->name : "";
    return pdvm_fnv1a32(name, strlen(name)) ^ (row0 * 2654435761u);
}

static pdvm_status upload_norm(gpu_state *s, const pdvm_gl_buffer *b, uint64_t off,
                               const pdvm_tensor *t)
{
    uint32_t n = s->m->hp.n_embd;
    if (!t->data) return pdvm_synth_fill(s->gl, b, off, (uint64_t)n * 4, 0, PDVM_TYPE_F32,
                                         tensor_seed(t, 0));
    float *f = malloc((size_t)n * sizeof *f);
    if (!f) return pdvm_fail(PDVM_ERR_NOMEM, "GPU upload: %s", t->name);
    pdvm_dequant_row(t->type, t->data, f, n); /* f16 norms become exact f32 */
    pdvm_status st = pdvm_gl_buffer_write(s->gl, b, off, (uint64_t)n * 4, f);
    free(f);
    return st;
}

static pdvm_status upload_seg(gpu_state *s, const pdvm_gl_buffer *b, const gpu_seg *g)
{
    uint64_t bytes = (uint64_t)g->n_rows * g->t->row_bytes;
    if (bytes == 0) return PDVM_OK;
    const uint64_t rb = g->t->row_bytes;
    if (!g->t->data)
        return pdvm_synth_fill(s->gl, b, g->off, bytes, rb, g->t->type, tensor_seed(g->t, g->row0));
    const uint8_t *src = (const uint8_t *)g->t->data + (uint64_t)g->row0 * rb;
    if (!gpu_repacked(g->t->type)) return pdvm_gl_buffer_write(s->gl, b, g->off, bytes, src);
    /* Rearranged through a staging buffer of whole rows. */
    uint64_t chunk_rows = GPU_REPACK_CHUNK / rb ? GPU_REPACK_CHUNK / rb : 1;
    uint8_t *tmp = malloc(chunk_rows * rb);
    if (!tmp) return pdvm_fail(PDVM_ERR_NOMEM, "staging %llu bytes", (unsigned long long)(chunk_rows * rb));
    pdvm_status st = PDVM_OK;
    for (uint64_t r = 0; r < g->n_rows && st == PDVM_OK; r += chunk_rows) {
        uint64_t n = g->n_rows - r < chunk_rows ? g->n_rows - r : chunk_rows;
        gpu_repack_rows(g->t->type, rb, n, src + r * rb, tmp);
        st = pdvm_gl_buffer_write(s->gl, b, g->off + r * rb, n * rb, tmp);
    }
    free(tmp);
    return st;
}

static pdvm_status upload_group(gpu_state *s, const gpu_group *g, upload_progress *pr)
{
    for (uint32_t i = 0; i < g->n_parts; i++) {
        const gpu_part *p = &g->parts[i];
        const pdvm_gl_buffer *b = &s->wbufs[p->buf];
        if (g->norm) PDVM_TRY(upload_norm(s, b, p->norm_off, g->norm));
        for (uint32_t k = 0; k < g->n_t; k++) {
            pdvm_status st = upload_seg(s, b, &p->seg[k]);
            if (st != PDVM_OK) return pdvm_fail_prefix(st, "uploading %s", p->seg[k].t->name);
            progress(pr, (uint64_t)p->seg[k].n_rows * p->seg[k].t->row_bytes);
        }
    }
    return PDVM_OK;
}

pdvm_status gpu_upload_weights(gpu_state *s)
{
    const gpu_weight_plan *wp = &s->wp;
    s->wbufs = calloc(wp->n_bufs, sizeof *s->wbufs);
    if (!s->wbufs) return pdvm_fail(PDVM_ERR_NOMEM, "GPU upload: %u buffers", wp->n_bufs);
    for (uint32_t b = 0; b < wp->n_bufs; b++)
        PDVM_TRY(pdvm_gl_buffer_create(s->gl, wp->buf_bytes[b], NULL, &s->wbufs[b]));
    upload_progress pr = {s, 0, wp->total_bytes, 0};
    for (uint32_t i = 0; i < wp->n_groups; i++) PDVM_TRY(upload_group(s, &wp->groups[i], &pr));
    /* total counts alignment padding the tensors do not fill: report the
     * end as done == total. */
    if (s->progress) s->progress("uploading weights", pr.total, pr.total, s->progress_user);
    return pdvm_gl_check(s->gl, "weight upload");
}

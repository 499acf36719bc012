/* The weight upload: the weight buffers of the plan, every part's rows
 * copied in their block format (Q4_0 and Q8_0 rows rearranged, see
 * gpu_repack.h), its vectors (norms, biases) as f32. Tensors without data (synthetic
 * models) are filled on the GPU with random valid blocks. Rows go through a
 * one-pass window of GPU_UPLOAD_CHUNK bytes (gguf_source.h): read, written
 * to the buffer, and dropped from the process before the next, so that the
 * file is never resident next to the GPU's copy (which, on a GPU that
 * shares the RAM, is in that same RAM). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "gguf_source.h"
#include "gpu_repack.h"
#include "gpu_state.h"
#include "quant.h"
#include "synth_fill.h"
#include "util.h"

enum { GPU_UPLOAD_CHUNK = 4 << 20, GPU_PROGRESS_STEP = 16 << 20 };

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

/* n floats of 1-D tensor t from element e0 (NULL t: zeros) to byte off of
 * b as f32. */
static pdvm_status upload_vec(gpu_state *s, const pdvm_gl_buffer *b, uint64_t off,
                              const pdvm_tensor *t, uint32_t e0, uint32_t n)
{
    if (n == 0) return PDVM_OK;
    if (t && !t->data)
        return pdvm_synth_fill(s->gl, b, off, (uint64_t)n * 4, 0, PDVM_TYPE_F32,
                               tensor_seed(t, e0));
    float *f = calloc((size_t)n, sizeof *f);
    if (!f) return pdvm_fail(PDVM_ERR_NOMEM, "GPU upload: %s", t ? t->name : "bias");
    if (t) { /* f16 vectors become exact f32 */
        float *all = malloc((size_t)(e0 + n) * sizeof *all);
        if (!all) {
            free(f);
            return pdvm_fail(PDVM_ERR_NOMEM, "GPU upload: %s", t->name);
        }
        pdvm_dequant_row(t->type, t->data, all, e0 + n);
        memcpy(f, all + e0, (size_t)n * sizeof *f);
        free(all);
    }
    pdvm_status st = pdvm_gl_buffer_write(s->gl, b, off, (uint64_t)n * 4, f);
    free(f);
    return st;
}

/* The part's vectors: whole norms, and the biases of its rows (zeros for
 * a projection without one). */
static pdvm_status upload_vectors(gpu_state *s, const gpu_group *g, const gpu_part *p)
{
    const pdvm_gl_buffer *b = &s->wbufs[p->buf];
    const uint32_t len[] = {s->m->hp.n_embd, s->m->hp.n_embd, s->m->hp.head_dim,
                            s->m->hp.head_dim};
    for (int v = 0; v < GPU_V_BIAS; v++)
        if (g->vec[v]) PDVM_TRY(upload_vec(s, b, p->vec_off[v], g->vec[v], 0, len[v]));
    if (!g->has_bias) return PDVM_OK;
    uint64_t off = p->vec_off[GPU_V_BIAS];
    for (uint32_t k = 0; k < g->n_t; k++) {
        const gpu_seg *sg = &p->seg[k];
        PDVM_TRY(upload_vec(s, b, off, g->bias[k], sg->row0, sg->n_rows));
        off += (uint64_t)sg->n_rows * 4;
    }
    return PDVM_OK;
}

/* One upload's window over the file and its repack staging. */
typedef struct upload_io {
    gguf_window win;
    uint8_t *tmp;
    uint64_t tmp_cap;
} upload_io;

/* n_rows rows of type `type` at src to byte off of b, through the window. */
static pdvm_status upload_rows(gpu_state *s, upload_io *io, const pdvm_gl_buffer *b, uint64_t off,
                               uint32_t type, uint64_t rb, const uint8_t *src, uint64_t n_rows)
{
    const uint64_t bytes = n_rows * rb;
    const void *p;
    pdvm_status st = gguf_window_get(&io->win, src, bytes, &p);
    if (st == PDVM_OK && gpu_repacked(type) && bytes > io->tmp_cap) {
        uint8_t *t = realloc(io->tmp, (size_t)bytes);
        if (!t) st = pdvm_fail(PDVM_ERR_NOMEM, "staging %llu bytes", (unsigned long long)bytes);
        else io->tmp = t, io->tmp_cap = bytes;
    }
    if (st == PDVM_OK && gpu_repacked(type)) {
        gpu_repack_rows(type, rb, n_rows, p, io->tmp);
        p = io->tmp;
    }
    if (st == PDVM_OK) st = pdvm_gl_buffer_write(s->gl, b, off, bytes, p);
    gguf_window_release(&io->win, src, bytes);
    return st;
}

static pdvm_status upload_seg(gpu_state *s, upload_io *io, const pdvm_gl_buffer *b,
                              const gpu_seg *g)
{
    uint64_t bytes = (uint64_t)g->n_rows * g->t->row_bytes;
    if (bytes == 0) return PDVM_OK;
    const uint64_t rb = g->t->row_bytes;
    if (!g->t->data)
        return pdvm_synth_fill(s->gl, b, g->off, bytes, rb, g->t->type, tensor_seed(g->t, g->row0));
    const uint8_t *src = (const uint8_t *)g->t->data + (uint64_t)g->row0 * rb;
    uint64_t chunk_rows = GPU_UPLOAD_CHUNK / rb ? GPU_UPLOAD_CHUNK / rb : 1;
    pdvm_status st = PDVM_OK;
    for (uint64_t r = 0; r < g->n_rows && st == PDVM_OK; r += chunk_rows) {
        uint64_t n = g->n_rows - r < chunk_rows ? g->n_rows - r : chunk_rows;
        st = upload_rows(s, io, b, g->off + r * rb, g->t->type, rb, src + r * rb, n);
    }
    return st;
}

static pdvm_status upload_group(gpu_state *s, upload_io *io, const gpu_group *g,
                                upload_progress *pr)
{
    for (uint32_t i = 0; i < g->n_parts; i++) {
        const gpu_part *p = &g->parts[i];
        const pdvm_gl_buffer *b = &s->wbufs[p->buf];
        PDVM_TRY(upload_vectors(s, g, p));
        for (uint32_t k = 0; k < g->n_t; k++) {
            pdvm_status st = upload_seg(s, io, b, &p->seg[k]);
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
    upload_io io = {gguf_window_init(s->m->gguf), NULL, 0};
    pdvm_status st = PDVM_OK;
    for (uint32_t i = 0; i < wp->n_groups && st == PDVM_OK; i++)
        st = upload_group(s, &io, &wp->groups[i], &pr);
    gguf_window_free(&io.win);
    free(io.tmp);
    PDVM_TRY(st);
    /* total counts alignment padding the tensors do not fill: report the
     * end as done == total. */
    if (s->progress) s->progress("uploading weights", pr.total, pr.total, s->progress_user);
    return pdvm_gl_check(s->gl, "weight upload");
}

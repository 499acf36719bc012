/* The public tensor table entry and --check-tensors: every tensor the CPU
 * can decode is decoded row by row and scanned for NaN and infinities, so
 * a corrupt file is refused at load instead of printing garbage. */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>

#include "error.h"
#include "gguf.h"
#include "gguf_source.h"
#include "quant.h"

enum { CHECK_CHUNK = 4 << 20 };

bool pdvm_gguf_get_tensor(const pdvm_gguf *g, uint64_t i, pdvm_gguf_tensor_info *out)
{
    const gguf_tensor *t = g && out ? pdvm_gguf_tensor(g, i) : NULL;
    if (!t) return false;
    *out = (pdvm_gguf_tensor_info){t->name, t->type, pdvm_type_name(t->type), t->n_dims,
                                   {t->ne[0], t->ne[1], t->ne[2], t->ne[3]}, t->offset,
                                   t->nbytes};
    return true;
}

/* Index of the first non-finite element of n floats, or -1. */
static int64_t first_bad(const float *v, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(v[i])) return i;
    return -1;
}

static pdvm_status check_rows(const gguf_tensor *t, const uint8_t *rows, int64_t r0, int64_t n,
                              uint64_t row_bytes, float *row)
{
    for (int64_t r = 0; r < n; r++) {
        pdvm_dequant_row(t->type, rows + (uint64_t)r * row_bytes, row, t->ne[0]);
        int64_t bad = first_bad(row, t->ne[0]);
        if (bad >= 0)
            return pdvm_fail(PDVM_ERR_FORMAT, "tensor '%.*s' (%s) holds %g at element %" PRId64,
                             t->name.len > 96 ? 96 : (int)t->name.len, t->name.ptr,
                             pdvm_type_name(t->type), (double)row[bad],
                             (r0 + r) * t->ne[0] + bad);
    }
    return PDVM_OK;
}

/* Through a one-pass window of CHECK_CHUNK bytes of rows, so that a check
 * leaves no more of the file resident than the upload does. */
static pdvm_status check_tensor(gguf_window *w, const gguf_tensor *t, float *row)
{
    int64_t n_rows = t->ne[1] * t->ne[2] * t->ne[3];
    uint64_t row_bytes;
    PDVM_TRY(pdvm_type_row_bytes(t->type, t->ne[0], &row_bytes));
    int64_t per = CHECK_CHUNK / row_bytes ? (int64_t)(CHECK_CHUNK / row_bytes) : 1;
    for (int64_t r0 = 0; r0 < n_rows; r0 += per) {
        int64_t n = n_rows - r0 < per ? n_rows - r0 : per;
        const uint8_t *src = (const uint8_t *)t->data + (uint64_t)r0 * row_bytes;
        const void *p;
        pdvm_status st = gguf_window_get(w, src, (uint64_t)n * row_bytes, &p);
        if (st == PDVM_OK) st = check_rows(t, p, r0, n, row_bytes, row);
        gguf_window_release(w, src, (uint64_t)n * row_bytes);
        PDVM_TRY(st);
    }
    return PDVM_OK;
}

pdvm_status pdvm_gguf_check_tensors(const pdvm_gguf *g)
{
    if (!g) return pdvm_fail(PDVM_ERR_INVALID_ARG, "pdvm_gguf_check_tensors: NULL file");
    int64_t widest = 1;
    for (uint64_t i = 0; i < pdvm_gguf_n_tensors(g); i++)
        if (pdvm_gguf_tensor(g, i)->ne[0] > widest) widest = pdvm_gguf_tensor(g, i)->ne[0];
    float *row = malloc((size_t)widest * sizeof *row);
    if (!row) return pdvm_fail(PDVM_ERR_NOMEM, "checking tensors: a row of %" PRId64, widest);
    pdvm_status st = PDVM_OK;
    gguf_window w = gguf_window_init(g);
    for (uint64_t i = 0; i < pdvm_gguf_n_tensors(g) && st == PDVM_OK; i++) {
        const gguf_tensor *t = pdvm_gguf_tensor(g, i);
        if (pdvm_type_can_dequant(t->type)) st = check_tensor(&w, t, row);
    }
    gguf_window_free(&w);
    free(row);
    return st;
}

/* The reference's mat-vec (see ref_matvec.h). Each output is the serial
 * f32 sum pdvm_dot_row computes, term by term in the same order; what
 * changes is only that REF_ROWS rows advance together: their sums are
 * independent, so the CPU overlaps them instead of waiting on one add
 * after another, and a row group's weights lie element-major so that the
 * REF_ROWS products of one input element are one contiguous load. */
#include "ref_matvec.h"

#include <stdlib.h>
#include <string.h>

#include "quant.h"

/* Four floats as one value (GCC and Clang vector extension): +, * act
 * lane by lane with the scalar operations' rounding. */
typedef float ref_v4 __attribute__((vector_size(16)));

/* acc[r] = sum over k of w[k][r] * x[k], k ascending: row r's terms in
 * pdvm_dot_row's order (no contraction into fused multiply-adds: ISO C
 * mode, -ffp-contract=off). The sums stay in registers, so the sanitizer
 * build checks the loads only. */
static void dot_group(const float *w, const float *x, int64_t n, float *acc)
{
    ref_v4 a0 = {0}, a1 = {0};
    for (int64_t k = 0; k < n; k++, w += REF_ROWS) {
        ref_v4 w0, w1;
        memcpy(&w0, w, sizeof w0);
        memcpy(&w1, w + 4, sizeof w1);
        a0 += w0 * x[k];
        a1 += w1 * x[k];
    }
    memcpy(acc, &a0, sizeof a0);
    memcpy(acc + 4, &a1, sizeof a1);
}

/* Rows r0.. (at most REF_ROWS, fewer at the end) decoded and interleaved
 * into dst[n][REF_ROWS]; missing rows are zeros. row holds n floats. */
static void decode_group(const pdvm_tensor *w, int64_t r0, float *row, float *dst)
{
    const int64_t n = w->ne[0];
    memset(dst, 0, (size_t)n * REF_ROWS * sizeof *dst);
    for (int r = 0; r < REF_ROWS && r0 + r < w->ne[1]; r++) {
        pdvm_dequant_row(w->type, (const uint8_t *)w->data + (uint64_t)(r0 + r) * w->row_bytes,
                         row, n);
        for (int64_t k = 0; k < n; k++) dst[k * REF_ROWS + r] = row[k];
    }
}

static int64_t n_groups(const pdvm_tensor *w) { return (w->ne[1] + REF_ROWS - 1) / REF_ROWS; }

static void store(float *y, int64_t r0, int64_t n_out, const float *acc)
{
    for (int r = 0; r < REF_ROWS && r0 + r < n_out; r++) y[r0 + r] = acc[r];
}

float *pdvm_ref_decode(const pdvm_tensor *w)
{
    const int64_t n = w->ne[0];
    size_t group = (size_t)n * REF_ROWS;
    float *row = malloc((size_t)n * sizeof *row);
    float *out = malloc((size_t)n_groups(w) * group * sizeof *out);
    if (row && out)
        for (int64_t g = 0; g < n_groups(w); g++)
            decode_group(w, g * REF_ROWS, row, out + (size_t)g * group);
    free(row);
    if (!row) {
        free(out);
        return NULL;
    }
    return out;
}

size_t pdvm_ref_decoded_bytes(const pdvm_tensor *w)
{
    return (size_t)n_groups(w) * (size_t)w->ne[0] * REF_ROWS * sizeof(float);
}

void pdvm_ref_matvec_decoded(const pdvm_tensor *w, const float *wd, const float *x, float *y)
{
    const int64_t n = w->ne[0];
    float acc[REF_ROWS];
    for (int64_t g = 0; g < n_groups(w); g++) {
        dot_group(wd + (size_t)g * n * REF_ROWS, x, n, acc);
        store(y, g * REF_ROWS, w->ne[1], acc);
    }
}

void pdvm_ref_matvec(const pdvm_tensor *w, const float *x, float *y)
{
    const int64_t n = w->ne[0];
    float *row = malloc((size_t)n * sizeof *row);
    float *grp = malloc((size_t)n * REF_ROWS * sizeof *grp);
    if (!row || !grp) { /* the same sums, one row at a time */
        const uint8_t *p = w->data;
        for (int64_t r = 0; r < w->ne[1]; r++, p += w->row_bytes)
            y[r] = pdvm_dot_row(w->type, p, x, n);
    } else {
        float acc[REF_ROWS];
        for (int64_t g = 0; g < n_groups(w); g++) {
            decode_group(w, g * REF_ROWS, row, grp);
            dot_group(grp, x, n, acc);
            store(y, g * REF_ROWS, w->ne[1], acc);
        }
    }
    free(row);
    free(grp);
}

/* The reference forward pass's matrix-vector product (y = W x) over a
 * weight in any decodable block format: every y[r] equals
 * pdvm_dot_row(W row r, x) bit for bit. pdvm_ref_matvec (reference.h)
 * decodes the rows it needs on every call; a weight decoded once with
 * pdvm_ref_decode skips that for every later token. */
#ifndef PDVM_REF_MATVEC_H
#define PDVM_REF_MATVEC_H
#include <stddef.h>

#include "model.h"

/* Rows computed together (the decoded layout's group size). */
enum { REF_ROWS = 8 };

/* w (ne[0] inputs, ne[1] rows, pdvm_type_can_dequant) decoded to f32,
 * rows in groups of REF_ROWS stored element-major, the last group padded
 * with zeros: pdvm_ref_decoded_bytes(w) bytes, free() to release. NULL
 * when out of memory. */
float *pdvm_ref_decode(const pdvm_tensor *w);
size_t pdvm_ref_decoded_bytes(const pdvm_tensor *w);

/* y[ne[1]] = W x from wd = pdvm_ref_decode(w). */
void pdvm_ref_matvec_decoded(const pdvm_tensor *w, const float *wd, const float *x, float *y);
#endif

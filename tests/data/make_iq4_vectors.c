/* Oracle program (not built by the Makefile, never run by CI): IQ4_NL and
 * IQ4_XS test vectors made by ggml itself, in the layout of
 * ../shared/models/quant-vectors.gguf. See README.md in this folder for
 * how to build and run it.
 *
 * source.f32: rows 0..7 are quant-vectors.gguf's source.f32 (8 x 512);
 * rows 8..15 are the same rows with each 32-element group scaled by
 * 2^(g % 13 - 6), so one super-block's groups span a wide range and the
 * IQ4_XS 6-bit group scales take values far from their middle.
 * <type>.quantized: ggml_quantize_chunk (no importance matrix) of source;
 * <type>.dequantized: the type traits' to_float of that, F32. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ggml.h"
#include "gguf.h"

enum { N_COLS = 512, N_SRC_ROWS = 8, N_ROWS = 16 };

static int fail(const char *what)
{
    fprintf(stderr, "make_iq4_vectors: %s\n", what);
    return 1;
}

/* Copy data into a new tensor of ctx named name and add it to out. */
static int add_tensor(struct ggml_context *ctx, struct gguf_context *out, const char *name,
                      enum ggml_type type, const void *data)
{
    struct ggml_tensor *t = ggml_new_tensor_2d(ctx, type, N_COLS, N_ROWS);
    if (!t) return fail("ggml_new_tensor_2d");
    ggml_set_name(t, name);
    memcpy(t->data, data, ggml_nbytes(t));
    gguf_add_tensor(out, t);
    return 0;
}

static int add_type(struct ggml_context *ctx, struct gguf_context *out, enum ggml_type type,
                    const float *src)
{
    const struct ggml_type_traits *tr = ggml_get_type_traits(type);
    size_t row = ggml_row_size(type, N_COLS);
    void *q = malloc(row * N_ROWS);
    float *d = malloc(sizeof(float) * N_COLS * N_ROWS);
    if (!q || !d) return fail("out of memory");
    ggml_quantize_init(type);
    size_t wrote = ggml_quantize_chunk(type, src, q, 0, N_ROWS, N_COLS, NULL);
    if (wrote != row * N_ROWS) return fail("ggml_quantize_chunk size");
    tr->to_float(q, d, (int64_t)N_COLS * N_ROWS);
    char name[64];
    snprintf(name, sizeof name, "%s.quantized", tr->type_name);
    int rc = add_tensor(ctx, out, name, type, q);
    snprintf(name, sizeof name, "%s.dequantized", tr->type_name);
    if (!rc) rc = add_tensor(ctx, out, name, GGML_TYPE_F32, d);
    free(q);
    free(d);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 3) return fail("usage: make_iq4_vectors QUANT_VECTORS_GGUF OUT_GGUF");
    struct ggml_context *in_ctx = NULL;
    struct gguf_init_params ip = {.no_alloc = false, .ctx = &in_ctx};
    struct gguf_context *in = gguf_init_from_file(argv[1], ip);
    if (!in) return fail("cannot read the quant-vectors file");
    struct ggml_tensor *s = ggml_get_tensor(in_ctx, "source.f32");
    if (!s || s->type != GGML_TYPE_F32 || s->ne[0] != N_COLS || s->ne[1] != N_SRC_ROWS)
        return fail("source.f32 is not 8 rows of 512 f32");

    static float src[N_ROWS * N_COLS];
    memcpy(src, s->data, sizeof(float) * N_SRC_ROWS * N_COLS);
    for (int i = 0; i < N_SRC_ROWS * N_COLS; i++)
        src[N_SRC_ROWS * N_COLS + i] = src[i] * ldexpf(1.0f, (i / 32) % 13 - 6);

    struct ggml_init_params cp = {.mem_size = 4u << 20, .mem_buffer = NULL, .no_alloc = false};
    struct ggml_context *ctx = ggml_init(cp);
    struct gguf_context *out = gguf_init_empty();
    if (!ctx || !out) return fail("ggml_init / gguf_init_empty");
    gguf_set_val_str(out, "general.description",
                     "IQ4_NL and IQ4_XS test vectors: ggml_quantize_chunk and to_float "
                     "(tests/data/make_iq4_vectors.c)");
    int rc = add_tensor(ctx, out, "source.f32", GGML_TYPE_F32, src);
    if (!rc) rc = add_type(ctx, out, GGML_TYPE_IQ4_NL, src);
    if (!rc) rc = add_type(ctx, out, GGML_TYPE_IQ4_XS, src);
    if (!rc && !gguf_write_to_file(out, argv[2], false)) rc = fail("gguf_write_to_file");
    gguf_free(out);
    gguf_free(in);
    ggml_free(ctx);
    ggml_free(in_ctx);
    return rc;
}

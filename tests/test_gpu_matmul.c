/* The batched (prefill) mat-mat kernels, matmul.comp and matmul_few.comp, against the CPU
 * reference mat-vec applied token by token, on fresh random inputs with
 * the outputs poisoned with NaN first (an element the kernel fails to
 * write fails the comparison, and the guards after the outputs must stay
 * NaN). Every weight type of src/gpu_types.c's table with every byte of
 * its blocks random (tests/rand_weights.h); batches of 1, 7, 64, 511, 512
 * and 513 tokens (narrow tile, partial tiles, exactly whole tiles, one
 * over); row counts not multiples of any tile; the fused ends (RMSNorm in,
 * residual add, SwiGLU of two types, token map for the logits rows); the
 * register tile's variants (two token groups, split staging) by tile;
 * matmul_few.comp, which takes batches of up to 16 tokens, in each layout.
 * Tolerance: relative error 1e-5; the kernel and the reference both sum
 * in f32, in different orders, over at most a few hundred terms.
 * Everything runs at the driver's limits, then under PDVM_LIMITS=minimum
 * (the GLES 3.1 minimum tile). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gl_util.h"
#include "gpu_ops_batch.h"
#include "gpu_repack.h"
#include "gpu_types.h"
#include "quant.h"
#include "rand_weights.h"
#include "reference.h"
#include "test_util.h"

typedef struct fixture {
    pdvm_gl *gl;
    gpu_kernels k;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f) return -1;
    /* A failed test may have left its override set. */
    unsetenv("PDVM_MM_TILE");
    unsetenv("PDVM_MM_FEW");
    f->gl = test_gl_open();
    if (gpu_kernels_init(&f->k, f->gl) != PDVM_OK) return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    gpu_kernels_free(&f->k);
    pdvm_gl_close(f->gl);
    free(f);
    return 0;
}

static uint64_t align16(uint64_t v) { return (v + 15) / 16 * 16; }

static pdvm_gl_buffer make_buffer(fixture *f, const void *data, uint64_t bytes)
{
    pdvm_gl_buffer b;
    uint64_t size = align16(bytes) + 16;
    uint8_t *tmp = calloc(1, size);
    assert_non_null(tmp);
    memcpy(tmp, data, bytes);
    assert_int_equal(pdvm_gl_buffer_create(f->gl, size, tmp, &b), PDVM_OK);
    free(tmp);
    return b;
}

/* One case: n_tok tokens through n_out rows of `type` (and `type_b` for
 * SwiGLU). With map, the tokens read input rows in reverse order from a
 * map of floats, as the logits of selected tokens do. */
typedef struct mm_case {
    uint32_t type, type_b, n_in, n_out, n_tok, in_mode, out_mode;
    bool map;
} mm_case;

typedef struct host_w {
    uint8_t *raw;
    uint64_t rb;
    pdvm_tensor t;
} host_w;

static host_w make_weights(uint32_t type, uint32_t n_in, uint32_t n_out, uint64_t seed)
{
    host_w h = {0};
    h.raw = rand_weights(type, n_in, n_out, seed, &h.rb);
    assert_non_null(h.raw);
    h.t = (pdvm_tensor){"test", type, {n_in, n_out}, h.rb, h.rb * n_out, h.raw, 0};
    return h;
}

/* The expected output rows, token by token. */
static void reference(const mm_case *c, const float *act, uint32_t x, const float *nw,
                      const host_w *wa, const host_w *wb, uint32_t y, float *want)
{
    float *xn = malloc(c->n_in * 4), *ya = malloc(c->n_out * 4), *yb = malloc(c->n_out * 4);
    assert_true(xn && ya && yb);
    for (uint32_t t = 0; t < c->n_tok; t++) {
        uint32_t row = c->map ? c->n_tok - 1 - t : t;
        const float *in = act + x + (size_t)row * c->n_in;
        if (c->in_mode == GPU_IN_NORM) pdvm_ref_rmsnorm(xn, in, nw, c->n_in, 1e-5f);
        else memcpy(xn, in, c->n_in * 4);
        pdvm_ref_matvec(&wa->t, xn, ya);
        float *o = want + (size_t)t * c->n_out;
        if (c->out_mode == GPU_OUT_SWIGLU) {
            pdvm_ref_matvec(&wb->t, xn, yb);
            pdvm_ref_swiglu(ya, yb, o, c->n_out);
        } else {
            for (uint32_t r = 0; r < c->n_out; r++)
                o[r] = ya[r] + (c->out_mode == GPU_OUT_ADD ? act[y + (size_t)t * c->n_out + r] : 0);
        }
    }
    free(xn);
    free(ya);
    free(yb);
}

static void run_case(fixture *f, const mm_case *c)
{
    uint64_t seed = c->n_in * 31u + c->n_out * 7u + c->n_tok + c->type * 1000u + c->out_mode;
    bool glu = c->out_mode == GPU_OUT_SWIGLU;
    host_w wa = make_weights(c->type, c->n_in, c->n_out, seed);
    host_w wb = glu ? make_weights(c->type_b, c->n_in, c->n_out, seed + 5) : (host_w){0};
    float *nw = malloc(c->n_in * 4);
    assert_non_null(nw);
    test_fill_random(nw, c->n_in, seed + 1, 0.5f, 1.5f);

    /* Weight buffer: norm weights, then W_a and W_b in the GPU row layout. */
    const uint64_t a_off = align16((uint64_t)c->n_in * 4) + 16;
    const uint64_t b_off = a_off + align16(wa.rb * c->n_out);
    uint64_t w_bytes = b_off + (glu ? wb.rb * c->n_out : 0);
    uint8_t *w = calloc(1, w_bytes);
    assert_non_null(w);
    memcpy(w, nw, c->n_in * 4);
    gpu_repack_rows(c->type, wa.rb, c->n_out, wa.raw, w + a_off);
    if (glu) gpu_repack_rows(c->type_b, wb.rb, c->n_out, wb.raw, w + b_off);

    /* Activations: map, inputs, outputs, guards; NaN everywhere else. */
    const size_t n_x = (size_t)c->n_tok * c->n_in, n_y = (size_t)c->n_tok * c->n_out;
    const uint32_t map = 3, x = map + c->n_tok + 5, y = x + (uint32_t)n_x + 3;
    const size_t n_act = y + n_y + 8;
    float *act = malloc(n_act * 4);
    assert_non_null(act);
    for (size_t i = 0; i < n_act; i++) act[i] = NAN;
    for (uint32_t t = 0; t < c->n_tok; t++) act[map + t] = (float)(c->n_tok - 1 - t);
    test_fill_random(act + x, n_x, seed + 2, -2.0f, 2.0f);
    if (c->out_mode == GPU_OUT_ADD) test_fill_random(act + y, n_y, seed + 3, -1.0f, 1.0f);

    float *want = malloc(n_y * 4), *got = malloc((n_y + 8) * 4);
    assert_true(want && got);
    reference(c, act, x, nw, &wa, &wb, y, want);

    pdvm_gl_buffer b_act = make_buffer(f, act, n_act * 4);
    pdvm_gl_buffer b_w = make_buffer(f, w, w_bytes);
    gpu_mm_args a = {
        .act = &b_act, .w = &b_w, .in_mode = c->in_mode, .out_mode = c->out_mode,
        .n_in = c->n_in, .type_a = c->type, .type_b = c->type_b, .rb_a = wa.rb, .rb_b = wb.rb,
        .a_byte = a_off, .b_byte = b_off, .norm_byte = 0, .eps = 1e-5f, .x = x,
        .x_stride = c->n_in, .map = c->map ? map : GPU_MM_NO_MAP, .y = y, .y_stride = c->n_out,
        .row0 = 0, .n_rows = c->n_out, .n_tok = c->n_tok,
    };
    pdvm_status st = gpu_op_matmul(&f->k, &a);
    if (st != PDVM_OK) fail_msg("gpu_op_matmul: %s", pdvm_last_error());
    assert_int_equal(pdvm_gl_check(f->gl, "matmul test"), PDVM_OK);
    assert_int_equal(pdvm_gl_buffer_read(f->gl, &b_act, (uint64_t)y * 4, (n_y + 8) * 4, got),
                     PDVM_OK);
    double e = rel_err(got, want, n_y);
    if (!(e < 1e-5))
        fail_msg("matmul %s/%s %ux%u, %u tokens, in %u out %u map %d: relative error %.3g",
                 pdvm_type_name(c->type), pdvm_type_name(c->type_b), c->n_in, c->n_out, c->n_tok,
                 c->in_mode, c->out_mode, c->map, e);
    for (int i = 0; i < 8; i++) assert_true(isnan(got[n_y + i]));

    pdvm_gl_buffer_delete(f->gl, &b_act);
    pdvm_gl_buffer_delete(f->gl, &b_w);
    free(wa.raw);
    free(wb.raw);
    free(nw);
    free(w);
    free(act);
    free(want);
    free(got);
}

/* A row length of several kernel steps for the type: not a multiple of 32
 * for F32/F16/BF16 (stories260K's ffn_down rows are 172), 9 segments for
 * the 32-element blocks, 2 super-blocks for the K-quants and IQ4_XS. */
static uint32_t n_in_for(uint32_t type)
{
    uint32_t be = pdvm_type_block_elems(type);
    return be == 1 ? 172 : be == 32 ? 288 : 512;
}

/* Every type: plain store over a narrow and a wide batch, the RMSNorm
 * input with the residual add, and SwiGLU with the next type as up. */
static void every_type(void **state)
{
    fixture *f = *state;
    for (size_t i = 0; gpu_type_at(i); i++) {
        uint32_t t = gpu_type_at(i)->type, n_in = n_in_for(t);
        const gpu_type *next = gpu_type_at(i + 1) ? gpu_type_at(i + 1) : gpu_type_at(0);
        uint32_t tb = n_in_for(next->type) == n_in ? next->type : t;
        const mm_case cases[] = {
            {t, 0, n_in, 45, 7, GPU_IN_PLAIN, GPU_OUT_STORE, false},
            {t, 0, n_in, 45, 64, GPU_IN_NORM, GPU_OUT_ADD, false},
            {t, tb, n_in, 37, 33, GPU_IN_NORM, GPU_OUT_SWIGLU, false},
        };
        for (size_t j = 0; j < sizeof cases / sizeof cases[0]; j++) run_case(f, &cases[j]);
    }
}

/* Ragged batches around the tile sizes, on a plain, a 32-block and a
 * K-quant type, every mode. */
static void ragged_batches(void **state)
{
    fixture *f = *state;
    static const uint32_t n_tok[] = {1, 7, 64, 511, 512, 513};
    static const uint32_t types[] = {PDVM_TYPE_F32, PDVM_TYPE_Q4_0, PDVM_TYPE_Q6_K};
    for (size_t i = 0; i < sizeof n_tok / sizeof n_tok[0]; i++)
        for (size_t j = 0; j < sizeof types / sizeof types[0]; j++) {
            uint32_t t = types[j], n_in = n_in_for(t);
            mm_case c = {t, t, n_in, 70, n_tok[i], GPU_IN_NORM, (uint32_t)((i + j) % 3), false};
            run_case(f, &c);
        }
}

/* The logits rows: tokens reading their inputs through the map. */
static void mapped_rows(void **state)
{
    fixture *f = *state;
    const mm_case cases[] = {
        {PDVM_TYPE_Q8_0, 0, 288, 131, 5, GPU_IN_NORM, GPU_OUT_STORE, true},
        {PDVM_TYPE_F16, 0, 172, 131, 100, GPU_IN_NORM, GPU_OUT_STORE, true},
    };
    for (size_t j = 0; j < sizeof cases / sizeof cases[0]; j++) run_case(f, &cases[j]);
}

/* The register tile's variants whichever tile the driver's limits pick:
 * two token groups an invocation (NJ 2) with the inputs staged by the
 * invocations the weight decode leaves free (128 x 64 rows by 128 tokens in
 * 128 invocations, the H200's default shape of tile), and one group without
 * that split (64 x 32 in 64), on every fused end. */
static void tile_variants(void **state)
{
    fixture *f = *state;
    static const char *const tiles[] = {"128,64,128", "64,64,32"};
    const mm_case cases[] = {
        {PDVM_TYPE_Q4_0, 0, 288, 131, 150, GPU_IN_NORM, GPU_OUT_STORE, false},
        {PDVM_TYPE_Q4_K, PDVM_TYPE_Q8_0, 512, 70, 130, GPU_IN_NORM, GPU_OUT_SWIGLU, false},
        {PDVM_TYPE_F16, 0, 172, 77, 129, GPU_IN_PLAIN, GPU_OUT_ADD, false},
        {PDVM_TYPE_Q8_0, 0, 288, 131, 40, GPU_IN_NORM, GPU_OUT_STORE, true},
    };
    for (size_t i = 0; i < sizeof tiles / sizeof tiles[0]; i++) {
        setenv("PDVM_MM_TILE", tiles[i], 1);
        gpu_mm_tile t;
        if (gpu_mm_tile_for(&f->k, 100, &t) != PDVM_OK) {
            unsetenv("PDVM_MM_TILE"); /* not within these limits (the minimums) */
            continue;
        }
        for (size_t j = 0; j < sizeof cases / sizeof cases[0]; j++) run_case(f, &cases[j]);
    }
    unsetenv("PDVM_MM_TILE");
}

/* matmul_few.comp (batches up to GPU_MM_SMALL_BATCH tokens) on every type
 * and fused end, in its layouts (the default, then WG,NR,XSHARED,RI): the
 * inputs staged in shared memory or read from act, one or two rows a lane
 * group, one token group
 * or two (13 tokens), rows of 4-aligned inputs (8 tokens: the input rows
 * start on a multiple of 4 floats) and not (13), the logits' token map. */
static void few_tokens(void **state)
{
    fixture *f = *state;
    static const char *const layouts[] = {"", "64,1,0", "256,2,1"};
    for (size_t l = 0; l < sizeof layouts / sizeof layouts[0]; l++) {
        setenv("PDVM_MM_FEW", layouts[l], 1);
        gpu_mm_few fw;
        assert_int_equal(gpu_mm_few_for(&f->k, 8, 45, 512, &fw), PDVM_OK);
        assert_int_equal(fw.nt, 8);
        for (size_t i = 0; gpu_type_at(i); i++) {
            uint32_t t = gpu_type_at(i)->type, n_in = n_in_for(t);
            /* Every type in the first layout; a plain, a 32-block and a
             * K-quant type in the others (llvmpipe's compile time). */
            if (l > 0 && t != PDVM_TYPE_F32 && t != PDVM_TYPE_Q4_0 && t != PDVM_TYPE_Q6_K) continue;
            const gpu_type *next = gpu_type_at(i + 1) ? gpu_type_at(i + 1) : gpu_type_at(0);
            uint32_t tb = n_in_for(next->type) == n_in ? next->type : t;
            const mm_case cases[] = {
                {t, 0, n_in, 45, 8, GPU_IN_NORM, GPU_OUT_ADD, false},
                {t, tb, n_in, 37, 13, GPU_IN_NORM, GPU_OUT_SWIGLU, false},
                {t, 0, n_in, 21, 2, GPU_IN_PLAIN, GPU_OUT_STORE, l == 0},
            };
            for (size_t j = 0; j < sizeof cases / sizeof cases[0]; j++) run_case(f, &cases[j]);
        }
    }
    setenv("PDVM_MM_FEW", "128,3,1", 1); /* NR 3 does not exist */
    gpu_mm_few fw;
    assert_int_equal(gpu_mm_few_for(&f->k, 8, 45, 512, &fw), PDVM_ERR_INVALID_ARG);
    assert_non_null(strstr(pdvm_last_error(), "PDVM_MM_FEW"));
    unsetenv("PDVM_MM_FEW");
    assert_int_equal(gpu_mm_few_for(&f->k, 3, 45, 512, &fw), PDVM_OK);
    assert_int_equal(fw.nt, 4);
}

/* A malformed PDVM_MM_TILE is a clear error, not a dispatch. */
static void bad_tile_env(void **state)
{
    fixture *f = *state;
    gpu_mm_tile t;
    setenv("PDVM_MM_TILE", "256,100", 1);
    assert_int_equal(gpu_mm_tile_for(&f->k, 100, &t), PDVM_ERR_INVALID_ARG);
    assert_non_null(strstr(pdvm_last_error(), "PDVM_MM_TILE"));
    setenv("PDVM_MM_TILE", "100000,128,64", 1);
    assert_int_equal(gpu_mm_tile_for(&f->k, 100, &t), PDVM_ERR_INVALID_ARG);
    setenv("PDVM_MM_TILE", "32,16,16", 1); /* 2 x 16 invocations: 4 tokens each take 64 */
    assert_int_equal(gpu_mm_tile_for(&f->k, 100, &t), PDVM_ERR_INVALID_ARG);
    setenv("PDVM_MM_TILE", "16,32,16", 1);
    assert_int_equal(gpu_mm_tile_for(&f->k, 100, &t), PDVM_OK);
    assert_int_equal(t.bm, 32);
    assert_int_equal(t.nj, 1);
    unsetenv("PDVM_MM_TILE");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_type),
        cmocka_unit_test(ragged_batches),
        cmocka_unit_test(mapped_rows),
        cmocka_unit_test(tile_variants),
        cmocka_unit_test(few_tokens),
        cmocka_unit_test(bad_tile_env),
    };
    int failed = cmocka_run_group_tests_name("driver limits", tests, setup, teardown);
    setenv("PDVM_LIMITS", "minimum", 1);
    failed += cmocka_run_group_tests_name("PDVM_LIMITS=minimum", tests, setup, teardown);
    return failed;
}

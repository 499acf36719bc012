/* Every GPU weight type (gpu_types.h) against the CPU reference decode
 * (itself bit-exact with ggml: test_quant.c):
 * - the table covers exactly the types the CPU decodes, and derives the
 *   error text, `--type` names and repacking from one row;
 * - the mat-vec (word and uvec4 variants, rows 2-, 4- and 16-byte aligned,
 *   F32/F16/BF16 rows not a multiple of 32), the fused QKV (one type and
 *   three) and the embedding row, on fresh random blocks (every byte
 *   random except the f16 scales) with outputs poisoned, relative error
 *   under 1e-5 (weights decode exactly on both sides; only the summation
 *   order differs; the KV cache, stored in f16, gets 1e-3);
 * - the synthetic fill writes decodable blocks; synthetic models fall back
 *   like llama.cpp;
 * - per type, a small random-weight llama GGUF (two layers, n_embd 256) whose
 *   greedy generation on the GPU, fused and unfused, equals the CPU
 *   reference token for token. Its output rows are its embedding rows in a
 *   shuffled order, so each next token wins by a clear margin (checked)
 *   while the layers, about half the residual stream, still move the
 *   logits (checked within 1e-2 of the reference: the GPU's f16 KV cache).
 * The kernels run at the driver's limits, then under PDVM_LIMITS=minimum. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "gguf_writer.h"
#include "gl_util.h"
#include "gpu_ops.h"
#include "gpu_repack.h"
#include "gpu_state.h"
#include "gpu_types.h"
#include "model.h"
#include "pdvm_bench.h"
#include "quant.h"
#include "reference.h"
#include "synth_fill.h"
#include "test_util.h"

#define TOL 1e-5
#define TOL_F16_CACHE 1e-3
#define TOL_FREE_RUNNING 1e-2

typedef struct fixture {
    pdvm_gl *gl;
    gpu_kernels k;
    double worst[PDVM_TYPE_COUNT][3]; /* mat-vec, QKV q, embedding */
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f) return -1;
    f->gl = test_gl_open();
    if (gpu_kernels_init(&f->k, f->gl) != PDVM_OK) return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    for (size_t i = 0; gpu_type_at(i); i++) {
        uint32_t t = gpu_type_at(i)->type;
        if (f->worst[t][0] == 0) continue; /* a group without kernel tests */
        print_message("%-7s max relative error: mat-vec %.2e, QKV %.2e, embedding %.2e\n",
                      pdvm_type_name(t), f->worst[t][0], f->worst[t][1], f->worst[t][2]);
    }
    gpu_kernels_free(&f->k);
    pdvm_gl_close(f->gl);
    free(f);
    return 0;
}

#define LAUNCH(call)                                                          \
    do {                                                                      \
        pdvm_status st_ = (call);                                             \
        if (st_ != PDVM_OK) fail_msg("%s: %s", #call, pdvm_last_error());     \
    } while (0)

static float *nan_floats(size_t n)
{
    float *x = malloc(n * sizeof *x);
    assert_non_null(x);
    for (size_t i = 0; i < n; i++) x[i] = NAN;
    return x;
}

static pdvm_gl_buffer make_buffer(fixture *f, const void *data, uint64_t bytes)
{
    pdvm_gl_buffer b;
    uint64_t size = (bytes + 15) / 16 * 16 + 16;
    uint8_t *tmp = calloc(1, size);
    assert_non_null(tmp);
    if (data) memcpy(tmp, data, bytes);
    assert_int_equal(pdvm_gl_buffer_create(f->gl, size, tmp, &b), PDVM_OK);
    free(tmp);
    return b;
}

static void read_floats(fixture *f, const pdvm_gl_buffer *b, uint32_t at, uint32_t n, float *out)
{
    assert_int_equal(pdvm_gl_check(f->gl, "type test"), PDVM_OK);
    assert_int_equal(pdvm_gl_buffer_read(f->gl, b, (uint64_t)at * 4, (uint64_t)n * 4, out),
                     PDVM_OK);
}

/* Relative error of got against want under tol; the worst kept per type. */
static void expect_close(double *worst, const float *got, const float *want, size_t n, double tol,
                         const char *what)
{
    double e = rel_err(got, want, n);
    if (!(e < tol)) fail_msg("%s: relative error %.3g (tolerance %.1g)", what, e, tol);
    if (worst && e > *worst) *worst = e;
}

static uint64_t align16(uint64_t v) { return (v + 15) / 16 * 16; }

/* ------------------------------------------------------ random weights */

static void put_f16(uint8_t *p, float v)
{
    uint16_t h = pdvm_f32_to_f16(v);
    memcpy(p, &h, 2);
}

static float get_f16(const uint8_t *p)
{
    uint16_t h;
    memcpy(&h, p, 2);
    return pdvm_f16_to_f32(h);
}

/* Byte offsets of the f16 fields of a block (ggml-common.h), written here
 * independently of gpu_types.c: scale, then min; -1 when absent. */
static void f16_fields(uint32_t type, int *a, int *b)
{
    *a = 0;
    *b = -1;
    switch (type) {
    case PDVM_TYPE_Q4_1: case PDVM_TYPE_Q5_1: case PDVM_TYPE_Q4_K: case PDVM_TYPE_Q5_K: *b = 2; break;
    case PDVM_TYPE_Q2_K: *a = 80, *b = 82; break;
    case PDVM_TYPE_Q3_K: *a = 108; break;
    case PDVM_TYPE_Q6_K: *a = 208; break;
    default: break;
    }
}

/* Q4_K/Q5_K scale and min j (6 bits each) into the 12-byte array: the
 * inverse of ggml's get_scale_min_k4. */
static void pack_k4(uint8_t *s, const uint8_t sc[8], const uint8_t mn[8])
{
    for (int j = 0; j < 4; j++) {
        s[j] = (uint8_t)(sc[j] | ((sc[j + 4] >> 4) << 6));
        s[j + 4] = (uint8_t)(mn[j] | ((mn[j + 4] >> 4) << 6));
        s[j + 8] = (uint8_t)((sc[j + 4] & 0xF) | ((mn[j + 4] & 0xF) << 4));
    }
}

/* The mins of unsigned-quant types chosen as a quantizer would: about
 * scale * mean(q), so the weights centre on zero (min field = ratio * d). */
static void center_block(uint32_t type, uint64_t *rng, uint8_t *b, float d)
{
    uint8_t sc[8], mn[8];
    switch (type) {
    case PDVM_TYPE_Q4_1: put_f16(b + 2, -7.5f * d); break;
    case PDVM_TYPE_Q5_1: put_f16(b + 2, -15.5f * d); break;
    case PDVM_TYPE_Q2_K: /* 4-bit scale s, min m = 0.75 s against dmin = 2d: mean q 1.5 */
        for (int i = 0; i < 16; i++) {
            int s = (int)(test_rand_u64(rng) % 16);
            b[i] = (uint8_t)(s | ((int)lroundf(0.75f * s) << 4));
        }
        put_f16(b + 82, 2.0f * d);
        break;
    case PDVM_TYPE_Q4_K: case PDVM_TYPE_Q5_K: { /* mean q 7.5 (15.5) against dmin = 8d (16d) */
        float ratio = type == PDVM_TYPE_Q4_K ? 7.5f / 8.0f : 15.5f / 16.0f;
        for (int j = 0; j < 8; j++) {
            sc[j] = (uint8_t)(test_rand_u64(rng) % 64);
            mn[j] = (uint8_t)lroundf(ratio * sc[j]);
        }
        pack_k4(b + 4, sc, mn);
        put_f16(b + 2, (type == PDVM_TYPE_Q4_K ? 8.0f : 16.0f) * d);
        break;
    }
    default: break;
    }
}

/* One random block in GGUF layout: every byte random, f16 fields in
 * +-[0.5, 1.5); centred: mins as a quantizer would set them. */
static void random_block(uint32_t type, uint64_t *rng, bool centred, uint8_t *b)
{
    uint32_t bytes = pdvm_type_block_bytes(type);
    for (uint32_t i = 0; i < bytes; i++) b[i] = (uint8_t)test_rand_u64(rng);
    int fa, fb;
    f16_fields(type, &fa, &fb);
    /* Either sign, so that rows do not share a mean. */
    float d = test_rand_float(rng, 0.5f, 1.5f) * (test_rand_u64(rng) & 1 ? -1.0f : 1.0f);
    put_f16(b + fa, d);
    if (fb >= 0) put_f16(b + fb, test_rand_float(rng, -1.5f, 1.5f));
    if (centred) center_block(type, rng, b, d);
}

/* Scale every decoded weight of a block tensor by c (the f16 fields). */
static void scale_blocks(uint32_t type, uint8_t *w, uint64_t bytes, float c)
{
    int fa, fb;
    f16_fields(type, &fa, &fb);
    uint32_t bb = pdvm_type_block_bytes(type);
    for (uint64_t o = 0; o < bytes; o += bb) {
        put_f16(w + o + fa, get_f16(w + o + fa) * c);
        if (fb >= 0) put_f16(w + o + fb, get_f16(w + o + fb) * c);
    }
}

static double rms_of(uint32_t type, const uint8_t *w, uint64_t rb, uint32_t n_in, uint32_t n_out)
{
    float *row = malloc(n_in * sizeof *row);
    assert_non_null(row);
    double ss = 0;
    for (uint32_t r = 0; r < n_out; r++) {
        pdvm_dequant_row(type, w + r * rb, row, n_in);
        for (uint32_t i = 0; i < n_in; i++) ss += (double)row[i] * row[i];
    }
    free(row);
    return sqrt(ss / ((double)n_in * n_out));
}

/* n_out rows of n_in weights of `type` in GGUF layout (*row_bytes set),
 * scaled to a root mean square of rms; centred: mins set as a quantizer
 * would, else random like every other byte. */
static uint8_t *random_weights(uint32_t type, uint32_t n_in, uint32_t n_out, uint64_t seed,
                               float rms, bool centred, uint64_t *row_bytes)
{
    assert_int_equal(pdvm_type_row_bytes(type, n_in, row_bytes), PDVM_OK);
    const uint64_t bytes = *row_bytes * n_out;
    uint8_t *w = malloc(bytes + 1);
    assert_non_null(w);
    uint64_t rng = seed * 0x9E3779B97F4A7C15ull + type;
    const float amp = rms * 1.7320508f; /* uniform: rms = amp / sqrt(3) */
    if (pdvm_type_block_elems(type) == 1) {
        for (uint64_t i = 0; i < (uint64_t)n_in * n_out; i++) {
            float v = test_rand_float(&rng, -amp, amp);
            uint32_t bits;
            memcpy(&bits, &v, 4);
            if (type == PDVM_TYPE_F32) memcpy(w + 4 * i, &v, 4);
            else if (type == PDVM_TYPE_F16) put_f16(w + 2 * i, v);
            else w[2 * i] = (uint8_t)(bits >> 16), w[2 * i + 1] = (uint8_t)(bits >> 24);
        }
        return w;
    }
    const uint32_t bb = pdvm_type_block_bytes(type);
    for (uint64_t o = 0; o < bytes; o += bb) random_block(type, &rng, centred, w + o);
    /* Row by row: every embedding row then has the same norm. */
    for (uint32_t r = 0; r < n_out; r++) {
        uint8_t *row = w + r * *row_bytes;
        scale_blocks(type, row, *row_bytes, (float)(rms / rms_of(type, row, *row_bytes, n_in, 1)));
    }
    return w;
}

static pdvm_tensor host_tensor(uint32_t type, uint32_t n_in, uint32_t n_out, uint64_t rb,
                               const void *data)
{
    pdvm_tensor t = {"test", type, {n_in, n_out}, rb, rb * n_out, data, 0};
    return t;
}

/* ------------------------------------------------------- the table */

/* The table covers exactly the CPU-decodable types, and its names parse. */
static void table_covers_cpu_types(void **state)
{
    (void)state;
    char names[256];
    gpu_type_names(names, sizeof names);
    size_t rows = 0;
    while (gpu_type_at(rows)) rows++;
    size_t cpu = 0;
    for (uint32_t t = 0; t < PDVM_TYPE_COUNT; t++) {
        const gpu_type *g = gpu_type_find(t);
        assert_int_equal(g != NULL, pdvm_type_can_dequant(t));
        if (!g) continue;
        cpu++;
        assert_non_null(strstr(names, pdvm_type_name(t)));
        char upper[16];
        snprintf(upper, sizeof upper, "%s", pdvm_type_name(t));
        for (char *c = upper; *c; c++) *c = (char)(*c >= 'a' && *c <= 'z' ? *c - 32 : *c);
        uint32_t parsed = UINT32_MAX;
        assert_true(gpu_type_parse(upper, &parsed));
        assert_int_equal(parsed, t);
        assert_int_equal(gpu_type_check(t, "x"), PDVM_OK);
        /* A repacked layout moves every byte of a block exactly once. */
        uint32_t covered = 0;
        for (uint32_t i = 0; i < g->n_fields; i++) covered += g->fields[i].size;
        assert_true(g->n_fields == 0 || covered == pdvm_type_block_bytes(t));
        assert_int_equal(gpu_repacked(t), g->n_fields > 0);
    }
    assert_int_equal(rows, cpu);
    assert_int_equal(rows, 15);
    uint32_t parsed;
    assert_false(gpu_type_parse("iq2_xxs", &parsed));
    assert_false(gpu_type_parse("q4", &parsed));
    assert_int_equal(gpu_type_check(PDVM_TYPE_Q8_1, "blk.0.ffn_up.weight"), PDVM_ERR_UNSUPPORTED);
    const char *msg = pdvm_last_error();
    assert_non_null(strstr(msg, "blk.0.ffn_up.weight"));
    assert_non_null(strstr(msg, "q8_1"));
    assert_non_null(strstr(msg, names));
}

/* Repacking is a permutation of each row's bytes: every byte lands once. */
static void repack_moves_every_byte(void **state)
{
    (void)state;
    for (size_t i = 0; gpu_type_at(i); i++) {
        uint32_t t = gpu_type_at(i)->type;
        uint64_t rb;
        uint32_t n = pdvm_type_block_elems(t) == 256 ? 768 : 96;
        assert_int_equal(pdvm_type_row_bytes(t, n, &rb), PDVM_OK);
        uint8_t *src = malloc(2 * rb), *dst = malloc(2 * rb);
        assert_true(src && dst);
        uint64_t hist_a[256] = {0}, hist_b[256] = {0};
        for (uint64_t k = 0; k < 2 * rb; k++) src[k] = (uint8_t)(k * 7 + k / 251);
        gpu_repack_rows(t, rb, 2, src, dst);
        for (uint64_t r = 0; r < 2; r++) {
            memset(hist_a, 0, sizeof hist_a);
            memset(hist_b, 0, sizeof hist_b);
            for (uint64_t k = 0; k < rb; k++) hist_a[src[r * rb + k]]++, hist_b[dst[r * rb + k]]++;
            assert_memory_equal(hist_a, hist_b, sizeof hist_a);
        }
        assert_int_equal(memcmp(src, dst, 2 * rb) != 0, gpu_repacked(t));
        free(src);
        free(dst);
    }
}

/* ------------------------------------------------------------ mat-vec */

/* y = W x through matvec.comp, W from a 16-byte boundary of its buffer
 * plus misalign, x and y at odd offsets; out_mode SWIGLU with W_b of
 * type_b (from a 16-byte boundary). */
static void matvec_case(fixture *f, uint32_t type, uint32_t type_b, uint32_t n_in, uint32_t n_out,
                        uint32_t in_mode, uint32_t out_mode, uint32_t misalign)
{
    uint64_t rb, rb_b = 0;
    uint8_t *wa = random_weights(type, n_in, n_out, n_in + 3 * n_out, 1.0f, false, &rb);
    uint8_t *wb = out_mode == GPU_OUT_SWIGLU ? random_weights(type_b, n_in, n_out, n_out, 1.0f, false, &rb_b)
                                             : NULL;
    float *nw = malloc(n_in * 4);
    assert_non_null(nw);
    test_fill_random(nw, n_in, n_in + 7, 0.5f, 1.5f);
    const uint64_t a_off = align16((uint64_t)n_in * 4) + misalign;
    const uint64_t b_off = align16(a_off + rb * n_out);
    uint8_t *w = calloc(1, b_off + rb_b * n_out + 16);
    assert_non_null(w);
    memcpy(w, nw, n_in * 4);
    gpu_repack_rows(type, rb, n_out, wa, w + a_off);
    if (wb) gpu_repack_rows(type_b, rb_b, n_out, wb, w + b_off);

    const uint32_t x = 3, y = x + n_in + 5, n_act = y + n_out + 7;
    float *act = nan_floats(n_act), *xn = malloc(n_in * 4), *want = malloc(n_out * 4);
    float *want_b = malloc(n_out * 4), *got = malloc(n_out * 4);
    assert_true(xn && want && want_b && got);
    test_fill_random(act + x, n_in, n_in * 13 + n_out, -2.0f, 2.0f);
    if (in_mode == GPU_IN_NORM) pdvm_ref_rmsnorm(xn, act + x, nw, n_in, 1e-5f);
    else memcpy(xn, act + x, n_in * 4);
    pdvm_tensor ta = host_tensor(type, n_in, n_out, rb, wa);
    pdvm_ref_matvec(&ta, xn, want);
    if (wb) {
        pdvm_tensor tb = host_tensor(type_b, n_in, n_out, rb_b, wb);
        pdvm_ref_matvec(&tb, xn, want_b);
        pdvm_ref_swiglu(want, want_b, want, n_out);
    }

    pdvm_gl_buffer b_act = make_buffer(f, act, (uint64_t)n_act * 4);
    pdvm_gl_buffer b_w = make_buffer(f, w, b_off + rb_b * n_out);
    gpu_mv_args a = {
        .act = &b_act, .w = &b_w, .in_mode = in_mode, .out_mode = out_mode, .n_in = n_in,
        .type_a = type, .type_b = type_b, .rb_a = rb, .rb_b = rb_b, .a_byte = a_off,
        .b_byte = b_off, .norm_byte = 0, .eps = 1e-5f, .x = x, .y = y, .row0 = 0, .n_rows = n_out,
    };
    LAUNCH(gpu_op_matvec(&f->k, &a));
    read_floats(f, &b_act, y, n_out, got);
    char what[96];
    snprintf(what, sizeof what, "matvec %s%s%s, %u inputs, W at byte %llu", pdvm_type_name(type),
             wb ? " swiglu " : "", wb ? pdvm_type_name(type_b) : "", n_in,
             (unsigned long long)a_off);
    expect_close(&f->worst[type][0], got, want, n_out, TOL, what);
    float guard[7];
    read_floats(f, &b_act, y + n_out, 7, guard);
    for (int i = 0; i < 7; i++) assert_true(isnan(guard[i])); /* nothing written past y */

    pdvm_gl_buffer_delete(f->gl, &b_act);
    pdvm_gl_buffer_delete(f->gl, &b_w);
    free(wa);
    free(wb);
    free(nw);
    free(w);
    free(act);
    free(xn);
    free(want);
    free(want_b);
    free(got);
}

/* Row lengths: [0] rows 2-byte aligned for the 18/22/34/110/210-byte
 * blocks and not a multiple of 32 for F32/F16/BF16; [1] rows a multiple
 * of 16 bytes for every type (the uvec4 variants). */
static uint32_t n_in_for(uint32_t type, int which)
{
    uint32_t be = pdvm_type_block_elems(type);
    if (be == 1) return which ? 512 : 171;
    if (be == 32) return which ? 512 : 96;
    return which ? 2048 : 768;
}

static void matvec_every_type(void **state)
{
    fixture *f = *state;
    for (size_t i = 0; gpu_type_at(i); i++) {
        uint32_t t = gpu_type_at(i)->type, next = gpu_type_at(i + 1) ? gpu_type_at(i + 1)->type
                                                                     : gpu_type_at(0)->type;
        matvec_case(f, t, 0, n_in_for(t, 0), 37, GPU_IN_PLAIN, GPU_OUT_STORE, 0);
        matvec_case(f, t, 0, n_in_for(t, 1), 37, GPU_IN_PLAIN, GPU_OUT_STORE, 0);
        /* Gate and up of different types, as in mixed files, normed input;
         * gate rows on 16 bytes but the first 4 past: its word variant,
         * up's uvec4 one. */
        matvec_case(f, t, next, 2048, 29, GPU_IN_NORM, GPU_OUT_SWIGLU, 4);
    }
}

/* --------------------------------------------------------------- QKV */

typedef struct qkv_case {
    uint32_t n_embd, n_head, n_head_kv, head_dim;
    uint32_t type[3];
} qkv_case;

static void unpack_f16_words(const uint32_t *w, uint32_t n_words, float *out)
{
    for (uint32_t i = 0; i < n_words; i++) {
        out[2 * i] = pdvm_f16_to_f32((uint16_t)(w[i] & 0xFFFF));
        out[2 * i + 1] = pdvm_f16_to_f32((uint16_t)(w[i] >> 16));
    }
}

/* Fused D1 at position 9 (NEOX RoPE) against rmsnorm, matvec and rope of
 * the reference; q from act, k and v from the f16 cache slot. */
static void qkv_case_run(fixture *f, const qkv_case *c)
{
    pdvm_hparams hp = {0};
    hp.n_embd = c->n_embd;
    hp.n_head = c->n_head;
    hp.n_head_kv = c->n_head_kv;
    hp.head_dim = hp.n_rot = c->head_dim;
    hp.rms_eps = 1e-5f;
    hp.rope_freq_base = 10000.0f;
    hp.rope_type = PDVM_ROPE_NEOX;
    const uint32_t hd = c->head_dim, pos = 9;
    const uint32_t rows[3] = {c->n_head * hd, c->n_head_kv * hd, c->n_head_kv * hd};
    uint64_t rb[3], off[3], at = align16((uint64_t)c->n_embd * 4);
    uint8_t *wt[3];
    for (int k = 0; k < 3; k++) {
        wt[k] = random_weights(c->type[k], c->n_embd, rows[k], 11 + k + c->n_embd, 0.1f, false, &rb[k]);
        off[k] = at;
        at = align16(at + rb[k] * rows[k]);
    }
    uint8_t *w = calloc(1, at + 16);
    float *nw = malloc(c->n_embd * 4);
    assert_true(w && nw);
    test_fill_random(nw, c->n_embd, 3, 0.5f, 1.5f);
    memcpy(w, nw, c->n_embd * 4);
    for (int k = 0; k < 3; k++) gpu_repack_rows(c->type[k], rb[k], rows[k], wt[k], w + off[k]);

    const uint32_t x = 1, q = x + c->n_embd, cs = q + rows[0], n_act = cs + hd + 2;
    float *act = nan_floats(n_act);
    test_fill_random(act + x, c->n_embd, c->n_embd + 17, -1.0f, 1.0f);
    for (uint32_t j = 0; j < hd / 2; j++) {
        double theta = pos * pow(10000.0, -2.0 * j / hd);
        act[cs + 2 * j] = (float)cos(theta);
        act[cs + 2 * j + 1] = (float)sin(theta);
    }
    const uint32_t stride = 3, t = 1, words = c->n_head_kv * stride * hd / 2;
    uint32_t *poison = malloc(words * 4), *kw = malloc(words * 4);
    float *kv = malloc(words * 8), *slot = malloc(rows[1] * 4);
    assert_true(poison && kw && kv && slot);
    for (uint32_t i = 0; i < words; i++) poison[i] = 0x7E007E00u; /* f16 NaN pairs */
    pdvm_gl_buffer b_act = make_buffer(f, act, (uint64_t)n_act * 4), b_w = make_buffer(f, w, at);
    pdvm_gl_buffer b_k = make_buffer(f, poison, words * 4), b_v = make_buffer(f, poison, words * 4);
    gpu_qkv_args a = {
        .act = &b_act, .w = &b_w, .kc = &b_k, .vc = &b_v, .hp = &hp, .norm_byte = 0, .x = x,
        .q = q, .cs = cs, .head0 = 0, .n_heads = c->n_head + 2 * c->n_head_kv, .kv_k = 0,
        .kv_v = 0, .kv_stride = stride, .kv_t = t,
    };
    for (int k = 0; k < 3; k++) {
        a.type[k] = c->type[k];
        a.rb[k] = rb[k];
        a.base_byte[k] = off[k];
    }
    LAUNCH(gpu_op_qkv(&f->k, &a));

    float *xn = malloc(c->n_embd * 4), *want[3], *got = malloc(rows[0] * 4);
    assert_true(xn && got);
    pdvm_ref_rmsnorm(xn, act + x, nw, c->n_embd, 1e-5f);
    for (int k = 0; k < 3; k++) {
        want[k] = malloc(rows[k] * 4);
        pdvm_tensor tt = host_tensor(c->type[k], c->n_embd, rows[k], rb[k], wt[k]);
        pdvm_ref_matvec(&tt, xn, want[k]);
    }
    pdvm_ref_rope(want[0], c->n_head, hd, hd, pos, 10000.0f, PDVM_ROPE_NEOX);
    pdvm_ref_rope(want[1], c->n_head_kv, hd, hd, pos, 10000.0f, PDVM_ROPE_NEOX);
    read_floats(f, &b_act, q, rows[0], got);
    char what[96];
    snprintf(what, sizeof what, "qkv q (%s, %s, %s; n_embd %u)", pdvm_type_name(c->type[0]),
             pdvm_type_name(c->type[1]), pdvm_type_name(c->type[2]), c->n_embd);
    expect_close(&f->worst[c->type[0]][1], got, want[0], rows[0], TOL, what);
    for (int k = 1; k < 3; k++) {
        assert_int_equal(pdvm_gl_buffer_read(f->gl, k == 1 ? &b_k : &b_v, 0, words * 4, kw), PDVM_OK);
        unpack_f16_words(kw, words, kv);
        for (uint32_t h = 0; h < c->n_head_kv; h++)
            memcpy(slot + h * hd, kv + ((size_t)h * stride + t) * hd, hd * 4);
        snprintf(what, sizeof what, "qkv %s cache (%s)", k == 1 ? "K" : "V",
                 pdvm_type_name(c->type[k]));
        expect_close(NULL, slot, want[k], rows[k], TOL_F16_CACHE, what);
        assert_true(isnan(kv[(size_t)(t + 1) * hd])); /* only position t written */
    }

    pdvm_gl_buffer *bufs[] = {&b_act, &b_w, &b_k, &b_v};
    for (size_t i = 0; i < 4; i++) pdvm_gl_buffer_delete(f->gl, bufs[i]);
    for (int k = 0; k < 3; k++) {
        free(wt[k]);
        free(want[k]);
    }
    free(w);
    free(nw);
    free(act);
    free(poison);
    free(kw);
    free(kv);
    free(slot);
    free(xn);
    free(got);
}

static void qkv_every_type(void **state)
{
    fixture *f = *state;
    for (size_t i = 0; gpu_type_at(i); i++) {
        uint32_t t = gpu_type_at(i)->type;
        /* Rows of 96 (2-byte aligned) or 256 inputs; heads of 32. */
        qkv_case c = {pdvm_type_block_elems(t) == 256 ? 256 : 96, 3, 1, 32, {t, t, t}};
        qkv_case_run(f, &c);
    }
    /* Three dot functions, as in mixed files. */
    const qkv_case mixed[] = {
        {96, 3, 1, 32, {PDVM_TYPE_Q5_0, PDVM_TYPE_Q4_1, PDVM_TYPE_BF16}},
        {256, 2, 2, 64, {PDVM_TYPE_Q5_K, PDVM_TYPE_IQ4_XS, PDVM_TYPE_Q3_K}},
        {256, 2, 2, 64, {PDVM_TYPE_Q2_K, PDVM_TYPE_IQ4_NL, PDVM_TYPE_Q5_1}},
    };
    for (size_t i = 0; i < sizeof mixed / sizeof mixed[0]; i++) qkv_case_run(f, &mixed[i]);
}

/* --------------------------------------------------------- embedding */

static void embedding_every_type(void **state)
{
    fixture *f = *state;
    for (size_t i = 0; gpu_type_at(i); i++) {
        uint32_t t = gpu_type_at(i)->type, n = n_in_for(t, 0), n_rows = 7;
        uint64_t rb;
        uint8_t *w = random_weights(t, n, n_rows, 5 + i, 1.0f, false, &rb), *wg = malloc(rb * n_rows);
        float *act = nan_floats(n + 8), *want = malloc(n * 4), *got = malloc(n * 4);
        assert_true(wg && want && got);
        gpu_repack_rows(t, rb, n_rows, w, wg);
        pdvm_gl_buffer b_w = make_buffer(f, wg, rb * n_rows);
        pdvm_gl_buffer b_act = make_buffer(f, act, (n + 8) * 4);
        for (uint32_t row = 0; row < n_rows; row += 3) {
            pdvm_dequant_row(t, w + row * rb, want, n);
            LAUNCH(gpu_op_embd(&f->k, &(gpu_embd_args){&b_act, &b_w, t, n, 3, row * rb, 1.0f}));
            read_floats(f, &b_act, 3, n, got);
            char what[64];
            snprintf(what, sizeof what, "embedding %s row %u", pdvm_type_name(t), row);
            /* ggml's arithmetic in the same order: exact unless the
             * compiler fuses a multiply-add. */
            expect_close(&f->worst[t][2], got, want, n, 1e-6, what);
        }
        float guard[5];
        read_floats(f, &b_act, 3 + n, 5, guard);
        for (int k = 0; k < 5; k++) assert_true(isnan(guard[k]));
        pdvm_gl_buffer_delete(f->gl, &b_w);
        pdvm_gl_buffer_delete(f->gl, &b_act);
        free(w);
        free(wg);
        free(act);
        free(want);
        free(got);
    }
}

/* ------------------------------------------- synthetic fill and models */

/* The fill's blocks decode (on the GPU, through deq) to finite weights of
 * the size it promises; random bytes in an f16 scale field would give
 * infinities or NaNs in about 1 of 32 blocks. */
static void synthetic_fill_decodes(void **state)
{
    fixture *f = *state;
    for (size_t i = 0; gpu_type_at(i); i++) {
        uint32_t t = gpu_type_at(i)->type, n = pdvm_type_block_elems(t) == 256 ? 1024 : 512;
        const uint32_t n_rows = 16;
        uint64_t rb;
        assert_int_equal(pdvm_type_row_bytes(t, n, &rb), PDVM_OK);
        pdvm_gl_buffer b_w = make_buffer(f, NULL, rb * n_rows);
        LAUNCH(pdvm_synth_fill(f->gl, &b_w, 0, rb * n_rows, rb, t, 77));
        float *act = nan_floats(n), *got = malloc(n * 4);
        assert_non_null(got);
        pdvm_gl_buffer b_act = make_buffer(f, act, n * 4);
        double amax = 0;
        for (uint32_t row = 0; row < n_rows; row++) {
            LAUNCH(gpu_op_embd(&f->k, &(gpu_embd_args){&b_act, &b_w, t, n, 0, row * rb, 1.0f}));
            read_floats(f, &b_act, 0, n, got);
            for (uint32_t k = 0; k < n; k++) {
                if (!isfinite(got[k]))
                    fail_msg("%s fill: row %u element %u is %g", pdvm_type_name(t), row, k, got[k]);
                amax = fmax(amax, fabs(got[k]));
            }
        }
        /* f16 scales below 0.0045 times the largest quantized magnitude
         * (q6_K: 128 * 32; float types: 0.05). */
        if (!(amax > 0 && amax < 20)) fail_msg("%s fill: largest weight %g", pdvm_type_name(t), amax);
        pdvm_gl_buffer_delete(f->gl, &b_w);
        pdvm_gl_buffer_delete(f->gl, &b_act);
        free(act);
        free(got);
    }
}

/* Every type is accepted; rows that its blocks do not tile fall back as
 * llama.cpp's quantizer does (qwen2.5-0.5b: n_embd 896 = 3.5 * 256). */
static void synthetic_types_fall_back(void **state)
{
    (void)state;
    static const struct { uint32_t type, fallback; } cases[] = {
        {PDVM_TYPE_Q2_K, PDVM_TYPE_Q4_0},   {PDVM_TYPE_Q3_K, PDVM_TYPE_Q4_0},
        {PDVM_TYPE_Q4_K, PDVM_TYPE_Q5_0},   {PDVM_TYPE_Q5_K, PDVM_TYPE_Q5_1},
        {PDVM_TYPE_Q6_K, PDVM_TYPE_Q8_0},   {PDVM_TYPE_IQ4_XS, PDVM_TYPE_IQ4_NL},
        {PDVM_TYPE_Q4_1, PDVM_TYPE_Q4_1},   {PDVM_TYPE_BF16, PDVM_TYPE_BF16},
        {PDVM_TYPE_IQ4_NL, PDVM_TYPE_IQ4_NL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pdvm_model *m = NULL;
        assert_int_equal(pdvm_synthetic_model("qwen2.5-0.5b", cases[i].type, &m), PDVM_OK);
        assert_int_equal(m->layers[0].attn_q.type, cases[i].fallback);     /* 896 inputs */
        assert_int_equal(m->layers[3].ffn_down.type, cases[i].type);      /* 4864 = 19 * 256 */
        assert_int_equal(m->tok_embd.type, cases[i].fallback);
        assert_int_equal(m->layers[0].attn_norm.type, PDVM_TYPE_F32);
        pdvm_synthetic_free(m);
    }
    for (size_t i = 0; gpu_type_at(i); i++) {
        pdvm_model *m = NULL;
        assert_int_equal(pdvm_synthetic_model("stories15M", gpu_type_at(i)->type, &m), PDVM_OK);
        pdvm_synthetic_free(m);
    }
    pdvm_model *m = NULL;
    assert_int_equal(pdvm_synthetic_model("stories15M", PDVM_TYPE_Q8_1, &m), PDVM_ERR_UNSUPPORTED);
    assert_non_null(strstr(pdvm_last_error(), "iq4_xs"));
}

/* ------------------------------------------------ file end to end */

enum { E_EMBD = 256, E_HEAD = 4, E_HEAD_KV = 2, E_FF = 256, E_LAYER = 2, E_VOCAB = 256,
       E_CTX = 64, E_PROMPT = 4, E_STEPS = 20 };
#define E_LAYER_RMS 0.0625f /* 1/sqrt(n_embd): each sublayer adds about unit RMS */

static uint64_t e2e_kv(gw *kv)
{
    gw_kv_str(kv, "general.architecture", "llama");
    gw_kv_u32(kv, "llama.context_length", E_CTX);
    gw_kv_u32(kv, "llama.embedding_length", E_EMBD);
    gw_kv_u32(kv, "llama.block_count", E_LAYER);
    gw_kv_u32(kv, "llama.feed_forward_length", E_FF);
    gw_kv_u32(kv, "llama.attention.head_count", E_HEAD);
    gw_kv_u32(kv, "llama.attention.head_count_kv", E_HEAD_KV);
    gw_kv_f32(kv, "llama.attention.layer_norm_rms_epsilon", 1e-5f);
    gw_kv_f32(kv, "llama.rope.freq_base", 10000.0f);
    return 9;
}

typedef struct e2e_tensors {
    gw_tensor t[3 + 9 * E_LAYER];
    char names[3 + 9 * E_LAYER][40];
} e2e_tensors;

/* The tensors of a two-layer llama file, 2-D weights of `type`, norms F32;
 * returns their count. */
static size_t e2e_list(uint32_t type, e2e_tensors *l)
{
    static const char *const names[] = {"attn_norm", "attn_q", "attn_k", "attn_v", "attn_output",
                                        "ffn_norm", "ffn_gate", "ffn_up", "ffn_down"};
    const int64_t kvd = E_HEAD_KV * (E_EMBD / E_HEAD);
    const int64_t shape[][2] = {{E_EMBD, 1}, {E_EMBD, E_EMBD}, {E_EMBD, kvd}, {E_EMBD, kvd},
                                {E_EMBD, E_EMBD}, {E_EMBD, 1}, {E_EMBD, E_FF}, {E_EMBD, E_FF},
                                {E_FF, E_EMBD}};
    gw_tensor *t = l->t;
    size_t n = 0;
    t[n++] = (gw_tensor){"token_embd.weight", type, 2, {E_EMBD, E_VOCAB, 1, 1}};
    t[n++] = (gw_tensor){"output_norm.weight", PDVM_TYPE_F32, 1, {E_EMBD, 1, 1, 1}};
    t[n++] = (gw_tensor){"output.weight", type, 2, {E_EMBD, E_VOCAB, 1, 1}};
    for (int b = 0; b < E_LAYER; b++)
        for (int k = 0; k < 9; k++, n++) {
            snprintf(l->names[n], sizeof l->names[n], "blk.%d.%s.weight", b, names[k]);
            bool norm = shape[k][1] == 1;
            t[n] = (gw_tensor){l->names[n], norm ? PDVM_TYPE_F32 : type, norm ? 1 : 2,
                               {shape[k][0], shape[k][1], 1, 1}};
        }
    return n;
}

/* The file of e2e_list with our weights: token_embd rows of RMS 1, layer
 * weights of RMS 1/16, norms 1, and output row perm(t) equal to
 * token_embd row t, so the logits favour perm(current token) by a wide
 * margin. */
static void e2e_build(uint32_t type, gw *out)
{
    e2e_tensors *l = malloc(sizeof *l);
    assert_non_null(l);
    size_t n = e2e_list(type, l);
    const gw_tensor *t = l->t;
    gw kv = {0};
    uint64_t n_kv = e2e_kv(&kv);
    memset(out, 0, sizeof *out);
    gw_file(out, &kv, n_kv, t, n, 32, 1, NULL);
    gw_free(&kv);
    /* Replace the writer's bytes (laid out back to back at 32) with ours. */
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) total = (total + 31) / 32 * 32 + gw_tensor_bytes(&t[i]);
    uint8_t *data = out->buf + out->len - total, *embd = NULL;
    uint64_t at = 0, rb_e = 0;
    for (size_t i = 0; i < n; i++) {
        at = (at + 31) / 32 * 32;
        uint64_t rb, bytes = gw_tensor_bytes(&t[i]);
        if (t[i].n_dims == 1) {
            for (int64_t k = 0; k < t[i].ne[0]; k++) memcpy(data + at + 4 * k, &(float){1.0f}, 4);
        } else if (i == 2) { /* output: embedding rows, shuffled */
            for (uint32_t r = 0; r < E_VOCAB; r++)
                memcpy(data + at + ((r * 97 + 31) % E_VOCAB) * rb_e, embd + r * rb_e, rb_e);
        } else {
            float rms = i == 0 ? 1.0f : E_LAYER_RMS;
            uint8_t *w = random_weights(type, (uint32_t)t[i].ne[0], (uint32_t)t[i].ne[1], 100 + i,
                                        rms, true, &rb);
            memcpy(data + at, w, bytes);
            free(w);
            if (i == 0) embd = data + at, rb_e = rb;
        }
        at += bytes;
    }
    free(l);
}

static int32_t argmax2(const float *x, uint32_t n, float *margin)
{
    uint32_t best = 0, second = 1;
    if (x[1] > x[0]) best = 1, second = 0;
    for (uint32_t i = 2; i < n; i++) {
        if (x[i] > x[best]) second = best, best = i;
        else if (x[i] > x[second]) second = i;
    }
    *margin = x[best] - x[second];
    return (int32_t)best;
}

/* Greedy decoding on the GPU (fused or unfused) and on the CPU reference,
 * token for token; ids written to out. */
static void e2e_run(pdvm_gl *gl, uint32_t type, const pdvm_model *m, bool unfused, int32_t *out)
{
    pdvm_session_params p = pdvm_session_default_params();
    p.unfused = unfused;
    gpu_state *g = NULL;
    if (gpu_state_create(gl, m, &p, E_CTX, &g) != PDVM_OK)
        fail_msg("%s: %s", pdvm_type_name(type), pdvm_last_error());
    pdvm_ref_state *r = NULL;
    assert_int_equal(pdvm_ref_create(m, E_CTX, &r), PDVM_OK);
    float lg[E_VOCAB], lr[E_VOCAB], std = 0, worst = 0, min_margin = INFINITY;
    const int32_t prompt[E_PROMPT] = {1, 70, 140, 210};
    assert_int_equal(gpu_state_eval(g, prompt, E_PROMPT, 0, lg), PDVM_OK);
    for (uint32_t i = 0; i < E_PROMPT; i++) assert_int_equal(pdvm_ref_forward(r, prompt[i], i, lr), PDVM_OK);
    for (uint32_t step = 0, pos = E_PROMPT; step < E_STEPS; step++, pos++) {
        double e = rel_err(lg, lr, E_VOCAB);
        if (!(e < TOL_FREE_RUNNING))
            fail_msg("%s%s: logits relative error %.3g at step %u", pdvm_type_name(type),
                     unfused ? " unfused" : "", e, step);
        worst = fmaxf(worst, (float)e);
        float margin, gm;
        int32_t tr = argmax2(lr, E_VOCAB, &margin), tg = argmax2(lg, E_VOCAB, &gm);
        double ss = 0;
        for (uint32_t i = 0; i < E_VOCAB; i++) ss += (double)lr[i] * lr[i];
        std = (float)sqrt(ss / E_VOCAB);
        min_margin = fminf(min_margin, margin / std);
        if (tg != tr)
            fail_msg("%s%s: greedy token %d (gpu) != %d (reference) at step %u", pdvm_type_name(type),
                     unfused ? " unfused" : "", tg, tr, step);
        out[step] = tr;
        assert_int_equal(gpu_state_eval(g, &tg, 1, pos, lg), PDVM_OK);
        assert_int_equal(pdvm_ref_forward(r, tr, pos, lr), PDVM_OK);
    }
    /* The comparison means something only when no step was near a tie. */
    if (!(min_margin > 1.0f))
        fail_msg("%s: top-2 margin %.3g of the logits' RMS: the test model is too flat",
                 pdvm_type_name(type), min_margin);
    print_message("%-7s%s: %d greedy tokens equal; logits rel err <= %.2e; smallest top-2 margin "
                  "%.2f x RMS\n", pdvm_type_name(type), unfused ? " unfused" : "  fused", E_STEPS,
                  worst, min_margin);
    pdvm_ref_free(r);
    gpu_state_free(g);
}

static void e2e_every_type(void **state)
{
    fixture *f = *state;
    for (size_t i = 0; gpu_type_at(i); i++) {
        uint32_t type = gpu_type_at(i)->type;
        gw file;
        e2e_build(type, &file);
        pdvm_gguf *gg = NULL;
        if (pdvm_gguf_open_memory(file.buf, file.len, &gg) != PDVM_OK)
            fail_msg("%s file: %s", pdvm_type_name(type), pdvm_last_error());
        pdvm_model m;
        if (pdvm_model_bind(gg, &m) != PDVM_OK) fail_msg("%s file: %s", pdvm_type_name(type), pdvm_last_error());
        int32_t fused[E_STEPS], unfused[E_STEPS];
        e2e_run(f->gl, type, &m, false, fused);
        e2e_run(f->gl, type, &m, true, unfused);
        assert_memory_equal(fused, unfused, sizeof fused);
        uint32_t distinct = 0;
        for (int s = 0; s < E_STEPS; s++) distinct += s == 0 || fused[s] != fused[s - 1];
        assert_true(distinct > E_STEPS / 2); /* a walk over the vocabulary, not one token */
        pdvm_model_unbind(&m);
        gw_free(&file);
    }
}

/* A file holding a type no kernel decodes fails at load: exit 3 from the
 * CLI, naming the tensor and the type. */
static void unsupported_type_exit_3(void **state)
{
    (void)state;
    char dir[TEST_PATH_MAX], path[TEST_PATH_MAX + 16], bin[TEST_PATH_MAX], cmd[3 * TEST_PATH_MAX];
    char out[4096];
    test_temp_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/iq2.gguf", dir);
    gw kv = {0};
    uint64_t n_kv = e2e_kv(&kv);
    e2e_tensors *l = malloc(sizeof *l);
    assert_non_null(l);
    size_t n = e2e_list(PDVM_TYPE_F32, l);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(l->t[i].name, "blk.1.ffn_up.weight")) l->t[i].type = 16; /* iq2_xxs */
    gw file = {0};
    gw_file(&file, &kv, n_kv, l->t, n, 32, 1, NULL);
    free(l);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(file.buf, 1, file.len, fp), file.len);
    fclose(fp);
    test_sibling_path("../pdvm", bin, sizeof bin);
    snprintf(cmd, sizeof cmd, "%s run -m %s -p hi -n 1 --backend cpu", bin, path);
    int rc = test_run_command(cmd, out, sizeof out);
    if (rc != 3 || !strstr(out, "blk.1.ffn_up.weight") || !strstr(out, "iq2_xxs"))
        fail_msg("exit %d: %s", rc, out);
    remove(path);
    remove(dir);
    gw_free(&kv);
    gw_free(&file);
}

int main(void)
{
    const struct CMUnitTest cpu_side[] = {
        cmocka_unit_test(table_covers_cpu_types),
        cmocka_unit_test(repack_moves_every_byte),
        cmocka_unit_test(synthetic_types_fall_back),
        cmocka_unit_test(unsupported_type_exit_3),
    };
    const struct CMUnitTest kernels[] = {
        cmocka_unit_test(matvec_every_type),
        cmocka_unit_test(qkv_every_type),
        cmocka_unit_test(embedding_every_type),
        cmocka_unit_test(synthetic_fill_decodes),
    };
    const struct CMUnitTest files[] = {
        cmocka_unit_test(e2e_every_type),
    };
    int failed = cmocka_run_group_tests_name("weight types", cpu_side, NULL, NULL);
    failed += cmocka_run_group_tests_name("kernels, driver limits", kernels, setup, teardown);
    failed += cmocka_run_group_tests_name("files, driver limits", files, setup, teardown);
    /* The kernels again within the GLES 3.1 minimums (no uvec4 view in the
     * QKV, inputs staged in tiles or read from act, no subgroups); whole
     * chains at the minimums are test_gpu_e2e's. */
    setenv("PDVM_LIMITS", "minimum", 1);
    failed += cmocka_run_group_tests_name("kernels, PDVM_LIMITS=minimum", kernels, setup, teardown);
    return failed;
}

/* Each model kernel against the CPU reference functions on fresh random
 * inputs, outputs poisoned with NaN first (an element the kernel fails to
 * write fails the comparison). Relative error below 1e-5 on f32 paths and
 * 1e-3 where f16 is stored (weights in F16, the KV cache). Sizes are not
 * multiples of the workgroup sizes. Everything runs at the driver's limits,
 * then again under PDVM_LIMITS=minimum. Every weight type on its own (the
 * mat-vec, QKV and embedding decode of each) is test_gpu_types.c's. */
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
#include "gpu_ops.h"
#include "gpu_repack.h"
#include "quant.h"
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

/* ----------------------------------------------------------- helpers */

/* A launch that must work; the runtime's message when it does not. */
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
    assert_int_equal(pdvm_gl_check(f->gl, "kernel test"), PDVM_OK);
    assert_int_equal(pdvm_gl_buffer_read(f->gl, b, (uint64_t)at * 4, (uint64_t)n * 4, out),
                     PDVM_OK);
}

static void expect_close(const float *got, const float *want, size_t n, double tol,
                         const char *what)
{
    double e = rel_err(got, want, n);
    if (!(e < tol)) fail_msg("%s: relative error %.3g (tolerance %.1g)", what, e, tol);
}

static uint16_t f16(float x) { return pdvm_f32_to_f16(x); }

/* Random weights in a block format: F32/F16/Q8_0/Q4_0 by encoding random
 * floats; Q4_K/Q6_K as random valid blocks (random quants and scale bytes,
 * small finite f16 super-block scales). */
static void put_f16(uint8_t *p, float v)
{
    uint16_t h = f16(v);
    memcpy(p, &h, 2);
}

static void encode_q8_0(const float *x, uint8_t *b)
{
    float amax = 0;
    for (int i = 0; i < 32; i++) amax = fmaxf(amax, fabsf(x[i]));
    float d = amax / 127.0f, id = d ? 1.0f / d : 0.0f;
    put_f16(b, d);
    for (int i = 0; i < 32; i++) b[2 + i] = (uint8_t)(int8_t)roundf(x[i] * id);
}

static void encode_q4_0(const float *x, uint8_t *b)
{
    float amax = 0, max = 0;
    for (int i = 0; i < 32; i++)
        if (fabsf(x[i]) > amax) amax = fabsf(x[i]), max = x[i];
    float d = max / -8.0f, id = d ? 1.0f / d : 0.0f;
    put_f16(b, d);
    for (int i = 0; i < 16; i++) {
        int lo = (int)fminf(15.0f, x[i] * id + 8.5f), hi = (int)fminf(15.0f, x[16 + i] * id + 8.5f);
        b[2 + i] = (uint8_t)(lo | (hi << 4));
    }
}

static void random_k_block(uint32_t type, uint64_t *rng, uint8_t *b)
{
    uint32_t bytes = pdvm_type_block_bytes(type);
    for (uint32_t i = 0; i < bytes; i++) b[i] = (uint8_t)test_rand_u64(rng);
    if (type == PDVM_TYPE_Q4_K) {
        put_f16(b, test_rand_float(rng, 0.001f, 0.01f));     /* d */
        put_f16(b + 2, test_rand_float(rng, 0.001f, 0.01f)); /* dmin */
    } else {
        put_f16(b + 208, test_rand_float(rng, 0.001f, 0.01f)); /* Q6_K d */
    }
}

/* n_out rows of n_in weights of `type`; returns the bytes, *row_bytes set. */
static uint8_t *random_weights(uint32_t type, uint32_t n_in, uint32_t n_out, uint64_t seed,
                               uint64_t *row_bytes)
{
    assert_int_equal(pdvm_type_row_bytes(type, n_in, row_bytes), PDVM_OK);
    uint8_t *w = calloc(n_out, *row_bytes);
    float *row = malloc(n_in * sizeof *row);
    assert_non_null(w);
    assert_non_null(row);
    uint64_t rng = seed;
    uint32_t be = pdvm_type_block_elems(type), bb = pdvm_type_block_bytes(type);
    for (uint32_t r = 0; r < n_out; r++) {
        uint8_t *dst = w + r * *row_bytes;
        test_fill_random(row, n_in, seed * 7919 + r, -1.0f, 1.0f);
        for (uint32_t i = 0; i < n_in / be; i++) {
            const float *x = row + i * be;
            uint8_t *b = dst + i * bb;
            switch (type) {
            case PDVM_TYPE_F32: memcpy(b, x, 4); break;
            case PDVM_TYPE_F16: put_f16(b, x[0]); break;
            case PDVM_TYPE_Q8_0: encode_q8_0(x, b); break;
            case PDVM_TYPE_Q4_0: encode_q4_0(x, b); break;
            default: random_k_block(type, &rng, b); break;
            }
        }
    }
    free(row);
    return w;
}

static pdvm_tensor host_tensor(uint32_t type, uint32_t n_in, uint32_t n_out, uint64_t rb,
                               const void *data)
{
    pdvm_tensor t = {"test", type, {n_in, n_out}, rb, rb * n_out, data, 0};
    return t;
}

/* --------------------------------------------------------- attention */

typedef struct kv_data {
    uint32_t *kw, *vw;  /* packed f16 words, [kv_head][stride][head_dim/2] */
    float *kf, *vf;     /* the same values decoded, same layout */
} kv_data;

static kv_data random_kv(const pdvm_hparams *hp, uint32_t stride, uint64_t seed)
{
    size_t n = (size_t)hp->n_head_kv * stride * hp->head_dim;
    kv_data d = {malloc(n * 2), malloc(n * 2), malloc(n * 4), malloc(n * 4)};
    assert_true(d.kw && d.vw && d.kf && d.vf);
    test_fill_random(d.kf, n, seed, -1.0f, 1.0f);
    test_fill_random(d.vf, n, seed + 1, -1.0f, 1.0f);
    for (size_t i = 0; i < n; i += 2) {
        d.kw[i / 2] = f16(d.kf[i]) | ((uint32_t)f16(d.kf[i + 1]) << 16);
        d.vw[i / 2] = f16(d.vf[i]) | ((uint32_t)f16(d.vf[i + 1]) << 16);
    }
    for (size_t i = 0; i < n; i++) {
        d.kf[i] = pdvm_f16_to_f32(f16(d.kf[i]));
        d.vf[i] = pdvm_f16_to_f32(f16(d.vf[i]));
    }
    return d;
}

static void free_kv(kv_data *d)
{
    free(d->kw);
    free(d->vw);
    free(d->kf);
    free(d->vf);
}

static void ref_attention(const pdvm_hparams *hp, const float *q, const kv_data *kv,
                          uint32_t stride, uint32_t n_pos, float *out)
{
    const uint32_t hd = hp->head_dim, gqa = hp->n_head / hp->n_head_kv;
    for (uint32_t h = 0; h < hp->n_head; h++) {
        size_t base = (size_t)(h / gqa) * stride * hd;
        pdvm_ref_attention_head(q + h * hd, kv->kf + base, kv->vf + base, n_pos, hd, hd,
                                out + h * hd);
    }
}

/* Fused D2 over n_pos positions in chunks of `chunk` (split into two KV
 * slabs at `split` when it is inside), then the D3 combine through an
 * identity wo, so the output is the attention itself. */
static void fused_attention_case(fixture *f, const pdvm_hparams *hp, uint32_t n_pos,
                                 uint32_t chunk, uint32_t split)
{
    const uint32_t hd = hp->head_dim, q_dim = hp->n_head * hd, stride = n_pos + 3;
    kv_data kv = random_kv(hp, stride, n_pos * 31 + hd);
    const uint32_t max_slots = (n_pos + chunk - 1) / chunk + 2;
    const uint32_t part = q_dim, y = part + hp->n_head * max_slots * (hd + 2);
    const uint32_t n_act = y + q_dim;
    float *act = nan_floats(n_act), *want = malloc(q_dim * 4), *got = malloc(q_dim * 4);
    test_fill_random(act, q_dim, n_pos + 5, -1.0f, 1.0f);
    ref_attention(hp, act, &kv, stride, n_pos, want);

    /* Slab B holds positions [split, n_pos) in a buffer of its own, with
     * its own position stride. */
    const uint32_t n_a = split && split < n_pos ? split : n_pos, n_b = n_pos - n_a;
    size_t words = (size_t)hp->n_head_kv * stride * hd / 2;
    uint32_t *kb = calloc(words + 1, 4), *vb = calloc(words + 1, 4);
    assert_true(kb && vb);
    for (uint32_t h = 0; h < hp->n_head_kv; h++)
        for (uint32_t t = 0; t < n_b; t++)
            for (uint32_t p = 0; p < hd / 2; p++) {
                size_t src = ((size_t)h * stride + n_a + t) * hd / 2 + p;
                size_t dst = ((size_t)h * n_b + t) * hd / 2 + p;
                kb[dst] = kv.kw[src];
                vb[dst] = kv.vw[src];
            }
    pdvm_gl_buffer b_act = make_buffer(f, act, (uint64_t)n_act * 4);
    pdvm_gl_buffer b_k = make_buffer(f, kv.kw, words * 4), b_v = make_buffer(f, kv.vw, words * 4);
    pdvm_gl_buffer b_kb = make_buffer(f, kb, words * 4), b_vb = make_buffer(f, vb, words * 4);

    /* scale 0: 1/sqrt(head_dim); no soft-cap (test_arch_gpu covers both). */
    gpu_attn_args a = {&b_act, &b_k, &b_v, hp,    0, part, max_slots, 0, 0, stride, 0, n_a, chunk,
                       0,     0.0f, 0.0f};
    LAUNCH(gpu_op_attn(&f->k, &a));
    uint32_t slots = (n_a + chunk - 1) / chunk;
    if (n_b) {
        gpu_attn_args b = {&b_act, &b_kb, &b_vb, hp, 0, part, max_slots, 0, 0, n_b, 0, n_b, chunk,
                           slots, 0.0f, 0.0f};
        LAUNCH(gpu_op_attn(&f->k, &b));
        slots += (n_b + chunk - 1) / chunk;
    }
    /* wo picks one attention element per row (identity for small q_dim;
     * every 131st element, wrapping, for big ones), so y is the attention. */
    const uint32_t n_rows = q_dim <= 1024 ? q_dim : 257;
    float *pick = calloc((size_t)n_rows * q_dim, 4), *sel = malloc(n_rows * 4);
    assert_true(pick && sel);
    for (uint32_t r = 0; r < n_rows; r++) {
        uint32_t col = q_dim <= 1024 ? r : (uint32_t)(((uint64_t)r * 131) % q_dim);
        pick[(size_t)r * q_dim + col] = 1.0f;
        sel[r] = want[col];
    }
    pdvm_gl_buffer b_w = make_buffer(f, pick, (uint64_t)n_rows * q_dim * 4);
    gpu_mv_args mv = {
        .act = &b_act, .w = &b_w, .in_mode = GPU_IN_COMBINE, .out_mode = GPU_OUT_STORE,
        .n_in = q_dim, .type_a = PDVM_TYPE_F32, .rb_a = q_dim * 4, .x = part, .y = y,
        .n_rows = n_rows, .n_head = hp->n_head, .head_dim = hd, .max_slots = max_slots,
        .n_slots = slots,
    };
    LAUNCH(gpu_op_matvec(&f->k, &mv));
    read_floats(f, &b_act, y, n_rows, got);
    char what[96];
    snprintf(what, sizeof what, "fused attention hd %u, %u positions, chunk %u, split %u", hd,
             n_pos, chunk, split);
    expect_close(got, sel, n_rows, 1e-5, what);

    pdvm_gl_buffer *bufs[] = {&b_act, &b_k, &b_v, &b_kb, &b_vb, &b_w};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) pdvm_gl_buffer_delete(f->gl, bufs[i]);
    free(pick);
    free(sel);
    free(kb);
    free(vb);
    free(act);
    free(want);
    free(got);
    free_kv(&kv);
}

static pdvm_hparams attn_hp(uint32_t head_dim, uint32_t n_head, uint32_t n_head_kv)
{
    pdvm_hparams hp = {0};
    hp.head_dim = head_dim;
    hp.n_head = n_head;
    hp.n_head_kv = n_head_kv;
    hp.n_embd = n_head * head_dim;
    hp.n_rot = head_dim;
    return hp;
}

static void attention_fused(void **state)
{
    fixture *f = *state;
    const uint32_t n_pos[] = {1, 17, 512, 2048};
    pdvm_hparams gqa64 = attn_hp(64, 6, 2), gqa8 = attn_hp(8, 8, 4), wide = attn_hp(288, 2, 1);
    for (size_t i = 0; i < 4; i++) {
        fused_attention_case(f, &gqa64, n_pos[i], n_pos[i], 0);
        fused_attention_case(f, &gqa8, n_pos[i], n_pos[i], 0);
    }
    fused_attention_case(f, &gqa64, 2048, 256, 0);   /* 8 chunks */
    fused_attention_case(f, &gqa64, 2048, 300, 1024); /* two slabs, uneven chunks */
    fused_attention_case(f, &gqa8, 517, 100, 0);
    fused_attention_case(f, &wide, 200, 64, 0);       /* head_dim/2 > workgroup */
    /* q_dim 8448: the combine reads partials per element (input not staged
     * in shared memory on llvmpipe's 32 KiB). */
    pdvm_hparams many = attn_hp(128, 66, 6);
    fused_attention_case(f, &many, 700, 256, 0);
}

/* ----------------------------------------------------------- matvec */

static uint64_t align16(uint64_t v) { return (v + 15) / 16 * 16; }

/* y = W x through matvec.comp with the given ends, against the reference
 * kernels. W at a non-zero offset of its buffer, x and y at odd offsets. */
static void matvec_case(fixture *f, uint32_t type, uint32_t type_b, uint32_t n_in, uint32_t n_out,
                        uint32_t in_mode, uint32_t out_mode, double tol)
{
    uint64_t rb, rb_b = 0;
    uint8_t *wa = random_weights(type, n_in, n_out, n_in * 3 + n_out + type, &rb);
    uint8_t *wb = out_mode == GPU_OUT_SWIGLU ? random_weights(type_b, n_in, n_out, n_out + 99, &rb_b)
                                             : NULL;
    float *nw = malloc(n_in * 4);
    assert_non_null(nw);
    test_fill_random(nw, n_in, n_in + 7, 0.5f, 1.5f);
    const uint64_t a_off = align16((uint64_t)n_in * 4) + 16, b_off = a_off + align16(rb * n_out);
    uint8_t *w = calloc(1, b_off + rb_b * n_out + 16);
    assert_non_null(w);
    memcpy(w, nw, n_in * 4);
    gpu_repack_rows(type, rb, n_out, wa, w + a_off); /* the GPU's row layout */
    if (wb) gpu_repack_rows(type_b, rb_b, n_out, wb, w + b_off);

    const uint32_t x = 3, y = x + n_in + 5, n_act = y + n_out + 7;
    float *act = nan_floats(n_act);
    test_fill_random(act + x, n_in, n_in * 13 + n_out, -2.0f, 2.0f);
    if (out_mode == GPU_OUT_ADD) test_fill_random(act + y, n_out, 77, -1.0f, 1.0f);

    float *xn = malloc(n_in * 4), *want = malloc(n_out * 4), *want_b = malloc(n_out * 4);
    float *got = malloc(n_out * 4);
    assert_true(xn && want && want_b && got);
    if (in_mode == GPU_IN_NORM) pdvm_ref_rmsnorm(xn, act + x, nw, n_in, 1e-5f);
    else memcpy(xn, act + x, n_in * 4);
    pdvm_tensor ta = host_tensor(type, n_in, n_out, rb, wa);
    pdvm_ref_matvec(&ta, xn, want);
    if (out_mode == GPU_OUT_ADD)
        for (uint32_t r = 0; r < n_out; r++) want[r] += act[y + r];
    if (out_mode == GPU_OUT_SWIGLU) {
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
    snprintf(what, sizeof what, "matvec %s %ux%u in %u out %u", pdvm_type_name(type), n_in, n_out,
             in_mode, out_mode);
    expect_close(got, want, n_out, tol, what);
    /* Nothing written outside y. */
    float guard[5];
    read_floats(f, &b_act, y + n_out, 5, guard);
    for (int i = 0; i < 5; i++) assert_true(isnan(guard[i]));

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

static const uint32_t all_types[] = {PDVM_TYPE_F32, PDVM_TYPE_F16, PDVM_TYPE_Q8_0,
                                     PDVM_TYPE_Q4_0, PDVM_TYPE_Q4_K, PDVM_TYPE_Q6_K};

/* Row lengths per type: not multiples of the workgroup's segment stride;
 * F32/F16 also not multiples of 32 (stories260K's ffn_down rows are 172).
 * which == 2: 512, rows on 16 bytes for every type but Q6_K (the uvec4
 * dot variants). */
static uint32_t odd_n_in(uint32_t type, int which)
{
    if (which == 2) return 512;
    if (type == PDVM_TYPE_Q4_K || type == PDVM_TYPE_Q6_K) return which ? 4608 : 768;
    if (type == PDVM_TYPE_Q8_0 || type == PDVM_TYPE_Q4_0) return which ? 4128 : 96;
    return which ? 4099 : 172;
}

static void matvec_fused_ends(void **state)
{
    fixture *f = *state;
    /* Rows too long to stage the input in shared memory (above 32 KiB). */
    matvec_case(f, PDVM_TYPE_F16, 0, 9001, 21, GPU_IN_NORM, GPU_OUT_ADD, 1e-5);
    matvec_case(f, PDVM_TYPE_Q4_K, PDVM_TYPE_Q8_0, 9216, 13, GPU_IN_NORM, GPU_OUT_SWIGLU, 1e-5);
    for (size_t i = 0; i < sizeof all_types / sizeof all_types[0]; i++) {
        uint32_t t = all_types[i], n_in = odd_n_in(t, 0);
        matvec_case(f, t, 0, n_in, 45, GPU_IN_NORM, GPU_OUT_STORE, 1e-5);
        matvec_case(f, t, 0, n_in, 45, GPU_IN_PLAIN, GPU_OUT_ADD, 1e-5);
        /* Gate and up of different types, as in Q4_K_M files. */
        matvec_case(f, t, all_types[(i + 3) % 6], 768, 29, GPU_IN_NORM, GPU_OUT_SWIGLU, 1e-5);
    }
}

/* ------------------------------------------------ qkv (fused D1) */

typedef struct qkv_case {
    uint32_t n_embd, n_head, n_head_kv, head_dim, n_rot, pos;
    pdvm_rope_type rope;
    uint32_t type[3];
    uint32_t split_head; /* 0: one part; else parts [0, split) and [split, end) */
} qkv_case;

static void unpack_f16_words(const uint32_t *w, uint32_t n_words, float *out)
{
    for (uint32_t i = 0; i < n_words; i++) {
        out[2 * i] = pdvm_f16_to_f32((uint16_t)(w[i] & 0xFFFF));
        out[2 * i + 1] = pdvm_f16_to_f32((uint16_t)(w[i] >> 16));
    }
}

static void run_qkv_case(fixture *f, const qkv_case *c)
{
    pdvm_hparams hp = {0};
    hp.n_embd = c->n_embd;
    hp.n_head = c->n_head;
    hp.n_head_kv = c->n_head_kv;
    hp.head_dim = c->head_dim;
    hp.n_rot = c->n_rot;
    hp.rms_eps = 1e-5f;
    hp.rope_freq_base = 10000.0f;
    hp.rope_type = c->rope;
    const uint32_t hd = c->head_dim, rows[3] = {c->n_head * hd, c->n_head_kv * hd, c->n_head_kv * hd};
    uint64_t rb[3], off[3], at = align16((uint64_t)c->n_embd * 4);
    uint8_t *wt[3];
    for (int k = 0; k < 3; k++) {
        wt[k] = random_weights(c->type[k], c->n_embd, rows[k], 11 + k + c->pos, &rb[k]);
        off[k] = at;
        at = align16(at + rb[k] * rows[k]);
    }
    uint8_t *w = calloc(1, at + 16);
    float *nw = malloc(c->n_embd * 4);
    assert_true(w && nw);
    test_fill_random(nw, c->n_embd, 3, 0.5f, 1.5f);
    memcpy(w, nw, c->n_embd * 4);
    for (int k = 0; k < 3; k++) gpu_repack_rows(c->type[k], rb[k], rows[k], wt[k], w + off[k]);

    /* act: x, q, cos/sin table; poisoned. KV slab of 5 positions, stride 5. */
    const uint32_t x = 1, q = x + c->n_embd, cs = q + rows[0], n_act = cs + c->n_rot + 2;
    float *act = nan_floats(n_act);
    test_fill_random(act + x, c->n_embd, c->pos + 17, -1.0f, 1.0f);
    for (uint32_t j = 0; j < c->n_rot / 2; j++) {
        double theta = (double)c->pos * pow(10000.0, -2.0 * j / c->n_rot);
        act[cs + 2 * j] = (float)cos(theta);
        act[cs + 2 * j + 1] = (float)sin(theta);
    }
    const uint32_t stride = 5, t = 3, words = c->n_head_kv * stride * hd / 2;
    uint32_t *poison = malloc(words * 4);
    assert_non_null(poison);
    for (uint32_t i = 0; i < words; i++) poison[i] = 0x7E007E00u; /* f16 NaN pairs */
    pdvm_gl_buffer b_act = make_buffer(f, act, (uint64_t)n_act * 4), b_w = make_buffer(f, w, at);
    pdvm_gl_buffer b_k = make_buffer(f, poison, words * 4), b_v = make_buffer(f, poison, words * 4);

    const uint32_t total_heads = c->n_head + 2 * c->n_head_kv;
    uint32_t cuts[3] = {0, c->split_head ? c->split_head : total_heads, total_heads};
    for (int part = 0; part < (c->split_head ? 2 : 1); part++) {
        gpu_qkv_args a = {
            .act = &b_act, .w = &b_w, .kc = &b_k, .vc = &b_v, .hp = &hp, .norm_byte = 0,
            .x = x, .q = q, .cs = cs, .head0 = cuts[part], .n_heads = cuts[part + 1] - cuts[part],
            .kv_k = 0, .kv_v = 0, .kv_stride = stride, .kv_t = t,
        };
        /* The rows of each projection this part covers start at its first head. */
        uint32_t start = 0;
        for (int k = 0; k < 3; k++) {
            uint32_t first = cuts[part] * hd > start ? cuts[part] * hd - start : 0;
            if (first > rows[k]) first = rows[k];
            a.type[k] = c->type[k];
            a.rb[k] = rb[k];
            a.first_row[k] = first;
            a.base_byte[k] = off[k] + first * rb[k];
            start += rows[k];
        }
        LAUNCH(gpu_op_qkv(&f->k, &a));
    }

    float *xn = malloc(c->n_embd * 4), *want[3], *got = malloc(rows[0] * 4);
    uint32_t *kw = malloc(words * 4);
    float *kv = malloc(words * 8);
    assert_true(xn && got && kw && kv);
    pdvm_ref_rmsnorm(xn, act + x, nw, c->n_embd, 1e-5f);
    for (int k = 0; k < 3; k++) {
        want[k] = malloc(rows[k] * 4);
        pdvm_tensor tt = host_tensor(c->type[k], c->n_embd, rows[k], rb[k], wt[k]);
        pdvm_ref_matvec(&tt, xn, want[k]);
    }
    pdvm_ref_rope(want[0], c->n_head, hd, c->n_rot, c->pos, 10000.0f, c->rope);
    pdvm_ref_rope(want[1], c->n_head_kv, hd, c->n_rot, c->pos, 10000.0f, c->rope);
    read_floats(f, &b_act, q, rows[0], got);
    char what[96];
    snprintf(what, sizeof what, "qkv q (%s, head_dim %u, n_rot %u, pos %u)",
             c->rope == PDVM_ROPE_NEOX ? "neox" : "norm", hd, c->n_rot, c->pos);
    expect_close(got, want[0], rows[0], 1e-5, what);
    for (int k = 1; k < 3; k++) {
        assert_int_equal(pdvm_gl_buffer_read(f->gl, k == 1 ? &b_k : &b_v, 0, words * 4, kw), PDVM_OK);
        unpack_f16_words(kw, words, kv);
        float *slot = malloc(rows[k] * 4);
        for (uint32_t h = 0; h < c->n_head_kv; h++)
            memcpy(slot + h * hd, kv + ((size_t)h * stride + t) * hd, hd * 4);
        snprintf(what, sizeof what, "qkv %s cache (%s)", k == 1 ? "K" : "V",
                 c->rope == PDVM_ROPE_NEOX ? "neox" : "norm");
        expect_close(slot, want[k], rows[k], 1e-3, what);
        /* Only position t was written. */
        assert_true(isnan(kv[((size_t)0 * stride + t - 1) * hd]));
        free(slot);
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
    free(xn);
    free(got);
    free(kw);
    free(kv);
}

static void qkv_fused(void **state)
{
    fixture *f = *state;
    const uint32_t f32 = PDVM_TYPE_F32, q40 = PDVM_TYPE_Q4_0, q80 = PDVM_TYPE_Q8_0;
    const uint32_t q4k = PDVM_TYPE_Q4_K, q6k = PDVM_TYPE_Q6_K, f16t = PDVM_TYPE_F16;
    const qkv_case cases[] = {
        /* stories260K's shape */
        {64, 8, 4, 8, 8, 7, PDVM_ROPE_NORM, {f32, f32, f32}, 0},
        {64, 8, 4, 8, 8, 300, PDVM_ROPE_NEOX, {q40, q80, f16t}, 0},
        /* Q4_K_M-like: attn_v in Q6_K; head_dim 64 */
        {256, 4, 2, 64, 64, 1234, PDVM_ROPE_NORM, {q4k, q4k, q6k}, 0},
        {256, 4, 2, 64, 64, 4000, PDVM_ROPE_NEOX, {q4k, q80, q6k}, 0},
        /* partial rotary (n_rot < head_dim), both layouts */
        {96, 3, 1, 32, 16, 55, PDVM_ROPE_NEOX, {f16t, f32, q40}, 0},
        {96, 3, 1, 32, 16, 55, PDVM_ROPE_NORM, {f16t, f32, q40}, 0},
        /* long rows: a workgroup holds a few rows of a head (NEOX takes
         * them from both halves) */
        {2048, 4, 2, 64, 64, 77, PDVM_ROPE_NEOX, {q4k, q80, q6k}, 0},
        {2048, 4, 2, 64, 64, 77, PDVM_ROPE_NORM, {q40, f16t, q6k}, 0},
        /* split into two parts inside the k heads */
        {256, 4, 2, 64, 64, 9, PDVM_ROPE_NEOX, {q80, q40, q4k}, 5},
        {64, 8, 4, 8, 8, 9, PDVM_ROPE_NORM, {f32, f32, f32}, 3},
        /* n_embd too long to stage under the minimum limits (x from act) */
        {4160, 2, 1, 64, 64, 5, PDVM_ROPE_NEOX, {q40, q80, f16t}, 0},
        /* head sizes over 128 (Gemma 2: 256), both layouts */
        {256, 2, 1, 130, 130, 21, PDVM_ROPE_NEOX, {f32, q80, f16t}, 0},
        {256, 2, 1, 144, 144, 21, PDVM_ROPE_NORM, {q40, q80, f16t}, 0},
        {256, 2, 1, 192, 192, 21, PDVM_ROPE_NEOX, {q80, q80, q80}, 0},
        {256, 2, 1, 240, 240, 21, PDVM_ROPE_NORM, {f16t, f32, q40}, 0},
        {512, 2, 1, 256, 256, 21, PDVM_ROPE_NEOX, {q4k, q4k, q6k}, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_qkv_case(f, &cases[i]);
}

/* ------------------------------------------------- unfused pieces */

static void rmsnorm_unfused(void **state)
{
    fixture *f = *state;
    const uint32_t ns[] = {64, 300, 4099};
    for (size_t c = 0; c < 3; c++) {
        uint32_t n = ns[c], x = 2, y = x + n + 3, n_act = y + n + 4;
        float *act = nan_floats(n_act), *w = malloc(n * 4), *want = malloc(n * 4), *got = malloc(n * 4);
        assert_true(w && want && got);
        test_fill_random(act + x, n, n, -3.0f, 3.0f);
        test_fill_random(w, n, n + 1, 0.5f, 1.5f);
        pdvm_ref_rmsnorm(want, act + x, w, n, 1e-6f);
        pdvm_gl_buffer b_act = make_buffer(f, act, (uint64_t)n_act * 4);
        float *wp = calloc(n + 4, 4);
        memcpy(wp + 4, w, n * 4);
        pdvm_gl_buffer b_w = make_buffer(f, wp, (uint64_t)(n + 4) * 4);
        LAUNCH(gpu_op_rmsnorm(&f->k, &(gpu_norm_args){&b_act, &b_w, n, 1e-6f, x, y, 16, 1}));
        read_floats(f, &b_act, y, n, got);
        expect_close(got, want, n, 1e-5, "rmsnorm");
        pdvm_gl_buffer_delete(f->gl, &b_act);
        pdvm_gl_buffer_delete(f->gl, &b_w);
        free(act);
        free(w);
        free(wp);
        free(want);
        free(got);
    }
}

static void rope_unfused(void **state)
{
    fixture *f = *state;
    const struct { uint32_t n_heads, head_dim, n_rot, pos; pdvm_rope_type t; } cases[] = {
        {12, 8, 8, 5, PDVM_ROPE_NORM},     {12, 8, 8, 5, PDVM_ROPE_NEOX},
        {5, 128, 128, 3000, PDVM_ROPE_NORM}, {5, 128, 128, 3000, PDVM_ROPE_NEOX},
        {3, 64, 32, 77, PDVM_ROPE_NORM},   {3, 64, 32, 77, PDVM_ROPE_NEOX},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        pdvm_hparams hp = {0};
        hp.head_dim = cases[c].head_dim;
        hp.n_rot = cases[c].n_rot;
        hp.rope_type = cases[c].t;
        const uint32_t n = cases[c].n_heads * hp.head_dim, x = 1, cs = x + n, n_act = cs + hp.n_rot;
        float *act = nan_floats(n_act), *want = malloc(n * 4), *got = malloc(n * 4);
        assert_true(want && got);
        test_fill_random(act + x, n, c + 40, -1.0f, 1.0f);
        for (uint32_t j = 0; j < hp.n_rot / 2; j++) {
            double theta = (double)cases[c].pos * pow(10000.0, -2.0 * j / hp.n_rot);
            act[cs + 2 * j] = (float)cos(theta);
            act[cs + 2 * j + 1] = (float)sin(theta);
        }
        memcpy(want, act + x, n * 4);
        pdvm_ref_rope(want, cases[c].n_heads, hp.head_dim, hp.n_rot, cases[c].pos, 10000.0f,
                      hp.rope_type);
        pdvm_gl_buffer b_act = make_buffer(f, act, (uint64_t)n_act * 4);
        LAUNCH(gpu_op_rope(&f->k, &(gpu_rope_args){&b_act, &hp, x, cases[c].n_heads, cs}));
        read_floats(f, &b_act, x, n, got);
        expect_close(got, want, n, 1e-5, "rope");
        pdvm_gl_buffer_delete(f->gl, &b_act);
        free(act);
        free(want);
        free(got);
    }
}

static void swiglu_and_add_unfused(void **state)
{
    fixture *f = *state;
    const uint32_t n = 1000, g = 0, u = n, y = 2 * n, r = 3 * n, n_act = 4 * n;
    float *act = nan_floats(n_act), *want = malloc(n * 4), *got = malloc(n * 4);
    assert_true(want && got);
    test_fill_random(act, 2 * n, 9, -6.0f, 6.0f);
    test_fill_random(act + r, n, 10, -1.0f, 1.0f);
    pdvm_ref_swiglu(act + g, act + u, want, n);
    pdvm_gl_buffer b_act = make_buffer(f, act, (uint64_t)n_act * 4);
    LAUNCH(gpu_op_swiglu(&f->k, &(gpu_ew_args){.act = &b_act, .gate = g, .up = u, .y = y, .n = n}));
    read_floats(f, &b_act, y, n, got);
    expect_close(got, want, n, 1e-5, "swiglu");
    for (uint32_t i = 0; i < n; i++) want[i] += act[r + i];
    LAUNCH(gpu_op_add(&f->k, &(gpu_ew_args){.act = &b_act, .x = r, .y = y, .n = n}));
    read_floats(f, &b_act, y, n, got);
    expect_close(got, want, n, 1e-5, "add");
    pdvm_gl_buffer_delete(f->gl, &b_act);
    free(act);
    free(want);
    free(got);
}

/* Unfused attention: kv_write of the last position, then scores, softmax
 * and weighted sum over two KV slabs into one scores buffer. */
static void unfused_attention_case(fixture *f, pdvm_hparams hp, uint32_t n_pos, uint64_t seed)
{
    const uint32_t hd = hp.head_dim, q_dim = hp.n_head * hd;
    const uint32_t kv_dim = hp.n_head_kv * hd, stride = n_pos + 1;
    kv_data kv = random_kv(&hp, stride, n_pos + 3);
    /* act: q, k, v (of the last position, f32), att. */
    const uint32_t q = 0, k = q_dim, v = k + kv_dim, att = v + kv_dim, n_act = att + q_dim;
    float *act = nan_floats(n_act), *want = malloc(q_dim * 4), *got = malloc(q_dim * 4);
    assert_true(want && got);
    test_fill_random(act, q_dim, seed, -1.0f, 1.0f);
    const uint32_t last = n_pos - 1;
    for (uint32_t h = 0; h < hp.n_head_kv; h++)
        for (uint32_t d = 0; d < hd; d++) {
            act[k + h * hd + d] = kv.kf[((size_t)h * stride + last) * hd + d];
            act[v + h * hd + d] = kv.vf[((size_t)h * stride + last) * hd + d];
        }
    ref_attention(&hp, act + q, &kv, stride, n_pos, want);
    /* The GPU cache lacks the last position until kv_write puts it there. */
    size_t words = (size_t)hp.n_head_kv * stride * hd / 2;
    for (uint32_t h = 0; h < hp.n_head_kv; h++)
        for (uint32_t p = 0; p < hd / 2; p++) {
            kv.kw[((size_t)h * stride + last) * hd / 2 + p] = 0x7E007E00u;
            kv.vw[((size_t)h * stride + last) * hd / 2 + p] = 0x7E007E00u;
        }
    pdvm_gl_buffer b_act = make_buffer(f, act, (uint64_t)n_act * 4);
    pdvm_gl_buffer b_k = make_buffer(f, kv.kw, words * 4), b_v = make_buffer(f, kv.vw, words * 4);
    float *sc = nan_floats((size_t)hp.n_head * n_pos);
    pdvm_gl_buffer b_s = make_buffer(f, sc, (uint64_t)hp.n_head * n_pos * 4);
    gpu_kv_args a = {
        .act = &b_act, .kc = &b_k, .vc = &b_v, .scores = &b_s, .hp = &hp, .kv_k = 0,
        .kv_v = 0, .kv_stride = stride, .t0 = last, .k = k, .v = v, .q = q, .att = att,
        .h0 = 0, .n_heads = hp.n_head, .s_stride = n_pos,
    };
    LAUNCH(gpu_op_kv_write(&f->k, &a));
    /* Two "slabs" of the same buffer: [0, half) and [half, n_pos). */
    uint32_t half = n_pos / 2;
    for (int step = 0; step < 3; step++) {
        if (step == 1) {
            a.n = n_pos; /* softmax over the whole row */
            LAUNCH(gpu_op_attn_softmax(&f->k, &a));
            continue;
        }
        for (int sl = 0; sl < 2; sl++) {
            a.t0 = sl ? half : 0;
            a.n = sl ? n_pos - half : half;
            a.s0 = a.t0;
            a.accumulate = sl && half > 0;
            if (a.n == 0) continue;
            if (step == 0) LAUNCH(gpu_op_attn_scores(&f->k, &a));
            else LAUNCH(gpu_op_attn_wsum(&f->k, &a));
        }
    }
    read_floats(f, &b_act, att, q_dim, got);
    char what[80];
    snprintf(what, sizeof what, "unfused attention, head_dim %u, over %u positions", hd, n_pos);
    expect_close(got, want, q_dim, 1e-5, what);
    pdvm_gl_buffer *bufs[] = {&b_act, &b_k, &b_v, &b_s};
    for (size_t i = 0; i < 4; i++) pdvm_gl_buffer_delete(f->gl, bufs[i]);
    free(sc);
    free(act);
    free(want);
    free(got);
    free_kv(&kv);
}

static void attention_unfused(void **state)
{
    fixture *f = *state;
    const uint32_t n_pos_list[] = {1, 17, 512, 2048};
    for (size_t c = 0; c < 4; c++) unfused_attention_case(f, attn_hp(64, 6, 2), n_pos_list[c], c + 1);
}

/* Every even head size a file may declare, 32..256, around the workgroup's
 * pair count (128 pairs: head sizes whose pairs do not divide it once left
 * zeros in the output), on both attention paths. */
static const uint32_t head_sizes[] = {32, 40, 48, 64, 72, 80, 96, 112, 120, 128,
                                      130, 144, 160, 192, 200, 240, 248, 256};

static void attention_head_sizes(void **state)
{
    fixture *f = *state;
    for (size_t i = 0; i < sizeof head_sizes / sizeof head_sizes[0]; i++) {
        pdvm_hparams hp = attn_hp(head_sizes[i], 4, 2);
        fused_attention_case(f, &hp, 37, 37, 0);
        fused_attention_case(f, &hp, 300, 100, 0);
        unfused_attention_case(f, hp, 37, 90 + i);
    }
}

/* A compile failure names the shader, and leaves the kernels usable: the
 * failed variant is dropped, the next build succeeds. */
static void compile_error_names_shader(void **state)
{
    fixture *f = *state;
    gpu_defs d;
    gpu_defs_init(&d);
    gpu_defs_int(&d, "WG_SIZE", 64);
    gpu_defs_int(&d, "N", 8);
    gpu_defs_str(&d, "DEQ", "no_such_function");
    static const char *const names[] = {"u_x", "u_rowb"};
    gpu_prog *p = NULL;
    assert_int_equal(gpu_prog_get(&f->k, "embd", "embd", &d, names, 2, &p), PDVM_OK);
    assert_int_equal(gpu_kernels_build(&f->k, NULL, NULL), PDVM_ERR_GPU);
    assert_non_null(strstr(pdvm_last_error(), "embd"));
    assert_int_equal(gpu_kernels_build(&f->k, NULL, NULL), PDVM_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(matvec_fused_ends),
        cmocka_unit_test(attention_fused),
        cmocka_unit_test(qkv_fused),
        cmocka_unit_test(rmsnorm_unfused),
        cmocka_unit_test(rope_unfused),
        cmocka_unit_test(swiglu_and_add_unfused),
        cmocka_unit_test(attention_unfused),
        cmocka_unit_test(attention_head_sizes),
        cmocka_unit_test(compile_error_names_shader),
    };
    int failed = cmocka_run_group_tests_name("driver limits", tests, setup, teardown);
    /* Again as if the driver gave only the GLES 3.1 minimums: 128
     * invocations, 16 KiB shared (inputs staged in tiles or read from
     * act), no subgroups. */
    setenv("PDVM_LIMITS", "minimum", 1);
    failed += cmocka_run_group_tests_name("PDVM_LIMITS=minimum", tests, setup, teardown);
    return failed;
}

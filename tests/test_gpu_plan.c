/* The GPU memory plans (pure bookkeeping, no GL): weight groups split by
 * rows to fit the SSBO block limit, every row placed exactly once, QKV
 * parts cut at head boundaries with a norm copy each, buffers within the
 * limit; KV slabs; unsupported types named. Shapes of real models come
 * from synthetic.h, no file needed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "gpu_plan.h"
#include "quant.h"
#include "pdvm_bench.h"
#include "test_util.h"

/* Every output row of every group in exactly one part; parts and buffers
 * within the block; pieces inside their buffer and not overlapping. */
static void check_plan(const gpu_weight_plan *p, const pdvm_model *m, uint64_t block)
{
    for (uint32_t b = 0; b < p->n_bufs; b++) assert_true(p->buf_bytes[b] <= block);
    for (uint32_t i = 0; i < p->n_groups; i++) {
        const gpu_group *g = &p->groups[i];
        uint32_t next = 0;
        for (uint32_t k = 0; k < g->n_parts; k++) {
            const gpu_part *pt = &g->parts[k];
            assert_int_equal(pt->out0, next);
            assert_true(pt->out1 > pt->out0);
            assert_int_equal(pt->out0 % g->unit, 0);
            next = pt->out1;
            assert_true(pt->buf < p->n_bufs);
            uint64_t end = 0;
            assert_true(!g->vec[GPU_V_NORM] == (pt->vec_off[GPU_V_NORM] == GPU_NO_VEC));
            assert_true(g->has_bias == (pt->vec_off[GPU_V_BIAS] != GPU_NO_VEC));
            for (int v = 0; v < GPU_V_COUNT; v++) {
                if (pt->vec_off[v] == GPU_NO_VEC) continue;
                uint64_t len = v == GPU_V_BIAS ? pt->out1 - pt->out0
                               : v >= GPU_V_QNORM ? m->hp.head_dim : m->hp.n_embd;
                assert_int_equal(pt->vec_off[v] % 16, 0);
                assert_true(pt->vec_off[v] >= end);
                end = pt->vec_off[v] + len * 4;
            }
            uint32_t rows = 0;
            for (uint32_t s = 0; s < g->n_t; s++) {
                const gpu_seg *sg = &pt->seg[s];
                assert_int_equal(sg->off % 16, 0);
                assert_true(sg->off >= end);
                end = sg->off + (uint64_t)sg->n_rows * sg->t->row_bytes;
                assert_true(sg->row0 + sg->n_rows <= (uint64_t)sg->t->ne[1]);
                rows += sg->n_rows;
            }
            assert_true(end <= p->buf_bytes[pt->buf]);
            uint32_t want = pt->out1 - pt->out0;
            assert_int_equal(rows, g->kind == GPU_G_FFN_UP ? 2 * want : want);
        }
        assert_int_equal(next, g->n_out);
    }
}

static void plan_real_shapes(void **state)
{
    (void)state;
    const uint32_t types[] = {PDVM_TYPE_Q4_0, PDVM_TYPE_Q4_K, PDVM_TYPE_F16};
    const uint64_t blocks[] = {128ull << 20, 16ull << 20, (1ull << 31) - (1ull << 16)};
    for (size_t i = 0; i < pdvm_synthetic_count(); i++)
        for (size_t t = 0; t < 3; t++)
            for (size_t b = 0; b < 3; b++) {
                pdvm_model *m = NULL;
                assert_int_equal(pdvm_synthetic_model(pdvm_synthetic_name(i), types[t], &m), PDVM_OK);
                gpu_weight_plan p;
                pdvm_status st = gpu_plan_weights(m, blocks[b], 256, &p);
                if (st != PDVM_OK) fail_msg("%s: %s", pdvm_synthetic_name(i), pdvm_last_error());
                check_plan(&p, m, blocks[b]);
                /* At most the padding of a few hundred pieces beyond the weights
                 * (a tied embedding is stored once but read twice a token). */
                uint64_t twice = m->output.name == m->tok_embd.name ? m->tok_embd.row_bytes : 0;
                assert_true(p.total_bytes + twice >= pdvm_bench_weight_bytes_per_token(m));
                gpu_plan_weights_free(&p);
                pdvm_synthetic_free(m);
            }
}

/* The synthetic shapes carry their architecture's layer, as a file of that
 * model binds it. */
static void synthetic_shapes_follow_the_architecture(void **state)
{
    (void)state;
    pdvm_model *m = NULL;
    assert_int_equal(pdvm_synthetic_model("qwen2.5-0.5b", PDVM_TYPE_Q4_0, &m), PDVM_OK);
    assert_true(pdvm_tensor_present(&m->layers[3].attn_k_b));
    assert_int_equal(m->layers[3].attn_k_b.ne[0], 2 * 64);
    assert_true(m->output.name == m->tok_embd.name); /* tied */
    pdvm_synthetic_free(m);
    assert_int_equal(pdvm_synthetic_model("qwen3-0.6b", PDVM_TYPE_Q4_0, &m), PDVM_OK);
    assert_int_equal(m->hp.head_dim, 128);
    assert_int_equal(m->layers[0].attn_q.ne[1], 16 * 128);
    assert_true(pdvm_tensor_present(&m->layers[0].attn_q_norm));
    assert_false(pdvm_tensor_present(&m->layers[0].attn_q_b));
    pdvm_synthetic_free(m);
    assert_int_equal(pdvm_synthetic_model("gemma-3-1b", PDVM_TYPE_Q4_0, &m), PDVM_OK);
    assert_true(pdvm_tensor_present(&m->layers[0].ffn_post_norm));
    assert_int_equal(m->hp.n_swa, 512);
    assert_true(m->ap.swa[0] && m->ap.swa[4] && !m->ap.swa[5] && m->ap.swa[6]);
    assert_int_equal(m->ap.act, PDVM_ACT_GELU_TANH);
    assert_true(m->ap.embd_scale > 33.9f && m->ap.embd_scale < 34.0f); /* sqrt(1152) */
    pdvm_synthetic_free(m);
    assert_int_equal(pdvm_synthetic_model("gemma-2-2b", PDVM_TYPE_Q4_0, &m), PDVM_OK);
    assert_true(m->ap.attn_softcap == 50.0f && m->ap.final_softcap == 30.0f);
    assert_true(m->ap.swa[0] && !m->ap.swa[1]);
    pdvm_synthetic_free(m);
    assert_int_equal(pdvm_synthetic_model("phi-3.5-mini", PDVM_TYPE_Q4_0, &m), PDVM_OK);
    assert_int_equal(m->hp.head_dim, 96);
    assert_int_equal(m->hp.rope_type, PDVM_ROPE_NEOX);
    assert_int_equal(m->layers[0].ffn_gate.ne[1], 8192);
    pdvm_synthetic_free(m);
}

/* A 14B model's layer at 16 MiB blocks: QKV and the FFN need several parts,
 * each cut at a head (QKV) and carrying its own norm. */
static void plan_splits_big_groups(void **state)
{
    (void)state;
    pdvm_model *m = NULL;
    assert_int_equal(pdvm_synthetic_model("phi-4-14b", PDVM_TYPE_Q4_0, &m), PDVM_OK);
    gpu_weight_plan p;
    assert_int_equal(gpu_plan_weights(m, 16ull << 20, 256, &p), PDVM_OK);
    const gpu_group *qkv = gpu_plan_group(&p, 0, GPU_G_QKV);
    const gpu_group *ffn = gpu_plan_group(&p, 0, GPU_G_FFN_UP);
    assert_true(qkv->n_parts >= 2);
    assert_true(ffn->n_parts >= 2);
    for (uint32_t k = 0; k < qkv->n_parts; k++) assert_int_equal(qkv->parts[k].out0 % m->hp.head_dim, 0);
    const gpu_group *out = gpu_plan_group(&p, 0, GPU_G_OUTPUT);
    assert_true(out->n_parts >= 2); /* 100352 x 5120 at Q4_0 is ~276 MiB */
    gpu_plan_weights_free(&p);
    pdvm_synthetic_free(m);
}

static void plan_names_unsupported_type(void **state)
{
    (void)state;
    pdvm_model *m = NULL;
    assert_int_equal(pdvm_synthetic_model("stories15M", PDVM_TYPE_Q4_0, &m), PDVM_OK);
    m->layers[2].ffn_up.type = PDVM_TYPE_Q8_1;
    gpu_weight_plan p;
    assert_int_equal(gpu_plan_weights(m, 128ull << 20, 16, &p), PDVM_ERR_UNSUPPORTED);
    assert_non_null(strstr(pdvm_last_error(), "q8_1"));
    assert_non_null(strstr(pdvm_last_error(), "blk.2.ffn_up.weight"));
    pdvm_synthetic_free(m);
}

static void plan_row_larger_than_block(void **state)
{
    (void)state;
    pdvm_model *m = NULL;
    assert_int_equal(pdvm_synthetic_model("llama-3-8b", PDVM_TYPE_F16, &m), PDVM_OK);
    gpu_weight_plan p;
    /* One head of q|k|v (128 rows of 4096 f16 = 1 MiB) cannot fit 64 KiB. */
    assert_int_equal(gpu_plan_weights(m, 65536, 16, &p), PDVM_ERR_UNSUPPORTED);
    assert_non_null(strstr(pdvm_last_error(), "block limit"));
    pdvm_synthetic_free(m);
}

static void plan_kv_slabs(void **state)
{
    (void)state;
    pdvm_model *m = NULL;
    assert_int_equal(pdvm_synthetic_model("llama-3-8b", PDVM_TYPE_Q4_0, &m), PDVM_OK);
    const uint64_t blocks[] = {128ull << 20, 1ull << 20, 4096};
    for (size_t b = 0; b < 3; b++) {
        gpu_kv_plan kv;
        assert_int_equal(gpu_plan_kv(m, 4096, 1, blocks[b], 256, &kv), PDVM_OK);
        const uint64_t per_pos = (uint64_t)m->hp.n_head_kv * m->hp.head_dim * 2;
        for (uint32_t l = 0; l < m->hp.n_layer; l++) {
            uint32_t next = 0;
            for (uint32_t s = 0; s < kv.slabs_per_layer; s++) {
                const gpu_kv_slab *sl = &kv.slabs[(size_t)l * kv.slabs_per_layer + s];
                assert_int_equal(sl->pos0, next);
                next += sl->n_pos;
                assert_true(sl->word * 4 + sl->n_pos * per_pos <= kv.buf_bytes[sl->buf]);
                assert_ptr_equal(gpu_kv_slab_at(&kv, l, sl->pos0), sl);
            }
            assert_int_equal(next, 4096);
        }
        for (uint32_t i = 0; i < kv.n_bufs; i++) assert_true(kv.buf_bytes[i] <= blocks[b]);
        if (blocks[b] < 4096 * per_pos) assert_true(kv.slabs_per_layer > 1);
        gpu_plan_kv_free(&kv);
    }
    pdvm_synthetic_free(m);
}

/* Sliding-window layers hold a ring of n_swa positions, not n_ctx: Gemma 3
 * 1B at 8192 positions (22 of 26 layers with a 512 window) needs about a
 * fifth of the full cache. */
static void plan_kv_window_rings(void **state)
{
    (void)state;
    pdvm_model *m = NULL;
    assert_int_equal(pdvm_synthetic_model("gemma-3-1b", PDVM_TYPE_Q4_0, &m), PDVM_OK);
    gpu_kv_plan kv;
    assert_int_equal(gpu_plan_kv(m, 8192, 1, 128ull << 20, 256, &kv), PDVM_OK);
    const uint64_t per_pos = 2ull * m->hp.n_head_kv * m->hp.head_dim * 2; /* K and V, f16 */
    uint64_t want = 0;
    for (uint32_t l = 0; l < m->hp.n_layer; l++) {
        assert_int_equal(kv.held[l], m->ap.swa[l] ? 512 : 8192);
        want += kv.held[l] * per_pos;
    }
    assert_int_equal(want, (4ull * 8192 + 22ull * 512) * per_pos);
    assert_true(kv.total_bytes >= want && kv.total_bytes <= want + 2 * 26 * 256);
    gpu_plan_kv_free(&kv);
    pdvm_synthetic_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(plan_real_shapes),
        cmocka_unit_test(synthetic_shapes_follow_the_architecture),
        cmocka_unit_test(plan_splits_big_groups),
        cmocka_unit_test(plan_names_unsupported_type),
        cmocka_unit_test(plan_row_larger_than_block),
        cmocka_unit_test(plan_kv_slabs),
        cmocka_unit_test(plan_kv_window_rings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

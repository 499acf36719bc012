/* libFuzzer target for the CPU-side model loading: the GGUF reader, every
 * metadata accessor and renderer, tensor decoding, the architecture binder
 * and the tokenizer. Any input must give PDVM_OK or an error with a
 * message; ASan/UBSan catch the rest. Seeds: the GGUF files in ../shared/models. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "model.h"
#include "quant.h"
#include "tokenizer.h"

#define MAX_ROW 65536 /* elements decoded per tensor */

static void check_error(pdvm_status st)
{
    if (st != PDVM_OK && pdvm_last_error()[0] == '\0') {
        fprintf(stderr, "status %s without a message\n", pdvm_status_str(st));
        abort();
    }
}

static void walk_kv(const pdvm_gguf *g)
{
    char text[256];
    for (uint64_t i = 0; i < pdvm_gguf_n_kv(g); i++) {
        gguf_value v, item;
        pdvm_gguf_kv_to_text(g, i, 8, text, sizeof text);
        pdvm_gguf_kv_to_text(g, i, 0, text, 16);
        pdvm_gguf_kv_value(g, i, &v);
        if (v.type == GGUF_TYPE_ARRAY && v.n > 0) {
            pdvm_gguf_kv_item(g, i, 0, &item);
            pdvm_gguf_kv_item(g, i, v.n - 1, &item);
        }
        gguf_str key = pdvm_gguf_key(g, i);
        if (key.len > 0 && key.len < 128 && !memchr(key.ptr, 0, key.len)) {
            char k[128];
            memcpy(k, key.ptr, key.len);
            k[key.len] = '\0';
            uint32_t u;
            float f;
            gguf_str s;
            if (pdvm_gguf_find_key(g, k) != (int64_t)i) abort(); /* keys are unique */
            pdvm_gguf_get_u32(g, k, &u);
            pdvm_gguf_get_f32(g, k, &f);
            pdvm_gguf_get_str(g, k, &s);
            pdvm_gguf_arr_str(g, k, 0, &s);
            pdvm_gguf_arr_data(g, k);
        }
    }
}

static void walk_tensors(const pdvm_gguf *g, float *row)
{
    for (uint64_t i = 0; i < pdvm_gguf_n_tensors(g); i++) {
        const gguf_tensor *t = pdvm_gguf_tensor(g, i);
        uint64_t rb;
        if (!pdvm_type_can_dequant(t->type) || t->ne[0] > MAX_ROW) continue;
        if (pdvm_type_row_bytes(t->type, t->ne[0], &rb) != PDVM_OK || rb > t->nbytes) abort();
        pdvm_dequant_row(t->type, t->data, row, t->ne[0]);
        volatile float sink = pdvm_dot_row(t->type, t->data, row, t->ne[0]);
        (void)sink;
    }
}

static void walk_model(const pdvm_model *m, float *row)
{
    const pdvm_tensor *ts[] = {&m->tok_embd, &m->output_norm, &m->output};
    for (size_t i = 0; i < 3; i++)
        if (ts[i]->ne[0] <= MAX_ROW) pdvm_dequant_row(ts[i]->type, ts[i]->data, row, ts[i]->ne[0]);
    for (uint32_t l = 0; l < m->hp.n_layer; l++) {
        const pdvm_tensor *w = &m->layers[l].ffn_down;
        const uint8_t *last = (const uint8_t *)w->data + (uint64_t)(w->ne[1] - 1) * w->row_bytes;
        if (w->ne[0] <= MAX_ROW) pdvm_dequant_row(w->type, last, row, w->ne[0]);
    }
}

static void tokenize(const pdvm_gguf *g)
{
    pdvm_tokenizer *tok = NULL;
    pdvm_status st = pdvm_tokenizer_load(g, &tok);
    check_error(st);
    if (st != PDVM_OK) return;
    static const char text[] = "Once upon a time, \xe2\x96\x81 \xff caf\xc3\xa9\n";
    int32_t ids[64];
    size_t n;
    check_error(pdvm_tokenizer_encode(tok, text, sizeof text - 1, true, ids, 64, &n));
    pdvm_tokenizer_free(tok);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pdvm_gguf *g = NULL;
    pdvm_status st = pdvm_gguf_open_memory(data, size, &g);
    check_error(st);
    if (st != PDVM_OK) return 0;
    float *row = malloc(MAX_ROW * sizeof *row);
    if (!row) abort();
    walk_kv(g);
    walk_tensors(g, row);
    tokenize(g);
    pdvm_model m;
    st = pdvm_model_bind(g, &m);
    check_error(st);
    if (st == PDVM_OK) {
        walk_model(&m, row);
        pdvm_model_unbind(&m);
    } else {
        pdvm_gguf_close(g);
    }
    free(row);
    return 0;
}

/* The ggml type table (names and block geometry, from ggml.c's
 * type_traits) and the row loops over the block decoders. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "quant.h"
#include "quant_impl.h"

typedef struct type_info {
    const char *name;
    uint32_t block_elems, block_bytes;
    pdvm_block_decoder decode; /* NULL: known but not decodable here */
} type_info;

/* Indexed by ggml type id. Removed ids (4, 5, 31-33, 36-38) stay empty:
 * ggml itself rejects them in GGUF files. */
static const type_info types[PDVM_TYPE_COUNT] = {
    [0] = {"f32", 1, 4, NULL},
    [1] = {"f16", 1, 2, NULL},
    [2] = {"q4_0", 32, 18, pdvm_dq_q4_0},
    [3] = {"q4_1", 32, 20, pdvm_dq_q4_1},
    [6] = {"q5_0", 32, 22, pdvm_dq_q5_0},
    [7] = {"q5_1", 32, 24, pdvm_dq_q5_1},
    [8] = {"q8_0", 32, 34, pdvm_dq_q8_0},
    [9] = {"q8_1", 32, 36, NULL},
    [10] = {"q2_K", 256, 84, pdvm_dq_q2_k},
    [11] = {"q3_K", 256, 110, pdvm_dq_q3_k},
    [12] = {"q4_K", 256, 144, pdvm_dq_q4_k},
    [13] = {"q5_K", 256, 176, pdvm_dq_q5_k},
    [14] = {"q6_K", 256, 210, pdvm_dq_q6_k},
    [15] = {"q8_K", 256, 292, NULL},
    [16] = {"iq2_xxs", 256, 66, NULL},
    [17] = {"iq2_xs", 256, 74, NULL},
    [18] = {"iq3_xxs", 256, 98, NULL},
    [19] = {"iq1_s", 256, 50, NULL},
    [20] = {"iq4_nl", 32, 18, pdvm_dq_iq4_nl},
    [21] = {"iq3_s", 256, 110, NULL},
    [22] = {"iq2_s", 256, 82, NULL},
    [23] = {"iq4_xs", 256, 136, pdvm_dq_iq4_xs},
    [24] = {"i8", 1, 1, NULL},
    [25] = {"i16", 1, 2, NULL},
    [26] = {"i32", 1, 4, NULL},
    [27] = {"i64", 1, 8, NULL},
    [28] = {"f64", 1, 8, NULL},
    [29] = {"iq1_m", 256, 56, NULL},
    [30] = {"bf16", 1, 2, NULL},
    [34] = {"tq1_0", 256, 54, NULL},
    [35] = {"tq2_0", 256, 66, NULL},
    [39] = {"mxfp4", 32, 17, NULL},
    [40] = {"nvfp4", 64, 36, NULL},
    [41] = {"q1_0", 128, 18, NULL},
    [42] = {"q2_0", 64, 18, NULL},
};

static const type_info *info(uint32_t type)
{
    return type < PDVM_TYPE_COUNT && types[type].name ? &types[type] : NULL;
}

const char *pdvm_type_name(uint32_t type)
{
    const type_info *t = info(type);
    return t ? t->name : "unknown";
}

uint32_t pdvm_type_block_elems(uint32_t type)
{
    const type_info *t = info(type);
    return t ? t->block_elems : 0;
}

uint32_t pdvm_type_block_bytes(uint32_t type)
{
    const type_info *t = info(type);
    return t ? t->block_bytes : 0;
}

bool pdvm_type_can_dequant(uint32_t type)
{
    return type == PDVM_TYPE_F32 || type == PDVM_TYPE_F16 || type == PDVM_TYPE_BF16 ||
           (info(type) && info(type)->decode);
}

void pdvm_type_list_decodable(char *buf, size_t cap)
{
    size_t len = 0;
    if (cap) buf[0] = 0;
    for (uint32_t t = 0; t < PDVM_TYPE_COUNT && len < cap; t++) {
        if (!pdvm_type_can_dequant(t)) continue;
        int n = snprintf(buf + len, cap - len, "%s%s", len ? ", " : "", types[t].name);
        if (n < 0) break;
        len += (size_t)n;
    }
}

pdvm_status pdvm_type_row_bytes(uint32_t type, int64_t n_elems, uint64_t *out)
{
    const type_info *t = info(type);
    if (!t) return pdvm_fail(PDVM_ERR_UNSUPPORTED, "unknown ggml type id %u", type);
    if (n_elems < 0 || n_elems % t->block_elems != 0)
        return pdvm_fail(PDVM_ERR_FORMAT, "%" PRId64 " elements are not a whole number of %s "
                         "blocks of %u", n_elems, t->name, t->block_elems);
    uint64_t blocks = (uint64_t)(n_elems / t->block_elems);
    if (blocks > UINT64_MAX / t->block_bytes)
        return pdvm_fail(PDVM_ERR_FORMAT, "%" PRId64 " %s elements overflow a byte count",
                         n_elems, t->name);
    *out = blocks * t->block_bytes;
    return PDVM_OK;
}

static float f32_at(const uint8_t *p)
{
    float f;
    memcpy(&f, p, sizeof f);
    return f;
}

static uint16_t u16_at(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

/* Decode elements [0, n) of an element-wise type (block size 1). */
static void dequant_plain(uint32_t type, const uint8_t *s, float *dst, int64_t n)
{
    if (type == PDVM_TYPE_F32) {
        memcpy(dst, s, (size_t)n * sizeof(float));
    } else if (type == PDVM_TYPE_F16) {
        for (int64_t i = 0; i < n; i++) dst[i] = pdvm_f16_to_f32(u16_at(s + 2 * i));
    } else {
        for (int64_t i = 0; i < n; i++) dst[i] = pdvm_bf16_to_f32(u16_at(s + 2 * i));
    }
}

void pdvm_dequant_row(uint32_t type, const void *src, float *dst, int64_t n)
{
    const type_info *t = info(type);
    const uint8_t *s = src;
    if (t->block_elems == 1) {
        dequant_plain(type, s, dst, n);
        return;
    }
    for (int64_t i = 0; i < n; i += t->block_elems, s += t->block_bytes) t->decode(s, dst + i);
}

/* Element-wise types are read in place; sequential float accumulation
 * keeps the order of dequantize-then-dot. */
static float dot_plain(uint32_t type, const uint8_t *s, const float *x, int64_t n)
{
    float sum = 0.0f;
    if (type == PDVM_TYPE_F32) {
        for (int64_t i = 0; i < n; i++) sum += f32_at(s + 4 * i) * x[i];
    } else if (type == PDVM_TYPE_F16) {
        for (int64_t i = 0; i < n; i++) sum += pdvm_f16_to_f32(u16_at(s + 2 * i)) * x[i];
    } else {
        for (int64_t i = 0; i < n; i++) sum += pdvm_bf16_to_f32(u16_at(s + 2 * i)) * x[i];
    }
    return sum;
}

float pdvm_dot_row(uint32_t type, const void *row, const float *x, int64_t n)
{
    const type_info *t = info(type);
    const uint8_t *s = row;
    if (t->block_elems == 1) return dot_plain(type, s, x, n);
    float buf[PDVM_MAX_BLOCK_ELEMS], sum = 0.0f;
    const int64_t be = t->block_elems;
    for (int64_t i = 0; i < n; i += be, s += t->block_bytes) {
        t->decode(s, buf);
        for (int64_t j = 0; j < be; j++) sum += buf[j] * x[i + j];
    }
    return sum;
}

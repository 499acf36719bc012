/* The memory budget check (mem_budget.h). */
#include "mem_budget.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "gpu_state.h"
#include "util.h"

uint64_t pdvm_meminfo_available(const char *text)
{
    const char *p = strstr(text, "MemAvailable:");
    if (!p || (p != text && p[-1] != '\n')) return 0;
    char *end;
    unsigned long long kib = strtoull(p + strlen("MemAvailable:"), &end, 10);
    return strncmp(end, " kB", 3) == 0 ? (uint64_t)kib * 1024 : 0;
}

static uint64_t proc_mem_available(void)
{
    char buf[4096];
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f) return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return pdvm_meminfo_available(buf);
}

pdvm_status pdvm_mem_available(pdvm_gl *gl, pdvm_mem_avail *out)
{
    uint32_t mib = UINT32_MAX;
    PDVM_TRY(pdvm_env_u32("PDVM_MEM_AVAILABLE_MIB", 0, UINT32_MAX - 1, false, &mib));
    if (mib != UINT32_MAX) {
        *out = (pdvm_mem_avail){(uint64_t)mib << 20, "PDVM_MEM_AVAILABLE_MIB"};
        return PDVM_OK;
    }
    if (pdvm_gl_free_memory(gl, &out->bytes, &out->source)) return PDVM_OK;
    *out = (pdvm_mem_avail){proc_mem_available(), "MemAvailable"};
    return PDVM_OK;
}

/* "3.90 GiB" or "412.5 MiB". */
static const char *size_text(uint64_t bytes, char *buf, size_t cap)
{
    double mib = (double)bytes / 1048576.0;
    if (mib >= 1024.0) snprintf(buf, cap, "%.2f GiB", mib / 1024.0);
    else snprintf(buf, cap, "%.1f MiB", mib);
    return buf;
}

pdvm_status pdvm_mem_check(const pdvm_mem_need *need, const pdvm_mem_avail *avail)
{
    uint64_t fixed = need->weights + need->scratch, total = fixed + need->kv;
    if (avail->bytes == 0 || total <= avail->bytes) return PDVM_OK;
    uint64_t fit = avail->bytes > fixed && need->kv_per_pos ? (avail->bytes - fixed) / need->kv_per_pos
                                                            : 0;
    uint32_t ctx = 64;
    while ((uint64_t)ctx * 2 <= fit && ctx < (1u << 30)) ctx *= 2;
    bool seqs = need->n_seq > 1;
    const char *fewer = seqs ? "fewer sequences or " : "";
    char advice[80], ctx_text[48];
    if (fit >= 64) snprintf(advice, sizeof advice, "try -c %u%s %sa smaller type", ctx,
                            seqs ? "," : " or", fewer);
    else snprintf(advice, sizeof advice, "try %sa smaller type", fewer);
    if (seqs) snprintf(ctx_text, sizeof ctx_text, "%u x %u sequences", need->n_ctx, need->n_seq);
    else snprintf(ctx_text, sizeof ctx_text, "%u", need->n_ctx);
    char t[32], w[32], k[32], sc[32], a[32];
    return pdvm_fail(PDVM_ERR_NOMEM, "not enough memory: needs %s (weights %s, KV cache %s for "
                     "n_ctx %s, scratch %s), %s available (%s); %s",
                     size_text(total, t, sizeof t), size_text(need->weights, w, sizeof w),
                     size_text(need->kv, k, sizeof k), ctx_text,
                     size_text(need->scratch, sc, sizeof sc), size_text(avail->bytes, a, sizeof a),
                     avail->source, advice);
}

pdvm_status gpu_check_budget(gpu_state *s)
{
    const pdvm_hparams *hp = &s->m->hp;
    pdvm_mem_need need = {
        .weights = s->wp.total_bytes, .kv = s->kvp.total_bytes,
        .scratch = (uint64_t)s->ap.n_floats * 4, .n_ctx = s->n_ctx, .n_seq = s->n_seq,
        /* K and V in f16, in every sequence */
        .kv_per_pos = 2ull * 2 * hp->n_layer * hp->n_head_kv * hp->head_dim * s->n_seq,
    };
    if (s->unfused) { /* the score buffers the unfused chain adds */
        gpu_score_plan sp;
        PDVM_TRY(gpu_plan_scores(hp, s->n_ctx, s->block, &sp));
        need.scratch += sp.buf_bytes * sp.n_bufs;
    }
    pdvm_mem_avail avail;
    PDVM_TRY(pdvm_mem_available(s->gl, &avail));
    return pdvm_mem_check(&need, &avail);
}

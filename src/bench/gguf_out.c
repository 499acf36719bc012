#include "gguf_out.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"

static void put(gguf_out *g, const void *p, size_t n)
{
    if (g->st != PDVM_OK || n == 0) return;
    if (fwrite(p, 1, n, g->f) != n)
        g->st = pdvm_fail(PDVM_ERR_IO, "writing %s: %s", g->path, strerror(errno));
}

/* Little-endian on every host: byte by byte. */
static void put_le(gguf_out *g, uint64_t v, int bytes)
{
    uint8_t b[8];
    for (int i = 0; i < bytes; i++) b[i] = (uint8_t)(v >> (8 * i));
    put(g, b, (size_t)bytes);
}

pdvm_status gguf_out_open(gguf_out *g, const char *path)
{
    *g = (gguf_out){.path = path};
    g->f = fopen(path, "wb");
    if (!g->f) return pdvm_fail(PDVM_ERR_IO, "cannot create %s: %s", path, strerror(errno));
    put(g, "GGUF", 4);
    put_le(g, 3, 4);
    put_le(g, 0, 8);
    put_le(g, 0, 8);
    return g->st;
}

void gguf_out_str(gguf_out *g, const char *s)
{
    size_t n = strlen(s);
    put_le(g, n, 8);
    put(g, s, n);
}

void gguf_out_raw(gguf_out *g, const void *p, size_t n) { put(g, p, n); }

static void key(gguf_out *g, const char *k, uint32_t type)
{
    g->n_kv++;
    gguf_out_str(g, k);
    put_le(g, type, 4);
}

void gguf_out_kv_u32(gguf_out *g, const char *k, uint32_t v)
{
    key(g, k, GGUF_OUT_U32);
    put_le(g, v, 4);
}

void gguf_out_kv_f32(gguf_out *g, const char *k, float v)
{
    uint32_t bits;
    memcpy(&bits, &v, 4);
    key(g, k, GGUF_OUT_F32);
    put_le(g, bits, 4);
}

void gguf_out_kv_str(gguf_out *g, const char *k, const char *v)
{
    key(g, k, GGUF_OUT_STR);
    gguf_out_str(g, v);
}

void gguf_out_kv_arr(gguf_out *g, const char *k, uint32_t elem_type, uint64_t n)
{
    key(g, k, GGUF_OUT_ARR);
    put_le(g, elem_type, 4);
    put_le(g, n, 8);
}

void gguf_out_tensor_info(gguf_out *g, const char *name, uint32_t n_dims, const int64_t *ne,
                          uint32_t type, uint64_t nbytes)
{
    g->n_tensors++;
    gguf_out_str(g, name);
    put_le(g, n_dims, 4);
    for (uint32_t i = 0; i < n_dims; i++) put_le(g, (uint64_t)ne[i], 8);
    put_le(g, type, 4);
    put_le(g, g->data_offset, 8);
    g->data_offset += (nbytes + GGUF_OUT_ALIGN - 1) / GGUF_OUT_ALIGN * GGUF_OUT_ALIGN;
}

void gguf_out_align(gguf_out *g)
{
    static const uint8_t zeros[GGUF_OUT_ALIGN];
    if (g->st != PDVM_OK) return;
    long pos = ftell(g->f);
    if (pos < 0) {
        g->st = pdvm_fail(PDVM_ERR_IO, "writing %s: %s", g->path, strerror(errno));
        return;
    }
    put(g, zeros, (size_t)((GGUF_OUT_ALIGN - pos % GGUF_OUT_ALIGN) % GGUF_OUT_ALIGN));
}

void gguf_out_end_header(gguf_out *g)
{
    if (g->st != PDVM_OK) return;
    if (fseek(g->f, 8, SEEK_SET) != 0) {
        g->st = pdvm_fail(PDVM_ERR_IO, "writing %s: %s", g->path, strerror(errno));
        return;
    }
    put_le(g, g->n_tensors, 8);
    put_le(g, g->n_kv, 8);
    if (g->st == PDVM_OK && fseek(g->f, 0, SEEK_END) != 0)
        g->st = pdvm_fail(PDVM_ERR_IO, "writing %s: %s", g->path, strerror(errno));
    gguf_out_align(g);
}

pdvm_status gguf_out_close(gguf_out *g)
{
    if (!g->f) return g->st;
    struct stat sb;
    bool regular = fstat(fileno(g->f), &sb) == 0 && S_ISREG(sb.st_mode);
    if (fclose(g->f) != 0 && g->st == PDVM_OK)
        g->st = pdvm_fail(PDVM_ERR_IO, "writing %s: %s", g->path, strerror(errno));
    g->f = NULL;
    if (g->st != PDVM_OK && regular) unlink(g->path); /* never a device node */
    return g->st;
}

/* Opening a GGUF file as mapped, read or locked bytes, and the one-pass
 * window over its tensors (gguf_source.h). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "gguf_impl.h"
#include "gguf_source.h"

static pdvm_status pread_full(int fd, uint8_t *dst, uint64_t n, uint64_t off)
{
    while (n > 0) {
        size_t want = n > (1u << 30) ? (size_t)1 << 30 : (size_t)n;
        ssize_t r = pread(fd, dst, want, (off_t)off);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0)
            return pdvm_fail(PDVM_ERR_IO, "reading %" PRIu64 " bytes at file byte %" PRIu64 ": %s",
                             n, off, r < 0 ? strerror(errno) : "end of file (it shrank)");
        dst += r, n -= (uint64_t)r, off += (uint64_t)r;
    }
    return PDVM_OK;
}

/* The 1-D tensors (norms, biases, RoPE factors), which the CPU side of a
 * GPU session reads through their pointers. */
static pdvm_status read_vectors(pdvm_gguf *g)
{
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const gguf_tensor *t = &g->tensors[i];
        if (t->ne[1] * t->ne[2] * t->ne[3] != 1) continue;
        PDVM_TRY(pread_full(g->fd, (uint8_t *)t->data, t->nbytes, g->data_offset + t->offset));
    }
    return PDVM_OK;
}

/* Replace a handle parsed over the map by one parsed over an anonymous
 * region holding the header and the 1-D tensors; the map goes. The second
 * parse sees the same bytes, so it validates the same. */
static pdvm_status reopen_read(pdvm_gguf **g, int fd)
{
    uint64_t size = (*g)->size, head = (*g)->data_offset < size ? (*g)->data_offset : size;
    /* NORESERVE: the region costs memory only where it is written. */
    void *a = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (a == MAP_FAILED)
        return pdvm_fail(PDVM_ERR_NOMEM, "no-mmap: %" PRIu64 " bytes of address space: %s", size,
                         strerror(errno));
    pdvm_gguf *r = NULL;
    pdvm_status st = pread_full(fd, a, head, 0);
    if (st == PDVM_OK) st = pdvm_gguf_parse(a, size, &r);
    if (st != PDVM_OK) {
        munmap(a, (size_t)size);
        return st;
    }
    r->src = GGUF_SRC_READ;
    r->fd = fd;
    pdvm_gguf_close(*g);
    *g = r;
    return read_vectors(r);
}

static pdvm_status lock_all(pdvm_gguf *g)
{
    PDVM_TRY(pdvm_gguf_load_data(g));
    if (mlock(g->base, (size_t)g->size) == 0) return g->locked = true, PDVM_OK;
    int err = errno;
    struct rlimit rl = {0, 0};
    getrlimit(RLIMIT_MEMLOCK, &rl);
    char lim[32] = "unlimited";
    if (rl.rlim_cur != RLIM_INFINITY)
        snprintf(lim, sizeof lim, "%llu KiB", (unsigned long long)rl.rlim_cur / 1024);
    return pdvm_fail(PDVM_ERR_NOMEM, "mlock of %.1f MiB failed: %s (RLIMIT_MEMLOCK is %s; "
                     "raise it with ulimit -l)", (double)g->size / 1048576.0, strerror(err), lim);
}

/* The file as a regular, non-empty file, or an error. */
static pdvm_status open_file(const char *path, int *fd, uint64_t *size)
{
    /* O_NONBLOCK: a FIFO would block in open() until a writer came; it is
     * refused by the regular-file check below instead. */
    *fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (*fd < 0) return pdvm_fail(PDVM_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    pdvm_status st = PDVM_OK;
    if (fstat(*fd, &sb) != 0 || !S_ISREG(sb.st_mode))
        st = pdvm_fail(PDVM_ERR_IO, "%s: not a regular file (a GGUF model is a file)", path);
    else if (sb.st_size == 0)
        st = pdvm_fail(PDVM_ERR_FORMAT, "%s: empty file (0 bytes), not GGUF", path);
    if (st != PDVM_OK) {
        close(*fd);
        return st;
    }
    *size = (uint64_t)sb.st_size;
    return PDVM_OK;
}

pdvm_status pdvm_gguf_open_opts(const char *path, bool use_mmap, bool use_mlock,
                                pdvm_gguf **out)
{
    if (!path || !out) return pdvm_fail(PDVM_ERR_INVALID_ARG, "pdvm_gguf_open: NULL argument");
    *out = NULL;
    int fd = -1;
    uint64_t size = 0;
    PDVM_TRY(open_file(path, &fd, &size));
    /* Mapped in both modes to parse: parsing touches only the header. */
    void *p = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
        int err = errno;
        close(fd);
        return pdvm_fail(PDVM_ERR_IO, "%s: mmap failed: %s", path, strerror(err));
    }
    pdvm_gguf *g = NULL;
    pdvm_status st = pdvm_gguf_parse(p, size, &g);
    if (st == PDVM_OK) g->src = GGUF_SRC_MAP;
    else munmap(p, (size_t)size);
    if (st == PDVM_OK && !use_mmap) st = reopen_read(&g, fd);
    if (!g || g->fd != fd) close(fd);
    if (st == PDVM_OK && use_mlock) st = lock_all(g);
    if (st != PDVM_OK) {
        pdvm_gguf_close(g);
        return pdvm_fail_prefix(st, "%s", path);
    }
    *out = g;
    return PDVM_OK;
}

pdvm_status pdvm_gguf_open(const char *path, pdvm_gguf **out)
{
    return pdvm_gguf_open_opts(path, true, false, out);
}

void pdvm_gguf_source_close(pdvm_gguf *g)
{
    if (g->src == GGUF_SRC_MAP || g->src == GGUF_SRC_READ) munmap((void *)g->base, (size_t)g->size);
    if (g->fd >= 0) close(g->fd);
}

pdvm_status pdvm_gguf_load_data(pdvm_gguf *g)
{
    if (!g || g->src != GGUF_SRC_READ || atomic_load(&g->loaded)) return PDVM_OK;
    pthread_mutex_lock(&g->load_mu);
    pdvm_status st = PDVM_OK;
    if (!atomic_load(&g->loaded) && g->data_offset < g->size) {
        st = pread_full(g->fd, (uint8_t *)g->base + g->data_offset, g->size - g->data_offset,
                        g->data_offset);
        if (st == PDVM_OK) atomic_store(&g->loaded, true);
    }
    pthread_mutex_unlock(&g->load_mu);
    return st;
}

void gguf_window_free(gguf_window *w)
{
    free(w->staging);
    w->staging = NULL;
    w->cap = 0;
}

pdvm_status gguf_window_get(gguf_window *w, const void *p, uint64_t n, const void **out)
{
    const pdvm_gguf *g = w->g;
    *out = p;
    if (!g || g->src != GGUF_SRC_READ || atomic_load(&g->loaded)) return PDVM_OK;
    uint64_t off = (uint64_t)((const uint8_t *)p - g->base);
    if ((const uint8_t *)p < g->base || off < g->data_offset || off > g->size ||
        n > g->size - off)
        return pdvm_fail(PDVM_ERR_INVALID_ARG, "%" PRIu64 " bytes outside the file's data", n);
    if (n > w->cap) {
        uint8_t *b = realloc(w->staging, (size_t)n);
        if (!b) return pdvm_fail(PDVM_ERR_NOMEM, "staging %" PRIu64 " bytes", n);
        w->staging = b;
        w->cap = (size_t)n;
    }
    PDVM_TRY(pread_full(g->fd, w->staging, n, off));
    *out = w->staging;
    return PDVM_OK;
}

void gguf_window_release(gguf_window *w, const void *p, uint64_t n)
{
    const pdvm_gguf *g = w->g;
    if (!g || g->src != GGUF_SRC_MAP || g->locked || n == 0) return;
    const uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    const uintptr_t base = (uintptr_t)g->base, end = (base + g->size + page - 1) & ~(page - 1);
    uintptr_t lo = (uintptr_t)p & ~(page - 1), hi = ((uintptr_t)p + n + page - 1) & ~(page - 1);
    if (lo < base) lo = base;
    if (hi > end) hi = end;
    /* A failure leaves the pages resident: more memory, nothing wrong. */
    if (lo < hi) madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

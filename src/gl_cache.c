/* Program binaries on disk, so a slow board compiles each shader variant
 * once. An entry: header (magic, key, format, size, checksum) then the
 * driver's binary. Anything that does not check out is a miss. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gl_internal.h"

static const char cache_magic[8] = {'P', 'D', 'V', 'M', 'P', 'B', '0', '1'};
enum { MAX_BINARY_BYTES = 64 << 20 };

typedef struct cache_header {
    char magic[8];
    uint64_t key;
    uint32_t format;
    uint32_t size;
    uint64_t checksum;
} cache_header;

bool pdvm_gl_cache_dir(char *buf, size_t cap)
{
    const char *off = getenv("PDVM_NO_SHADER_CACHE");
    if (off && *off && strcmp(off, "0") != 0) return false;
    const char *xdg = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    int n;
    if (xdg && *xdg == '/') n = snprintf(buf, cap, "%s/pdvm", xdg);
    else if (home && *home) n = snprintf(buf, cap, "%s/.cache/pdvm", home);
    else return false;
    return n > 0 && (size_t)n < cap;
}

void pdvm_gl_cache_path(const char *dir, uint64_t key, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/%016llx.bin", dir, (unsigned long long)key);
}

/* A regular file opened for reading; anything else (a FIFO would block
 * in open() until a writer came, a device, a directory) is a miss. */
static FILE *open_regular(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return NULL;
    struct stat sb;
    FILE *f = fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) ? fdopen(fd, "rb") : NULL;
    if (!f) close(fd);
    return f;
}

bool pdvm_gl_cache_load(const char *path, uint64_t key, pdvm_gl_blob *out)
{
    memset(out, 0, sizeof *out);
    FILE *f = open_regular(path);
    if (!f) return false;
    cache_header h;
    bool ok = fread(&h, sizeof h, 1, f) == 1 && !memcmp(h.magic, cache_magic, sizeof h.magic) &&
              h.key == key && h.size > 0 && h.size <= MAX_BINARY_BYTES;
    void *data = ok ? malloc(h.size) : NULL;
    ok = data && fread(data, 1, h.size, f) == h.size && fgetc(f) == EOF &&
         pdvm_fnv1a64(0, data, h.size) == h.checksum;
    fclose(f);
    if (!ok) {
        free(data);
        return false;
    }
    *out = (pdvm_gl_blob){h.format, h.size, data};
    return true;
}

/* mkdir -p for the cache directory. */
static bool make_dirs(const char *path)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp) return false;
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return false;
        *p = '/';
    }
    return mkdir(tmp, 0755) == 0 || errno == EEXIST;
}

bool pdvm_gl_cache_store(const char *path, uint64_t key, const pdvm_gl_blob *blob)
{
    char dir[4096], tmp[4160];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash || blob->size == 0 || blob->size > MAX_BINARY_BYTES) return false;
    *slash = '\0';
    if (!make_dirs(dir)) return false;
    /* Unique per process, then renamed: concurrent builds never read a
     * half-written entry. */
    snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
    cache_header h = {.key = key, .format = blob->format, .size = blob->size,
                      .checksum = pdvm_fnv1a64(0, blob->data, blob->size)};
    memcpy(h.magic, cache_magic, sizeof h.magic);
    FILE *f = fopen(tmp, "wb");
    if (!f) return false;
    bool ok = fwrite(&h, sizeof h, 1, f) == 1 && fwrite(blob->data, 1, blob->size, f) == blob->size;
    ok = (fclose(f) == 0) && ok && rename(tmp, path) == 0;
    if (!ok) remove(tmp);
    return ok;
}

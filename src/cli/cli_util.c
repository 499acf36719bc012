/* What every subcommand shares: exit codes, error lines, checked writes to
 * stdout, whole-file reads and the progress line. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

int pdvm_cli_exit_code(pdvm_status st)
{
    switch (st) {
    case PDVM_OK: return PDVM_EXIT_OK;
    case PDVM_ERR_INVALID_ARG: return PDVM_EXIT_USAGE;
    case PDVM_ERR_IO:
    case PDVM_ERR_FORMAT:
    case PDVM_ERR_UNSUPPORTED: return PDVM_EXIT_MODEL;
    case PDVM_ERR_NO_PLATFORM: return PDVM_EXIT_PLATFORM;
    default: return PDVM_EXIT_FAIL;
    }
}

int pdvm_cli_fail(const char *cmd, pdvm_status st)
{
    fprintf(stderr, "pdvm %s: %s\n", cmd, pdvm_last_error());
    return pdvm_cli_exit_code(st);
}

bool pdvm_cli_write(const char *cmd, const void *p, size_t n)
{
    errno = 0;
    if ((n == 0 || fwrite(p, 1, n, stdout) == n) && fflush(stdout) == 0 && !ferror(stdout))
        return true;
    fprintf(stderr, "pdvm %s: writing to standard output: %s\n", cmd,
            errno ? strerror(errno) : "write failed");
    return false;
}

char *pdvm_cli_read_file(const char *cmd, const char *path, size_t *len)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f) {
        fprintf(stderr, "pdvm %s: %s: %s\n", cmd, path, strerror(errno));
        return NULL;
    }
    size_t n = 0, cap = 1 << 16;
    char *buf = malloc(cap);
    for (size_t r; buf && (r = fread(buf + n, 1, cap - n - 1, f)) > 0;) {
        n += r;
        if (cap - n < 2) {
            char *nb = cap < ((size_t)1 << 30) ? realloc(buf, cap * 2) : NULL;
            if (!nb) free(buf);
            buf = nb;
            cap *= 2;
        }
    }
    bool bad = !buf || ferror(f);
    if (f != stdin) fclose(f);
    if (bad) {
        fprintf(stderr, "pdvm %s: %s: %s\n", cmd, path, buf ? "read error" : "too large");
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

double pdvm_cli_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void pdvm_cli_progress_cb(const char *stage, uint64_t done, uint64_t total, void *user)
{
    pdvm_cli_progress *p = user;
    double now = pdvm_cli_now_s();
    if (strncmp(p->stage, stage, sizeof p->stage - 1) != 0) {
        snprintf(p->stage, sizeof p->stage, "%s", stage);
        p->t_start = now;
        p->t_last = 0;
        p->shown = false;
    }
    bool finished = done >= total;
    /* Quiet when the stage is quick; at most four updates a second. */
    if (now - p->t_start < 1.0 || (!finished && now - p->t_last < 0.25)) return;
    bool bytes = !strcmp(stage, "uploading weights");
    if (bytes)
        fprintf(stderr, "\rpdvm %s: %s %llu / %llu MiB", p->cmd, stage,
                (unsigned long long)(done >> 20), (unsigned long long)(total >> 20));
    else
        fprintf(stderr, "\rpdvm %s: %s %llu/%llu", p->cmd, stage, (unsigned long long)done,
                (unsigned long long)total);
    p->t_last = now;
    p->shown = true;
    if (finished) fputc('\n', stderr);
}

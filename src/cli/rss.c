/* The process's peak resident set, which `pdvm run` and `pdvm bench`
 * report next to the GPU memory they allocated: on a GPU that shares the
 * RAM (and on llvmpipe) the GPU's buffers are part of it, so it is what a
 * board must have free. */
#include <stdio.h>
#include <sys/resource.h>

#include "cli.h"

double pdvm_cli_peak_rss_mib(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0.0;
    return (double)ru.ru_maxrss / 1024.0; /* Linux: KiB */
}

bool pdvm_cli_peak_rss_reset(void)
{
    /* "5" resets the peak to the current resident set (Linux 4.0+,
     * Documentation/filesystems/proc.rst, clear_refs). */
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f) return false;
    bool ok = fputs("5", f) >= 0;
    return fclose(f) == 0 && ok;
}

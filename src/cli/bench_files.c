/* pdvm bench --compare and --plot: results files in, no device. */
#include <errno.h>
#include <string.h>

#include "bench.h"
#include "bench_compare.h"
#include "cli.h"

static bool load(const char *path, bench_recs *r)
{
    char err[512];
    if (bench_recs_load(path, r, err, sizeof err)) return true;
    fprintf(stderr, "pdvm bench: %s\n", err);
    return false;
}

/* The markdown page beside it: the chart is the .svg of the same stem in
 * the same folder (what make bench writes). */
static bool write_md(const bench_opts *o, const bench_cmp *c)
{
    FILE *f = fopen(o->md_path, "w");
    if (!f) {
        fprintf(stderr, "pdvm bench: cannot write %s: %s\n", o->md_path, strerror(errno));
        return false;
    }
    bench_cmp_print(f, c, true, o->md_chart);
    if (fclose(f) != 0) {
        fprintf(stderr, "pdvm bench: writing %s: %s\n", o->md_path, strerror(errno));
        return false;
    }
    return true;
}

int bench_compare_files(const bench_opts *o)
{
    bench_recs base, cur;
    if (!load(o->compare, &base)) return PDVM_EXIT_USAGE;
    if (!load(o->current, &cur)) return bench_recs_free(&base), PDVM_EXIT_USAGE;
    bench_cmp c;
    int rc = PDVM_EXIT_OK;
    if (!bench_compare(&base, &cur, o->min_band, o->current_mode, &c)) {
        fprintf(stderr, "pdvm bench: out of memory\n");
        rc = PDVM_EXIT_FAIL;
    } else {
        printf("pdvm bench: %s (now) against %s (baseline)\n", o->current, o->compare);
        bench_cmp_print(stdout, &c, false, NULL);
        if (o->md_path && !write_md(o, &c)) rc = PDVM_EXIT_FAIL;
        if (c.n_slower) {
            fprintf(stderr, "pdvm bench: %zu rows slower than %s beyond the noise band\n",
                    c.n_slower, o->compare);
            rc = PDVM_EXIT_FAIL;
        }
        bench_cmp_free(&c);
    }
    bench_recs_free(&base);
    bench_recs_free(&cur);
    return rc;
}

int bench_plot_file(const bench_opts *o)
{
    bench_recs r;
    if (!load(o->plot, &r)) return PDVM_EXIT_USAGE;
    bench_plot_data(stdout, &r);
    bench_recs_free(&r);
    return fflush(stdout) == 0 ? PDVM_EXIT_OK : PDVM_EXIT_FAIL;
}

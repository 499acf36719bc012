/* pdvm info [--platform P] [--json]: which EGL platform and device were
 * chosen (and why not the others), the driver, every limit the engine
 * relies on, and measured bandwidth and dispatch latency. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "error.h"
#include "info.h"

/* 256 MiB, or the largest SSBO the driver allows (DESIGN.md: 128 MiB on
 * llvmpipe and many embedded drivers). */
static const uint64_t bandwidth_bytes = (uint64_t)256 << 20;

static void usage(FILE *f)
{
    fprintf(f, "usage: pdvm info [--platform gbm|device|surfaceless] [--json]\n"
               "  Show the EGL platform and device chosen (and why the others were not),\n"
               "  the GL driver, its compute limits, subgroup and timer-query support,\n"
               "  and the measured SSBO read bandwidth and dependent-dispatch latency.\n"
               "  PDVM_LIMITS=minimum shows the limits the engine then runs under.\n");
}

typedef struct info_args {
    const char *platform;
    bool json;
} info_args;

/* Returns -1 to go on, else the exit code. */
static int parse_args(int argc, char **argv, info_args *a)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) {
            a->json = true;
        } else if (!strcmp(argv[i], "--platform") && i + 1 < argc) {
            a->platform = argv[++i];
        } else if (!strncmp(argv[i], "--platform=", 11)) {
            a->platform = argv[i] + 11;
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return PDVM_EXIT_OK;
        } else {
            fprintf(stderr, "pdvm info: unknown or incomplete option '%s'\n", argv[i]);
            usage(stderr);
            return PDVM_EXIT_USAGE;
        }
    }
    return -1;
}

static void measure(pdvm_gl *gl, pdvm_info_report *r)
{
    uint64_t max = (uint64_t)pdvm_gl_get_limits(gl)->max_ssbo_bytes;
    r->bandwidth_bytes = bandwidth_bytes < max ? bandwidth_bytes : max;
    if (pdvm_gl_measure_bandwidth(gl, r->bandwidth_bytes, &r->bandwidth_gbps) != PDVM_OK)
        snprintf(r->bandwidth_error, sizeof r->bandwidth_error, "%s", pdvm_last_error());
    if (pdvm_gl_measure_latency(gl, &r->latency_us) != PDVM_OK)
        snprintf(r->latency_error, sizeof r->latency_error, "%s", pdvm_last_error());
}

int pdvm_cli_info(int argc, char **argv)
{
    info_args a = {0};
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0) return rc;
    pdvm_gl *gl = NULL;
    pdvm_status st = pdvm_gl_open(a.platform, &gl);
    if (st != PDVM_OK) {
        fprintf(stderr, "pdvm info: %s\n", pdvm_last_error());
        return pdvm_cli_exit_code(st);
    }
    pdvm_info_report r = {.gl = gl};
    measure(gl, &r);
    if (a.json) st = pdvm_info_print_json(stdout, &r);
    else pdvm_info_print_text(stdout, &r);
    pdvm_gl_close(gl);
    if (st != PDVM_OK) fprintf(stderr, "pdvm info: %s\n", pdvm_last_error());
    if (r.bandwidth_error[0]) fprintf(stderr, "pdvm info: %s\n", r.bandwidth_error);
    if (r.latency_error[0]) fprintf(stderr, "pdvm info: %s\n", r.latency_error);
    bool failed = st != PDVM_OK || r.bandwidth_error[0] || r.latency_error[0];
    return failed ? PDVM_EXIT_FAIL : PDVM_EXIT_OK;
}

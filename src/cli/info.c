/* pdvm info [--platform P] [--json]: which EGL platform and device were
 * chosen (and why not the others), the driver, every limit the engine
 * relies on, and measured bandwidth and dispatch latency. */
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "cli.h"
#include "info.h"

/* 256 MiB, or the largest SSBO the driver allows (DESIGN.md: 128 MiB on
 * llvmpipe and many embedded drivers). */
static const uint64_t bandwidth_bytes = (uint64_t)256 << 20;

typedef struct info_args {
    const char *platform;
    bool json, extensions;
} info_args;

/* Returns -1 to go on, else the exit code. */
static int parse_args(int argc, char **argv, info_args *a)
{
    const pdvm_arg args[] = {
        {NULL, "--platform", PDVM_ARG_STR, &a->platform, 0, 0, "P", "gbm, device or surfaceless"},
        {NULL, "--json", PDVM_ARG_FLAG, &a->json, 0, 0, NULL, "machine-readable output"},
        {NULL, "--extensions", PDVM_ARG_FLAG, &a->extensions, 0, 0, NULL,
         "list the driver's GL extensions, one a line, and nothing else"},
    };
    const size_t n_args = sizeof args / sizeof args[0];
    const char *synopsis =
        "[--platform P] [--json | --extensions]\n  Show the EGL platform and device chosen (and why the others "
        "were not),\n  the GL driver, its compute limits, subgroup and timer-query support,\n  "
        "and the measured SSBO read bandwidth and dependent-dispatch latency.\n  "
        "PDVM_LIMITS=minimum shows the limits the engine then runs under.";
    int r = pdvm_args_parse("info", args, n_args, argc, argv);
    if (r == PDVM_ARGS_HELP) return pdvm_args_usage(stdout, "info", synopsis, args, n_args), 0;
    return r == PDVM_ARGS_OK ? -1 : PDVM_EXIT_USAGE;
}

static void measure(pdvm_device *d, pdvm_info_report *r)
{
    uint64_t max = (uint64_t)r->in->limits.max_ssbo_bytes;
    r->bandwidth_bytes = bandwidth_bytes < max ? bandwidth_bytes : max;
    if (pdvm_device_measure_bandwidth(d, r->bandwidth_bytes, &r->bandwidth_gbps) != PDVM_OK)
        snprintf(r->bandwidth_error, sizeof r->bandwidth_error, "%s", pdvm_last_error());
    if (pdvm_device_measure_latency(d, &r->latency_us) != PDVM_OK)
        snprintf(r->latency_error, sizeof r->latency_error, "%s", pdvm_last_error());
}

int pdvm_cli_info(int argc, char **argv)
{
    info_args a = {0};
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0) return rc;
    pdvm_device *d = NULL;
    pdvm_status st = pdvm_device_open(a.platform, &d);
    if (st != PDVM_OK) return pdvm_cli_fail("info", st);
    if (a.extensions) {
        for (size_t i = 0; pdvm_device_extension(d, i); i++) puts(pdvm_device_extension(d, i));
        pdvm_device_close(d);
        return PDVM_EXIT_OK;
    }
    pdvm_info_report r = {.in = pdvm_device_get_info(d)};
    measure(d, &r);
    if (a.json) st = pdvm_info_print_json(stdout, &r);
    else pdvm_info_print_text(stdout, &r);
    pdvm_device_close(d);
    if (st != PDVM_OK) fprintf(stderr, "pdvm info: out of memory building the JSON\n");
    if (r.bandwidth_error[0]) fprintf(stderr, "pdvm info: %s\n", r.bandwidth_error);
    if (r.latency_error[0]) fprintf(stderr, "pdvm info: %s\n", r.latency_error);
    bool failed = st != PDVM_OK || r.bandwidth_error[0] || r.latency_error[0];
    return failed ? PDVM_EXIT_FAIL : PDVM_EXIT_OK;
}

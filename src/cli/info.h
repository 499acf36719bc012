/* `pdvm info`: what was measured and read, and its two renderings. */
#ifndef PDVM_CLI_INFO_H
#define PDVM_CLI_INFO_H

#include <stdio.h>

#include "pdvm.h"

typedef struct pdvm_info_report {
    const pdvm_device_info *in;
    uint64_t bandwidth_bytes; /* buffer size the bandwidth was read over */
    double bandwidth_gbps;    /* 0 when the measurement failed */
    double latency_us;        /* 0 when the measurement failed */
    char bandwidth_error[256], latency_error[256]; /* "" when it worked */
} pdvm_info_report;

void pdvm_info_print_text(FILE *f, const pdvm_info_report *r);
/* Errors: PDVM_ERR_NOMEM when json-c cannot build the document. */
pdvm_status pdvm_info_print_json(FILE *f, const pdvm_info_report *r);

#endif

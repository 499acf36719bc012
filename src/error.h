/* Failure reporting: every module sets the thread-local message through
 * pdvm_fail and returns its status, so callers only propagate. */
#ifndef PDVM_ERROR_H
#define PDVM_ERROR_H

#include "pdvm.h"

/* Record a printf-style message for pdvm_last_error() and return st. */
pdvm_status pdvm_fail(pdvm_status st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prefix the current message with "context: " (used while unwinding, e.g.
 * "blk.3.attn_q.weight: ..."). Returns st. */
pdvm_status pdvm_fail_prefix(pdvm_status st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define PDVM_TRY(expr)                                                       \
    do {                                                                     \
        pdvm_status pdvm_try_st_ = (expr);                                   \
        if (pdvm_try_st_ != PDVM_OK) return pdvm_try_st_;                    \
    } while (0)

#endif

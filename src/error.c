#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Thread-local by design (DESIGN.md, Errors): the only mutable state outside
 * a context object, so that functions without a context can still explain. */
static _Thread_local char last_error[1024];

const char *pdvm_last_error(void) { return last_error; }

void pdvm_clear_error(void) { last_error[0] = '\0'; }

pdvm_status pdvm_fail(pdvm_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return st;
}

pdvm_status pdvm_fail_prefix(pdvm_status st, const char *fmt, ...)
{
    char prefix[256], old[sizeof last_error];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, last_error, sizeof old);
    snprintf(last_error, sizeof last_error, "%s: %s", prefix, old);
    return st;
}

const char *pdvm_status_str(pdvm_status st)
{
    switch (st) {
    case PDVM_OK: return "ok";
    case PDVM_ERR_INVALID_ARG: return "invalid argument";
    case PDVM_ERR_IO: return "i/o error";
    case PDVM_ERR_FORMAT: return "format error";
    case PDVM_ERR_UNSUPPORTED: return "unsupported";
    case PDVM_ERR_NOMEM: return "out of memory";
    case PDVM_ERR_NO_PLATFORM: return "no EGL platform";
    case PDVM_ERR_GPU: return "GPU error";
    case PDVM_ERR_CONTEXT_FULL: return "context full";
    }
    return "unknown status";
}

#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Thread-local by design (DESIGN.md, Errors): the only mutable state outside
 * a context object, so that functions without a context can still explain. */
static _Thread_local char last_error[1024];

const char *pdvm_last_error(void) { return last_error; }

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
    /* Truncation is acceptable: the message is for people. */
    size_t n = strlen(prefix);
    if (n > sizeof last_error - 3) n = sizeof last_error - 3;
    memcpy(last_error, prefix, n);
    memcpy(last_error + n, ": ", 2);
    size_t rest = sizeof last_error - n - 3;
    size_t m = strnlen(old, rest);
    memcpy(last_error + n + 2, old, m);
    last_error[n + 2 + m] = '\0';
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

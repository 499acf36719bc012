/* Compiler and linker logs in terms of our files: the embedded sources
 * carry #line directives with a file number, and drivers print that number
 * where a file name would be (Mesa "3:12(5): error", NVIDIA "3(12) : error"). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gl_internal.h"
#include "shaders.h"

/* Parse "k:line(" or "k(line)" at the start of s; returns the length of the
 * location prefix including the following ": " or " : ", 0 when none. */
static size_t parse_location(const char *s, long *k, long *line)
{
    char *end;
    if (!isdigit((unsigned char)s[0])) return 0;
    *k = strtol(s, &end, 10);
    if (*end == ':' && isdigit((unsigned char)end[1])) {
        *line = strtol(end + 1, &end, 10);
        if (*end == '(') end = strchr(end, ')');
        if (!end) return 0;
        end++;
    } else if (*end == '(' && isdigit((unsigned char)end[1])) {
        *line = strtol(end + 1, &end, 10);
        if (*end != ')') return 0;
        end++;
    } else {
        return 0;
    }
    while (*end == ' ' || *end == ':') end++;
    return (size_t)(end - s);
}

static void file_of(long k, const char *name, char *buf, size_t cap)
{
    const char *file = k > 0 && k < PDVM_SOURCE_INLINE ? pdvm_shader_file((int)k) : NULL;
    if (k == 0) snprintf(buf, cap, "%s (preamble)", name);
    else if (k == PDVM_SOURCE_INLINE) snprintf(buf, cap, "%s", name);
    else if (file) snprintf(buf, cap, "%s", file);
    else snprintf(buf, cap, "%s (source %ld)", name, k);
}

static void append(char *out, size_t cap, const char *s, size_t n)
{
    size_t used = strlen(out);
    if (used + 1 >= cap) return;
    if (n > cap - used - 1) n = cap - used - 1;
    memcpy(out + used, s, n);
    out[used + n] = '\0';
}

void pdvm_gl_log_rewrite(const char *log, const char *name, char *out, size_t cap)
{
    if (!cap) return;
    out[0] = '\0';
    for (const char *p = log; p && *p;) {
        size_t n = strcspn(p, "\n");
        char line[1024];
        snprintf(line, sizeof line, "%.*s", (int)(n < sizeof line ? n : sizeof line - 1), p);
        p += n + (p[n] == '\n');
        char *text = line;
        while (*text == ' ' || *text == '\t') text++;
        if (!*text) continue;
        if (out[0]) append(out, cap, "; ", 2);
        long k = 0, line_no = 0;
        size_t skip = parse_location(text, &k, &line_no);
        if (skip) {
            char loc[160];
            file_of(k, name, loc, sizeof loc);
            char prefix[200];
            int m = snprintf(prefix, sizeof prefix, "%s:%ld: ", loc, line_no);
            append(out, cap, prefix, m > 0 ? (size_t)m : 0);
            text += skip;
        }
        append(out, cap, text, strlen(text));
    }
}

#include "args.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const pdvm_arg *find_arg(const pdvm_arg *args, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (args[i].kind != PDVM_ARG_POS &&
            ((args[i].short_name && !strcmp(name, args[i].short_name)) ||
             !strcmp(name, args[i].long_name)))
            return &args[i];
    return NULL;
}

/* The first positional entry not filled yet, counting from `from`. */
static const pdvm_arg *next_pos(const pdvm_arg *args, size_t n, size_t *from)
{
    for (; *from < n; (*from)++)
        if (args[*from].kind == PDVM_ARG_POS) return &args[(*from)++];
    return NULL;
}

static bool parse_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || errno == ERANGE || !isfinite(v)) return false;
    *out = v;
    return true;
}

static bool parse_integer(const char *s, double *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end != '\0' || errno == ERANGE) return false;
    *out = (double)v;
    return true;
}

static bool parse_seed(const char *s, uint64_t *out)
{
    char *end;
    if (!strcmp(s, "-1")) {
        *out = 0xFFFFFFFFu;
        return true;
    }
    if (s[0] == '-') return false;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || *end != '\0' || errno == ERANGE) return false;
    *out = v;
    return true;
}

static int bad_value(const char *cmd, const pdvm_arg *a, const char *val)
{
    if (a->kind == PDVM_ARG_SEED)
        fprintf(stderr, "pdvm %s: %s expects a non-negative integer or -1, got '%s'\n", cmd,
                a->long_name, val);
    else if (a->kind == PDVM_ARG_F32)
        fprintf(stderr, "pdvm %s: %s expects a number in [%g, %g], got '%s'\n", cmd,
                a->long_name, a->min, a->max, val);
    else
        fprintf(stderr, "pdvm %s: %s expects an integer in [%.0f, %.0f], got '%s'\n", cmd,
                a->long_name, a->min, a->max, val);
    return PDVM_ARGS_ERROR;
}

static int store_value(const char *cmd, const pdvm_arg *a, const char *val)
{
    double v = 0.0;
    switch (a->kind) {
    case PDVM_ARG_FLAG: *(bool *)a->dst = true; return PDVM_ARGS_OK;
    case PDVM_ARG_STR:
    case PDVM_ARG_POS: *(const char **)a->dst = val; return PDVM_ARGS_OK;
    case PDVM_ARG_SEED:
        return parse_seed(val, a->dst) ? PDVM_ARGS_OK : bad_value(cmd, a, val);
    case PDVM_ARG_F32:
        if (!parse_double(val, &v) || v < a->min || v > a->max) return bad_value(cmd, a, val);
        *(float *)a->dst = (float)v;
        return PDVM_ARGS_OK;
    case PDVM_ARG_I32:
    case PDVM_ARG_U32:
        if (!parse_integer(val, &v) || v < a->min || v > a->max) return bad_value(cmd, a, val);
        if (a->kind == PDVM_ARG_I32) *(int32_t *)a->dst = (int32_t)v;
        else *(uint32_t *)a->dst = (uint32_t)v;
        return PDVM_ARGS_OK;
    }
    return PDVM_ARGS_ERROR;
}

int pdvm_args_parse(const char *cmd, const pdvm_arg *args, size_t n_args, int argc, char **argv)
{
    size_t pos = 0;
    for (int i = 1; i < argc; i++) {
        const char *name = argv[i];
        if (!strcmp(name, "-h") || !strcmp(name, "--help")) return PDVM_ARGS_HELP;
        if (name[0] != '-' || name[1] == '\0') {
            const pdvm_arg *p = next_pos(args, n_args, &pos);
            if (!p) {
                fprintf(stderr, "pdvm %s: unexpected argument '%s' (see pdvm %s --help)\n", cmd,
                        name, cmd);
                return PDVM_ARGS_ERROR;
            }
            store_value(cmd, p, name);
            continue;
        }
        const pdvm_arg *a = find_arg(args, n_args, name);
        if (!a) {
            fprintf(stderr, "pdvm %s: unknown option '%s' (see pdvm %s --help)\n", cmd, name,
                    cmd);
            return PDVM_ARGS_ERROR;
        }
        const char *val = NULL;
        if (a->kind != PDVM_ARG_FLAG) {
            if (i + 1 >= argc) {
                fprintf(stderr, "pdvm %s: %s needs a value\n", cmd, name);
                return PDVM_ARGS_ERROR;
            }
            val = argv[++i];
        }
        if (store_value(cmd, a, val) != PDVM_ARGS_OK) return PDVM_ARGS_ERROR;
    }
    return PDVM_ARGS_OK;
}

void pdvm_args_usage(FILE *f, const char *cmd, const char *synopsis, const pdvm_arg *args,
                     size_t n_args)
{
    fprintf(f, "usage: pdvm %s %s\n\noptions:\n", cmd, synopsis);
    for (size_t i = 0; i < n_args; i++) {
        if (args[i].kind == PDVM_ARG_POS) continue;
        char names[64];
        snprintf(names, sizeof names, "%s%s%s %s", args[i].short_name ? args[i].short_name : "",
                 args[i].short_name ? ", " : "", args[i].long_name,
                 args[i].metavar ? args[i].metavar : "");
        fprintf(f, "  %-28s %s\n", names, args[i].help);
    }
    fprintf(f, "  %-28s %s\n", "-h, --help", "show this help");
}

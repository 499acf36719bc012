/* Build-time shader embedder: embed_shaders <glsl dir> <out.c>.
 * GLSL ES has no #include, so this resolves `#include "x.glsl"` between the
 * files of one flat directory (each file at most once per shader, cycles
 * are errors) and writes every <name>.comp as a C string into out.c, behind
 * the interface of src/shaders.h. `#line <line> <k>` directives keep
 * compiler messages pointing at the right file (k: 1-based index into the
 * sorted file list) and line. Errors name the file and line, exit 1. */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_FILES = 256, MAX_NAME = 64, MAX_DEPTH = 32, MAX_FILE_BYTES = 1 << 20 };

typedef struct glsl_file {
    char name[MAX_NAME];
    char *text;
} glsl_file;

typedef struct glsl_tree {
    const char *dir;
    glsl_file files[MAX_FILES];
    int n;
} glsl_tree;

typedef struct text_buf {
    char *data;
    size_t len, cap;
} text_buf;

/* Per-shader include state: 0 not seen, 1 being included, 2 done. */
typedef struct resolve_ctx {
    const glsl_tree *tree;
    unsigned char state[MAX_FILES];
    int stack[MAX_DEPTH];
    int depth;
    text_buf *out;
} resolve_ctx;

static bool fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static bool fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("embed_shaders: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return false;
}

static bool buf_append(text_buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1) cap *= 2;
        char *p = realloc(b->data, cap);
        if (!p) return fail("out of memory");
        b->data = p;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
    return true;
}

static bool buf_printf(text_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool buf_printf(text_buf *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    return n >= 0 && (size_t)n < sizeof tmp && buf_append(b, tmp, (size_t)n);
}

/* ------------------------------------------------------------ reading */

static bool has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n > m && !strcmp(s + n - m, suffix);
}

/* Names go into C literals and file paths: keep them plain. */
static bool plain_name(const char *s)
{
    for (; *s; s++)
        if (!(*s == '_' || *s == '.' || *s == '-' || (*s >= '0' && *s <= '9') ||
              (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
            return false;
    return true;
}

static bool read_text(const char *path, char **out)
{
    FILE *f = fopen(path, "rb");
    if (!f) return fail("%s: %s", path, strerror(errno));
    char *text = malloc(MAX_FILE_BYTES + 1);
    size_t n = text ? fread(text, 1, MAX_FILE_BYTES + 1, f) : 0;
    bool ok = text && !ferror(f) && n <= MAX_FILE_BYTES && memchr(text, '\0', n) == NULL;
    fclose(f);
    if (!ok) {
        free(text);
        return fail("%s: unreadable, larger than %d bytes or has a NUL byte", path,
                    MAX_FILE_BYTES);
    }
    text[n] = '\0';
    *out = text;
    return true;
}

static int compare_files(const void *a, const void *b)
{
    return strcmp(((const glsl_file *)a)->name, ((const glsl_file *)b)->name);
}

static bool read_tree(glsl_tree *t)
{
    DIR *dir = opendir(t->dir);
    if (!dir) return fail("%s: %s", t->dir, strerror(errno));
    bool ok = true;
    for (struct dirent *e; ok && (e = readdir(dir)) != NULL;) {
        if (!has_suffix(e->d_name, ".comp") && !has_suffix(e->d_name, ".glsl")) continue;
        if (t->n == MAX_FILES) ok = fail("%s: more than %d shader files", t->dir, MAX_FILES);
        else if (strlen(e->d_name) >= MAX_NAME || !plain_name(e->d_name))
            ok = fail("%s/%s: use a name of [A-Za-z0-9_.-], under %d characters", t->dir,
                      e->d_name, MAX_NAME);
        else
            memcpy(t->files[t->n++].name, e->d_name, strlen(e->d_name) + 1);
    }
    closedir(dir);
    qsort(t->files, (size_t)t->n, sizeof t->files[0], compare_files);
    for (int i = 0; ok && i < t->n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", t->dir, t->files[i].name);
        ok = read_text(path, &t->files[i].text);
    }
    return ok;
}

static int find_file(const glsl_tree *t, const char *name)
{
    for (int i = 0; i < t->n; i++)
        if (!strcmp(t->files[i].name, name)) return i;
    return -1;
}

/* ---------------------------------------------------------- resolving */

/* Skip blanks; line is NUL-terminated. */
static const char *skip_blank(const char *p)
{
    while (*p == ' ' || *p == '\t') p++;
    return p;
}

/* Whether line is the preprocessor directive `name` ("include",
 * "version"); *rest then points past the name. */
static bool directive_is(const char *line, const char *name, const char **rest)
{
    const char *p = skip_blank(line);
    if (*p != '#') return false;
    p = skip_blank(p + 1);
    size_t n = strlen(name);
    if (strncmp(p, name, n) || (p[n] && p[n] != ' ' && p[n] != '\t' && p[n] != '"'))
        return false;
    *rest = p + n;
    return true;
}

/* Parse `"name"` then blanks and an optional // comment. */
static bool include_target(const char *rest, char *name)
{
    const char *p = skip_blank(rest);
    if (*p != '"') return false;
    const char *end = strchr(p + 1, '"');
    if (!end || end == p + 1 || end - p - 1 >= MAX_NAME) return false;
    memcpy(name, p + 1, (size_t)(end - p - 1));
    name[end - p - 1] = '\0';
    p = skip_blank(end + 1);
    return (*p == '\0' || !strncmp(p, "//", 2)) && plain_name(name) && !strchr(name, '/');
}

static bool resolve(resolve_ctx *c, int idx);

static bool cycle_error(const resolve_ctx *c, int idx)
{
    char chain[1024] = "";
    for (int i = 0; i < c->depth; i++) {
        size_t used = strlen(chain);
        snprintf(chain + used, sizeof chain - used, "%s -> ", c->tree->files[c->stack[i]].name);
    }
    return fail("%s/%s: include cycle: %s%s", c->tree->dir, c->tree->files[idx].name, chain,
                c->tree->files[idx].name);
}

static bool include_line(resolve_ctx *c, int idx, int line_no, const char *rest)
{
    const glsl_tree *t = c->tree;
    char name[MAX_NAME];
    if (!include_target(rest, name))
        return fail("%s/%s:%d: malformed #include; write #include \"file.glsl\"", t->dir,
                    t->files[idx].name, line_no);
    int child = find_file(t, name);
    if (child < 0)
        return fail("%s/%s:%d: #include \"%s\": no such file in %s", t->dir, t->files[idx].name,
                    line_no, name, t->dir);
    if (c->state[child] == 1) return cycle_error(c, child);
    if (c->state[child] == 2) return buf_append(c->out, "\n", 1); /* keeps the numbering */
    return resolve(c, child) && buf_printf(c->out, "#line %d %d\n", line_no + 1, idx + 1);
}

static bool resolve_line(resolve_ctx *c, int idx, int line_no, const char *line)
{
    const char *rest;
    if (directive_is(line, "version", &rest))
        return fail("%s/%s:%d: remove #version: the runtime puts its own first", c->tree->dir,
                    c->tree->files[idx].name, line_no);
    if (directive_is(line, "include", &rest)) return include_line(c, idx, line_no, rest);
    return buf_append(c->out, line, strlen(line)) && buf_append(c->out, "\n", 1);
}

static bool resolve(resolve_ctx *c, int idx)
{
    if (c->depth == MAX_DEPTH) return fail("includes nested deeper than %d", MAX_DEPTH);
    c->state[idx] = 1;
    c->stack[c->depth++] = idx;
    bool ok = buf_printf(c->out, "#line 1 %d\n", idx + 1);
    char line[4096];
    const char *p = c->tree->files[idx].text;
    for (int line_no = 1; ok && *p; line_no++) {
        size_t n = strcspn(p, "\n");
        if (n >= sizeof line)
            return fail("%s/%s:%d: line longer than %zu characters", c->tree->dir,
                        c->tree->files[idx].name, line_no, sizeof line - 1);
        memcpy(line, p, n);
        line[n && line[n - 1] == '\r' ? n - 1 : n] = '\0';
        ok = resolve_line(c, idx, line_no, line);
        p += n + (p[n] == '\n');
    }
    c->depth--;
    c->state[idx] = 2;
    return ok;
}

/* ------------------------------------------------------------ writing */

static void write_literal(FILE *f, const char *s)
{
    fputs("    \"", f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '\n' && s[1]) fputs("\\n\"\n    \"", f);
        else if (ch == '\n') fputs("\\n", f);
        else if (ch == '\\' || ch == '"' || ch == '?') fprintf(f, "\\%c", ch); /* '?': trigraphs */
        else if (ch == '\t') fputs("\\t", f);
        else if (ch < 0x20 || ch >= 0x7f) fprintf(f, "\\%03o", ch);
        else fputc(ch, f);
    }
    fputs("\"", f);
}

static void write_prologue(FILE *f, const glsl_tree *t)
{
    fprintf(f, "/* Generated by src/tools/embed_shaders.c from %s/: do not edit. */\n"
               "#include <string.h>\n\n#include \"shaders.h\"\n\n"
               "static const char *const files[] = {\n    NULL,\n",
            t->dir);
    for (int i = 0; i < t->n; i++) fprintf(f, "    \"%s\",\n", t->files[i].name);
    fputs("};\n\nstatic const struct { const char *name, *source; } shaders[] = {\n", f);
}

/* Loops run to the NULL entry: a constant count of 0 (no shaders yet)
 * would trip -Wtype-limits. */
static const char epilogue[] =
    "    {NULL, NULL},\n};\n\n"
    "const char *pdvm_shader_source(const char *name)\n{\n"
    "    for (size_t i = 0; name && shaders[i].name; i++)\n"
    "        if (!strcmp(shaders[i].name, name)) return shaders[i].source;\n"
    "    return NULL;\n}\n\n"
    "const char *pdvm_shader_file(int k)\n{\n"
    "    return k >= 1 && k < (int)(sizeof files / sizeof files[0]) ? files[k] : NULL;\n}\n\n"
    "size_t pdvm_shader_count(void) { return sizeof shaders / sizeof shaders[0] - 1; }\n\n"
    "const char *pdvm_shader_name(size_t i)\n{\n"
    "    return i < pdvm_shader_count() ? shaders[i].name : NULL;\n}\n";

static bool write_shader(FILE *f, const glsl_tree *t, int idx)
{
    text_buf out = {0};
    resolve_ctx c = {.tree = t, .out = &out};
    bool ok = resolve(&c, idx);
    if (ok) {
        size_t stem = strlen(t->files[idx].name) - strlen(".comp");
        fprintf(f, "    {\"%.*s\",\n", (int)stem, t->files[idx].name);
        write_literal(f, out.data);
        fputs("},\n", f);
    }
    free(out.data);
    return ok;
}

static bool write_output(const glsl_tree *t, const char *path)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return fail("%s: %s", tmp, strerror(errno));
    write_prologue(f, t);
    bool ok = true;
    for (int i = 0; ok && i < t->n; i++)
        if (has_suffix(t->files[i].name, ".comp")) ok = write_shader(f, t, i);
    fputs(epilogue, f);
    if (fclose(f) != 0 && ok) ok = fail("%s: %s", tmp, strerror(errno));
    /* Renamed only when whole, so make never sees a half-written file. */
    if (ok && rename(tmp, path) != 0) ok = fail("%s: %s", path, strerror(errno));
    if (!ok) remove(tmp);
    return ok;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: embed_shaders <glsl dir> <out.c>\n");
        return 2;
    }
    static glsl_tree tree;
    tree.dir = argv[1];
    bool ok = read_tree(&tree) && write_output(&tree, argv[2]);
    for (int i = 0; i < tree.n; i++) free(tree.files[i].text);
    return ok ? 0 : 1;
}

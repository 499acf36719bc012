#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "arch_golden.h"
#include "cli_util.h"
#include "test_util.h"

static const char *const goldens[] = {
    "llama3-f32",  "llama3-f16",  "llama3-q4_K", "llama3-q6_K", "llama3-q2_K", "llama3-q3_K",
    "llama3-q5_K", "smollm-f32",  "smollm-q4_0", "smollm-q5_1", "qwen2-f32",   "qwen2-q8_0",
    "qwen2-q4_K",  "qwen3-f32",   "qwen3-q8_0",  "qwen3-q4_1",  "phi3-f32",    "phi3-q4_K",
    "phi3-q8_0",   "gemma2-f32",  "gemma2-q8_0", "gemma2-q4_0", "gemma3-f32",  "gemma3-bf16",
    "gemma3-q5_0", "smollm-iq4_nl", "phi3-iq4_xs",
};

const char *arch_golden_name(size_t i)
{
    return i < sizeof goldens / sizeof goldens[0] ? goldens[i] : NULL;
}

static char *next_line(char **p)
{
    char *line = *p;
    if (!*line) return NULL;
    char *nl = strchr(line, '\n');
    if (nl) *nl = '\0', *p = nl + 1;
    else *p = line + strlen(line);
    return line;
}

static const char *field(char **p, const char *key)
{
    char *line = next_line(p);
    size_t n = strlen(key);
    if (!line || strncmp(line, key, n) != 0 || line[n] != '\t')
        fail_msg("golden: expected '%s', got '%s'", key, line ? line : "(end)");
    return line + n + 1;
}

static void read_steps(char **p, arch_golden *g)
{
    for (int s = 0; s < GOLDEN_STEPS; s++) {
        char *line = next_line(p), *q;
        if (!line) fail_msg("golden: %d steps, expected %d", s, GOLDEN_STEPS);
        strtol(line, &q, 10);
        g->ids[s] = (int32_t)strtol(q, &q, 10);
        for (int k = 0; k < GOLDEN_TOP; k++) {
            g->top_id[s][k] = (int32_t)strtol(q, &q, 10);
            if (*q != ':') fail_msg("golden: bad step %d", s);
            g->top_logit[s][k] = strtof(q + 1, &q);
        }
    }
}

void arch_golden_read(const char *name, arch_golden *g)
{
    char path[TEST_PATH_MAX], spec[32];
    snprintf(path, sizeof path, "tests/golden/arch/%s.tsv", name);
    size_t size;
    uint8_t *raw = test_read_file(path, &size);
    char *buf = malloc(size + 1), *p = buf;
    assert_non_null(buf);
    memcpy(buf, raw, size);
    buf[size] = '\0';
    free(raw);
    memset(g, 0, sizeof *g);
    const char *dash = strchr(name, '-');
    snprintf(spec, sizeof spec, "%.*s", (int)(dash - name), name);
    snprintf(g->type_name, sizeof g->type_name, "%s", dash + 1);
    g->spec = arch_spec_find(spec);
    if (!g->spec || !arch_type_from_name(g->type_name, &g->type)) fail_msg("golden %s: unknown", name);
    next_line(&p); /* comment */
    g->seed = strtoull(field(&p, "seed"), NULL, 10);
    g->n_ctx = (uint32_t)strtoul(field(&p, "n_ctx"), NULL, 10);
    field(&p, "prompt");
    char *ids = (char *)field(&p, "prompt_ids"), *q = ids;
    while (*q && g->n_prompt < 64) g->prompt[g->n_prompt++] = (int32_t)strtol(q, &q, 10);
    field(&p, "min_margin");
    g->until_eog = atoi(field(&p, "until_eog"));
    snprintf(g->text, sizeof g->text, "%s", field(&p, "text"));
    read_steps(&p, g);
    free(buf);
}

void arch_golden_model(const arch_golden *g, const char *dir, char *path, size_t cap)
{
    char vocab[TEST_PATH_MAX];
    test_model_path("vocab", vocab, sizeof vocab);
    snprintf(path, cap, "%s/%s-%s.gguf", dir, g->spec->name, g->type_name);
    if (!arch_model_write(g->spec, g->type, g->seed, false, vocab, path))
        fail_msg("cannot write %s", path);
}

double arch_golden_step_err(const arch_golden *g, int step, const float *logits)
{
    double worst = 0, scale = 0;
    for (int k = 0; k < GOLDEN_TOP; k++) {
        double ref = g->top_logit[step][k];
        double d = logits[g->top_id[step][k]] - ref;
        if (d < 0) d = -d;
        if (ref < 0) ref = -ref;
        if (d > worst || d != d) worst = d;
        if (ref > scale) scale = ref;
    }
    return scale > 0 ? worst / scale : worst;
}

/* The golden's text field, unescaped (\\ \t \n \r). */
static void unescape(const char *in, char *out, size_t cap)
{
    size_t n = 0;
    for (; *in && n + 1 < cap; in++) {
        if (*in == '\\' && in[1]) {
            in++;
            out[n++] = *in == 't' ? '\t' : *in == 'n' ? '\n' : *in == 'r' ? '\r' : *in;
        } else {
            out[n++] = *in;
        }
    }
    out[n] = '\0';
}

/* Length of the well-formed UTF-8 sequence at p (RFC 3629), 0 if none. */
static size_t utf8_ok(const unsigned char *p)
{
    unsigned char c = p[0];
    if (c < 0x80) return 1;
    size_t n = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    unsigned char lo = c == 0xE0 ? 0xA0 : c == 0xF0 ? 0x90 : 0x80;
    unsigned char hi = c == 0xED ? 0x9F : c == 0xF4 ? 0x8F : 0xBF;
    for (size_t i = 1; i < n; i++)
        if (p[i] < (i == 1 ? lo : 0x80) || p[i] > (i == 1 ? hi : 0xBF)) return 0;
    return n;
}

/* llama.cpp prints a token's raw bytes, which byte-level vocabularies cut
 * mid-character; pdvm's streaming text never does: each maximal ill-formed
 * subsequence becomes one U+FFFD (Unicode's recommended practice). The
 * golden text in the same terms. */
static void well_formed(const char *in, char *out, size_t cap)
{
    const unsigned char *p = (const unsigned char *)in;
    size_t n = 0;
    while (*p && n + 4 < cap) {
        size_t k = utf8_ok(p);
        if (k) {
            memcpy(out + n, p, k), n += k, p += k;
            continue;
        }
        /* The maximal subpart: a valid lead and the continuations that fit. */
        size_t skip = 1;
        while (p[skip] && skip < 4 && (p[skip] & 0xC0) == 0x80 && p[0] >= 0xC2 && p[0] <= 0xF4) {
            unsigned char t[5] = {0};
            memcpy(t, p, skip + 1);
            if (utf8_ok(t) == 0 && (t[1] < 0x80 || (skip == 1 && ((p[0] == 0xE0 && t[1] < 0xA0) ||
                (p[0] == 0xED && t[1] > 0x9F) || (p[0] == 0xF0 && t[1] < 0x90) ||
                (p[0] == 0xF4 && t[1] > 0x8F))))) break;
            skip++;
        }
        memcpy(out + n, "\xEF\xBF\xBD", 3), n += 3, p += skip;
    }
    out[n] = '\0';
}

void arch_golden_text(const arch_golden *g, char *out, size_t cap)
{
    static char raw[sizeof g->text];
    unescape(g->text, raw, sizeof raw);
    well_formed(raw, out, cap);
}

void arch_golden_expect_cli_text(const arch_golden *g, const char *path, const char *backend,
                                 const char *const *env)
{
    static char want[3 * sizeof g->text + 64], text[3 * sizeof g->text];
    arch_golden_text(g, text, sizeof text);
    snprintf(want, sizeof want, "Once upon a time%s\n", text);
    cli_opts o = {.env = env};
    cli_result r = cli_run((const char *const[]){"run", "-m", path, "-p", "Once upon a time", "-n",
                                                 "64", "--temp", "0", "-c", "256", "--backend",
                                                 backend, NULL}, &o);
    if (r.code != 0) fail_msg("%s-%s: exit %d: %s", g->spec->name, g->type_name, r.code, r.err);
    if (strcmp(r.out, want) != 0)
        fail_msg("%s-%s (%s, %s):\n  pdvm:      %s  llama.cpp: %s", g->spec->name, g->type_name,
                 backend, env && env[0] ? env[0] : "", r.out, want);
    cli_result_free(&r);
}

#include "stop.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void srv_stop_init(srv_stop *m, char *const *stops, size_t n_stops)
{
    m->stops = stops;
    m->n_stops = n_stops;
    m->n_held = 0;
}

void srv_stop_free(srv_stop *m)
{
    free(m->buf);
    free(m->rel);
    *m = (srv_stop){0};
}

/* The first position where a stop string occurs completely, or n. */
static size_t first_match(const srv_stop *m, const char *s, size_t n)
{
    size_t best = n;
    for (size_t i = 0; i < m->n_stops; i++) {
        size_t k = strlen(m->stops[i]);
        if (k == 0) continue;
        for (size_t p = 0; p + k <= n && p < best; p++)
            if (memcmp(s + p, m->stops[i], k) == 0) {
                best = p;
                break;
            }
    }
    return best;
}

/* Length of the longest suffix of s that is a proper prefix of a stop
 * string. */
static size_t partial_suffix(const srv_stop *m, const char *s, size_t n)
{
    size_t best = 0;
    for (size_t i = 0; i < m->n_stops; i++) {
        size_t k = strlen(m->stops[i]);
        if (k == 0) continue;
        for (size_t len = (k - 1 < n ? k - 1 : n); len > best; len--)
            if (memcmp(s + n - len, m->stops[i], len) == 0) {
                best = len;
                break;
            }
    }
    return best;
}

static bool reserve(char **p, size_t *cap, size_t need)
{
    if (need <= *cap) return true;
    size_t c = need < 64 ? 64 : need * 2;
    char *q = realloc(*p, c);
    if (!q) return false;
    *p = q;
    *cap = c;
    return true;
}

/* Move the first n_rel bytes of the working text to rel and keep
 * [n_rel, n_rel + keep) as the held text. */
static void release(srv_stop *m, size_t n_rel, size_t keep, const char **out, size_t *n_out)
{
    memcpy(m->rel, m->buf, n_rel);
    memmove(m->buf, m->buf + n_rel, keep);
    m->n_held = keep;
    *out = m->rel;
    *n_out = n_rel;
}

bool srv_stop_push(srv_stop *m, const char *text, size_t n, const char **out, size_t *n_out)
{
    size_t len = m->n_held + n;
    if (!reserve(&m->buf, &m->cap, len + 1) || !reserve(&m->rel, &m->rel_cap, len + 1)) {
        *out = "";
        *n_out = SIZE_MAX;
        return false;
    }
    memcpy(m->buf + m->n_held, text, n);
    size_t at = first_match(m, m->buf, len);
    if (at < len) {
        release(m, at, 0, out, n_out);
        return true;
    }
    size_t keep = partial_suffix(m, m->buf, len);
    release(m, len - keep, keep, out, n_out);
    return false;
}

void srv_stop_flush(srv_stop *m, const char **out, size_t *n_out)
{
    if (m->n_held == 0) {
        *out = "";
        *n_out = 0;
        return;
    }
    release(m, m->n_held, 0, out, n_out); /* rel_cap >= n_held + 1 since the last push */
}

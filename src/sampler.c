/* Token sampler in llama.cpp's default order: repetition penalty -> top-k
 * -> top-p -> min-p -> temperature -> draw from the softmax. Greedy
 * (temp <= 0) is an argmax after the penalty. The RNG is xoshiro256**
 * seeded through splitmix64, so a seed gives the same draws everywhere. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "pdvm.h"

typedef struct candidate {
    int32_t id;
    float logit;
} candidate;

struct pdvm_sampler {
    pdvm_sampler_params p;
    uint32_t n_vocab;
    candidate *cand;    /* n_vocab working slots */
    float *penalized;   /* logits after the repetition penalty */
    uint8_t *done;      /* n_vocab bits: token already penalised this step */
    int32_t *recent;    /* ring of the last repeat_last_n accepted tokens */
    size_t n_recent, recent_head;
    uint64_t rng[4];
};

pdvm_sampler_params pdvm_sampler_default_params(void)
{
    pdvm_sampler_params p = {
        .temp = 0.8f,
        .top_k = 40,
        .top_p = 0.95f,
        .min_p = 0.05f,
        .repeat_penalty = 1.0f,
        .repeat_last_n = 64,
        .seed = 0xFFFFFFFFu,
    };
    return p;
}

/* ------------------------------------------------------------------ RNG */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t xoshiro_next(uint64_t s[4])
{
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* Uniform in [0, 1) with 53 random bits. */
static double rng_uniform(uint64_t s[4]) { return (double)(xoshiro_next(s) >> 11) * 0x1.0p-53; }

/* -------------------------------------------------------------- lifecycle */

static pdvm_status check_params(const pdvm_sampler_params *p)
{
    if (isnan(p->temp) || isnan(p->top_p) || isnan(p->min_p))
        return pdvm_fail(PDVM_ERR_INVALID_ARG, "sampler: temp, top_p and min_p must be numbers");
    if (!(p->repeat_penalty > 0.0f) || isinf(p->repeat_penalty))
        return pdvm_fail(PDVM_ERR_INVALID_ARG, "sampler: repeat_penalty %g must be > 0",
                         (double)p->repeat_penalty);
    if (p->repeat_last_n < 0 || p->repeat_last_n > (1 << 20))
        return pdvm_fail(PDVM_ERR_INVALID_ARG, "sampler: repeat_last_n %d is outside 0..%d",
                         p->repeat_last_n, 1 << 20);
    return PDVM_OK;
}

pdvm_status pdvm_sampler_create(const pdvm_sampler_params *p, uint32_t n_vocab,
                                pdvm_sampler **out)
{
    if (!out) return pdvm_fail(PDVM_ERR_INVALID_ARG, "pdvm_sampler_create: out is NULL");
    *out = NULL;
    if (!p || n_vocab == 0 || n_vocab > (1u << 24))
        return pdvm_fail(PDVM_ERR_INVALID_ARG, "pdvm_sampler_create: params NULL or n_vocab %u "
                                               "outside 1..%u", n_vocab, 1u << 24);
    PDVM_TRY(check_params(p));
    pdvm_sampler *s = calloc(1, sizeof *s);
    if (!s) return pdvm_fail(PDVM_ERR_NOMEM, "sampler");
    s->p = *p;
    s->n_vocab = n_vocab;
    s->cand = malloc(n_vocab * sizeof *s->cand);
    s->penalized = malloc(n_vocab * sizeof *s->penalized);
    s->recent = malloc(((size_t)p->repeat_last_n + 1) * sizeof *s->recent);
    s->done = calloc(n_vocab / 8 + 1, 1);
    if (!s->cand || !s->penalized || !s->recent || !s->done) {
        pdvm_sampler_free(s);
        return pdvm_fail(PDVM_ERR_NOMEM, "sampler: %u candidates", n_vocab);
    }
    uint64_t x = p->seed;
    for (int i = 0; i < 4; i++) s->rng[i] = splitmix64(&x);
    *out = s;
    return PDVM_OK;
}

void pdvm_sampler_free(pdvm_sampler *s)
{
    if (!s) return;
    free(s->cand);
    free(s->penalized);
    free(s->recent);
    free(s->done);
    free(s);
}

void pdvm_sampler_accept(pdvm_sampler *s, int32_t token)
{
    if (!s || s->p.repeat_last_n == 0) return;
    size_t n = (size_t)s->p.repeat_last_n;
    s->recent[s->recent_head] = token;
    s->recent_head = (s->recent_head + 1) % n;
    if (s->n_recent < n) s->n_recent++;
}

/* ------------------------------------------------------------ the chain */

/* CTRL-style penalty, once per distinct recent token: positive logits are
 * divided, negative ones multiplied (both make the token less likely). */
static void apply_penalty(pdvm_sampler *s, const float *logits)
{
    memcpy(s->penalized, logits, s->n_vocab * sizeof *logits);
    if (s->p.repeat_penalty == 1.0f) return;
    for (size_t i = 0; i < s->n_recent; i++) {
        int32_t t = s->recent[i];
        if (t < 0 || (uint32_t)t >= s->n_vocab || (s->done[t >> 3] & (1u << (t & 7)))) continue;
        s->done[t >> 3] |= (uint8_t)(1u << (t & 7));
        float *l = &s->penalized[t];
        *l = *l <= 0.0f ? *l * s->p.repeat_penalty : *l / s->p.repeat_penalty;
    }
    for (size_t i = 0; i < s->n_recent; i++) {
        int32_t t = s->recent[i];
        if (t >= 0 && (uint32_t)t < s->n_vocab) s->done[t >> 3] = 0;
    }
}

static int32_t argmax(const float *v, uint32_t n)
{
    uint32_t best = 0;
    for (uint32_t i = 1; i < n; i++)
        if (v[i] > v[best]) best = i; /* strict: the lowest id wins ties */
    return (int32_t)best;
}

/* Highest logit first, lowest id on ties, so the order is total. */
static int cand_cmp(const void *a, const void *b)
{
    const candidate *x = a, *y = b;
    if (x->logit != y->logit) return x->logit > y->logit ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

/* Sift-down for a min-heap (worst candidate at the root) used by top-k. */
static void sift_down(candidate *h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, w = i;
        if (l < n && cand_cmp(&h[l], &h[w]) > 0) w = l;
        if (r < n && cand_cmp(&h[r], &h[w]) > 0) w = r;
        if (w == i) return;
        candidate t = h[i];
        h[i] = h[w];
        h[w] = t;
        i = w;
    }
}

/* Fill the candidates sorted best first; with top-k only the k best are
 * kept (a heap of k over the vocabulary avoids sorting it all). */
static size_t sorted_top_k(pdvm_sampler *s)
{
    uint32_t n = s->n_vocab;
    size_t k = (s->p.top_k > 0 && (uint32_t)s->p.top_k < n) ? (size_t)s->p.top_k : n;
    for (size_t i = 0; i < k; i++) s->cand[i] = (candidate){(int32_t)i, s->penalized[i]};
    if (k < n) {
        for (size_t i = k / 2; i-- > 0;) sift_down(s->cand, k, i);
        for (uint32_t i = (uint32_t)k; i < n; i++) {
            candidate c = {(int32_t)i, s->penalized[i]};
            if (cand_cmp(&c, &s->cand[0]) < 0) {
                s->cand[0] = c;
                sift_down(s->cand, k, 0);
            }
        }
    }
    qsort(s->cand, k, sizeof *s->cand, cand_cmp);
    return k;
}

/* Keep the smallest prefix whose probability (softmax at temperature 1)
 * reaches top_p. */
static size_t apply_top_p(const candidate *c, size_t n, float top_p)
{
    if (top_p >= 1.0f || n <= 1) return n;
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) sum += exp((double)c[i].logit - c[0].logit);
    double cum = 0.0;
    for (size_t i = 0; i < n; i++) {
        cum += exp((double)c[i].logit - c[0].logit) / sum;
        if (cum >= top_p) return i + 1;
    }
    return n;
}

/* Keep tokens whose probability is at least min_p times the best one's. */
static size_t apply_min_p(const candidate *c, size_t n, float min_p)
{
    if (min_p <= 0.0f || n <= 1) return n;
    float floor_logit = c[0].logit + logf(min_p);
    size_t keep = 1;
    while (keep < n && c[keep].logit >= floor_logit) keep++;
    return keep;
}

static int32_t draw(pdvm_sampler *s, size_t n)
{
    double inv_t = 1.0 / s->p.temp, sum = 0.0;
    for (size_t i = 0; i < n; i++) sum += exp(((double)s->cand[i].logit - s->cand[0].logit) * inv_t);
    double u = rng_uniform(s->rng) * sum, cum = 0.0;
    for (size_t i = 0; i < n; i++) {
        cum += exp(((double)s->cand[i].logit - s->cand[0].logit) * inv_t);
        if (u < cum) return s->cand[i].id;
    }
    return s->cand[n - 1].id; /* rounding left u at the very top */
}

int32_t pdvm_sampler_sample(pdvm_sampler *s, const float *logits)
{
    apply_penalty(s, logits);
    if (s->p.temp <= 0.0f) return argmax(s->penalized, s->n_vocab);
    size_t n = sorted_top_k(s);
    n = apply_top_p(s->cand, n, s->p.top_p);
    n = apply_min_p(s->cand, n, s->p.min_p);
    return draw(s, n);
}

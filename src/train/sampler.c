/* Epoch orders: a seeded shuffle, or class-balanced draws.
 *
 * The order of epoch e depends only on (labels, seed, e): its generator is
 * seeded with XXH3(seed, e), so resuming needs only the epoch and batch.
 * Balanced: members[] holds the sample indices grouped by class; each epoch
 * shuffles a copy of every class's group, then each of the n draws picks a class
 * uniformly among the non-empty ones and takes that class's next member,
 * starting the group over (reshuffled) when it is used up. */
#include <stdlib.h>
#include <string.h>

#include "../core/core.h"

struct ndx_sampler {
    size_t n;
    int classes, balanced, present;
    uint64_t seed;
    uint32_t *order;     /* n: the epoch's order */
    uint32_t *members;   /* n: indices grouped by class, ascending (balanced) */
    uint32_t *work;      /* n: this epoch's shuffled groups */
    size_t *start;       /* classes + 1: group bounds in members */
    size_t *cursor;      /* classes: next member to take */
    int *nonempty;       /* present: the classes with members */
};

static void shuffle(ndx_rng *r, uint32_t *v, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)ndx_rng_below(r, i);
        uint32_t t = v[i - 1];
        v[i - 1] = v[j];
        v[j] = t;
    }
}

void ndx_sampler_free(ndx_sampler *s)
{
    if (!s) return;
    free(s->order);
    free(s->members);
    free(s->work);
    free(s->start);
    free(s->cursor);
    free(s->nonempty);
    free(s);
}

ndx_status ndx_sampler_new(const int *labels, size_t n, int classes, int balanced,
                           uint64_t seed, ndx_sampler **out)
{
    if (!out) return ndx__fail(NDX_ERR_INVALID, "sampler: out must not be NULL");
    *out = NULL;
    if (n == 0 || n > UINT32_MAX)
        return ndx__fail(NDX_ERR_INVALID, "sampler: %zu samples, expected 1..%u", n,
                         (unsigned)UINT32_MAX);
    if (balanced && (!labels || classes < 1 || classes > 1 << 20))
        return ndx__fail(NDX_ERR_INVALID,
                         "sampler: balanced sampling needs labels and 1..%d classes (got %d)",
                         1 << 20, classes);
    ndx_sampler *s = calloc(1, sizeof *s);
    if (!s) return ndx__fail(NDX_ERR_NOMEM, "sampler: out of memory");
    s->n = n;
    s->classes = classes;
    s->balanced = balanced != 0;
    s->seed = seed;
    s->order = malloc(n * sizeof *s->order);
    if (!s->order) goto nomem;
    if (!s->balanced) {
        *out = s;
        return NDX_OK;
    }
    s->members = malloc(n * sizeof *s->members);
    s->work = malloc(n * sizeof *s->work);
    s->start = calloc((size_t)classes + 1, sizeof *s->start);
    s->cursor = calloc((size_t)classes, sizeof *s->cursor);
    s->nonempty = malloc((size_t)classes * sizeof *s->nonempty);
    if (!s->members || !s->work || !s->start || !s->cursor || !s->nonempty) goto nomem;
    for (size_t i = 0; i < n; i++) {
        if (labels[i] < 0 || labels[i] >= classes) {
            ndx_sampler_free(s);
            return ndx__fail(NDX_ERR_INVALID, "sampler: label %zu is %d, expected 0..%d",
                             i, labels[i], classes - 1);
        }
        s->start[labels[i] + 1]++;
    }
    for (int c = 0; c < classes; c++) {
        if (s->start[c + 1]) s->nonempty[s->present++] = c;
        s->start[c + 1] += s->start[c];
    }
    for (int c = 0; c < classes; c++) s->cursor[c] = s->start[c];
    for (size_t i = 0; i < n; i++) s->members[s->cursor[labels[i]]++] = (uint32_t)i;
    *out = s;
    return NDX_OK;
nomem:
    ndx_sampler_free(s);
    return ndx__fail(NDX_ERR_NOMEM, "sampler: out of memory for %zu samples", n);
}

size_t ndx_sampler_len(const ndx_sampler *s) { return s ? s->n : 0; }

const uint32_t *ndx_sampler_epoch(ndx_sampler *s, uint64_t epoch)
{
    if (!s) return NULL;
    uint64_t key[2] = {s->seed, epoch};
    ndx_rng r;
    ndx_rng_seed(&r, ndx_hash64(key, sizeof key, 0x5a4d504c45524e47ull));
    if (!s->balanced) {
        for (size_t i = 0; i < s->n; i++) s->order[i] = (uint32_t)i;
        shuffle(&r, s->order, s->n);
        return s->order;
    }
    /* Every epoch starts from the pristine groups, so epoch e does not
     * depend on the epochs before it. */
    memcpy(s->work, s->members, s->n * sizeof *s->work);
    for (int c = 0; c < s->classes; c++) {
        s->cursor[c] = s->start[c];
        shuffle(&r, s->work + s->start[c], s->start[c + 1] - s->start[c]);
    }
    for (size_t i = 0; i < s->n; i++) {
        int c = s->nonempty[ndx_rng_below(&r, (uint64_t)s->present)];
        size_t a = s->start[c], b = s->start[c + 1];
        if (s->cursor[c] == b) {                  /* group used up: go round again */
            shuffle(&r, s->work + a, b - a);
            s->cursor[c] = a;
        }
        s->order[i] = s->work[s->cursor[c]++];
    }
    return s->order;
}

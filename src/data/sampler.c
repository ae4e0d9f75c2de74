/* sampler.c — Walker/Vose alias table plus rejection of the user's items.
 *
 * Vose's construction splits the n scaled weights n·p_i into n columns of
 * height 1, each holding at most two items, so a draw is one uniform column
 * and one coin. Weights are scaled in double precision and leftover columns
 * (rounding) get accept = 1, which keeps every column valid.
 */
#include "psrec/data/sampler.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Fills s->accept and s->alias from weights (n,), which sum to total > 0. */
static void sampler_build_alias(Sampler *s, const double *weights, double total)
{
    size_t n = s->n_items;
    double *scaled = xmalloc(n * sizeof *scaled);
    uint32_t *small = xmalloc(n * sizeof *small); /* columns below height 1 */
    uint32_t *large = xmalloc(n * sizeof *large); /* columns at or above 1 */
    size_t n_small = 0, n_large = 0;
    for (size_t i = 0; i < n; i++) {
        scaled[i] = weights[i] * (double)n / total;
        if (scaled[i] < 1.0)
            small[n_small++] = (uint32_t)i;
        else
            large[n_large++] = (uint32_t)i;
    }
    /* Each step tops a short column up from a tall one, which may then turn
     * short itself. */
    while (n_small > 0 && n_large > 0) {
        uint32_t low = small[--n_small], high = large[n_large - 1];
        s->accept[low] = scaled[low];
        s->alias[low] = high;
        scaled[high] -= 1.0 - scaled[low];
        if (scaled[high] < 1.0) {
            n_large--;
            small[n_small++] = high;
        }
    }
    while (n_large > 0) {
        uint32_t i = large[--n_large];
        s->accept[i] = 1.0;
        s->alias[i] = i;
    }
    while (n_small > 0) { /* only rounding leaves these short */
        uint32_t i = small[--n_small];
        s->accept[i] = 1.0;
        s->alias[i] = i;
    }
    free(scaled);
    free(small);
    free(large);
}

void sampler_init(Sampler *s, SamplerKind kind, const double *item_counts, size_t n_items,
                  double popularity_exponent)
{
    assert(s && n_items < UINT32_MAX);
    assert(kind == SAMPLER_UNIFORM || kind == SAMPLER_POPULARITY);
    memset(s, 0, sizeof *s);
    s->kind = kind;
    s->n_items = n_items;
    if (kind != SAMPLER_POPULARITY || n_items == 0)
        return;
    assert(item_counts);
    double *weights = xmalloc(n_items * sizeof *weights);
    double total = 0.0;
    for (size_t i = 0; i < n_items; i++) {
        double count = item_counts[i];
        weights[i] = count > 0.0 ? pow(count, popularity_exponent) : 0.0;
        total += weights[i];
    }
    if (total > 0.0 && isfinite(total)) {
        s->accept = xmalloc(n_items * sizeof *s->accept);
        s->alias = xmalloc(n_items * sizeof *s->alias);
        sampler_build_alias(s, weights, total);
    } else {
        s->kind = SAMPLER_UNIFORM; /* nothing to weigh by */
    }
    free(weights);
}

/* One draw from the target, ignoring exclusions. */
static uint32_t sampler_draw_target(const Sampler *s, Rng *rng)
{
    uint32_t column = (uint32_t)rng_below(rng, s->n_items);
    if (s->kind == SAMPLER_UNIFORM)
        return column;
    return rng_uniform(rng) < s->accept[column] ? column : s->alias[column];
}

/* The rank-th allowed item (0-based) for distinct excluded[0, n): the
 * answer is rank + k, k the number of excluded items before it, which are
 * exactly those j with excluded[j] - j ≤ rank (a non-decreasing key). */
static uint32_t allowed_at_rank(const uint32_t *excluded, size_t n, uint64_t rank)
{
    size_t low = 0, high = n;
    while (low < high) {
        size_t mid = low + (high - low) / 2;
        if ((uint64_t)excluded[mid] - mid <= rank)
            low = mid + 1;
        else
            high = mid;
    }
    return (uint32_t)(rank + low);
}

uint32_t sampler_draw(const Sampler *s, Rng *rng, const uint32_t *excluded_sorted,
                      size_t n_excluded)
{
    assert(s && rng && (excluded_sorted || n_excluded == 0));
    assert(n_excluded == 0 || excluded_sorted[n_excluded - 1] < s->n_items);
    if (n_excluded >= s->n_items)
        return UINT32_MAX;
    for (int tries = 0; tries < SAMPLER_MAX_TRIES; tries++) {
        uint32_t item = sampler_draw_target(s, rng);
        if (!sorted_u32_contains(excluded_sorted, n_excluded, item))
            return item;
    }
    uint64_t rank = rng_below(rng, s->n_items - n_excluded);
    return allowed_at_rank(excluded_sorted, n_excluded, rank);
}

void sampler_free(Sampler *s)
{
    free(s->accept);
    free(s->alias);
    memset(s, 0, sizeof *s);
}

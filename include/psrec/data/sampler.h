/* sampler.h — negative items for ranking losses (BPR and friends).
 *
 * A draw picks an item index from a fixed target distribution over the
 * catalogue — uniform, or by popularity P(i) ∝ count_i^exponent — while
 * never returning an item the user has. The target is drawn in O(1) from a
 * Walker alias table; the user's items are rejected by binary search in
 * their sorted list (a History row). The result is the target renormalised
 * over the allowed items; only when rejection keeps failing (the user holds
 * nearly all the target's mass) does a draw fall back to a uniform pick
 * among the allowed items, which the tries bound makes rare:
 * with allowed mass m it happens with probability (1 - m)^SAMPLER_MAX_TRIES.
 *
 * Draws depend only on the sampler and the Rng state, so a seeded Rng gives
 * the same negatives on every run.
 */
#ifndef PSREC_SAMPLER_H
#define PSREC_SAMPLER_H

#include <stddef.h>
#include <stdint.h>

#include "psrec/core/util.h"

#define SAMPLER_MAX_TRIES 64 /* rejected draws before the uniform fallback */

typedef enum { SAMPLER_UNIFORM = 0, SAMPLER_POPULARITY = 1 } SamplerKind;

typedef struct {
    SamplerKind kind;
    size_t n_items;
    /* Alias table, popularity only (NULL for uniform): draw column i
     * uniformly, keep i with probability accept[i], else take alias[i]. */
    double *accept;  /* (n_items,) */
    uint32_t *alias; /* (n_items,) */
} Sampler;

/* Prepares a sampler over items 0 … n_items-1 (n_items < UINT32_MAX).
 * SAMPLER_POPULARITY weighs item i by item_counts[i]^popularity_exponent
 * (an item with count ≤ 0 is never a target; if no item has a positive
 * count the target is uniform); SAMPLER_UNIFORM ignores item_counts, which
 * may then be NULL. The caller frees the sampler with sampler_free. */
void sampler_init(Sampler *s, SamplerKind kind, const double *item_counts, size_t n_items,
                  double popularity_exponent);

/* Draws an item index not in excluded_sorted (n_excluded distinct indices
 * below n_items, ascending — e.g. history_items of the user). Returns
 * UINT32_MAX only when every item is excluded. Advances *rng. */
uint32_t sampler_draw(const Sampler *s, Rng *rng, const uint32_t *excluded_sorted,
                      size_t n_excluded);

/* Frees the table and zeroes *s; a no-op on a zeroed sampler. */
void sampler_free(Sampler *s);

#endif

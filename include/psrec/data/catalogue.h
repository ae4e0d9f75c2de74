/* catalogue.h — the item catalogue: every item id known to the run, with how
 * often it occurs, numbered 0 … n_items-1.
 *
 * Ranking models score and sample items by catalogue index, and every
 * process must number items alike: the catalogue is built from the gathered
 * (id, count) pairs of all workers, and its order (ids ascending, counts
 * summed in a fixed order) depends only on that multiset of pairs, never on
 * which worker sent what first.
 */
#ifndef PSREC_CATALOGUE_H
#define PSREC_CATALOGUE_H

#include <stddef.h>
#include <stdint.h>

#include "psrec/core/keyindex.h"

typedef struct {
    size_t n_items;
    uint64_t *ids;   /* (n_items,) sorted ascending, distinct */
    double *counts;  /* (n_items,) interactions per item */
    KeyIndex *index; /* id → its position in ids */
} Catalogue;

/* Builds *out from n (id, count) pairs: duplicate ids are merged by summing
 * their counts; ids are sorted so every process that gets the same multiset
 * builds the same catalogue. counts may be NULL: every pair then counts 1
 * (pass each interaction's item id). ids and counts are (n,) and are not
 * kept. The caller frees *out with catalogue_free. */
void catalogue_build(Catalogue *out, const uint64_t *ids, const double *counts, size_t n);

/* The catalogue index of id, or -1 when the catalogue lacks it. */
int64_t catalogue_find(const Catalogue *catalogue, uint64_t id);

/* Frees the arrays and the index and zeroes *catalogue; a no-op on a zeroed
 * catalogue. */
void catalogue_free(Catalogue *catalogue);

#endif

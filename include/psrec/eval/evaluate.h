/* evaluate.h — ranking evaluation of held-out interactions, per user.
 *
 * Two protocols, over the users this process holds (the caller sums the
 * statistics of every process):
 *  - sampled: each held-out (user, item) against `sampled_negatives` items
 *    drawn uniformly, without repeats, from the candidate items (all, or
 *    e.g. the cold ones) the user never interacted with. The draw depends only on (sampled_seed, user, item),
 *    so every model, epoch and layout sees the same candidates.
 *  - full ranking: the user's top K over the whole catalogue minus the items
 *    in `excluded` (training, or training and validation), compared with
 *    the user's held-out items; catalogue coverage of those lists.
 */
#ifndef PSREC_EVALUATE_H
#define PSREC_EVALUATE_H

#include <stddef.h>
#include <stdint.h>

#include "psrec/data/catalogue.h"
#include "psrec/data/dataset.h"
#include "psrec/data/history.h"
#include "psrec/eval/ranking.h"
#include "psrec/eval/scorer.h"

typedef struct {
    const Ratings *heldout;     /* the held-out interactions of this process's users */
    const Catalogue *catalogue;
    const History *excluded;    /* per user: left out of the full ranking */
    const History *seen;        /* per user: every item the user has; never a sampled negative */
    /* NULL: every catalogue item is a candidate. Else the only items that
     * are ranked and drawn as sampled negatives (ascending catalogue
     * indices, e.g. the cold items). */
    const uint32_t *candidates;
    size_t n_candidates;
    int sampled_negatives;      /* e.g. 99 */
    uint64_t sampled_seed;
} RankingEvaluation;

/* Adds every held-out user's figures to *stats, and marks in shown (of
 * RANKING_N_CUTOFFS × n_items) with 1 every item that some user's top K
 * holds, for each cutoff K. A (user, item) pair listed more than once in
 * heldout counts once; items missing from the catalogue are skipped. */
void evaluate_ranking(const CatalogueScorer *scorer, const RankingEvaluation *evaluation,
                      RankingStats *stats, double *shown);

#endif

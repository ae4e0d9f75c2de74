/* train_neighbours.h — the worker's side of building a neighbourhood model
 * (models/neighbours.h) in a `psrec train` job, and its rating evaluation.
 *
 * Building: every worker counts how many of its users have each item
 * (summed over the workers: the items' norms), then, block of items by
 * block, adds the pairs of its users' histories into a local PairTable
 * (flushed to the servers whenever it outgrows half the memory budget) and
 * asks the servers to merge the block. The number of blocks is chosen so
 * that a server's pair sums fit --memory-budget even if no pair repeated.
 */
#ifndef PSREC_TRAIN_NEIGHBOURS_H
#define PSREC_TRAIN_NEIGHBOURS_H

#include "psrec/app/config.h"
#include "psrec/data/training_set.h"
#include "psrec/eval/metrics.h"
#include "psrec/models/neighbours.h"
#include "psrec/ps/worker.h"

typedef struct {
    double pairs;         /* ordered pairs counted, over all workers */
    double users_capped;  /* histories sampled down to --max-history */
    double blocks;        /* blocks of items the counting took */
    double seconds;       /* wall time of the build */
} NeighbourBuildStats;

/* Builds the model's neighbour lists (and popularity counts) on the
 * servers from the workers' training histories. Collective over the
 * workers; fills *stats (the same on every worker). */
void train_neighbours_build(Worker *worker, const ModelOps *model, const ModelParams *params,
                            const TrainConfig *config, int n_servers, const Catalogue *catalogue,
                            const UserItems *history, NeighbourBuildStats *stats);

/* Adds the errors of the baseline form's predictions for heldout (this
 * worker's users) to *stats, reading the model from the servers. */
void train_neighbours_evaluate_ratings(Worker *worker, const ModelOps *model,
                                       const ModelParams *params, const Catalogue *catalogue,
                                       const UserItems *history, const Ratings *heldout,
                                       ErrorStats *stats);

#endif

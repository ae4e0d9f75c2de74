/* train_neighbours.h — the worker's side of building a neighbourhood model
 * (models/neighbours.h) in a `psrec train` job, and its rating evaluation.
 *
 * Building: every worker counts how many of its users have each item
 * (summed over the workers: the items' norms), then, block of items by
 * block, adds the pairs of its users' histories into a local PairTable
 * (flushed to the servers whenever it outgrows half the memory budget) and
 * asks the servers to merge the block. The number of blocks is chosen so
 * that a server's pair sums fit --memory-budget even if no pair repeated.
 *
 * user-knn compares users on different workers without gathering every
 * history anywhere: per block of users (rows), the workers' histories go
 * round in bounded chunks (an allgather of one chunk per worker at a time);
 * each worker counts, against each chunk, the co-occurrences of its own
 * block users through an inverted index (item → its own users), and sends
 * them to the servers owning those users' rows. The items' popularity is
 * merged in a last round of its own (its norms are the items', not users').
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
    double sampled;       /* lists sampled down to --max-history: users' histories
                           * (item-knn) or items' users (user-knn) */
    double blocks;        /* blocks of items the counting took */
    double seconds;       /* wall time of the build */
} NeighbourBuildStats;

/* Builds the model's neighbour lists (and popularity counts) on the
 * servers from the workers' training histories. Collective over the
 * workers; fills *stats (the same on every worker). */
void train_neighbours_build(Worker *worker, const ModelOps *model, const ModelParams *params,
                            const TrainConfig *config, const CommLayout *layout,
                            const Catalogue *catalogue, const UserItems *history,
                            NeighbourBuildStats *stats);

/* user-knn: the histories (from each owner's `own`) of every neighbour of
 * this worker's users, into *out (free with user_items_free): what scoring
 * them needs. Collective over the workers. */
void train_neighbours_fetch_histories(Worker *worker, const ModelParams *params,
                                      const CommLayout *layout, const Catalogue *catalogue,
                                      const UserItems *own, UserItems *out);

/* Adds the errors of the baseline form's predictions for heldout (this
 * worker's users) to *stats, reading the model from the servers. */
void train_neighbours_evaluate_ratings(Worker *worker, const ModelOps *model,
                                       const ModelParams *params, const Catalogue *catalogue,
                                       const UserItems *history, const Ratings *heldout,
                                       ErrorStats *stats);

#endif

/* training_set.h — everything a worker learns from and is evaluated on.
 *
 * Loading reads this worker's byte range of the files, exchanges
 * interactions so that each user's history is on one worker
 * (data/exchange.h), holds out per user (leave-one-out) when asked, agrees
 * on the item catalogue, and indexes each user's items for negative
 * sampling and for leaving known items out of rankings:
 *   train ⊂ the interactions a model learns from;
 *   valid, test: held out (valid only with leave-one-out);
 *   known_train: per user, the catalogue indices of its training items
 *     (negatives avoid them; validation rankings leave them out);
 *   known_valid: training and validation items (test rankings leave them out);
 *   seen: every item of the user (sampled evaluation negatives avoid them).
 * With cold items (cold_fraction > 0) the test set is every interaction of
 * the held-out items instead, and those items are listed in cold_items.
 * `psrec recommend` loads the same set in one process (distributed false),
 * so its lists leave out exactly what the test-time ranking left out.
 */
#ifndef PSREC_TRAINING_SET_H
#define PSREC_TRAINING_SET_H

#include <stdbool.h>

#include "psrec/data/catalogue.h"
#include "psrec/data/dataset.h"
#include "psrec/data/history.h"
#include "psrec/data/sampler.h"
#include "psrec/data/user_blocks.h"

typedef struct {
    const char *train_path;
    const char *test_path;      /* NULL or "": none */
    DatasetOptions dataset;
    bool leave_one_out;
    double cold_fraction;       /* > 0: hold out this share of items entirely (cold items) */
    uint64_t cold_seed;         /* which items are cold: a hash of (seed, item id) */
    /* Items added to the catalogue with no interactions (e.g. new products
     * that have features); NULL: none. Not owned. */
    const uint64_t *extra_items;
    size_t n_extra_items;
    bool allow_file_order;      /* leave-one-out without timestamps: file order is time */
    bool index_users;           /* build the known_* and seen histories */
    SamplerKind negative_sampling;
    double popularity_exponent;
} TrainingSetOptions;

typedef struct {
    Ratings train, valid, test;
    /* train's examples grouped by user block (training_set_arrange); zero
     * until then. */
    UserBlocks train_blocks;
    Catalogue catalogue;        /* every item in the files; counts from train */
    History known_train;
    History known_valid;
    History seen;
    Sampler sampler;            /* over the catalogue, by the train counts */
    /* --split cold-items: the catalogue indices of the cold items
     * (ascending), which held-out interactions are ranked among; else NULL. */
    uint32_t *cold_items;
    size_t n_cold_items;
    bool indexed;               /* the histories and sampler are built */
} TrainingSet;

/* Groups the training examples into n_blocks user blocks
 * (user_blocks_arrange) for training to visit block by block. */
void training_set_arrange(TrainingSet *set, size_t n_blocks);

/* Loads worker `worker` of n_workers's part. distributed: the workers read
 * byte ranges and exchange by user (collective over the workers);
 * otherwise this process reads whole files and keeps every user (worker
 * and n_workers are ignored). Returns 0, or -1 with a message naming the
 * file and line; *set is then partly filled and must still be freed with
 * training_set_free. Failures are per process: the caller agrees on them
 * before any collective that follows. */
int training_set_load(TrainingSet *set, const TrainingSetOptions *options, bool distributed,
                      int worker, int n_workers, Error *err);

/* Builds the catalogue and the per-user indexes of a loaded set.
 * Collective over the workers when distributed. */
void training_set_index(TrainingSet *set, const TrainingSetOptions *options, bool distributed);

void training_set_free(TrainingSet *set);

#endif

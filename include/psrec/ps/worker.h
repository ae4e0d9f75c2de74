/* worker.h — the worker side of training: minibatches through the
 * pull → compute → push loop.
 *
 * For each minibatch a worker collects the batch's distinct keys, sends one
 * PullRequest per server that owns some of them, computes the model's
 * gradients on the rows it gets back, sums them per key, and sends one Push
 * to every server (empty ones too: a push also reports the worker's clock,
 * which BSP/SSP servers wait on). The next batch's pull is sent before the
 * current batch is computed, so it is in flight during the computation; under
 * ASP and SSP it may therefore be answered before this worker's own previous
 * push arrives (BSP holds it until that push, like every other, is in).
 * The worker's clock is the number of batches it has pushed; a pull for the
 * batch with global index g asks servers to wait until every worker's clock
 * is at least g − staleness (BSP: staleness 0; ASP: never wait).
 */
#ifndef PSREC_WORKER_H
#define PSREC_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "psrec/ps/comm.h"
#include "psrec/data/catalogue.h"
#include "psrec/data/dataset.h"
#include "psrec/data/history.h"
#include "psrec/data/sampler.h"
#include "psrec/data/user_blocks.h"
#include "psrec/core/keys.h"
#include "psrec/eval/metrics.h"
#include "psrec/models/model.h"
#include "psrec/ps/pairs.h"
#include "psrec/core/progress.h"

#define WORKER_NEVER_WAIT UINT64_MAX /* staleness of ASP */

typedef struct {
    const CommLayout *layout;
    const ShardMap *map;
    const ModelOps *model;
    ModelParams params;
    bool pull_bf16;       /* training pulls bring rows as bfloat16 (--pull-precision bf16) */
    uint64_t staleness;   /* 0 for BSP, s for SSP, WORKER_NEVER_WAIT for ASP */
    uint64_t seed;        /* shuffling and negative sampling */
    /* The training examples' user blocks (worker_epoch_order); NULL: one
     * block. Not owned. */
    const UserBlocks *blocks;
    /* Implicit models only: negatives are items of the catalogue drawn by
     * the sampler, never one of the user's own items (positives, by
     * catalogue index). Not owned. */
    const Catalogue *catalogue;
    const Sampler *sampler;
    const History *positives;
    /* The feature maps of hybrid representations (params says which are
     * used); NULL: none. Not owned. */
    const ModelFeatures *features;
    /* The clock the worker starts at: 0, or the checkpoint's on resume
     * (every worker and server starts at the same one). */
    uint64_t start_clock;
    /* Mid-epoch pauses: what this worker wants now (WORKER_PAUSE_* bits,
     * e.g. a checkpoint is due or a stop signal came). NULL: nothing. */
    uint64_t (*pause_wanted)(void *context);
    void *pause_context;
} WorkerSetup;

/* Why the workers pause training (bits of a vote). */
#define WORKER_PAUSE_CHECKPOINT 1u /* write a checkpoint, then go on */
#define WORKER_PAUSE_STOP 2u       /* write a checkpoint, then stop the run */
/* Pauses are agreed every this many batches of the clock. A vote started at
 * one decision point is collected at the next, so it costs no waiting
 * unless a worker is more than this many batches behind (SSP with a larger
 * staleness, or ASP: then the faster one waits there for the slower). */
#define WORKER_VOTE_INTERVAL 16u

typedef struct {
    uint64_t train_bytes_sent; /* pull requests and pushes of training batches */
    double pull_wait_seconds;  /* blocked waiting for pull responses */
} WorkerStats;

typedef struct Worker Worker;

/* Creates a worker; setup is copied (its pointers must outlive the worker).
 * The caller owns the worker; worker_destroy(NULL) is a no-op. */
Worker *worker_create(const WorkerSetup *setup);
void worker_destroy(Worker *worker);

/* What one call of worker_train_epoch did. */
typedef struct {
    double loss;      /* the model's summed loss over the examples before their updates
                       * (explicit models: the summed squared error) */
    uint64_t batches; /* batches trained in this call */
    uint64_t pause;   /* WORKER_PAUSE_* bits the workers agreed on, or 0 */
} EpochRun;

/* Trains batches [first_batch, n_batches) of one epoch: the local examples
 * in a shuffled order, split into exactly n_batches batches of near-equal
 * size (every worker must use the same n_batches so clocks stay
 * comparable); a batch's order and negatives depend only on (seed, worker,
 * epoch, batch), so a resumed epoch continues exactly. Implicit models
 * draw params.negatives negatives per example. Returns early, after the
 * same batch on every worker, when a vote (setup.pause_wanted) asked for a
 * pause; at the end of the epoch the last vote is collected, so
 * run->pause may be set then too. Collective over the workers. progress
 * may be NULL. */
void worker_train_epoch(Worker *worker, const Ratings *train, int epoch, uint64_t n_batches,
                        uint64_t first_batch, Progress *progress, EpochRun *run);

/* Reading the model: rows are read (never created; absent rows read as
 * zeros) once every worker has pushed as many batches as this one. The
 * figures are those of one model on every worker provided no worker pushes
 * again before all have finished reading (train.c's reduction of the
 * results after evaluating ensures it). */

/* Adds the errors of the model's predictions for every example of test to
 * *stats. */
void worker_evaluate_ratings(Worker *worker, const Ratings *test, ErrorStats *stats);

/* The representations of n users or items (table MODEL_TABLE_USER or
 * MODEL_TABLE_ITEM: each row plus its features) or of n dense blocks
 * (MODEL_TABLE_DENSE, ids = block numbers) into out: (n, that table's
 * width). */
void worker_read_representations(Worker *worker, uint32_t table, const uint64_t *ids, size_t n,
                                 float *out);
/* worker_read_representations as a RepresentationReader (models/model.h):
 * context is the Worker. */
void worker_representation_reader(void *worker, uint32_t table, const uint64_t *ids, size_t n,
                                  float *out);

/* Asks every server to save the model as it is now (every worker's pushes
 * up to this clock) and waits until all have. Collective over the workers:
 * each must call it at the same clock. */
void worker_snapshot(Worker *worker);

/* Asks every server to make the last snapshot the model again and waits
 * until all have. Collective over the workers, as worker_snapshot. */
void worker_restore_snapshot(Worker *worker);

/* Asks every server to write its rows as checkpoint `number` (the folder
 * must exist) and waits until all have. Collective over the workers, as
 * worker_snapshot. */
void worker_checkpoint(Worker *worker, uint64_t number);

/* The number of batches this worker has pushed. */
uint64_t worker_clock(const Worker *worker);

/* Neighbourhood models: sends the pair sums of `pairs` to the servers
 * that own their rows, with the norms of every id they name (row ids and
 * columns: pairs must hold a norm for each), then clears the pairs. Sums
 * travel as floats. */
void worker_send_pairs(Worker *worker, PairTable *pairs);
/* Tells every server that this worker has sent all its pairs of `block`
 * and waits until each has built the block's rows (server.h). Collective
 * over the workers: each must call it for the same block. */
void worker_merge_pairs(Worker *worker, uint64_t block);

/* Tells every server this worker is done and waits for its sends. */
void worker_finish(Worker *worker);

const WorkerStats *worker_stats(const Worker *worker);

/* Batch b of n_batches over n examples covers positions
 * [n*b/n_batches, n*(b+1)/n_batches) of the epoch order. */
size_t worker_batch_start(size_t n, uint64_t n_batches, uint64_t batch);

#endif

/* server.h — the parameter-server loop.
 *
 * A server owns the rows of the virtual shards the shard map gives it. It
 * answers pulls (creating rows on first touch when asked), applies pushed
 * gradients with the store's optimizer, and enforces consistency: a pull
 * that asks for min_clock is held until every worker has pushed at least
 * min_clock batches (BSP asks for its own clock, SSP its clock minus the
 * staleness bound, ASP nothing). It runs until every worker has sent
 * WORKER_DONE. Any message that does not decode, names a row this server does
 * not own, or whose sizes disagree with the tables is a protocol error:
 * fatal(), with the sender and what was wrong.
 */
#ifndef PSREC_SERVER_H
#define PSREC_SERVER_H

#include <stdint.h>

#include "psrec/ps/comm.h"
#include "psrec/core/keys.h"
#include "psrec/ps/pairs.h"
#include "psrec/ps/store.h"

typedef struct {
    uint64_t pulls;             /* pull requests answered */
    uint64_t pushes;            /* push messages applied */
    uint64_t rows_pulled;
    uint64_t rows_pushed;
    uint64_t train_bytes_sent;  /* bytes of responses to training pulls */
    uint64_t staleness_sum;     /* over training pulls: requester's clock − slowest worker's */
    uint64_t staleness_max;
    uint64_t staleness_samples;
    uint64_t pairs_received;    /* neighbourhood models: pair sums received */
    uint64_t pairs_merged;      /* distinct pairs merged into rows */
    uint64_t pair_bytes_peak;   /* the most memory the pair sums held at once */
} ServerStats;

/* The learning rate as a function of the epoch: a push for clock c belongs
 * to epoch (c − 1) / batches_per_epoch and is applied with
 * learning_rate · decay^epoch. */
typedef struct {
    float learning_rate;
    float decay;
    uint64_t batches_per_epoch;
} LearningRateSchedule;

/* What a server writes of its rows when the workers ask. save writes the
 * store as the run's snapshot (the best epoch so far): 0, or -1 with a
 * message. restore makes the snapshot the model again: it returns a store
 * holding exactly the snapshot's rows and destroys current, or returns NULL
 * with a message. checkpoint writes the store (and the snapshot, if one
 * was saved) into checkpoint number `number` (app/checkpoints.h). A
 * failure of any ends the job. */
typedef struct {
    int (*save)(void *context, Store *store, Error *err);
    Store *(*restore)(void *context, Store *current, Error *err);
    int (*checkpoint)(void *context, Store *store, uint64_t number, Error *err);
    void *context;
} ServerSnapshot;

/* Neighbourhood models: how a server turns pair sums into rows. Workers send
 * PairCounts for the rows this server owns, block by block; once every
 * worker has sent PAIRS_DONE for a block, merge is called with the block's
 * sums (pairs of `width` values, with the norms of their columns) and
 * writes rows into store; then the sums are dropped and every worker gets
 * PAIRS_MERGED. A merge failure ends the job. */
typedef struct {
    int width;
    int (*merge)(void *context, Store *store, PairTable *pairs, Error *err);
    void *context;
} ServerPairs;

/* Serves until every worker is done. *store holds this server's rows (it may
 * already hold rows, e.g. from a checkpoint; a restore replaces *store);
 * map says which keys are ours; every worker starts at clock start_clock
 * (0, or the clock of the checkpoint the run resumes from).
 * Collective in the sense that every worker must eventually send
 * WORKER_DONE to every server.
 * Snapshots: once every worker has sent SNAPSHOT for its current clock
 * (each sends it after all its pushes of that clock, and pushes nothing more
 * until answered), the store holds exactly the model at that clock:
 * snapshot->save is called and every worker gets SNAPSHOT_SAVED. RESTORE,
 * asked the same way, replaces the store with the snapshot and answers
 * RESTORED; CHECKPOINT calls snapshot->checkpoint and answers
 * CHECKPOINT_SAVED. snapshot may be NULL when no worker will ask.
 * Every pull response says whether this server received a stop signal
 * (core/stop_signal.h), so the workers learn of it even when only the
 * servers were signalled. */
void server_run(const CommLayout *layout, const ShardMap *map, const LearningRateSchedule *schedule,
                uint64_t start_clock, Store **store, const ServerSnapshot *snapshot,
                const ServerPairs *pairs, ServerStats *stats);

/* The learning rate of the epoch that a push for `clock` belongs to. */
float server_learning_rate(const LearningRateSchedule *schedule, uint64_t clock);

#endif

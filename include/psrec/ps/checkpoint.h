/* checkpoint.h — the model on disk: one shard file per server and a manifest.
 *
 * A shard file holds every row a server owns (weights and optimizer state)
 * in a binary format: the magic "PSRECSHD", a format version, a table
 * directory, the rows, and a 64-bit FNV-1a checksum of everything before it.
 * Files are written to a temporary name and renamed, so a reader never sees
 * a half-written file. The manifest is a `key = value` text file the chief
 * writes last: it is the commit point — a model folder without one is
 * incomplete. Numbers are stored in the machine's (little-endian) order.
 */
#ifndef PSREC_CHECKPOINT_H
#define PSREC_CHECKPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "psrec/core/keys.h"
#include "psrec/ps/store.h"
#include "psrec/core/util.h"

#define CHECKPOINT_SHARD_MAGIC "PSRECSHD"
#define CHECKPOINT_SHARD_VERSION 2u
#define CHECKPOINT_MANIFEST_VERSION 1

/* Writes all rows of store to path (via path + ".tmp" and rename), naming
 * the run that wrote it (run_id, recorded in the manifest too, so a shard
 * of another run is refused; 0: none). Stops at the first failed write.
 * Returns 0, or -1 with a message naming the file and the OS error. */
int checkpoint_write_shard(const char *path, Store *store, uint64_t run_id, Error *err);

/* Reads a shard file into store (rows are inserted with store_put_row).
 * Fails with a message naming the file and what is wrong when the magic,
 * version or checksum is wrong, the file is truncated, or a table in the file
 * is missing from store or has another width or stride. When owner_map is not
 * NULL, every key in the file must satisfy
 * shardmap_server_of(owner_map, key) == server (0 <= server < n_servers), else
 * it fails saying the shard files are mixed up; NULL skips that check (a
 * restore that re-shards the rows). On failure store may hold some of the
 * file's rows. *run_id (unless NULL) gets the run the file names (0 for
 * version 1 files, which name none). */
int checkpoint_read_shard(const char *path, Store *store, const ShardMap *owner_map, int server,
                          uint64_t *run_id, Error *err);

/* Reads only the rows of a shard file that map gives to `server`, skipping
 * the others: how rows written by one layout of servers are re-sharded
 * onto another (every server reads every file of the old layout). Checks
 * the file as checkpoint_read_shard does. */
int checkpoint_read_shard_owned(const char *path, Store *store, const ShardMap *map, int server,
                                uint64_t *run_id, Error *err);

/* Copies the file at from to `to` the way every file here is written (a
 * temporary name, synced, renamed), adding its bytes to *bytes and
 * *checksum (either may be NULL). A missing source copies as an empty file
 * when missing_is_empty. Returns 0, or -1 with a message naming the file. */
int checkpoint_copy_file(const char *from, const char *to, bool missing_is_empty,
                         uint64_t *bytes, uint64_t *checksum, Error *err);

/* The file name of shard `server` of `n_servers` inside dir:
 * "<dir>/shard-00001-of-00004.bin". Writes at most out_bytes bytes. */
void checkpoint_shard_path(char *out, size_t out_bytes, const char *dir, int server, int n_servers);

/* Where training stood when a checkpoint was written (all 0 in a finished
 * model's manifest). A worker's own position needs no file: every worker
 * pauses at the same clock, and its batch order and negative samples are
 * functions of (seed, worker, epoch, batch). */
typedef struct {
    uint64_t number;            /* the checkpoint's number (its folder's name) */
    int epoch;                  /* the epoch in progress, 0-based */
    uint64_t batch;             /* its batches done (= batches_per_epoch: trained, not yet
                                 * evaluated) */
    uint64_t batches_per_epoch; /* per worker, with `workers` workers */
    int workers;
    double epoch_loss_sum;      /* the epoch's summed loss so far, all workers */
    double first_loss;          /* epoch 1's mean loss (the divergence check's reference) */
    int best_snapshot;          /* 1: best-shard-*.bin hold the best epoch's model (--patience) */
    double best_watched;        /* its validation figure */
    int reported_epoch;         /* the epoch whose figures the summary reports (its line in
                                 * metrics.jsonl), 0: none yet */
    uint64_t metrics_bytes;     /* metrics.jsonl as copied into the checkpoint */
    uint64_t metrics_checksum;
    double train_seconds;       /* training time spent so far */
} TrainPosition;

/* What a model folder holds beside its shards. */
typedef struct {
    int version;            /* CHECKPOINT_MANIFEST_VERSION */
    char model[32];         /* "mf" */
    int dim;                /* latent factors */
    int n_servers;          /* shard files */
    int n_vshards;
    int optimizer;          /* OptimizerKind */
    uint64_t init_seed;
    int epochs_done;
    uint64_t clock;         /* batches pushed per worker so far */
    double global_mean;     /* μ of the training ratings */
    double rating_min;      /* predictions are clipped to [rating_min, rating_max] */
    double rating_max;
    /* The model's shape beyond dim (0 where it does not apply; files
     * written before these existed read as 0). */
    int hidden;             /* deep: hidden layer width */
    int activation;         /* deep: Activation */
    int loss;               /* deep: RankingLoss */
    int item_features;      /* 1: representations use the feature tables */
    int user_features;
    int user_history;
    double history_scale;   /* user history weights: history_scale/√|N(u)| */
    int neighbours;         /* item-knn: neighbours per item (the lists' width) */
    int similarity;         /* item-knn: Similarity */
    double alpha;           /* item-knn cosine: exponent */
    double shrink;          /* item-knn: shrinkage */
    int rated_neighbours;   /* item-knn on ratings: rated neighbours per prediction */
    uint64_t run_id;        /* the run that wrote the model; its shards name it too (0: unknown) */
    /* The model a --warm-start run started from: its run id and its
     * manifest's checksum (0: trained from new rows). */
    uint64_t warm_start_run_id;
    uint64_t warm_start_checksum;
    TrainPosition position; /* checkpoints only */
    /* Not a key: the checksum line's value, filled by
     * checkpoint_read_manifest (0 when the file has none), which names this
     * exact manifest. */
    uint64_t checksum;
} ModelManifest;

/* Writes the manifest (via a temporary file and rename), ending with a
 * line `checksum = N` over every byte before it. */
int checkpoint_write_manifest(const char *path, const ModelManifest *manifest, Error *err);

/* Reads a manifest; fails naming the file and line on an unknown key, a
 * malformed value, a missing key or another version, and naming the file when
 * rating_min is above rating_max or n_vshards is below n_servers, or when
 * its checksum line disagrees with its bytes (manifests written before
 * the checksum line existed have none and are read without it). out->checksum
 * gets the checksum line's value. */
int checkpoint_read_manifest(const char *path, ModelManifest *out, Error *err);

#endif

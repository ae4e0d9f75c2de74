/* checkpoints.h — a folder of numbered checkpoints a run resumes from.
 *
 * DIR/ckpt-000007/ holds one shard file per server (shard-*.bin: rows with
 * optimizer state and steps, in the model files' format), with --patience
 * the best epoch's model so far (best-shard-*.bin), the run's metrics so
 * far (metrics.jsonl), and — written last, by the chief, once every
 * server's shard is on disk — manifest.txt, which carries the training
 * position (checkpoint.h: TrainPosition) and the checksum of metrics.jsonl,
 * and ends with its own checksum. A folder without a manifest is
 * incomplete (the run was killed while writing it) and is never resumed
 * from; every file is checked on resume, and a damaged checkpoint is
 * refused naming the file, so resume falls back to the one before. The
 * newest --keep-checkpoints complete checkpoints are kept.
 */
#ifndef PSREC_CHECKPOINTS_H
#define PSREC_CHECKPOINTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "psrec/core/keys.h"
#include "psrec/core/progress.h"
#include "psrec/core/util.h"
#include "psrec/ps/checkpoint.h"
#include "psrec/ps/store.h"

/* At most this many complete checkpoints are considered on resume. */
#define CHECKPOINTS_MAX_CANDIDATES 64

/* "<dir>/ckpt-000007". */
void checkpoints_folder(char *out, size_t out_bytes, const char *dir, uint64_t number);

/* The complete checkpoints of dir (those with a manifest), newest first (at
 * most max), and the highest number any folder has, complete or not (the
 * next checkpoint takes the one after). A missing dir holds none. */
int checkpoints_list(const char *dir, uint64_t *complete, size_t max, size_t *n_complete,
                     uint64_t *highest, Error *err);

/* Removes all but the newest `keep` complete checkpoints, and incomplete
 * folders older than the newest complete one (leftovers of killed runs). */
void checkpoints_prune(const char *dir, int keep);

/* Server side: writes this server's rows into checkpoint folder `folder`
 * as shard `server` of `n_servers`, and, when snapshot_path is not NULL,
 * copies that file (the best epoch's model) beside it as best-shard-… */
int checkpoints_write_shard(const char *folder, Store *store, uint64_t run_id, int server,
                            int n_servers, const char *snapshot_path, Error *err);

/* Server side: adds to store the rows that map gives to `server` from every
 * shard file of a checkpoint written by `n_shards` servers (best: the
 * best-shard-… files instead), so any layout resumes from any other. */
int checkpoints_read_rows(const char *folder, bool best, int n_shards, Store *store,
                          const ShardMap *map, int server, uint64_t run_id, Error *err);

/* Chief side: copies the file at from to folder/metrics.jsonl and says its
 * size and checksum (a missing file copies as empty). */
int checkpoints_save_metrics(const char *from, const char *folder, uint64_t *bytes,
                             uint64_t *checksum, Error *err);

/* Chief side: checks folder/metrics.jsonl against its recorded size and
 * checksum and copies it to `to`; *reported (unless NULL or epoch 0) gets
 * the record of epoch `epoch` from it. */
int checkpoints_restore_metrics(const char *folder, uint64_t bytes, uint64_t checksum,
                                const char *to, int epoch, EpochRecord *reported, Error *err);

#endif

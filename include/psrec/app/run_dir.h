/* run_dir.h — a run folder that changes like a transaction.
 *
 * What a reader of RUN uses — RUN/config.conf, RUN/metrics.jsonl,
 * RUN/summary.json and RUN/model/ — are symbolic links into RUN/current,
 * itself a link to the generation folder (RUN/gen-<run id>) of the last run
 * that succeeded. A run writes everything into a generation folder of its
 * own; committing it re-points RUN/current with one rename, so the new
 * model, summary and configuration become visible together, and only when
 * the run succeeded. Until then (and forever, if the run fails or is
 * killed) the previous run's files stay whole.
 *
 * One run at a time: the chief holds a POSIX lock on RUN/.lock for the
 * whole run (the kernel drops it when the process dies, even by SIGKILL),
 * and a second run refuses, naming the holder written in the file.
 * Generation folders that no link points at are leftovers of failed or
 * killed runs, removed by the next run that takes the lock. A folder from
 * before this layout (plain files) becomes its first generation.
 */
#ifndef PSREC_RUN_DIR_H
#define PSREC_RUN_DIR_H

#include <stdbool.h>

#include "psrec/core/options.h"
#include "psrec/core/util.h"

typedef struct {
    char root[OPTION_STRING_BYTES];          /* RUN */
    char generation[OPTION_STRING_BYTES + 64]; /* RUN/gen-<id>: where this run writes */
    uint64_t run_number;                     /* the run id (in hex in the generation's name) */
    int lock_fd;                             /* -1 when not held */
    bool committed;
} RunDir;

/* Chief only: creates RUN if needed, takes its lock (or fails naming the
 * run that holds it), removes leftovers of failed runs, and creates this
 * run's generation folder with its model/ subfolder. Returns 0, or -1 with
 * a message (nothing is held then). */
int run_dir_begin(RunDir *run, const char *root, Error *err);

/* Chief only: makes this run's generation the current one (the links of
 * RUN point at it from then on) and removes the previous generation. */
int run_dir_commit(RunDir *run, Error *err);

/* Chief only: releases the lock; a generation that was not committed is
 * removed. Safe on a RunDir that run_dir_begin failed to fill. */
void run_dir_end(RunDir *run);

/* Takes FOLDER/.lock (the folder must exist) for as long as *lock_fd stays
 * open, writing who holds it; fails naming the holder when another
 * process has it. */
int run_dir_lock_folder(const char *folder, int *lock_fd, Error *err);

/* Removes path: a file or link, or a folder with everything in it (links
 * are removed, never followed). Returns 0 or -1 with errno set. */
int run_dir_remove_tree(const char *path);

/* What happened in RUN, when it has no committed model, for a reader's
 * message: RUN_DIR_TRAINING (a psrec train holds the lock now; *holder gets
 * its "pid … on … since …"), RUN_DIR_UNFINISHED (a run took the lock and
 * left without committing: it failed or was killed), or RUN_DIR_UNTOUCHED
 * (no run ever started there, or RUN does not exist). */
typedef enum { RUN_DIR_UNTOUCHED = 0, RUN_DIR_TRAINING, RUN_DIR_UNFINISHED } RunDirHistory;
RunDirHistory run_dir_history(const char *root, char *holder, size_t holder_bytes);

/* The model folder of RUN's current generation, RUN/gen-<id>/model: unlike
 * RUN/model (a link through RUN/current), it stays that generation's while
 * it exists, even if another run commits meanwhile. RUN/model for a folder
 * without the links (an older psrec's plain files). */
void run_dir_model_folder(const char *root, char *out, size_t out_bytes);

/* Bytes free for an unprivileged writer on the file system of path, or -1
 * when the system does not say. */
double run_dir_free_bytes(const char *path);

#endif

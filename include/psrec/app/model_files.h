/* model_files.h — reading a trained model folder back into memory.
 *
 * `psrec train --run-dir RUN` leaves RUN/model/manifest.txt (the commit
 * point) and one shard file per server. The commands that use a trained
 * model (predict, export) load it here, into one store, without MPI: every
 * shard is checked to hold only the keys its slot owns by the manifest's
 * shard map, so swapped or copied shard files fail instead of loading.
 */
#ifndef PSREC_MODEL_FILES_H
#define PSREC_MODEL_FILES_H

#include <stdbool.h>

#include "psrec/core/util.h"
#include "psrec/models/model.h"
#include "psrec/ps/checkpoint.h"
#include "psrec/ps/store.h"

/* Returns 0 when run_dir has a trained model's manifest (RUN/model/
 * manifest.txt), else -1 with a message saying why not: a psrec train is
 * running there now (and whose), one started there and never finished, or
 * none ever did. Reads only. */
int model_files_check_present(const char *run_dir, Error *err);

/* Loads the model of run_dir (RUN/model/manifest.txt and its shards) into a
 * new store. Fills *manifest, *params (the fields a manifest records: dim,
 * hidden, activation, loss, the feature flags, global_mean, rating_min,
 * rating_max; every other field is zero) and *model (the manifest's model).
 * Returns the store, owned by the caller (free with store_destroy), or NULL with a message in *err: "RUN has no trained model
 * ..." when the manifest does not exist (saying whether a run is training
 * there now, or one started there and did not finish), else a message
 * naming the file that is unreadable, malformed, corrupt or in the wrong
 * slot. */
Store *model_files_load(const char *run_dir, ModelManifest *manifest, ModelParams *params,
                        const ModelOps **model, Error *err);

/* A loaded model as predict and recommend score with it: its store and the
 * feature maps of its representations (NULL: none). Not owned. */
typedef struct {
    Store *store;
    const ModelFeatures *features;
} LoadedModel;

/* A RepresentationReader (eval/scorer.h) over a LoadedModel: each id's
 * representation is the weighted sum of its bag's rows (model_bag), an
 * absent row counting as zeros. */
void model_files_read(void *loaded_model, uint32_t table, const uint64_t *ids, size_t n,
                      float *out);

/* True when row id of table (MODEL_TABLE_USER or MODEL_TABLE_ITEM) was
 * trained or has features: the model can score it as itself rather than
 * through a fallback. */
bool model_files_knows(const LoadedModel *loaded, uint32_t table, uint64_t id);

#endif

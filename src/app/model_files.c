/* model_files.c — a trained model folder into one store (see model_files.h).
 *
 * The manifest says how many shard files there are and how keys were spread
 * over them; each shard is read with that shard map as its owner check.
 */
#include "psrec/app/model_files.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "psrec/core/keys.h"
#include "psrec/core/options.h"

Store *model_files_load(const char *run_dir, ModelManifest *manifest, ModelParams *params,
                        const ModelOps **model, Error *err)
{
    char model_dir[OPTION_STRING_BYTES + 16];
    char path[OPTION_STRING_BYTES + 64];
    snprintf(model_dir, sizeof model_dir, "%s/model", run_dir);
    snprintf(path, sizeof path, "%s/manifest.txt", model_dir);
    /* A missing manifest is the common mistake (a wrong folder, or a run that
     * never finished): say so plainly instead of "cannot open". */
    if (access(path, F_OK) != 0 && errno == ENOENT) {
        error_set(err, "%s has no trained model (no %s): run psrec train --run-dir %s first",
                  run_dir, path, run_dir);
        return NULL;
    }
    if (checkpoint_read_manifest(path, manifest, err) != 0)
        return NULL;
    *model = model_find(manifest->model);
    if (!*model) {
        error_set(err, "%s: unknown model '%s'", path, manifest->model);
        return NULL;
    }
    memset(params, 0, sizeof *params);
    params->dim = manifest->dim;
    params->global_mean = manifest->global_mean;
    params->rating_min = manifest->rating_min;
    params->rating_max = manifest->rating_max;
    TableSpec specs[STORE_MAX_TABLES];
    int n_tables = model_table_specs(*model, params, specs);
    OptimizerConfig optimizer = {.kind = (OptimizerKind)manifest->optimizer};
    Store *store = store_create(specs, n_tables, &optimizer, manifest->init_seed);
    /* The manifest reader guarantees n_vshards >= n_servers >= 1. */
    ShardMap owners;
    shardmap_init(&owners, (uint32_t)manifest->n_vshards, (uint32_t)manifest->n_servers);
    for (int s = 0; s < manifest->n_servers; s++) {
        checkpoint_shard_path(path, sizeof path, model_dir, s, manifest->n_servers);
        if (checkpoint_read_shard(path, store, &owners, s, err) != 0) {
            store_destroy(store);
            store = NULL;
            break;
        }
    }
    shardmap_free(&owners);
    return store;
}

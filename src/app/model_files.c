/* model_files.c — a trained model folder into one store (see model_files.h).
 *
 * The manifest says how many shard files there are and how keys were spread
 * over them; each shard is read with that shard map as its owner check.
 */
#include "psrec/app/model_files.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "psrec/app/run_dir.h"
#include "psrec/core/keys.h"
#include "psrec/core/options.h"

int model_files_check_present(const char *run_dir, Error *err)
{
    char path[OPTION_STRING_BYTES + 64];
    snprintf(path, sizeof path, "%s/model/manifest.txt", run_dir);
    /* A missing manifest is the common mistake (a wrong folder, or a run that
     * never finished): say so plainly instead of "cannot open". */
    if (access(path, F_OK) == 0 || errno != ENOENT)
        return 0;
    char holder[256];
    switch (run_dir_history(run_dir, holder, sizeof holder)) {
    case RUN_DIR_TRAINING:
        return error_set(err, "%s has no trained model yet: a psrec train is running there (%s); "
                              "wait for it to finish",
                         run_dir, holder[0] ? holder : "holder unknown");
    case RUN_DIR_UNFINISHED:
        return error_set(err, "%s has no trained model: the psrec train started there did not "
                              "finish (it failed or was killed before saving one); run psrec "
                              "train --run-dir %s again",
                         run_dir, run_dir);
    case RUN_DIR_UNTOUCHED:
        break;
    }
    return error_set(err, "%s has no trained model (no %s): run psrec train --run-dir %s first",
                     run_dir, path, run_dir);
}

Store *model_files_load(const char *run_dir, ModelManifest *manifest, ModelParams *params,
                        const ModelOps **model, Error *err)
{
    char model_dir[OPTION_STRING_BYTES + 16];
    char path[OPTION_STRING_BYTES + 64];
    snprintf(model_dir, sizeof model_dir, "%s/model", run_dir);
    snprintf(path, sizeof path, "%s/manifest.txt", model_dir);
    if (model_files_check_present(run_dir, err) != 0)
        return NULL;
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
    params->hidden = manifest->hidden;
    params->activation = manifest->activation;
    params->loss = manifest->loss;
    params->item_features = manifest->item_features != 0;
    params->user_features = manifest->user_features != 0;
    params->user_history = manifest->user_history != 0;
    params->history_scale = manifest->history_scale;
    params->neighbours = manifest->neighbours;
    params->similarity = manifest->similarity;
    params->alpha = manifest->alpha;
    params->shrink = manifest->shrink;
    params->rated_neighbours = manifest->rated_neighbours;
    TableSpec specs[STORE_MAX_TABLES];
    int n_tables = model_table_specs(*model, params, specs);
    OptimizerConfig optimizer = {.kind = (OptimizerKind)manifest->optimizer};
    Store *store = store_create(specs, n_tables, &optimizer, manifest->init_seed);
    /* The manifest reader guarantees n_vshards >= n_servers >= 1. */
    ShardMap owners;
    shardmap_init(&owners, (uint32_t)manifest->n_vshards, (uint32_t)manifest->n_servers);
    for (int s = 0; s < manifest->n_servers; s++) {
        checkpoint_shard_path(path, sizeof path, model_dir, s, manifest->n_servers);
        uint64_t run_id = 0;
        bool failed = checkpoint_read_shard(path, store, &owners, s, &run_id, err) != 0;
        /* A shard of another run (even one configured alike) does not
         * belong with this manifest. */
        if (!failed && manifest->run_id != 0 && run_id != manifest->run_id)
            failed = error_set(err, "%s belongs to another run (run %016llx, the manifest's is "
                                    "%016llx): the model folder is mixed up",
                               path, (unsigned long long)run_id,
                               (unsigned long long)manifest->run_id) != 0;
        if (failed) {
            store_destroy(store);
            store = NULL;
            break;
        }
    }
    shardmap_free(&owners);
    return store;
}

/* Adds weight × the row of key (if it exists) into the representation
 * being summed (a ModelBagEntry). */
typedef struct {
    Store *store;
    size_t width;
    float *out;
} BagSum;

static void bag_sum_add(void *context, uint64_t key, float weight)
{
    BagSum *sum = context;
    const float *row = store_pull(sum->store, key, false);
    if (!row)
        return; /* an absent row (unseen id or feature) counts as zeros */
    for (size_t f = 0; f < sum->width; f++)
        sum->out[f] += weight * row[f];
}

void model_files_read(void *loaded_model, uint32_t table, const uint64_t *ids, size_t n,
                      float *out)
{
    LoadedModel *loaded = loaded_model;
    const TableSpec *spec = store_table_spec(loaded->store, table);
    assert(spec);
    BagSum sum = {.store = loaded->store, .width = spec->width};
    for (size_t i = 0; i < n; i++) {
        sum.out = out + i * sum.width;
        memset(sum.out, 0, sum.width * sizeof(float));
        model_bag(loaded->features, table, ids[i], bag_sum_add, &sum);
    }
}

/* Looks at a bag (a ModelBagEntry): whether its first entry, the id's own
 * row, exists, and how many entries follow it (its features). */
typedef struct {
    Store *store;
    size_t entries;
    bool own_row;
} BagProbe;

static void bag_probe_add(void *context, uint64_t key, float weight)
{
    BagProbe *probe = context;
    (void)weight;
    if (probe->entries++ == 0)
        probe->own_row = store_pull(probe->store, key, false) != NULL;
}

bool model_files_knows(const LoadedModel *loaded, uint32_t table, uint64_t id)
{
    /* The same bag model_files_read sums: its own row, or any feature. */
    BagProbe probe = {.store = loaded->store};
    model_bag(loaded->features, table, id, bag_probe_add, &probe);
    return probe.own_row || probe.entries > 1;
}

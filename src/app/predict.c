/* predict.c — `psrec predict` (see predict.h). Single process, no MPI.
 *
 * Every shard file is checked to hold only keys its slot owns (by the
 * manifest's shard map), so swapped or copied files fail instead of silently
 * turning half the rows into fallbacks. A pairs CSV needs only the user and
 * item columns: ratings and timestamps are never read.
 */
#include "psrec/app/predict.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "psrec/ps/checkpoint.h"
#include "psrec/app/config.h"
#include "psrec/data/dataset.h"
#include "psrec/core/keys.h"
#include "psrec/models/model.h"
#include "psrec/ps/store.h"

/* Loads the model folder of run_dir into a new store; fills *manifest and
 * *params. Returns the store, or NULL with a message. */
static Store *load_model(const char *run_dir, ModelManifest *manifest, ModelParams *params,
                         const ModelOps **model, Error *err)
{
    char model_dir[OPTION_STRING_BYTES + 16];
    char path[OPTION_STRING_BYTES + 64];
    snprintf(model_dir, sizeof model_dir, "%s/model", run_dir);
    snprintf(path, sizeof path, "%s/manifest.txt", model_dir);
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
    int n_tables = (*model)->table_specs(params, specs);
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

int predict_main(int argc, char **argv)
{
    PredictConfig config;
    Error err;
    int rc = config_load_predict(&config, argc, argv, &err);
    int exit_code = config_report_load(rc, "predict", PREDICT_USAGE, PREDICT_OPTIONS,
                                       PREDICT_OPTION_COUNT, &err);
    if (exit_code >= 0)
        return exit_code;

    ModelManifest manifest;
    ModelParams params;
    const ModelOps *model = NULL;
    Store *store = load_model(config.run_dir, &manifest, &params, &model, &err);
    if (!store) {
        fprintf(stderr, "psrec predict: %s\n", err.message);
        return CONFIG_EXIT_RUN_FAILED;
    }

    DatasetOptions options;
    dataset_options_default(&options);
    options.require_rating = false;
    options.skip_malformed = config.skip_malformed;
    options.user_column = config.user_column;
    options.item_column = config.item_column;
    /* Pairs are scored, not compared: a rating or timestamp column may be
     * absent, empty or anything, so it is not read at all. */
    options.rating_column = NULL;
    options.timestamp_column = NULL;
    Ratings pairs = {0};
    options.format = (DatasetFormat)config.format;
    if (dataset_read(&pairs, config.pairs_path, &options, &err) != 0) {
        fprintf(stderr, "psrec predict: %s\n", err.message);
        ratings_free(&pairs);
        store_destroy(store);
        return CONFIG_EXIT_RUN_FAILED;
    }

    FILE *out = fopen(config.out_path, "w");
    if (!out) {
        fprintf(stderr, "psrec predict: cannot write %s: %s\n", config.out_path, strerror(errno));
        ratings_free(&pairs);
        store_destroy(store);
        return CONFIG_EXIT_RUN_FAILED;
    }
    /* An unseen id's row counts as zeros: the model's fallback prediction. */
    uint32_t user_width = model_table_width(model, &params, MODEL_TABLE_USER);
    uint32_t item_width = model_table_width(model, &params, MODEL_TABLE_ITEM);
    float *zeros = xcalloc(user_width > item_width ? user_width : item_width, sizeof(float));
    for (size_t i = 0; i < pairs.n; i++) {
        const float *user = store_pull(store, key_make(MODEL_TABLE_USER, pairs.users[i]), false);
        const float *item = store_pull(store, key_make(MODEL_TABLE_ITEM, pairs.items[i]), false);
        float score = model_score_pair(model, &params, user ? user : zeros, item ? item : zeros);
        fprintf(out, "%llu,%llu,%.6f\n", (unsigned long long)pairs.users[i],
                (unsigned long long)pairs.items[i], (double)score);
    }
    int write_failed = ferror(out);
    if (fclose(out) != 0 || write_failed) {
        fprintf(stderr, "psrec predict: error writing %s: %s\n", config.out_path, strerror(errno));
        rc = CONFIG_EXIT_RUN_FAILED;
    } else {
        fprintf(stderr, "psrec predict: wrote %zu predictions to %s", pairs.n, config.out_path);
        if (pairs.n_skipped)
            fprintf(stderr, " (%zu malformed lines skipped)", pairs.n_skipped);
        fprintf(stderr, "\n");
        rc = 0;
    }
    free(zeros);
    ratings_free(&pairs);
    store_destroy(store);
    return rc;
}

/* predict.c — `psrec predict` (see predict.h). Single process, no MPI.
 *
 * The model is loaded by model_files_load, which checks that every shard
 * file holds only keys its slot owns, so swapped or copied files fail instead
 * of silently turning half the rows into fallbacks. A pairs CSV needs only
 * the user and item columns: ratings and timestamps are never read.
 */
#include "psrec/app/predict.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "psrec/app/config.h"
#include "psrec/app/model_files.h"
#include "psrec/data/dataset.h"
#include "psrec/models/model.h"
#include "psrec/ps/store.h"

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
    Store *store = model_files_load(config.run_dir, &manifest, &params, &model, &err);
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
        float score = model_score_pair(model, &params, NULL, user ? user : zeros, item ? item : zeros);
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

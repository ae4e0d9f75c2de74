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
#include "psrec/app/run_features.h"
#include "psrec/data/training_set.h"
#include "psrec/data/dataset.h"
#include "psrec/models/model.h"
#include "psrec/eval/scorer.h"
#include "psrec/models/neighbours.h"
#include "psrec/ps/store.h"

/* The feature maps of a model that uses features: the files its run named
 * (or the ones given to predict instead) and, for user history features,
 * the run's training split, read again. Returns 0 or -1 with a message. */
static int load_features(RunFeatures *features, const PredictConfig *config,
                         const ModelParams *params, const ModelOps *model, Error *err)
{
    if (!params->item_features && !params->user_features && !params->user_history)
        return 0;
    TrainConfig run;
    if (config_load_run(&run, config->run_dir, err) != 0)
        return -1;
    TrainingSet set = {0};
    int rc = 0;
    if (params->user_history) {
        TrainingSetOptions options;
        EventWeights weights;
        config_training_set_options(&options, &weights, &run, model);
        options.index_users = false;
        rc = training_set_load(&set, &options, false, 0, 1, err);
    }
    if (rc == 0)
        rc = run_features_load(features, params,
                               config->item_features_path[0] ? config->item_features_path
                                                             : run.item_features_path,
                               config->user_features_path[0] ? config->user_features_path
                                                             : run.user_features_path,
                               &set.train, err);
    training_set_free(&set);
    return rc;
}

/* A neighbourhood model scores a user from its history (the run's
 * training and validation splits, read again, with their catalogue)
 * through the same scorer as evaluation and recommend. */
typedef struct {
    TrainingSet set;
    UserItems history;
    CatalogueScorer scorer;
    bool loaded;
    /* Implicit models: the last user's scores of every item, since pair
     * files list a user's candidates together (one row per user instead of
     * a pass over its history per pair). */
    float *row;
    uint64_t row_user;
    bool row_valid;
} NeighbourScoring;

static int load_neighbour_scoring(NeighbourScoring *scoring, const PredictConfig *config,
                                  const ModelOps *model, const ModelParams *params,
                                  LoadedModel *loaded, Error *err)
{
    TrainConfig run;
    if (config_load_run(&run, config->run_dir, err) != 0)
        return -1;
    TrainingSetOptions options;
    EventWeights weights;
    config_training_set_options(&options, &weights, &run, model);
    options.index_users = false;
    if (training_set_load(&scoring->set, &options, false, 0, 1, err) != 0)
        return -1;
    training_set_index(&scoring->set, &options, false);
    user_items_build(&scoring->history, &scoring->set.train, &scoring->set.valid,
                     &scoring->set.catalogue);
    scorer_init(&scoring->scorer, model, params, model_files_read, loaded,
                &scoring->set.catalogue, &scoring->history);
    scoring->loaded = true;
    return 0;
}

static void free_neighbour_scoring(NeighbourScoring *scoring)
{
    if (scoring->loaded)
        scorer_free(&scoring->scorer);
    free(scoring->row);
    user_items_free(&scoring->history);
    training_set_free(&scoring->set);
}

/* The neighbourhood model's score of one pair. */
static float neighbour_pair_score(NeighbourScoring *scoring, LoadedModel *loaded, uint64_t user,
                                  uint64_t item)
{
    const NeighbourModel *nm = scoring->scorer.neighbours;
    int64_t item_index = catalogue_find(&scoring->set.catalogue, item);
    if (nm->model->implicit) {
        if (item_index < 0)
            return neighbour_model_score(nm, NULL, NULL, 0, 0, -1);
        if (!scoring->row_valid || scoring->row_user != user) {
            if (!scoring->row)
                scoring->row = xmalloc((size_t)scoring->scorer.score_width * sizeof(float));
            scorer_user_vectors(&scoring->scorer, &user, 1, scoring->row);
            scoring->row_user = user;
            scoring->row_valid = true;
        }
        return scoring->row[item_index];
    }
    /* Ratings: one item's prediction needs only its own list. */
    const UserItems *history = &scoring->history;
    size_t n, first = user_items_range(history, user, &n);
    float user_bias = 0;
    model_files_read(loaded, MODEL_TABLE_USER, &user, 1, &user_bias);
    return neighbour_model_score(nm, history->items + first, history->values + first, n,
                                 user_bias, item_index);
}

/* The model's dense parameters (NULL for a model without), owned by the
 * caller. */
static float *read_dense(LoadedModel *loaded, const ModelOps *model, const ModelParams *params)
{
    size_t n_blocks = model_dense_blocks(model, params);
    if (n_blocks == 0)
        return NULL;
    float *dense = xmalloc(n_blocks * MODEL_DENSE_BLOCK * sizeof(float));
    model_read_dense(model, params, model_files_read, loaded, dense);
    return dense;
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

    RunFeatures features = {0};
    if (load_features(&features, &config, &params, model, &err) != 0) {
        fprintf(stderr, "psrec predict: %s\n", err.message);
        run_features_free(&features);
        ratings_free(&pairs);
        store_destroy(store);
        return CONFIG_EXIT_RUN_FAILED;
    }
    /* A representation is its row plus its features; an unseen id's row
     * counts as zeros: the model's fallback (or, with features, the
     * features alone). */
    LoadedModel loaded = {.store = store, .features = &features.view};
    NeighbourScoring neighbours = {0};
    /* Written under a temporary name and renamed when complete: a failure
     * never leaves a truncated file under the final name. */
    char tmp_path[sizeof config.out_path + 8];
    snprintf(tmp_path, sizeof tmp_path, "%s.tmp", config.out_path);
    FILE *out = NULL;
    if (model->neighbourhood &&
        load_neighbour_scoring(&neighbours, &config, model, &params, &loaded, &err) != 0)
        fprintf(stderr, "psrec predict: %s\n", err.message);
    else if (!(out = fopen(tmp_path, "w")))
        fprintf(stderr, "psrec predict: cannot write %s: %s\n", tmp_path, strerror(errno));
    if (!out) {
        free_neighbour_scoring(&neighbours);
        run_features_free(&features);
        ratings_free(&pairs);
        store_destroy(store);
        return CONFIG_EXIT_RUN_FAILED;
    }
    uint32_t user_width = model_table_width(model, &params, MODEL_TABLE_USER);
    uint32_t item_width = model_table_width(model, &params, MODEL_TABLE_ITEM);
    float *user = xmalloc(user_width * sizeof(float));
    float *item = xmalloc(item_width * sizeof(float));
    float *dense = read_dense(&loaded, model, &params);
    for (size_t i = 0; i < pairs.n; i++) {
        if (model->neighbourhood) {
            /* Nine digits: the popularity tie-break of item-knn lives far
             * below the similarities. */
            float score =
                neighbour_pair_score(&neighbours, &loaded, pairs.users[i], pairs.items[i]);
            fprintf(out, "%llu,%llu,%.9g\n", (unsigned long long)pairs.users[i],
                    (unsigned long long)pairs.items[i], (double)score);
            continue;
        }
        model_files_read(&loaded, MODEL_TABLE_USER, &pairs.users[i], 1, user);
        model_files_read(&loaded, MODEL_TABLE_ITEM, &pairs.items[i], 1, item);
        float score = model_score_pair(model, &params, dense, user, item);
        fprintf(out, "%llu,%llu,%.6f\n", (unsigned long long)pairs.users[i],
                (unsigned long long)pairs.items[i], (double)score);
    }
    free_neighbour_scoring(&neighbours);
    int write_failed = ferror(out);
    if (fclose(out) != 0 || write_failed || rename(tmp_path, config.out_path) != 0) {
        fprintf(stderr, "psrec predict: error writing %s: %s\n", config.out_path, strerror(errno));
        remove(tmp_path);
        rc = CONFIG_EXIT_RUN_FAILED;
    } else {
        fprintf(stderr, "psrec predict: wrote %zu predictions to %s", pairs.n, config.out_path);
        if (pairs.n_skipped)
            fprintf(stderr, " (%zu malformed lines skipped)", pairs.n_skipped);
        fprintf(stderr, "\n");
        rc = 0;
    }
    free(dense);
    free(item);
    free(user);
    run_features_free(&features);
    ratings_free(&pairs);
    store_destroy(store);
    return rc;
}

/* train.c — `psrec train` from start to finish (see train.h).
 *
 * Reads top to bottom as the job runs: configuration → roles → run folder →
 * data → servers serve / workers train → model files → summary. Every
 * expected failure goes through agree_on_failure(), so all ranks leave
 * together with the same exit code instead of hanging in a collective.
 */
#include "psrec/app/train.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "psrec/ps/checkpoint.h"
#include "psrec/ps/comm.h"
#include "psrec/app/config.h"
#include "psrec/data/dataset.h"
#include "psrec/core/keys.h"
#include "psrec/core/log.h"
#include "psrec/eval/metrics.h"
#include "psrec/models/model.h"
#include "psrec/core/progress.h"
#include "psrec/ps/server.h"
#include "psrec/ps/store.h"
#include "psrec/ps/worker.h"

/* The names of the run's choices, for messages and the summary. */
typedef struct {
    char model[OPTION_STRING_BYTES];
    char consistency[OPTION_STRING_BYTES];
    char optimizer[OPTION_STRING_BYTES];
} RunNames;

static void run_names_from_config(RunNames *names, const TrainConfig *config)
{
    options_value_text(TRAIN_OPTIONS, TRAIN_OPTION_COUNT, config, "model", names->model);
    options_value_text(TRAIN_OPTIONS, TRAIN_OPTION_COUNT, config, "consistency",
                       names->consistency);
    options_value_text(TRAIN_OPTIONS, TRAIN_OPTION_COUNT, config, "optimizer", names->optimizer);
}

/* Collective over the world: true when any rank failed. The failed rank
 * with the lowest number prints its message, so a failure every worker
 * meets (a missing file) is reported once. */
static bool agree_on_failure(bool failed_here, const Error *err)
{
    int reporter = failed_here ? comm_world_rank() : INT_MAX;
    comm_world_min_int(&reporter);
    if (reporter == INT_MAX)
        return false;
    if (reporter == comm_world_rank())
        fprintf(stderr, "psrec train: %s\n", err->message);
    return true;
}

/* What the workers learn about the training data together. */
typedef struct {
    double n_train;          /* examples, all workers */
    double n_test;
    double n_skipped;        /* malformed lines skipped */
    double global_mean;
    double rating_min;
    double rating_max;
    uint64_t n_batches;      /* per epoch, the same on every worker */
} DataSummary;

static void dataset_options_from_config(DatasetOptions *options, const TrainConfig *config)
{
    dataset_options_default(options);
    options->format = (DatasetFormat)config->format;
    options->user_column = config->user_column;
    options->item_column = config->item_column;
    options->rating_column = config->rating_column;
    options->timestamp_column = config->timestamp_column;
    options->skip_malformed = config->skip_malformed;
    options->require_rating = true;
}

/* Worker side: reads this worker's byte range of the train and test files.
 * Returns 0 or -1 with the reader's message. */
static int load_partitions(const TrainConfig *config, const CommLayout *layout, Ratings *train,
                           Ratings *test, Error *err)
{
    DatasetOptions options;
    dataset_options_from_config(&options, config);
    if (dataset_read_partition(train, config->train_path, &options, layout->role_rank,
                               layout->n_workers, err) != 0)
        return -1;
    if (config->test_path[0] &&
        dataset_read_partition(test, config->test_path, &options, layout->role_rank,
                               layout->n_workers, err) != 0)
        return -1;
    return 0;
}

/* Collective over the workers: totals, μ, the rating range and the number of
 * batches per epoch. */
static void summarise_data(const TrainConfig *config, const Ratings *train, const Ratings *test,
                           DataSummary *summary)
{
    double sum = 0.0, low = INFINITY, high = -INFINITY;
    for (size_t i = 0; i < train->n; i++) {
        sum += train->ratings[i];
        if (train->ratings[i] < low)
            low = train->ratings[i];
        if (train->ratings[i] > high)
            high = train->ratings[i];
    }
    double sums[4] = {(double)train->n, sum, (double)test->n,
                      (double)(train->n_skipped + test->n_skipped)};
    comm_workers_sum_double(sums, 4);
    uint64_t batches = (train->n + (size_t)config->batch_size - 1) / (size_t)config->batch_size;
    if (batches == 0)
        batches = 1;
    comm_workers_max_u64(&batches, 1);
    /* min is the max of the negation; an empty partition contributes -inf. */
    double range[2] = {-low, high};
    comm_workers_max_double(range, 2);
    summary->n_train = sums[0];
    summary->global_mean = sums[0] > 0 ? sums[1] / sums[0] : 0.0;
    summary->n_test = sums[2];
    summary->n_skipped = sums[3];
    summary->n_batches = batches;
    summary->rating_min = -range[0];
    summary->rating_max = range[1];
}

static void model_params_from_config(ModelParams *params, const TrainConfig *config)
{
    memset(params, 0, sizeof *params);
    params->dim = config->dim;
    params->init_std = config->init_std;
    params->l2 = config->l2;
    params->l2_bias = config->l2_bias;
}

static void optimizer_from_config(OptimizerConfig *optimizer, const TrainConfig *config)
{
    optimizer->kind = (OptimizerKind)config->optimizer;
    optimizer->learning_rate = config->learning_rate;
    optimizer->beta1 = config->beta1;
    optimizer->beta2 = config->beta2;
    optimizer->epsilon = config->epsilon;
    optimizer->adagrad_init = config->adagrad_init;
}

static uint64_t staleness_from_config(const TrainConfig *config)
{
    switch ((Consistency)config->consistency) {
    case CONSISTENCY_BSP: return 0;
    case CONSISTENCY_SSP: return (uint64_t)config->staleness;
    case CONSISTENCY_ASP: return WORKER_NEVER_WAIT;
    }
    return WORKER_NEVER_WAIT;
}

/* Removes a previous run's model files from model_dir, manifest first, so
 * the folder never pairs an old manifest with new shards. */
static int remove_old_model(const char *model_dir, Error *err)
{
    char path[OPTION_STRING_BYTES + 512]; /* model_dir + '/' + a file name */
    snprintf(path, sizeof path, "%s/manifest.txt", model_dir);
    if (unlink(path) != 0 && errno != ENOENT)
        return error_set(err, "cannot remove the old %s: %s", path, strerror(errno));
    DIR *dir = opendir(model_dir);
    if (!dir)
        return error_set(err, "cannot read %s: %s", model_dir, strerror(errno));
    struct dirent *entry;
    int rc = 0;
    while (rc == 0 && (entry = readdir(dir)) != NULL) {
        size_t len = strlen(entry->d_name);
        if (strncmp(entry->d_name, "shard-", 6) != 0 || len < 4 ||
            strcmp(entry->d_name + len - 4, ".bin") != 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", model_dir, entry->d_name);
        if (unlink(path) != 0)
            rc = error_set(err, "cannot remove the old %s: %s", path, strerror(errno));
    }
    closedir(dir);
    return rc;
}

/* Chief only: the run folder, its (emptied) model folder and the saved
 * configuration. */
static int prepare_run_dir(const TrainConfig *config, Error *err)
{
    char path[OPTION_STRING_BYTES + 64];
    snprintf(path, sizeof path, "%s/model", config->run_dir);
    if (path_make_dirs(path, err) != 0 || remove_old_model(path, err) != 0)
        return -1;
    snprintf(path, sizeof path, "%s/config.conf", config->run_dir);
    FILE *file = fopen(path, "w");
    if (!file)
        return error_set(err, "cannot write %s: %s", path, strerror(errno));
    fprintf(file, "# psrec train configuration, as used by this run\n");
    options_write(file, TRAIN_OPTIONS, TRAIN_OPTION_COUNT, config);
    fclose(file);
    snprintf(path, sizeof path, "%s/metrics.jsonl", config->run_dir);
    file = fopen(path, "w"); /* truncate: this run's epochs only */
    if (!file)
        return error_set(err, "cannot write %s: %s", path, strerror(errno));
    fclose(file);
    return 0;
}

/* Everything the chief reports at the end. */
typedef struct {
    double train_seconds;
    double train_examples;      /* examples processed over all epochs */
    double train_bytes;         /* bytes of training messages, all ranks */
    double last_train_mse;
    double test_rmse;
    double test_mae;
    double staleness_sum;
    double staleness_samples;
    double staleness_max;
    double load_seconds;
    double worker_wait_seconds; /* longest time a worker waited for pull responses */
} RunTotals;

static int write_summary(const TrainConfig *config, const RunNames *names,
                         const CommLayout *layout, const DataSummary *data,
                         const RunTotals *totals, Error *err)
{
    char path[OPTION_STRING_BYTES + 64];
    snprintf(path, sizeof path, "%s/summary.json", config->run_dir);
    FILE *file = fopen(path, "w");
    if (!file)
        return error_set(err, "cannot write %s: %s", path, strerror(errno));
    double per_example = totals->train_examples > 0 ? 1.0 / totals->train_examples : NAN;
    double samples = totals->staleness_samples;
    const struct {
        const char *name;
        double value;
    } figures[] = {
        {"train_examples", data->n_train},
        {"test_examples", data->n_test},
        {"skipped_lines", data->n_skipped},
        {"global_mean", data->global_mean},
        {"load_seconds", totals->load_seconds},
        {"train_seconds", totals->train_seconds},
        {"examples_per_s", totals->train_examples / totals->train_seconds},
        {"train_bytes", totals->train_bytes},
        {"bytes_per_example", totals->train_bytes * per_example},
        {"final_train_mse", totals->last_train_mse},
        {"test_rmse", data->n_test > 0 ? totals->test_rmse : NAN},
        {"test_mae", data->n_test > 0 ? totals->test_mae : NAN},
        {"staleness_mean", samples > 0 ? totals->staleness_sum / samples : 0},
        {"staleness_max", totals->staleness_max},
        {"worker_wait_seconds", totals->worker_wait_seconds},
    };
    size_t n_figures = sizeof figures / sizeof figures[0];
    fprintf(file,
            "{\"model\":\"%s\",\"np\":%d,\"servers\":%d,\"workers\":%d,\"consistency\":\"%s\","
            "\"optimizer\":\"%s\",\"dim\":%d,\"epochs\":%d,\"batch_size\":%d,",
            names->model, layout->world_size, layout->n_servers, layout->n_workers,
            names->consistency, names->optimizer, config->dim, config->epochs,
            config->batch_size);
    for (size_t i = 0; i < n_figures; i++)
        progress_json_number(file, figures[i].name, figures[i].value, i + 1 == n_figures);
    fprintf(file, "}\n");
    if (fclose(file) != 0)
        return error_set(err, "cannot write %s: %s", path, strerror(errno));
    return 0;
}

/* Worker side of training: epochs, evaluation, progress. Fills the totals
 * the chief reports (only the chief's copy is complete). Returns -1 with a
 * message when training diverged (the loss is no longer finite: every worker
 * sees the same reduced loss, so all stop after the same epoch), else 0. */
static int run_worker(const TrainConfig *config, const CommLayout *layout, const ShardMap *map,
                      const ModelOps *model, const ModelParams *params, const DataSummary *data,
                      const Ratings *train, const Ratings *test, RunTotals *totals, Error *err)
{
    bool chief = layout->world_rank == 0;
    int rc = 0;
    WorkerSetup setup = {
        .layout = layout,
        .map = map,
        .model = model,
        .params = *params,
        .staleness = staleness_from_config(config),
        .seed = config->seed,
    };
    Worker *worker = worker_create(&setup);
    FILE *metrics = NULL;
    if (chief) {
        char path[OPTION_STRING_BYTES + 64];
        snprintf(path, sizeof path, "%s/metrics.jsonl", config->run_dir);
        metrics = fopen(path, "a");
        if (!metrics)
            log_warn("cannot append to %s: epoch metrics go to the terminal only", path);
    }
    Progress progress;
    double started = time_now_s();
    for (int epoch = 0; epoch < config->epochs; epoch++) {
        bool live = chief && config->progress && isatty(STDOUT_FILENO);
        progress_begin_epoch(&progress, live, epoch + 1, config->epochs, data->n_train);
        comm_workers_barrier();
        double epoch_start = time_now_s();
        double squared_error = worker_train_epoch(worker, train, epoch, data->n_batches,
                                                  chief ? &progress : NULL);
        comm_workers_barrier();
        double epoch_seconds = time_now_s() - epoch_start;
        double sums[1] = {squared_error};
        comm_workers_sum_double(sums, 1);
        ErrorStats test_stats = {0};
        if (data->n_test > 0) {
            worker_evaluate(worker, test, &test_stats);
            comm_workers_sum_double(test_stats.sums, ERROR_STATS_FIELDS);
        }
        EpochRecord record = {
            .epoch = epoch + 1,
            .epochs = config->epochs,
            .train_mse = data->n_train > 0 ? sums[0] / data->n_train : 0,
            .test_rmse = data->n_test > 0 ? error_stats_rmse(&test_stats) : NAN,
            .test_mae = data->n_test > 0 ? error_stats_mae(&test_stats) : NAN,
            .examples = data->n_train,
            .train_seconds = epoch_seconds,
            .elapsed_seconds = time_now_s() - started,
        };
        totals->train_seconds += epoch_seconds;
        totals->train_examples += data->n_train;
        totals->last_train_mse = record.train_mse;
        totals->test_rmse = record.test_rmse;
        totals->test_mae = record.test_mae;
        if (chief) {
            progress_end_epoch(&progress, &record);
            if (metrics)
                progress_write_json(metrics, &record);
        }
        if (!isfinite(record.train_mse)) {
            rc = error_set(err,
                           "training diverged: the train MSE is %g after epoch %d; lower "
                           "--learning-rate (now %g) or raise --l2",
                           record.train_mse, epoch + 1, (double)config->learning_rate);
            break;
        }
    }
    worker_finish(worker);
    totals->train_bytes = (double)worker_stats(worker)->train_bytes_sent;
    totals->worker_wait_seconds = worker_stats(worker)->pull_wait_seconds;
    if (metrics)
        fclose(metrics);
    worker_destroy(worker);
    return rc;
}

/* Server side: serve until the workers are done, then write our shard. */
static int run_server(const TrainConfig *config, const CommLayout *layout, const ShardMap *map,
                      const ModelOps *model, const ModelParams *params,
                      uint64_t batches_per_epoch, RunTotals *totals, Error *err)
{
    TableSpec specs[STORE_MAX_TABLES];
    int n_tables = model->table_specs(params, specs);
    OptimizerConfig optimizer;
    optimizer_from_config(&optimizer, config);
    Store *store = store_create(specs, n_tables, &optimizer, config->seed);
    LearningRateSchedule schedule = {.learning_rate = config->learning_rate,
                                     .decay = config->lr_decay,
                                     .batches_per_epoch = batches_per_epoch};
    ServerStats stats;
    server_run(layout, map, &schedule, store, &stats);
    totals->train_bytes = (double)stats.train_bytes_sent;
    totals->staleness_sum = (double)stats.staleness_sum;
    totals->staleness_samples = (double)stats.staleness_samples;
    totals->staleness_max = (double)stats.staleness_max;
    log_debug("served %llu pulls (%llu rows), %llu pushes (%llu rows); %zu bytes of rows; "
              "waited %.2fs",
              (unsigned long long)stats.pulls, (unsigned long long)stats.rows_pulled,
              (unsigned long long)stats.pushes, (unsigned long long)stats.rows_pushed,
              store_bytes(store), stats.wait_seconds);
    char model_dir[OPTION_STRING_BYTES + 16];
    char path[OPTION_STRING_BYTES + 64];
    snprintf(model_dir, sizeof model_dir, "%s/model", config->run_dir);
    checkpoint_shard_path(path, sizeof path, model_dir, layout->role_rank, layout->n_servers);
    int rc = checkpoint_write_shard(path, store, err);
    store_destroy(store);
    return rc;
}

static int write_manifest(const TrainConfig *config, const RunNames *names,
                          const CommLayout *layout, const DataSummary *data, Error *err)
{
    ModelManifest manifest = {
        .version = CHECKPOINT_MANIFEST_VERSION,
        .dim = config->dim,
        .n_servers = layout->n_servers,
        .n_vshards = config->vshards,
        .optimizer = config->optimizer,
        .init_seed = config->seed,
        .epochs_done = config->epochs,
        .clock = data->n_batches * (uint64_t)config->epochs,
        .global_mean = data->global_mean,
        .rating_min = data->rating_min,
        .rating_max = data->rating_max,
    };
    snprintf(manifest.model, sizeof manifest.model, "%.31s", names->model);
    char path[OPTION_STRING_BYTES + 64];
    snprintf(path, sizeof path, "%s/model/manifest.txt", config->run_dir);
    return checkpoint_write_manifest(path, &manifest, err);
}

int train_main(int argc, char **argv)
{
    comm_init(NULL, NULL);
    int world_rank = comm_world_rank();
    int world_size = comm_world_size();
    log_set_identity(world_rank, "rank");

    /* ---- configuration: every rank parses its own arguments (a --config
     * file may be missing on one node only), then all agree */
    TrainConfig config;
    Error err;
    int rc = config_load_train(&config, argc, argv, &err);
    if (rc == 0 && config_check_layout(&config, world_size, &err) != 0)
        rc = -1;
    if (agree_on_failure(rc < 0, &err)) {
        comm_finalize();
        return CONFIG_EXIT_BAD_USAGE;
    }
    int help_asked = rc == 1;
    comm_world_max_int(&help_asked);
    if (help_asked) {
        if (world_rank == 0)
            config_report_load(1, "train", TRAIN_USAGE, TRAIN_OPTIONS, TRAIN_OPTION_COUNT, &err);
        comm_finalize();
        return 0;
    }
    log_set_level((LogLevel)config.log_level);
    RunNames names;
    run_names_from_config(&names, &config);
    const ModelOps *model = model_find(names.model);
    assert(model != NULL); /* the option's choices are the models */

    /* ---- roles */
    CommLayout layout;
    comm_split_roles(&layout, config.servers);
    log_set_identity(world_rank, layout.is_server ? "server" : "worker");
    bool chief = world_rank == 0;
    ShardMap map;
    shardmap_init(&map, (uint32_t)config.vshards, (uint32_t)config.servers);

    int exit_code = CONFIG_EXIT_RUN_FAILED;
    Ratings train = {0}, test = {0};

    /* ---- run folder */
    if (agree_on_failure(chief && prepare_run_dir(&config, &err) != 0, &err))
        goto finish;
    if (chief)
        printf("psrec train: %d ranks = %d workers + %d servers; model %s dim %d; %s; "
               "%s lr %g; %d epochs of batch %d\n"
               "configuration saved to %s/config.conf\n",
               world_size, layout.n_workers, layout.n_servers, names.model, config.dim,
               names.consistency, names.optimizer, (double)config.learning_rate, config.epochs,
               config.batch_size, config.run_dir);

    /* ---- data: each worker reads its own byte range */
    double load_start = time_now_s();
    bool failed = !layout.is_server && load_partitions(&config, &layout, &train, &test, &err) != 0;
    if (agree_on_failure(failed, &err))
        goto finish;
    DataSummary data = {0};
    if (!layout.is_server)
        summarise_data(&config, &train, &test, &data);
    /* Servers need the epoch length for the learning-rate schedule. */
    comm_world_broadcast(&data, sizeof data, 0);
    if (data.n_train == 0) {
        if (chief)
            fprintf(stderr, "psrec train: %s has no training examples\n", config.train_path);
        goto finish;
    }
    RunTotals totals = {0};
    totals.load_seconds = time_now_s() - load_start;
    if (chief) {
        printf("data: %.0f training and %.0f test examples (%.0f malformed lines skipped), "
               "mean rating %.4f, %llu batches per epoch, loaded in %.2fs\n",
               data.n_train, data.n_test, data.n_skipped, data.global_mean,
               (unsigned long long)data.n_batches, totals.load_seconds);
        if (config.test_path[0] && data.n_test == 0)
            fprintf(stderr, "psrec train: warning: %s has no examples; no test metrics\n",
                    config.test_path);
        fflush(stdout);
    }

    /* ---- train */
    ModelParams params;
    model_params_from_config(&params, &config);
    params.global_mean = data.global_mean;
    params.rating_min = data.rating_min;
    params.rating_max = data.rating_max;
    if (layout.is_server)
        failed = run_server(&config, &layout, &map, model, &params, data.n_batches, &totals,
                            &err) != 0;
    else
        failed = run_worker(&config, &layout, &map, model, &params, &data, &train, &test,
                            &totals, &err) != 0;

    /* ---- model files and summary: shards are written; the manifest commits */
    double reduced[3] = {totals.train_bytes, totals.staleness_sum, totals.staleness_samples};
    comm_world_sum_double(reduced, 3);
    double maxima[2] = {totals.staleness_max, totals.worker_wait_seconds};
    comm_world_max_double(maxima, 2);
    totals.staleness_max = maxima[0];
    totals.worker_wait_seconds = maxima[1];
    totals.train_bytes = reduced[0];
    totals.staleness_sum = reduced[1];
    totals.staleness_samples = reduced[2];
    if (agree_on_failure(failed, &err))
        goto finish;
    failed = chief && (write_manifest(&config, &names, &layout, &data, &err) != 0 ||
                       write_summary(&config, &names, &layout, &data, &totals, &err) != 0);
    if (agree_on_failure(failed, &err))
        goto finish;
    if (chief) {
        printf("done: ");
        if (data.n_test > 0)
            printf("test_rmse %.4f  test_mae %.4f  ", totals.test_rmse, totals.test_mae);
        printf("%.3g examples/s  %.1f bytes/example  model in %s/model\n",
               totals.train_seconds > 0 ? totals.train_examples / totals.train_seconds : 0.0,
               totals.train_examples > 0 ? totals.train_bytes / totals.train_examples : 0.0,
               config.run_dir);
    }
    exit_code = 0;

finish:
    ratings_free(&train);
    ratings_free(&test);
    shardmap_free(&map);
    comm_finalize();
    return exit_code;
}

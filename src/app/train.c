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
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "psrec/app/checkpoints.h"
#include "psrec/core/stop_signal.h"
#include "psrec/core/time_shares.h"
#include "psrec/ps/checkpoint.h"
#include "psrec/ps/comm.h"
#include "psrec/app/config.h"
#include "psrec/app/model_files.h"
#include "psrec/app/run_dir.h"
#include "psrec/app/run_features.h"
#include "psrec/app/train_neighbours.h"
#include "psrec/data/exchange.h"
#include "psrec/app/job.h"
#include "psrec/data/dataset.h"
#include "psrec/data/training_set.h"
#include "psrec/eval/evaluate.h"
#include "psrec/eval/scorer.h"
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
    snprintf(names->model, sizeof names->model, "%s", config_model_name(config));
    options_value_text(TRAIN_OPTIONS, TRAIN_OPTION_COUNT, config, "consistency",
                       names->consistency);
    options_value_text(TRAIN_OPTIONS, TRAIN_OPTION_COUNT, config, "optimizer", names->optimizer);
}

static bool agree_on_failure(bool failed_here, const Error *err)
{
    return job_agree_on_failure("train", failed_here, err);
}

/* What the workers learn about the data together. */
typedef struct {
    double n_train;          /* examples, all workers */
    double n_valid;
    double n_test;
    double n_items;          /* catalogue size */
    double n_users;          /* users with training examples */
    double n_skipped;        /* malformed lines skipped */
    double global_mean;
    double rating_min;
    double rating_max;
    uint64_t n_batches;      /* per epoch, the same on every worker */
    double n_user_blocks;    /* summed over workers (user_blocks.h) */
} DataSummary;

/* Collective over the workers: totals, μ, the rating range and the number of
 * batches per epoch; *local_users is how many users this worker has. */
static void summarise_data(const TrainConfig *config, const TrainingSet *set,
                           DataSummary *summary, size_t *local_users)
{
    const Ratings *train = &set->train;
    double sum = 0.0, low = INFINITY, high = -INFINITY;
    for (size_t i = 0; i < train->n; i++) {
        sum += train->ratings[i];
        if (train->ratings[i] < low)
            low = train->ratings[i];
        if (train->ratings[i] > high)
            high = train->ratings[i];
    }
    /* Users are each on one worker: distinct here, summed over workers. */
    KeyIndex *users = keyindex_create(train->n / 4 + 16);
    for (size_t i = 0; i < train->n; i++) {
        comm_keepalive(); /* millions of rows take a while */
        keyindex_insert(users, train->users[i], NULL);
    }
    double sums[6] = {(double)train->n, sum, (double)set->valid.n, (double)set->test.n,
                      (double)(train->n_skipped + set->test.n_skipped),
                      (double)keyindex_size(users)};
    *local_users = keyindex_size(users);
    keyindex_destroy(users);
    comm_workers_sum_double(sums, 6);
    uint64_t batches = (train->n + (size_t)config->batch_size - 1) / (size_t)config->batch_size;
    if (batches == 0)
        batches = 1;
    comm_workers_max_u64(&batches, 1);
    /* min is the max of the negation; an empty partition contributes -inf. */
    double range[2] = {-low, high};
    comm_workers_max_double(range, 2);
    summary->n_train = sums[0];
    summary->global_mean = sums[0] > 0 ? sums[1] / sums[0] : 0.0;
    summary->n_valid = sums[2];
    summary->n_test = sums[3];
    summary->n_skipped = sums[4];
    summary->n_users = sums[5];
    summary->n_items = (double)set->catalogue.n_items;
    summary->n_batches = batches;
    summary->rating_min = -range[0];
    summary->rating_max = range[1];
}

/* What the chief says about the feature files: how many entities and
 * features, and how many entities the data never names (reported, not an
 * error: catalogues change). */
typedef struct {
    double items, item_features, item_lines, items_missing;
    double users, user_features, user_lines, users_missing;
    double history_users;
} FeatureSummary;

/* Collective over the workers. Every worker holds the whole item map and
 * counts it against the agreed catalogue; users are counted by the worker
 * that owns them (exchange_owner), against the users it holds. */
static void summarise_features(const RunFeatures *features, const TrainingSet *set, int worker,
                               int n_workers, FeatureSummary *summary)
{
    const FeatureMap *items = &features->item_features, *users = &features->user_features;
    memset(summary, 0, sizeof *summary);
    summary->items = (double)items->n_entities;
    summary->item_features = (double)items->n_features;
    summary->item_lines = (double)items->n_lines;
    summary->items_missing =
        (double)feature_map_count_missing(items, set->catalogue.ids, set->catalogue.n_items);
    summary->users = (double)users->n_entities;
    summary->user_features = (double)users->n_features;
    summary->user_lines = (double)users->n_lines;
    double owned[2] = {0.0, (double)features->user_history.n_entities};
    if (users->n_entities > 0) {
        size_t n = set->train.n + set->valid.n + set->test.n;
        uint64_t *ids = xmalloc((n ? n : 1) * sizeof(uint64_t));
        const Ratings *splits[3] = {&set->train, &set->valid, &set->test};
        for (size_t s = 0, at = 0; s < 3; at += splits[s]->n, s++)
            if (splits[s]->n > 0)
                memcpy(ids + at, splits[s]->users, splits[s]->n * sizeof(uint64_t));
        n = sort_unique_u64(ids, n);
        for (size_t e = 0; e < users->n_entities; e++)
            if (exchange_owner(users->entities[e], n_workers) == worker &&
                sorted_u64_find(ids, n, users->entities[e]) < 0)
                owned[0] += 1.0;
        free(ids);
    }
    comm_workers_sum_double(owned, 2);
    summary->users_missing = owned[0];
    summary->history_users = owned[1];
}

static void report_features(const TrainConfig *config, const FeatureSummary *summary,
                            size_t n_cold_items)
{
    if (config->item_features_path[0])
        printf("item features: %.0f items with %.0f distinct features (%.0f lines of %s); "
               "%.0f of those items are not in the data (ignored in training; `recommend` "
               "ranks them from their features)\n",
               summary->items, summary->item_features, summary->item_lines,
               config->item_features_path, summary->items_missing);
    if (config->user_features_path[0])
        printf("user features: %.0f users with %.0f distinct features (%.0f lines of %s); "
               "%.0f of those users are not in the data (ignored)\n",
               summary->users, summary->user_features, summary->user_lines,
               config->user_features_path, summary->users_missing);
    if (config->user_history_features)
        printf("user history features: the training items of %.0f users, weighted "
               "%g/sqrt(count)\n",
               summary->history_users, config->history_scale);
    if (config->split == SPLIT_COLD_ITEMS)
        printf("cold items: %zu items (%.1f%% of the catalogue) held out with all their "
               "interactions; their test interactions are ranked among the cold items only\n",
               n_cold_items, 100.0 * config->cold_fraction);
}

static void model_params_from_config(ModelParams *params, const TrainConfig *config)
{
    memset(params, 0, sizeof *params);
    params->dim = config->dim;
    params->init_std = config->init_std;
    params->l2 = config->l2;
    params->l2_bias = config->l2_bias;
    params->l2_features = config->l2_features;
    params->negatives = config->negatives;
    params->hidden = config->hidden;
    params->activation = config->activation;
    params->loss = config->loss;
    params->item_features = config->item_features_path[0] != '\0';
    params->user_features = config->user_features_path[0] != '\0';
    params->user_history = config->user_history_features;
    params->history_scale = config->history_scale;
    bool popularity = config->model == MODEL_CHOICE_POPULARITY;
    params->neighbours = popularity ? 0 : config->neighbours;
    params->similarity = config->similarity;
    params->alpha = config->alpha;
    params->shrink = config->shrink;
    params->rated_neighbours = config->rated_neighbours;
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

/* Chief only: the configuration and an empty metrics file in this run's
 * generation folder. config.conf leaves out run-dir and the checkpoint
 * folders, so that reusing it with --config starts a new run instead of
 * overwriting this one or resuming it. */
static int write_run_files(const TrainConfig *config, Error *err)
{
    char path[sizeof config->output_dir + 32];
    snprintf(path, sizeof path, "%s/config.conf", config->output_dir);
    FILE *file = fopen(path, "w");
    if (!file)
        return error_set(err, "cannot write %s: %s", path, strerror(errno));
    fprintf(file, "# psrec train configuration, as used by this run (its --run-dir was %s)\n",
            config->run_dir);
    static const char *const per_run[] = {"run-dir", "checkpoint-dir", "resume", NULL};
    options_write(file, TRAIN_OPTIONS, TRAIN_OPTION_COUNT, config, per_run);
    bool failed = ferror(file) != 0;
    if (fclose(file) != 0 || failed)
        return error_set(err, "cannot write %s: %s", path, strerror(errno));
    snprintf(path, sizeof path, "%s/metrics.jsonl", config->output_dir);
    file = fopen(path, "w");
    if (!file || fclose(file) != 0)
        return error_set(err, "cannot write %s: %s", path, strerror(errno));
    return 0;
}

/* Collective over the world: every rank must write into the folder the
 * chief made (servers write their shards there), which needs one file
 * system seen alike by every node. A rank that cannot says where it runs. */
static int check_output_visible(const TrainConfig *config, const CommLayout *layout, Error *err)
{
    char model_dir[sizeof config->output_dir + 16];
    snprintf(model_dir, sizeof model_dir, "%s/model", config->output_dir);
    if (access(model_dir, W_OK) == 0)
        return 0;
    int saved = errno;
    char host[128] = "unknown host";
    gethostname(host, sizeof host - 1);
    return error_set(err, "rank %d (%s) on host %s cannot write %s: %s; every rank must see the "
                          "run folder on a shared file system",
                     layout->world_rank, layout->is_server ? "server" : "worker", host,
                     model_dir, strerror(saved));
}

/* Chief only: whether the run folder's file system has room for the model
 * (twice: a snapshot is written beside the file it replaces) and the
 * run's other files, checked before the training time is spent. The size
 * is estimated from the rows the data will create. */
static int check_room(const TrainConfig *config, const ModelOps *model, const ModelParams *params,
                      const DataSummary *data, Error *err)
{
    double state = config->optimizer == OPTIMIZER_ADAM      ? 2.0
                   : config->optimizer == OPTIMIZER_ADAGRAD ? 1.0
                                                            : 0.0;
    double floats = data->n_users * model_table_width(model, params, MODEL_TABLE_USER) +
                    data->n_items * (model_table_width(model, params, MODEL_TABLE_ITEM) +
                                     model_table_width(model, params, MODEL_TABLE_NEIGHBOURS));
    double model_bytes = floats * (1.0 + state) * sizeof(float) * 1.1;
    double needed = 2.0 * model_bytes + 16.0 * 1024 * 1024;
    double free_bytes = run_dir_free_bytes(config->output_dir);
    if (free_bytes >= 0 && free_bytes < needed)
        return error_set(err, "not enough room in %s: the model needs about %.0f MiB (with a "
                              "snapshot beside it), %.0f MiB are free",
                         config->run_dir, needed / (1024.0 * 1024.0),
                         free_bytes / (1024.0 * 1024.0));
    return 0;
}

/* Everything the chief reports at the end. */
typedef struct {
    double train_seconds;
    double train_examples;      /* examples processed over all epochs */
    double train_bytes;         /* bytes of training messages, all ranks */
    double staleness_sum;
    double staleness_samples;
    double staleness_max;
    double load_seconds;
    double worker_wait_seconds; /* longest time a worker waited for pull responses */
    int epochs_run;
    int best_epoch;             /* the epoch whose model is saved */
    EpochRecord reported;       /* that epoch's figures */
    NeighbourBuildStats neighbours; /* neighbourhood models: the build */
    double pair_bytes_peak;     /* the most a server held in pair counts */
    double server_memory_peak;  /* MiB: the largest peak resident size of a server */
    int stop_signal;            /* the run stopped on this signal after a checkpoint, or 0 */
    double worker_memory_peak;  /* MiB: of a worker */
    double store_bytes;         /* the servers' stores at the end, summed (store_bytes) */
    double store_rows;          /* rows they hold, all tables, summed */
    /* Seconds by kind of work (time_shares.h), summed over the servers
     * (TIME_ROLE_SERVERS: their whole loop) and over the workers (their
     * training, evaluation excluded). */
    double time_seconds[2][TIME_KINDS];
    double pulls;               /* pull requests the servers answered, summed */
    double pushes;              /* pushes they applied, summed */
    double rows_pushed;         /* rows those pushes named: Σ over batches of distinct rows */
} RunTotals;

enum { TIME_ROLE_SERVERS, TIME_ROLE_WORKERS };

static int write_summary(const TrainConfig *config, const RunNames *names,
                         const CommLayout *layout, const DataSummary *data,
                         const RunTotals *totals, Error *err)
{
    char path[sizeof config->output_dir + 32];
    snprintf(path, sizeof path, "%s/summary.json", config->output_dir);
    FILE *file = fopen(path, "w");
    if (!file)
        return error_set(err, "cannot write %s: %s", path, strerror(errno));
    double per_example = totals->train_examples > 0 ? 1.0 / totals->train_examples : NAN;
    double samples = totals->staleness_samples;
    const NamedFigure figures[] = {
        {"train_examples", data->n_train},
        {"valid_examples", data->n_valid},
        {"test_examples", data->n_test},
        {"items", data->n_items},
        {"skipped_lines", data->n_skipped},
        {"global_mean", data->global_mean},
        {"load_seconds", totals->load_seconds},
        {"train_seconds", totals->train_seconds},
        {"examples_processed", totals->train_examples},
        {"examples_per_s", totals->train_examples / totals->train_seconds},
        {"train_bytes", totals->train_bytes},
        {"bytes_per_example", totals->train_bytes * per_example},
        {"staleness_mean", samples > 0 ? totals->staleness_sum / samples : 0},
        {"staleness_max", totals->staleness_max},
        {"worker_wait_seconds", totals->worker_wait_seconds},
        {"epochs_run", totals->epochs_run},
        {"best_epoch", totals->best_epoch},
        {"neighbour_pairs", totals->neighbours.pairs},
        {"neighbour_lists_sampled", totals->neighbours.sampled},
        {"neighbour_blocks", totals->neighbours.blocks},
        {"neighbour_build_seconds", totals->neighbours.seconds},
        {"memory_budget_mib", config->memory_budget},
        {"pair_memory_peak_mib", totals->pair_bytes_peak / (1024.0 * 1024.0)},
        {"server_memory_peak_mib", totals->server_memory_peak},
        {"worker_memory_peak_mib", totals->worker_memory_peak},
        {"store_bytes", totals->store_bytes},
        {"store_rows", totals->store_rows},
        {"batches_per_epoch", (double)data->n_batches},
        {"user_blocks", data->n_user_blocks},
        {"pulls", totals->pulls},
        {"pushes", totals->pushes},
        {"rows_pushed", totals->rows_pushed},
    };
    fprintf(file,
            "{\"model\":\"%s\",\"np\":%d,\"servers\":%d,\"workers\":%d,\"consistency\":\"%s\","
            "\"optimizer\":\"%s\",\"dim\":%d,\"epochs\":%d,\"batch_size\":%d,",
            names->model, layout->world_size, layout->n_servers, layout->n_workers,
            names->consistency, names->optimizer, config->dim, config->epochs,
            config->batch_size);
    int n_hosts = 0;
    char *placement = job_placement(layout->n_workers, &n_hosts);
    fprintf(file, "\"hosts\":%d,", n_hosts);
    progress_json_string(file, "placement", placement, false);
    free(placement);
    /* Where the model started: new rows (null), or the --warm-start model,
     * named by its folder, run id and manifest checksum. */
    char run_id[24] = "", checksum[24] = "";
    bool warm = config->warm_start_dir[0] != '\0';
    snprintf(run_id, sizeof run_id, "%016llx", (unsigned long long)config->warm_start_run_id);
    snprintf(checksum, sizeof checksum, "%llu", (unsigned long long)config->warm_start_checksum);
    progress_json_string(file, "warm_start_from", warm ? config->warm_start_dir : NULL, false);
    progress_json_string(file, "warm_start_run_id", warm ? run_id : NULL, false);
    progress_json_string(file, "warm_start_checksum", warm ? checksum : NULL, false);
    for (size_t i = 0; i < sizeof figures / sizeof figures[0]; i++)
        progress_json_number(file, figures[i].name, figures[i].value, false);
    /* Each role's time by kind, as shares of that role's time. */
    for (int role = TIME_ROLE_SERVERS; role <= TIME_ROLE_WORKERS; role++) {
        double role_seconds = 0.0;
        for (int kind = 0; kind < TIME_KINDS; kind++)
            role_seconds += totals->time_seconds[role][kind];
        progress_json_number(file,
                             role == TIME_ROLE_SERVERS ? "server_time_seconds" : "worker_time_seconds",
                             role_seconds, false);
        for (int kind = 0; kind < TIME_KINDS; kind++) {
            char name[64];
            snprintf(name, sizeof name, "%s_time_%s",
                     role == TIME_ROLE_SERVERS ? "server" : "worker", time_kind_name(kind));
            progress_json_number(file, name,
                                 role_seconds > 0 ? totals->time_seconds[role][kind] / role_seconds
                                                  : 0.0,
                                 false);
        }
    }
    /* The saved epoch's figures, renamed final_* where they are per epoch
     * (the train loss). */
    const EpochRecord *reported = &totals->reported;
    for (int i = 0; i < reported->n_figures; i++) {
        const NamedFigure *figure = &reported->figures[i];
        char name[64];
        snprintf(name, sizeof name, "%s%s", strncmp(figure->name, "train_", 6) == 0 ? "final_" : "",
                 figure->name);
        progress_json_number(file, name, figure->value, i + 1 == reported->n_figures);
    }
    if (reported->n_figures == 0)
        fprintf(file, "\"figures\":null");
    fprintf(file, "}\n");
    bool write_failed = ferror(file) != 0;
    if (fclose(file) != 0 || write_failed)
        return error_set(err, "cannot write %s: %s", path, strerror(errno));
    return 0;
}

/* Collective over the workers: the ranking figures of one held-out split
 * ("valid" or "test") into record, with catalogue coverage. */
static void evaluate_ranking_split(const CatalogueScorer *scorer, const TrainingSet *set,
                                   const TrainConfig *config, const char *split,
                                   EpochRecord *record)
{
    bool valid = strcmp(split, "valid") == 0;
    RankingEvaluation evaluation = {
        .heldout = valid ? &set->valid : &set->test,
        .catalogue = &set->catalogue,
        .excluded = valid ? &set->known_train : &set->known_valid,
        .seen = &set->seen,
        .candidates = set->cold_items,
        .n_candidates = set->n_cold_items,
        .sampled_negatives = config->eval_negatives,
        .sampled_seed = config->eval_seed,
    };
    size_t n_items = set->catalogue.n_items;
    RankingStats stats = {0};
    double *shown = xcalloc((size_t)RANKING_N_CUTOFFS * n_items + 1, sizeof(double));
    evaluate_ranking(scorer, &evaluation, &stats, shown);
    comm_workers_sum_double(stats.sums, RANKING_FIELDS);
    comm_workers_max_double(shown, (int)((size_t)RANKING_N_CUTOFFS * n_items));
    NamedFigure figures[RANKING_MAX_FIGURES];
    int n = ranking_figures(&stats, split, figures, RANKING_MAX_FIGURES);
    for (int i = 0; i < n; i++)
        epoch_record_add(record, figures[i].name, figures[i].value);
    if (stats.sums[RANKING_SUM_USERS] > 0)
        for (int c = 0; c < RANKING_N_CUTOFFS; c++) {
            double covered = 0;
            for (size_t i = 0; i < n_items; i++)
                covered += shown[(size_t)c * n_items + i];
            char name[48];
            snprintf(name, sizeof name, "%s_coverage_%d", split, RANKING_CUTOFFS[c]);
            epoch_record_add(record, name, n_items ? covered / (double)n_items : 0.0);
        }
    free(shown);
}

/* Collective over the workers: RMSE and MAE of one held-out split
 * (history: the user histories a neighbourhood model scores from, else
 * NULL). */
static void evaluate_rating_split(Worker *worker, const ModelOps *model, const ModelParams *params,
                                  const TrainingSet *set, const UserItems *history,
                                  const Ratings *heldout, const char *split, EpochRecord *record)
{
    ErrorStats stats = {0};
    if (model->neighbourhood)
        train_neighbours_evaluate_ratings(worker, model, params, &set->catalogue, history,
                                          heldout, &stats);
    else
        worker_evaluate_ratings(worker, heldout, &stats);
    comm_workers_sum_double(stats.sums, ERROR_STATS_FIELDS);
    if (stats.sums[ERROR_STATS_COUNT] == 0)
        return;
    char name[48];
    snprintf(name, sizeof name, "%s_rmse", split);
    epoch_record_add(record, name, error_stats_rmse(&stats));
    snprintf(name, sizeof name, "%s_mae", split);
    epoch_record_add(record, name, error_stats_mae(&stats));
}

/* The histories a neighbourhood model scores users from: for validation
 * the training items, for the test everything before it (training and
 * validation items), as a recommendation would. NULL for other models. */
typedef struct {
    const UserItems *valid;
    const UserItems *test;
} ScoringHistories;

/* Collective over the workers: evaluates the model after an epoch into
 * record: the validation split when with_valid, the test split when
 * with_test (each if it has examples). */
static void evaluate_epoch(Worker *worker, const ModelOps *model, const ModelParams *params,
                           const TrainConfig *config, const TrainingSet *set,
                           const ScoringHistories *histories, const DataSummary *data,
                           bool with_valid, bool with_test, EpochRecord *record)
{
    bool has_valid = with_valid && data->n_valid > 0, has_test = with_test && data->n_test > 0;
    if (!model->implicit) {
        if (has_valid)
            evaluate_rating_split(worker, model, params, set, histories->valid, &set->valid,
                                  "valid", record);
        if (has_test)
            evaluate_rating_split(worker, model, params, set, histories->test, &set->test, "test",
                                  record);
        return;
    }
    if (!has_valid && !has_test)
        return;
    CatalogueScorer scorer;
    scorer_init(&scorer, model, params, worker_representation_reader, worker, &set->catalogue,
                has_valid ? histories->valid : histories->test);
    if (has_valid)
        evaluate_ranking_split(&scorer, set, config, "valid", record);
    if (has_test) {
        if (has_valid && histories->valid != histories->test) { /* scored from more history */
            scorer_free(&scorer);
            scorer_init(&scorer, model, params, worker_representation_reader, worker,
                        &set->catalogue, histories->test);
        }
        evaluate_ranking_split(&scorer, set, config, "test", record);
    }
    scorer_free(&scorer);
}

/* The figure the terminal line shows after the loss, by model kind. */
static void record_choose_line(EpochRecord *record, bool implicit)
{
    static const char *const ranking[] = {"valid_hr_10",  "valid_sampled_ndcg_10",
                                          "valid_ndcg_10", "test_hr_10",
                                          "test_sampled_ndcg_10", "test_ndcg_10"};
    static const char *const rating[] = {"valid_rmse", "test_rmse", "test_mae"};
    const char *const *names = implicit ? ranking : rating;
    int n_names = implicit ? 6 : 3;
    /* Move the wanted figures right after the loss, in this order. */
    int at = 1;
    for (int k = 0; k < n_names; k++)
        for (int i = at; i < record->n_figures; i++)
            if (strcmp(record->figures[i].name, names[k]) == 0) {
                NamedFigure figure = record->figures[i];
                memmove(&record->figures[at + 1], &record->figures[at],
                        (size_t)(i - at) * sizeof(NamedFigure));
                record->figures[at++] = figure;
                break;
            }
    record->n_on_line = implicit && at > 4 ? 4 : at; /* the loss and one split's three */
}

/* Collective over the workers: the chief shows an epoch's record and
 * appends it to metrics (if open); returns whether that write failed (a
 * full disk): then every worker stops, and err says why (on the chief; the
 * others get a generic message). */
static bool report_epoch(Progress *progress, const EpochRecord *record, bool chief, FILE *metrics,
                         const TrainConfig *config, Error *err)
{
    if (chief) {
        progress_end_epoch(progress, record);
        if (metrics)
            progress_write_json(metrics, record);
    }
    int saved = 0;
    uint64_t failed = metrics && (fflush(metrics) != 0 || ferror(metrics));
    if (failed)
        saved = errno;
    comm_workers_max_u64(&failed, 1);
    if (!failed)
        return false;
    error_set(err, "cannot write %s/metrics.jsonl: %s", config->output_dir,
              saved ? strerror(saved) : "the chief failed to write it");
    return true;
}

/* The manifest of this run's model: what it is and how it was trained,
 * after epochs_done epochs. */
static void manifest_from_run(const TrainConfig *config, const RunNames *names,
                              const CommLayout *layout, const DataSummary *data, int epochs_done,
                              ModelManifest *manifest)
{
    bool knn = config->model == MODEL_CHOICE_ITEM_KNN || config->model == MODEL_CHOICE_USER_KNN;
    *manifest = (ModelManifest){
        .version = CHECKPOINT_MANIFEST_VERSION,
        .dim = config->dim,
        .n_servers = layout->n_servers,
        .n_vshards = config->vshards,
        .optimizer = config->optimizer,
        .init_seed = config->seed,
        .epochs_done = epochs_done,
        .clock = data->n_batches * (uint64_t)epochs_done,
        .global_mean = data->global_mean,
        .rating_min = data->rating_min,
        .rating_max = data->rating_max,
        .hidden = config->model == MODEL_CHOICE_DEEP ? config->hidden : 0,
        .activation = config->model == MODEL_CHOICE_DEEP ? config->activation : 0,
        .loss = config->model == MODEL_CHOICE_DEEP ? config->loss : 0,
        .item_features = config->item_features_path[0] != '\0',
        .user_features = config->user_features_path[0] != '\0',
        .user_history = config->user_history_features,
        .history_scale = config->user_history_features ? config->history_scale : 0.0,
        .neighbours = knn ? config->neighbours : 0,
        .similarity = knn ? config->similarity : 0,
        .alpha = knn ? config->alpha : 0.0,
        .shrink = knn ? config->shrink : 0.0,
        .rated_neighbours = knn ? config->rated_neighbours : 0,
        .run_id = config->run_id,
        .warm_start_run_id = config->warm_start_run_id,
        .warm_start_checksum = config->warm_start_checksum,
    };
    snprintf(manifest->model, sizeof manifest->model, "%.31s", names->model);
}

/* ---- checkpoints (app/checkpoints.h): the workers decide when, the servers
 * write their rows, the chief commits with the manifest. */

/* What the workers need to write checkpoints. */
typedef struct {
    const TrainConfig *config;
    const RunNames *names;
    const CommLayout *layout;
    const DataSummary *data;
    uint64_t next_number;   /* the next checkpoint's number */
    double last_seconds;    /* time_now_s() of the last checkpoint (or the start) */
} Checkpointer;

/* WorkerSetup.pause_wanted: a stop signal (on any worker, or relayed from
 * a server), or --checkpoint-minutes passed since the last checkpoint (by
 * the chief's clock). */
static uint64_t pause_wanted(void *context)
{
    Checkpointer *checkpointer = context;
    uint64_t bits = stop_signal_received() ? WORKER_PAUSE_STOP : 0;
    double minutes = checkpointer->config->checkpoint_minutes;
    if (checkpointer->layout->world_rank == 0 && minutes > 0 &&
        time_now_s() - checkpointer->last_seconds >= 60.0 * minutes)
        bits |= WORKER_PAUSE_CHECKPOINT;
    return bits;
}

/* Collective over the workers: writes the next checkpoint at the current
 * clock — the chief makes its folder, every server writes its rows, then
 * the chief copies the metrics so far and writes the manifest (the commit)
 * and drops old checkpoints. */
static int write_checkpoint(Worker *worker, Checkpointer *checkpointer, TrainPosition position,
                            const char *why, Error *err)
{
    const TrainConfig *config = checkpointer->config;
    bool chief = checkpointer->layout->world_rank == 0;
    double started = time_now_s();
    char folder[OPTION_STRING_BYTES + 32];
    position.number = checkpointer->next_number++;
    checkpoints_folder(folder, sizeof folder, config->checkpoint_dir, position.number);
    uint64_t failed = chief && mkdir(folder, 0777) != 0 && errno != EEXIST;
    if (failed)
        error_set(err, "cannot create the checkpoint folder %s: %s", folder, strerror(errno));
    comm_workers_max_u64(&failed, 1);
    if (failed) {
        if (!chief)
            error_set(err, "the chief could not create the checkpoint folder %s", folder);
        return -1;
    }
    worker_checkpoint(worker, position.number);
    if (chief) {
        char metrics[sizeof config->output_dir + 32];
        snprintf(metrics, sizeof metrics, "%s/metrics.jsonl", config->output_dir);
        ModelManifest manifest;
        manifest_from_run(config, checkpointer->names, checkpointer->layout, checkpointer->data,
                          position.epoch, &manifest);
        manifest.clock = worker_clock(worker);
        manifest.position = position;
        char path[sizeof folder + 16];
        snprintf(path, sizeof path, "%s/manifest.txt", folder);
        failed = checkpoints_save_metrics(metrics, folder, &manifest.position.metrics_bytes,
                                          &manifest.position.metrics_checksum, err) != 0 ||
                 checkpoint_write_manifest(path, &manifest, err) != 0;
        if (!failed) {
            checkpoints_prune(config->checkpoint_dir, config->keep_checkpoints);
            char where[96];
            if (position.batch == 0)
                snprintf(where, sizeof where, "after epoch %d", position.epoch);
            else
                snprintf(where, sizeof where, "epoch %d, batch %llu of %llu", position.epoch + 1,
                         (unsigned long long)position.batch,
                         (unsigned long long)position.batches_per_epoch);
            printf("checkpoint %s written (%s; %s) in %.2fs\n", folder, why, where,
                   time_now_s() - started);
            fflush(stdout);
        }
    }
    comm_workers_max_u64(&failed, 1);
    checkpointer->last_seconds = time_now_s();
    if (failed && !chief)
        error_set(err, "the chief could not write checkpoint %s", folder);
    return failed ? -1 : 0;
}

/* Where training stands, for a checkpoint: `batch` batches into `epoch`
 * (0-based) with the epoch's summed loss so far, and the early-stopping
 * state (best_watched: the best validation figure, -INFINITY while none,
 * i.e. no snapshot was saved). */
static TrainPosition position_at(int epoch, uint64_t batch, double epoch_loss_sum,
                                 const DataSummary *data, const CommLayout *layout,
                                 double first_loss, double best_watched, int reported_epoch)
{
    bool best = best_watched > -INFINITY;
    return (TrainPosition){
        .epoch = epoch,
        .batch = batch,
        .batches_per_epoch = data->n_batches,
        .workers = layout->n_workers,
        .epoch_loss_sum = epoch_loss_sum,
        .first_loss = first_loss,
        .best_snapshot = best,
        .best_watched = best ? best_watched : 0.0,
        .reported_epoch = reported_epoch,
    };
}

/* Collective over the workers: writes a checkpoint at `position` (why: what
 * asked for it, unless the workers agreed to stop) and, when `pause` says
 * stop, records the signal in totals->stop_signal so the run ends. */
static int checkpoint_at_pause(Worker *worker, Checkpointer *checkpointer,
                               TrainPosition position, uint64_t pause, const char *why,
                               RunTotals *totals, Error *err)
{
    int signo = stop_signal_received();
    bool stop = pause & WORKER_PAUSE_STOP;
    if (write_checkpoint(worker, checkpointer, position, stop ? "stopping" : why, err) != 0)
        return -1;
    if (stop)
        totals->stop_signal = signo ? signo : SIGTERM; /* 0: a server's, relayed */
    return 0;
}

/* Where the run resumes from (all zero: from the start). */
typedef struct {
    bool resumed;
    char folder[OPTION_STRING_BYTES + 32]; /* the checkpoint's */
    TrainPosition position;                /* as written */
    int start_epoch;
    uint64_t start_batch;                  /* in this run's batches per epoch */
    uint64_t start_clock;
    EpochRecord reported;                  /* the figures the checkpoint's run reported */
} ResumePoint;

/* Worker side of training: epochs, evaluation, early stopping, progress,
 * checkpoints. Starts where resume says. Fills the totals the chief
 * reports (only the chief's copy is complete); totals->stop_signal is set
 * when the run stopped on a signal after writing a checkpoint. Returns -1
 * with a message when training diverged (the loss is no longer finite:
 * every worker sees the same reduced loss, so all stop after the same
 * epoch) or a checkpoint could not be written, else 0. */
static int run_worker(const TrainConfig *config, const CommLayout *layout, const ShardMap *map,
                      const ModelOps *model, const ModelParams *params, const DataSummary *data,
                      const TrainingSet *set, const ModelFeatures *features,
                      const ResumePoint *resume, Checkpointer *checkpointer, RunTotals *totals,
                      Error *err)
{
    bool chief = layout->world_rank == 0;
    int rc = 0;
    WorkerSetup setup = {
        .layout = layout,
        .map = map,
        .model = model,
        .params = *params,
        .staleness = staleness_from_config(config),
        .pull_bf16 = config->pull_precision == PULL_PRECISION_BF16,
        .seed = config->seed,
        .blocks = &set->train_blocks,
        .catalogue = &set->catalogue,
        .sampler = set->indexed ? &set->sampler : NULL,
        .positives = set->indexed ? &set->known_train : NULL,
        .features = features,
        .start_clock = resume->start_clock,
        .pause_wanted = pause_wanted,
        .pause_context = checkpointer,
    };
    Worker *worker = worker_create(&setup);
    FILE *metrics = NULL;
    if (chief) {
        char path[sizeof config->output_dir + 32];
        snprintf(path, sizeof path, "%s/metrics.jsonl", config->output_dir);
        metrics = fopen(path, "a");
        if (!metrics)
            log_warn("cannot append to %s: epoch metrics go to the terminal only", path);
    }
    /* With patience the model of the best validation epoch is kept: the
     * servers save it when it is reached and restore it for the test. */
    bool early_stopping = config->patience > 0;
    char watched[OPTION_STRING_BYTES + 8];
    options_value_text(TRAIN_OPTIONS, TRAIN_OPTION_COUNT, config, "patience-metric", watched + 6);
    memcpy(watched, "valid_", 6);
    const TrainPosition *resumed = &resume->position;
    double best_watched = resumed->best_snapshot ? resumed->best_watched : -INFINITY;
    double first_loss = resumed->first_loss;
    if (resume->resumed) {
        totals->reported = resume->reported;
        totals->best_epoch = resumed->reported_epoch;
        totals->epochs_run = resume->start_epoch;
    }
    Progress progress;
    double started = time_now_s();
    /* A neighbourhood model trains in epochs only if it has baselines. */
    int epochs = model->neighbourhood && !model->batch_gradient ? 0 : config->epochs;
    UserItems train_items = {0}, known_items = {0};
    UserItems neighbour_train_items = {0}, neighbour_known_items = {0}; /* user-knn */
    ScoringHistories histories = {0};
    if (model->neighbourhood) {
        user_items_build(&train_items, &set->train, NULL, &set->catalogue);
        user_items_build(&known_items, &set->train, &set->valid, &set->catalogue);
        histories = (ScoringHistories){.valid = &train_items, .test = &known_items};
    }
    for (int epoch = resume->start_epoch; epoch < epochs; epoch++) {
        bool live = chief && config->progress && isatty(STDOUT_FILENO);
        progress_begin_epoch(&progress, live, epoch + 1, config->epochs, data->n_train);
        comm_workers_barrier();
        double epoch_start = time_now_s();
        time_shares_charge(TIME_OTHER);
        double time_before[TIME_KINDS];
        time_shares_read(time_before);
        /* The epoch's batches, with a checkpoint wherever the workers agree
         * to pause; a resumed epoch starts at the checkpoint's batch with
         * its loss so far (added once, by the chief). */
        bool resumed_epoch = epoch == resume->start_epoch;
        uint64_t batch = resumed_epoch ? resume->start_batch : 0;
        double loss = resumed_epoch && chief ? resumed->epoch_loss_sum : 0.0;
        EpochRun run;
        do {
            worker_train_epoch(worker, &set->train, epoch, data->n_batches, batch,
                               chief ? &progress : NULL, &run);
            loss += run.loss;
            batch += run.batches;
            /* A checkpoint asked for at the epoch's end waits for its
             * evaluation; a stop does not wait. */
            bool now = run.pause && (batch < data->n_batches || (run.pause & WORKER_PAUSE_STOP));
            if (!now)
                continue;
            double so_far = loss;
            comm_workers_sum_double(&so_far, 1);
            TrainPosition position =
                position_at(epoch, batch, so_far, data, layout, first_loss,
                            early_stopping ? best_watched : -INFINITY, totals->best_epoch);
            position.train_seconds = totals->train_seconds + time_now_s() - epoch_start;
            if (checkpoint_at_pause(worker, checkpointer, position, run.pause,
                                    "--checkpoint-minutes", totals, err) != 0) {
                rc = -1;
                break;
            }
            if (totals->stop_signal)
                break;
        } while (batch < data->n_batches);
        if (rc != 0 || totals->stop_signal)
            break;
        uint64_t pending = run.pause; /* asked for at the epoch's end */
        comm_workers_barrier();
        time_shares_charge(TIME_WAIT);
        double time_after[TIME_KINDS];
        time_shares_read(time_after);
        for (int kind = 0; kind < TIME_KINDS; kind++)
            totals->time_seconds[TIME_ROLE_WORKERS][kind] += time_after[kind] - time_before[kind];
        double epoch_seconds = time_now_s() - epoch_start;
        comm_workers_sum_double(&loss, 1);
        bool last = epoch + 1 == config->epochs;
        EpochRecord record = {
            .epoch = epoch + 1,
            .epochs = config->epochs,
            .examples = data->n_train,
            .train_seconds = epoch_seconds,
        };
        double mean_loss = data->n_train > 0 ? loss / data->n_train : 0;
        epoch_record_add(&record, model->implicit ? "train_loss" : "train_mse", mean_loss);
        /* The validation split every epoch; the test split every epoch
         * when there is no validation split (it is then what shows
         * progress, as RMSE did before ranking models), else at the end —
         * with patience, on the kept epoch's model, after the loop. */
        bool has_valid = data->n_valid > 0;
        double eval_start = time_now_s();
        evaluate_epoch(worker, model, params, config, set, &histories, data, true,
                       !has_valid || (last && !early_stopping), &record);
        bool improved = false;
        if (early_stopping) {
            double value = epoch_record_get(&record, watched);
            improved = value > best_watched;
            if (improved)
                best_watched = value;
        }
        epoch_record_add(&record, "eval_seconds", time_now_s() - eval_start);
        record.elapsed_seconds = time_now_s() - started;
        record_choose_line(&record, model->implicit);
        totals->train_seconds += epoch_seconds;
        totals->train_examples += data->n_train;
        totals->epochs_run = epoch + 1;
        if (report_epoch(&progress, &record, chief, metrics, config, err)) { /* all stop */
            rc = -1;
            break;
        }
        /* Diverged: the loss is no longer a number, or it exploded — for
         * ratings an MSE a hundred times the squared rating range (always
         * predicting the mean does better), for rankings a thousand times
         * the first epoch's loss. Every worker sees the same reduced loss. */
        if (epoch == 0)
            first_loss = mean_loss;
        double range = params->rating_max - params->rating_min;
        bool exploded = model->implicit
                            ? epoch > 0 && mean_loss > 1000.0 * first_loss && mean_loss > 1.0
                            : mean_loss > 100.0 * (range > 1.0 ? range * range : 1.0);
        if (!isfinite(mean_loss) || exploded) {
            char first[64] = "";
            if (epoch > 0)
                snprintf(first, sizeof first, " (%g after epoch 1)", first_loss);
            rc = error_set(err,
                           "training diverged: the train loss is %g after epoch %d%s; lower "
                           "--learning-rate (now %g) or raise --l2",
                           mean_loss, epoch + 1, first, (double)config->learning_rate);
            break;
        }
        if (!early_stopping || improved) {
            totals->reported = record;
            totals->best_epoch = epoch + 1;
            if (improved)
                worker_snapshot(worker);
        } else if (epoch + 1 - totals->best_epoch >= config->patience) {
            if (chief)
                printf("early stop: %s has not improved for %d epochs; keeping epoch %d "
                       "(%.4f)\n",
                       watched, config->patience, totals->best_epoch, best_watched);
            break;
        }
        /* The epoch's end: a checkpoint when --checkpoint-every says so, or
         * one was asked for (time, a stop signal, also during evaluation). */
        bool every = config->checkpoint_every > 0 && (epoch + 1) % config->checkpoint_every == 0;
        uint64_t wanted =
            pending | pause_wanted(checkpointer) | (every ? WORKER_PAUSE_CHECKPOINT : 0);
        wanted = comm_workers_vote_finish(comm_workers_vote_start(wanted));
        if (wanted) {
            TrainPosition position =
                position_at(epoch + 1, 0, 0.0, data, layout, first_loss,
                            early_stopping ? best_watched : -INFINITY, totals->best_epoch);
            position.train_seconds = totals->train_seconds;
            if (checkpoint_at_pause(worker, checkpointer, position, wanted,
                                    every ? "--checkpoint-every" : "--checkpoint-minutes", totals,
                                    err) != 0) {
                rc = -1;
                break;
            }
            if (totals->stop_signal)
                break;
        }
    }
    bool finishing = rc == 0 && !totals->stop_signal;
    if (early_stopping && finishing) {
        /* The kept epoch's test figures, from the kept model. */
        if (totals->best_epoch != totals->epochs_run)
            worker_restore_snapshot(worker);
        evaluate_epoch(worker, model, params, config, set, &histories, data, false, true,
                       &totals->reported);
    }
    if (model->neighbourhood && finishing) {
        /* The lists are built once, after the baselines (if any) are
         * trained, and the model is evaluated as built. */
        train_neighbours_build(worker, model, params, config, layout, &set->catalogue,
                               &train_items, &totals->neighbours);
        if (neighbours_user_based(model)) { /* scored from the neighbours' histories */
            train_neighbours_fetch_histories(worker, params, layout, &set->catalogue,
                                             &train_items, &neighbour_train_items);
            train_neighbours_fetch_histories(worker, params, layout, &set->catalogue,
                                             &known_items, &neighbour_known_items);
            histories = (ScoringHistories){.valid = &neighbour_train_items,
                                           .test = &neighbour_known_items};
        }
        EpochRecord record = {.epoch = totals->epochs_run, .epochs = totals->epochs_run,
                              .examples = data->n_train};
        double eval_start = time_now_s();
        evaluate_epoch(worker, model, params, config, set, &histories, data, true, true, &record);
        epoch_record_add(&record, "eval_seconds", time_now_s() - eval_start);
        record.train_seconds = totals->neighbours.seconds;
        record.elapsed_seconds = time_now_s() - started;
        record_choose_line(&record, model->implicit);
        totals->reported = record;
        totals->best_epoch = totals->epochs_run;
        totals->train_seconds += totals->neighbours.seconds;
        totals->train_examples += data->n_train;
        if (chief) {
            progress_begin_epoch(&progress, false, record.epoch, record.epochs, data->n_train);
            printf("neighbours: %.0f pairs counted in %.0f block%s (%.0f %s sampled down to "
                   "--max-history %d) in %.2fs\n",
                   totals->neighbours.pairs, totals->neighbours.blocks,
                   totals->neighbours.blocks == 1 ? "" : "s", totals->neighbours.sampled,
                   neighbours_user_based(model) ? "items' user lists" : "user histories",
                   config->max_history, totals->neighbours.seconds);
        }
        if (report_epoch(&progress, &record, chief, metrics, config, err))
            rc = -1;
    }
    worker_finish(worker);
    user_items_free(&train_items);
    user_items_free(&known_items);
    user_items_free(&neighbour_train_items);
    user_items_free(&neighbour_known_items);
    totals->train_bytes = (double)worker_stats(worker)->train_bytes_sent;
    totals->worker_wait_seconds = worker_stats(worker)->pull_wait_seconds;
    if (metrics)
        fclose(metrics);
    worker_destroy(worker);
    return rc;
}

/* A server's side of the run: where it writes its shard of the model, how
 * to make a store like its own, and the store itself. */
typedef struct {
    char path[OPTION_STRING_BYTES + 160]; /* its model shard (and the --patience snapshot) */
    bool snapshot_saved;                   /* path holds a snapshot of the best epoch */
    const char *checkpoint_dir;
    int server;
    int n_servers;
    uint64_t run_id;
    TableSpec specs[STORE_MAX_TABLES];
    int n_tables;
    OptimizerConfig optimizer;
    uint64_t seed;
    Store *store;
} ServerState;

static void server_state_init(ServerState *state, const TrainConfig *config,
                              const CommLayout *layout, const ModelOps *model,
                              const ModelParams *params)
{
    memset(state, 0, sizeof *state);
    state->n_tables = model_table_specs(model, params, state->specs);
    optimizer_from_config(&state->optimizer, config);
    state->seed = config->seed;
    state->run_id = config->run_id;
    state->checkpoint_dir = config->checkpoint_dir;
    state->server = layout->role_rank;
    state->n_servers = layout->n_servers;
    char model_dir[sizeof config->output_dir + 16];
    snprintf(model_dir, sizeof model_dir, "%s/model", config->output_dir);
    checkpoint_shard_path(state->path, sizeof state->path, model_dir, layout->role_rank,
                          layout->n_servers);
    state->store = store_create(state->specs, state->n_tables, &state->optimizer, state->seed);
}

static Store *server_state_new_store(const ServerState *state)
{
    return store_create(state->specs, state->n_tables, &state->optimizer, state->seed);
}

static int save_shard(void *context, Store *store, Error *err)
{
    ServerState *state = context;
    if (checkpoint_write_shard(state->path, store, state->run_id, err) != 0)
        return -1;
    state->snapshot_saved = true;
    return 0;
}

/* A store holding exactly the saved shard (rows created after it are
 * gone); current is destroyed. */
static Store *restore_shard(void *context, Store *current, Error *err)
{
    const ServerState *state = context;
    Store *restored = server_state_new_store(state);
    if (checkpoint_read_shard(state->path, restored, NULL, 0, NULL, err) != 0) {
        store_destroy(restored);
        return NULL;
    }
    store_destroy(current);
    return restored;
}

static int checkpoint_shard(void *context, Store *store, uint64_t number, Error *err)
{
    const ServerState *state = context;
    char folder[OPTION_STRING_BYTES + 32];
    checkpoints_folder(folder, sizeof folder, state->checkpoint_dir, number);
    return checkpoints_write_shard(folder, store, state->run_id, state->server, state->n_servers,
                                   state->snapshot_saved ? state->path : NULL, err);
}

/* Server side: replaces the store with this server's rows of the model in
 * folder (a checkpoint's, or the --warm-start model's; written by
 * manifest->n_servers servers under run manifest->run_id), weights and
 * optimizer state with each row's step count, re-sharded onto this run's
 * servers. */
static int server_load_rows(ServerState *state, const ShardMap *map, const char *folder,
                            const ModelManifest *manifest, Error *err)
{
    store_destroy(state->store);
    state->store = server_state_new_store(state);
    state->snapshot_saved = false;
    return checkpoints_read_rows(folder, false, manifest->n_servers, state->store, map,
                                 state->server, manifest->run_id, err);
}

/* The rows a server's store holds, all tables together (0 without a store). */
static double store_rows_held(const Store *store)
{
    double rows = 0.0;
    for (int t = 0; store && t < store_table_count(store); t++)
        rows += (double)store_row_count(store, t);
    return rows;
}

/* Server side of a resume: this server's rows of the checkpoint (written by
 * any number of servers), and its best-epoch snapshot if it has one. */
static int server_resume(ServerState *state, const ShardMap *map, const ResumePoint *resume,
                         const ModelManifest *manifest, Error *err)
{
    if (server_load_rows(state, map, resume->folder, manifest, err) != 0)
        return -1;
    if (!resume->position.best_snapshot)
        return 0;
    Store *best = server_state_new_store(state);
    int rc = checkpoints_read_rows(resume->folder, true, manifest->n_servers, best, map,
                                   state->server, manifest->run_id, err);
    if (rc == 0)
        rc = save_shard(state, best, err);
    store_destroy(best);
    return rc;
}

/* ServerPairs.merge for neighbourhood models (context: the ModelParams). */
static int merge_neighbours(void *params, Store *store, PairTable *pairs, Error *err)
{
    return neighbours_merge(params, store, pairs, err);
}

/* Server side: serve until the workers are done. */
static void run_server(ServerState *state, const TrainConfig *config, const CommLayout *layout,
                       const ShardMap *map, const ModelOps *model, const ModelParams *params,
                       uint64_t batches_per_epoch, uint64_t start_clock, RunTotals *totals)
{
    LearningRateSchedule schedule = {.learning_rate = config->learning_rate,
                                     .decay = config->lr_decay,
                                     .batches_per_epoch = batches_per_epoch};
    /* With patience the workers ask for a snapshot at each better epoch,
     * which is the model to keep, and restore it at the end; checkpoints
     * carry the snapshot too. */
    ServerSnapshot snapshot = {.save = save_shard,
                               .restore = restore_shard,
                               .checkpoint = checkpoint_shard,
                               .context = state};
    /* Neighbourhood models: pair counts become neighbour lists here. */
    ServerPairs pairs = {.width = neighbours_pair_width(params),
                         .merge = merge_neighbours,
                         .context = (void *)params};
    ServerStats stats;
    server_run(layout, map, &schedule, start_clock, &state->store, &snapshot,
               model->neighbourhood ? &pairs : NULL, &stats);
    time_shares_read(totals->time_seconds[TIME_ROLE_SERVERS]);
    /* For scripts/scaling's network model: messages per batch. */
    totals->pulls = (double)stats.pulls;
    totals->pushes = (double)stats.pushes;
    totals->rows_pushed = (double)stats.rows_pushed;
    totals->pair_bytes_peak = (double)stats.pair_bytes_peak;
    totals->train_bytes = (double)stats.train_bytes_sent;
    totals->staleness_sum = (double)stats.staleness_sum;
    totals->staleness_samples = (double)stats.staleness_samples;
    totals->staleness_max = (double)stats.staleness_max;
    log_debug("served %llu pulls (%llu rows), %llu pushes (%llu rows); %zu bytes of rows; "
              "waited %.2fs",
              (unsigned long long)stats.pulls, (unsigned long long)stats.rows_pulled,
              (unsigned long long)stats.pushes, (unsigned long long)stats.rows_pushed,
              store_bytes(state->store),
              totals->time_seconds[TIME_ROLE_SERVERS][TIME_WAIT]);
}

/* One side of a model check: the value of `what` in manifest m, as text. */
static void model_shape_text(char *out, size_t out_bytes, const char *what,
                             const ModelManifest *m)
{
    static const char *const optimizers[] = {"sgd", "adagrad", "adam"};
    static const char *const activations[] = {"relu", "sigmoid", "tanh"};
    static const char *const losses[] = {"bce", "bpr"};
    if (strcmp(what, "model") == 0)
        snprintf(out, out_bytes, "%s", m->model);
    else if (strcmp(what, "dim") == 0)
        snprintf(out, out_bytes, "%d", m->dim);
    else if (strcmp(what, "optimizer") == 0)
        snprintf(out, out_bytes, "%s",
                 m->optimizer >= 0 && m->optimizer < 3 ? optimizers[m->optimizer] : "?");
    else if (strcmp(what, "neighbours") == 0)
        snprintf(out, out_bytes, "%d", m->neighbours);
    else if (strchr(what, '/')) /* only deep has them; others record 0 */
        snprintf(out, out_bytes, "hidden %d, %s, %s", m->hidden,
                 m->activation >= 0 && m->activation < 3 ? activations[m->activation] : "?",
                 m->loss >= 0 && m->loss < 2 ? losses[m->loss] : "?");
    else
        snprintf(out, out_bytes, "item features %s, user features %s, user history %s",
                 m->item_features ? "on" : "off", m->user_features ? "on" : "off",
                 m->user_history ? "on" : "off");
}

/* Why the model in `folder` (a checkpoint's, or the --warm-start model's)
 * cannot be continued by this run at all: another model, dim, optimizer or
 * features. The message names both values and ends with `advice`. */
static int check_same_model(const char *folder, const ModelManifest *found,
                            const ModelManifest *wanted, const char *advice, Error *err)
{
    const struct {
        const char *what;
        bool differs;
    } checks[] = {
        {"model", strcmp(found->model, wanted->model) != 0},
        {"dim", found->dim != wanted->dim},
        {"optimizer", found->optimizer != wanted->optimizer},
        {"hidden/activation/loss",
         found->hidden != wanted->hidden || found->activation != wanted->activation ||
             found->loss != wanted->loss},
        {"feature options",
         found->item_features != wanted->item_features ||
             found->user_features != wanted->user_features ||
             found->user_history != wanted->user_history},
        {"neighbours", found->neighbours != wanted->neighbours},
    };
    for (size_t c = 0; c < sizeof checks / sizeof checks[0]; c++) {
        if (!checks[c].differs)
            continue;
        char had[160], asked[160];
        model_shape_text(had, sizeof had, checks[c].what, found);
        model_shape_text(asked, sizeof asked, checks[c].what, wanted);
        bool plural = strchr(checks[c].what, '/') || strchr(checks[c].what, ' ');
        return error_set(err, "%s holds a %s model of dim %d, and this run's %s differ%s (the "
                              "model's %s: %s; this run asks for %s): %s",
                         folder, found->model, found->dim, checks[c].what, plural ? "" : "s",
                         checks[c].what, had, asked, advice);
    }
    return 0;
}

/* Collective over the world: resumes from the newest complete checkpoint
 * in config->checkpoint_dir that every rank reads whole — servers load
 * their rows of it (re-sharded onto this run's servers), the chief its
 * metrics — falling back past a damaged one, saying so. *highest gets the
 * highest checkpoint number there (new ones take the next). A folder
 * without checkpoints leaves resume->resumed false: the run starts fresh.
 * Returns -1 with a message when checkpoints exist but none is usable. */
static int resume_from_checkpoint(const TrainConfig *config, const RunNames *names,
                                  const CommLayout *layout, const ShardMap *map,
                                  const DataSummary *data, ServerState *server,
                                  ResumePoint *resume, uint64_t *highest, Error *err)
{
    bool chief = layout->world_rank == 0;
    memset(resume, 0, sizeof *resume);
    uint64_t candidates[CHECKPOINTS_MAX_CANDIDATES + 1] = {0};
    size_t n = 0;
    bool failed = chief && checkpoints_list(config->checkpoint_dir, candidates,
                                            CHECKPOINTS_MAX_CANDIDATES, &n, highest, err) != 0;
    if (agree_on_failure(failed, err))
        return -1;
    candidates[CHECKPOINTS_MAX_CANDIDATES] = n;
    comm_world_broadcast(candidates, sizeof candidates, 0);
    comm_world_broadcast(highest, sizeof *highest, 0);
    n = (size_t)candidates[CHECKPOINTS_MAX_CANDIDATES];
    if (n == 0) {
        if (chief)
            printf("resume: no checkpoint in %s yet; starting from the beginning\n",
                   config->checkpoint_dir);
        return 0;
    }
    ModelManifest wanted;
    manifest_from_run(config, names, layout, data, 0, &wanted);
    for (size_t c = 0;; c++) {
        if (c == n)
            return error_set(err, "no usable checkpoint in %s: every one is damaged (see "
                                  "above); move them away to start fresh",
                             config->checkpoint_dir);
        checkpoints_folder(resume->folder, sizeof resume->folder, config->checkpoint_dir,
                           candidates[c]);
        /* The chief reads the manifest: damaged (1), or for another model (2). */
        ModelManifest manifest = {0};
        char path[sizeof resume->folder + 16];
        snprintf(path, sizeof path, "%s/manifest.txt", resume->folder);
        int verdict = 0;
        if (chief && checkpoint_read_manifest(path, &manifest, err) != 0)
            verdict = 1;
        else if (chief && check_same_model(resume->folder, &manifest, &wanted,
                                           "resume with the options it was written with, or "
                                           "start fresh without --resume",
                                           err) != 0)
            verdict = 2;
        comm_world_broadcast(&verdict, sizeof verdict, 0);
        if (verdict == 2) {
            if (!chief)
                error_set(err, "the chief refused %s", resume->folder);
            return -1; /* the chief has the message */
        }
        failed = verdict == 1;
        if (!failed) {
            comm_world_broadcast(&manifest, sizeof manifest, 0);
            resume->position = manifest.position;
            char metrics[sizeof config->output_dir + 32];
            snprintf(metrics, sizeof metrics, "%s/metrics.jsonl", config->output_dir);
            if (layout->is_server)
                failed = server_resume(server, map, resume, &manifest, err) != 0;
            else if (chief)
                failed = checkpoints_restore_metrics(
                             resume->folder, manifest.position.metrics_bytes,
                             manifest.position.metrics_checksum, metrics,
                             manifest.position.reported_epoch, &resume->reported, err) != 0;
        }
        /* Whoever found damage says which file; then the one before. */
        if (failed) {
            char detail[sizeof err->message];
            snprintf(detail, sizeof detail, "%s", err->message);
            error_set(err, "checkpoint %s is damaged and not used: %s; %s", resume->folder,
                      detail,
                      c + 1 < n ? "falling back to the one before" : "no older one is left");
        }
        if (!agree_on_failure(failed, err))
            break;
    }
    /* This run's position: the same batch when the layout is the same,
     * else the same share of the epoch (each worker then holds other
     * examples, so a few are seen twice or not at all in that epoch). */
    const TrainPosition *position = &resume->position;
    resume->resumed = true;
    resume->start_epoch = position->epoch;
    if (position->batches_per_epoch == data->n_batches)
        resume->start_batch = position->batch;
    else
        resume->start_batch = (uint64_t)llround((double)position->batch *
                                                (double)data->n_batches /
                                                (double)position->batches_per_epoch);
    if (resume->start_batch > data->n_batches)
        resume->start_batch = data->n_batches;
    resume->start_clock = (uint64_t)resume->start_epoch * data->n_batches + resume->start_batch;
    if (chief)
        printf("resume: from %s (epoch %d, batch %llu of %llu, written by %d worker%s; now "
               "%d worker%s and %d server%s)\n",
               resume->folder, position->epoch + 1, (unsigned long long)position->batch,
               (unsigned long long)position->batches_per_epoch, position->workers,
               position->workers == 1 ? "" : "s", layout->n_workers,
               layout->n_workers == 1 ? "" : "s", layout->n_servers,
               layout->n_servers == 1 ? "" : "s");
    return 0;
}

/* ---- warm start: a finished model's rows (weights, optimizer state and
 * step counts) are where this run starts; rows of users and items it never
 * had are created on first pull as usual. The run's own clock starts at 0:
 * its learning rate is --learning-rate, decayed by --lr-decay per epoch of
 * this run, while each row's Adam step count (its bias correction) goes on
 * from where the model left it. μ, the mean rating that mf's biases were
 * learned around, is the model's, not this data's. */

typedef struct {
    bool active;
    char model_dir[OPTION_STRING_BYTES + 320]; /* the source's current generation's model
                                                * folder: every rank reads that one even if
                                                * the source commits again */
    ModelManifest source;       /* its manifest */
} WarmStart;

/* Chief only: checks that config->warm_start_dir holds a finished model this
 * run can continue (the same model, dim, optimizer and feature options as
 * a checkpoint would need) and reads its manifest. Reads only: nothing of
 * the source folder changes. Returns -1 with a message saying why not. */
static int warm_start_open(const TrainConfig *config, const RunNames *names,
                           const CommLayout *layout, WarmStart *warm, Error *err)
{
    const char *source = config->warm_start_dir;
    memset(warm, 0, sizeof *warm);
    Error why;
    char path[sizeof warm->model_dir + 16];
    if (model_files_check_present(source, &why) != 0)
        return error_set(err, "cannot warm-start: %s", why.message);
    run_dir_model_folder(source, warm->model_dir, sizeof warm->model_dir);
    snprintf(path, sizeof path, "%s/manifest.txt", warm->model_dir);
    if (checkpoint_read_manifest(path, &warm->source, &why) != 0)
        return error_set(err, "cannot warm-start from %s, its model is damaged: %s", source,
                         why.message);
    DataSummary no_data = {0};
    ModelManifest wanted;
    manifest_from_run(config, names, layout, &no_data, 0, &wanted);
    if (check_same_model(source, &warm->source, &wanted,
                         "warm-start with the options it was trained with (its config.conf); "
                         "hyperparameters such as --learning-rate, --epochs or --l2 may differ",
                         &why) != 0)
        return error_set(err, "cannot warm-start: %s", why.message);
    warm->active = true;
    return 0;
}

/* Every rank: the data figures the model carries over — μ is the source
 * model's (its biases were learned around it), and predictions are clipped
 * to the union of its rating range and this data's. */
static void warm_start_adjust_data(const WarmStart *warm, DataSummary *data)
{
    data->global_mean = warm->source.global_mean;
    if (warm->source.rating_min < data->rating_min)
        data->rating_min = warm->source.rating_min;
    if (warm->source.rating_max > data->rating_max)
        data->rating_max = warm->source.rating_max;
}

static int write_manifest(const TrainConfig *config, const RunNames *names,
                          const CommLayout *layout, const DataSummary *data,
                          const RunTotals *totals, Error *err)
{
    ModelManifest manifest;
    manifest_from_run(config, names, layout, data, totals->best_epoch, &manifest);
    char path[sizeof config->output_dir + 32];
    snprintf(path, sizeof path, "%s/model/manifest.txt", config->output_dir);
    return checkpoint_write_manifest(path, &manifest, err);
}

int train_main(int argc, char **argv)
{
    comm_init(NULL, NULL);
    stop_signal_install();
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
    comm_set_rank_timeout(config.rank_timeout);
    RunNames names;
    run_names_from_config(&names, &config);
    const ModelOps *model = model_find(names.model);
    assert(model != NULL); /* the option's choices are the models */
    /* A model that never trains in epochs keeps no optimizer state: its
     * rows (neighbour lists) would otherwise carry two or three times their
     * size in Adam's moments. */
    if (model->neighbourhood && !model->batch_gradient) {
        config.optimizer = OPTIMIZER_SGD;
        run_names_from_config(&names, &config);
    }

    /* ---- roles */
    CommLayout layout;
    comm_split_roles(&layout, config.servers);
    log_set_identity(world_rank, layout.is_server ? "server" : "worker");
    bool chief = world_rank == 0;
    ShardMap map;
    shardmap_init(&map, (uint32_t)config.vshards, (uint32_t)config.servers);

    int exit_code = CONFIG_EXIT_RUN_FAILED;
    TrainingSet set = {0};
    RunFeatures features = {0}; /* freed at finish: set before the first goto */
    RunDir run_dir = {.lock_fd = -1};
    int checkpoint_lock = -1;
    ServerState server = {0};
    /* Checkpoints go to --checkpoint-dir, else the --resume folder (so one
     * command serves the first run and every requeued one), else
     * RUN/checkpoints. */
    if (!config.checkpoint_dir[0] && config.resume_dir[0])
        snprintf(config.checkpoint_dir, sizeof config.checkpoint_dir, "%s", config.resume_dir);
    else if (!config.checkpoint_dir[0] &&
             snprintf(config.checkpoint_dir, sizeof config.checkpoint_dir, "%s/checkpoints",
                      config.run_dir) >= (int)sizeof config.checkpoint_dir)
        config.checkpoint_dir[0] = '\0'; /* too long: said below */

    /* ---- warm start: the model to continue is checked before anything is
     * written, so a refused one leaves no trace */
    WarmStart warm = {0};
    if (config.warm_start_dir[0]) {
        bool refused = chief && warm_start_open(&config, &names, &layout, &warm, &err) != 0;
        if (agree_on_failure(refused, &err))
            goto finish;
        comm_world_broadcast(&warm, sizeof warm, 0);
        config.warm_start_run_id = warm.source.run_id;
        config.warm_start_checksum = warm.source.checksum;
    }

    /* ---- run folder: the chief takes it and makes this run's generation
     * folder, where every rank writes; it becomes the run folder's content
     * only when the run succeeds (app/run_dir.h) */
    bool failed = chief && (run_dir_begin(&run_dir, config.run_dir, &err) != 0 ||
                            (snprintf(config.output_dir, sizeof config.output_dir, "%s",
                                      run_dir.generation),
                             write_run_files(&config, &err) != 0));
    /* The checkpoint folder is the chief's alone while the run lasts. */
    failed = failed || (chief && (!config.checkpoint_dir[0]
                           ? error_set(&err, "--run-dir is too long to hold RUN/checkpoints; "
                                             "give --checkpoint-dir") != 0
                           : path_make_dirs(config.checkpoint_dir, &err) != 0 ||
                                 run_dir_lock_folder(config.checkpoint_dir, &checkpoint_lock,
                                                     &err) != 0));
    if (agree_on_failure(failed, &err))
        goto finish;
    config.run_id = run_dir.run_number;
    comm_world_broadcast(config.output_dir, sizeof config.output_dir, 0);
    comm_world_broadcast(&config.run_id, sizeof config.run_id, 0);
    if (agree_on_failure(check_output_visible(&config, &layout, &err) != 0, &err))
        goto finish;
    if (chief && model->neighbourhood) {
        char similarity[OPTION_STRING_BYTES];
        options_value_text(TRAIN_OPTIONS, TRAIN_OPTION_COUNT, &config, "similarity", similarity);
        printf("psrec train: %d ranks = %d workers + %d servers; model %s", world_size,
               layout.n_workers, layout.n_servers, names.model);
        if (config.model != MODEL_CHOICE_POPULARITY)
            printf(", %d neighbours by %s similarity, shrink %g", config.neighbours, similarity,
                   config.shrink);
        if (model->batch_gradient)
            printf("; baselines: %s lr %g, %d epochs of batch %d", names.optimizer,
                   (double)config.learning_rate, config.epochs, config.batch_size);
        printf("\nrun folder %s (this run's files go into it when it succeeds)\n",
               config.run_dir);
    } else if (chief) {
        printf("psrec train: %d ranks = %d workers + %d servers; model %s dim %d; %s; "
               "%s lr %g; %d epochs of batch %d\n"
               "run folder %s (this run's files go into it when it succeeds)\n",
               world_size, layout.n_workers, layout.n_servers, names.model, config.dim,
               names.consistency, names.optimizer, (double)config.learning_rate, config.epochs,
               config.batch_size, config.run_dir);
    }

    if (chief) {
        char *placement = job_placement(layout.n_workers, NULL);
        printf("placement: %s\n", placement);
        free(placement);
        fflush(stdout);
    }

    /* ---- data: each worker reads its own byte range, then users move to
     * the worker they hash to */
    double load_start = time_now_s();
    TrainingSetOptions set_options;
    EventWeights event_weights;
    config_training_set_options(&set_options, &event_weights, &config, model);
    failed = !layout.is_server &&
             training_set_load(&set, &set_options, true, layout.role_rank, layout.n_workers,
                                    &err) != 0;
    if (agree_on_failure(failed, &err))
        goto finish;
    ModelParams params;
    model_params_from_config(&params, &config);
    failed = !layout.is_server &&
             run_features_load(&features, &params, config.item_features_path,
                               config.user_features_path, &set.train, &err) != 0;
    if (agree_on_failure(failed, &err))
        goto finish;
    DataSummary data = {0};
    FeatureSummary feature_summary = {0};
    if (!layout.is_server) {
        training_set_index(&set, &set_options, true);
        size_t local_users;
        summarise_data(&config, &set, &data, &local_users);
        summarise_features(&features, &set, layout.role_rank, layout.n_workers,
                           &feature_summary);
        size_t row_bytes = model_table_width(model, &params, MODEL_TABLE_USER) * sizeof(float);
        training_set_arrange(&set, config.shuffle == SHUFFLE_BLOCKS
                                       ? user_blocks_needed(local_users, row_bytes,
                                                            (size_t)config.batch_size)
                                       : 1);
        data.n_user_blocks = (double)set.train_blocks.n_blocks;
        comm_workers_sum_double(&data.n_user_blocks, 1);
    }
    /* Servers need the epoch length for the learning-rate schedule. */
    comm_world_broadcast(&data, sizeof data, 0);
    double data_mean = data.global_mean;
    if (warm.active)
        warm_start_adjust_data(&warm, &data);
    if (data.n_train == 0) {
        if (chief)
            fprintf(stderr, "psrec train: %s has no training examples", config.train_path);
        if (chief && data.n_skipped > 0)
            fprintf(stderr, " (%.0f malformed lines skipped: every line was)", data.n_skipped);
        if (chief)
            fprintf(stderr, "\n");
        goto finish;
    }
    if (config.patience > 0 && data.n_valid == 0) {
        if (chief)
            fprintf(stderr, "psrec train: --patience needs validation examples, and --split loo "
                            "found none in %s (only users with 3 or more interactions have "
                            "one)\n",
                    config.train_path);
        goto finish;
    }
    if (agree_on_failure(chief && check_room(&config, model, &params, &data, &err) != 0, &err))
        goto finish;
    RunTotals totals = {0};
    totals.load_seconds = time_now_s() - load_start;
    if (chief) {
        printf("data: %.0f training, %.0f validation and %.0f test examples over %.0f items "
               "(%.0f malformed lines skipped), mean %s %.4f, %llu batches per epoch in %.0f "
               "user block%s, loaded in %.2fs\n",
               data.n_train, data.n_valid, data.n_test, data.n_items, data.n_skipped,
               model->implicit ? "weight" : "rating", data.global_mean,
               (unsigned long long)data.n_batches, data.n_user_blocks,
               data.n_user_blocks == 1 ? "" : "s", totals.load_seconds);
        report_features(&config, &feature_summary, set.n_cold_items);
        if (warm.active) {
            printf("warm start: from %s (run %016llx: %s dim %d, %d epochs)",
                   config.warm_start_dir, (unsigned long long)warm.source.run_id,
                   warm.source.model, warm.source.dim, warm.source.epochs_done);
            if (!model->implicit) /* μ means nothing to the ranking models */
                printf("; its mean rating %.4f is kept (this data's: %.4f)",
                       warm.source.global_mean, data_mean);
            printf("\n");
        }
        if (config.test_path[0] && data.n_test == 0)
            fprintf(stderr, "psrec train: warning: %s has no examples; no test metrics\n",
                    config.test_path);
        fflush(stdout);
    }

    /* ---- train: from the start, or from a checkpoint */
    params.global_mean = data.global_mean;
    params.rating_min = data.rating_min;
    params.rating_max = data.rating_max;
    int stopped = stop_signal_received();
    comm_world_max_int(&stopped);
    if (stopped) { /* before any training: nothing to lose, nothing to save */
        if (chief)
            fprintf(stderr, "psrec train: stopped on %s before training started; nothing to "
                            "checkpoint (exit %d)\n",
                    stop_signal_name(stopped), STOP_SIGNAL_EXIT_CODE);
        exit_code = STOP_SIGNAL_EXIT_CODE;
        goto finish;
    }
    if (layout.is_server)
        server_state_init(&server, &config, &layout, model, &params);
    ResumePoint resume = {0};
    uint64_t highest_checkpoint = 0;
    if (config.resume_dir[0] &&
        agree_on_failure(resume_from_checkpoint(&config, &names, &layout, &map, &data, &server,
                                                &resume, &highest_checkpoint, &err) != 0,
                         &err))
        goto finish;
    /* --resume wins: a checkpoint it found already holds the warm-started
     * rows (and what was trained since); without one, the run starts from
     * the --warm-start model. */
    if (warm.active && !resume.resumed) {
        failed = layout.is_server &&
                 server_load_rows(&server, &map, warm.model_dir, &warm.source, &err) != 0;
        if (failed) {
            char detail[sizeof err.message];
            snprintf(detail, sizeof detail, "%s", err.message);
            error_set(&err, "cannot warm-start from %s, its model is damaged: %s",
                      config.warm_start_dir, detail);
        }
        if (agree_on_failure(failed, &err))
            goto finish;
        double rows = layout.is_server ? store_rows_held(server.store) : 0.0;
        comm_world_sum_double(&rows, 1);
        if (chief)
            printf("warm start: %.0f rows with their optimizer state loaded onto %d server%s; "
                   "learning rate from %g at this run's epoch 1\n",
                   rows, layout.n_servers, layout.n_servers == 1 ? "" : "s",
                   (double)config.learning_rate);
    } else if (warm.active && chief) {
        printf("warm start: %s already continues %s; resuming it\n", resume.folder,
               config.warm_start_dir);
    }
    if (!config.resume_dir[0]) { /* new checkpoints continue the folder's numbering */
        uint64_t ignored[1];
        size_t n_ignored;
        failed = chief && checkpoints_list(config.checkpoint_dir, ignored, 1, &n_ignored,
                                           &highest_checkpoint, &err) != 0;
        if (agree_on_failure(failed, &err))
            goto finish;
        comm_world_broadcast(&highest_checkpoint, sizeof highest_checkpoint, 0);
    }
    Checkpointer checkpointer = {.config = &config,
                                 .names = &names,
                                 .layout = &layout,
                                 .data = &data,
                                 .next_number = highest_checkpoint + 1,
                                 .last_seconds = time_now_s()};
    if (layout.is_server)
        run_server(&server, &config, &layout, &map, model, &params, data.n_batches,
                   resume.start_clock, &totals);
    else
        failed = run_worker(&config, &layout, &map, model, &params, &data, &set, &features.view,
                            &resume, &checkpointer, &totals, &err) != 0;

    /* ---- model files and summary: shards are written; the manifest commits */
    /* What the servers hold, for scripts/bench-scale's bytes per row. */
    double store_rows = layout.is_server ? store_rows_held(server.store) : 0.0;
    double reduced[8] = {totals.train_bytes, totals.staleness_sum, totals.staleness_samples,
                         layout.is_server && server.store ? (double)store_bytes(server.store) : 0.0,
                         store_rows, totals.pulls, totals.pushes, totals.rows_pushed};
    comm_world_sum_double(reduced, 8);
    comm_world_sum_double(&totals.time_seconds[0][0], 2 * TIME_KINDS);
    double peak = process_peak_memory_mib();
    double maxima[5] = {totals.staleness_max, totals.worker_wait_seconds, totals.pair_bytes_peak,
                        layout.is_server ? peak : 0.0, layout.is_server ? 0.0 : peak};
    comm_world_max_double(maxima, 5);
    totals.staleness_max = maxima[0];
    totals.worker_wait_seconds = maxima[1];
    totals.pair_bytes_peak = maxima[2];
    totals.server_memory_peak = maxima[3];
    totals.worker_memory_peak = maxima[4];
    totals.train_bytes = reduced[0];
    totals.staleness_sum = reduced[1];
    totals.staleness_samples = reduced[2];
    totals.store_bytes = reduced[3];
    totals.store_rows = reduced[4];
    totals.pulls = reduced[5];
    totals.pushes = reduced[6];
    totals.rows_pushed = reduced[7];
    if (agree_on_failure(failed, &err))
        goto finish;
    stopped = totals.stop_signal;
    comm_world_max_int(&stopped);
    if (stopped) { /* the checkpoint is written; the run folder keeps its model */
        if (chief)
            fprintf(stderr, "psrec train: stopped on %s after writing a checkpoint; continue "
                            "with --resume %s (exit %d)\n",
                    stop_signal_name(stopped), config.checkpoint_dir, STOP_SIGNAL_EXIT_CODE);
        exit_code = STOP_SIGNAL_EXIT_CODE;
        goto finish;
    }
    /* The final model's shards (with patience the servers already hold the
     * kept epoch's, written as its snapshot); the manifest commits them. */
    failed = layout.is_server && config.patience == 0 &&
             save_shard(&server, server.store, &err) != 0;
    if (agree_on_failure(failed, &err))
        goto finish;
    failed = chief && (write_manifest(&config, &names, &layout, &data, &totals, &err) != 0 ||
                       write_summary(&config, &names, &layout, &data, &totals, &err) != 0 ||
                       run_dir_commit(&run_dir, &err) != 0);
    if (agree_on_failure(failed, &err))
        goto finish;
    if (chief) {
        printf("done: ");
        static const char *const headline[] = {"test_rmse",    "test_mae",
                                               "test_hr_10",   "test_sampled_ndcg_10",
                                               "test_ndcg_10", "test_recall_20",
                                               "test_ndcg_20"};
        for (size_t i = 0; i < sizeof headline / sizeof headline[0]; i++) {
            double value = epoch_record_get(&totals.reported, headline[i]);
            if (!isnan(value))
                printf("%s %.4f  ", headline[i], value);
        }
        printf("%.3g examples/s  %.1f bytes/example  model in %s/model\n",
               totals.train_seconds > 0 ? totals.train_examples / totals.train_seconds : 0.0,
               totals.train_examples > 0 ? totals.train_bytes / totals.train_examples : 0.0,
               config.run_dir);
    }
    exit_code = 0;

finish:
    if (chief)
        run_dir_end(&run_dir); /* an uncommitted generation is removed */
    if (checkpoint_lock >= 0)
        close(checkpoint_lock);
    store_destroy(server.store);
    run_features_free(&features);
    training_set_free(&set);
    shardmap_free(&map);
    comm_finalize();
    return exit_code;
}

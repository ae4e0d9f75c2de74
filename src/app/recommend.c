/* recommend.c — `psrec recommend` (recommend.h).
 *
 * Setup → the user list → this rank's block of users scored against the
 * catalogue (eval/scorer) → its part file → rank 0 joins the parts. The
 * training data is read again from the run's saved configuration, so the
 * lists leave out what the run's evaluation left out.
 */
#include "psrec/app/recommend.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "psrec/app/config.h"
#include "psrec/app/job.h"
#include "psrec/app/model_files.h"
#include "psrec/app/run_features.h"
#include "psrec/core/keys.h"
#include "psrec/core/log.h"
#include "psrec/data/training_set.h"
#include "psrec/eval/scorer.h"
#include "psrec/ps/comm.h"

/* Users scored together: the scorer's block, so that a block holds the same
 * users for any number of ranks (and sgemm sees the same operands). */
#define RECOMMEND_USER_BLOCK 256

/* Reads one user id per line (a first line that is not a number is a
 * header); blank lines are skipped, and so is a UTF-8 byte-order mark.
 * Returns the sorted distinct ids and their count in *n, or NULL with
 * "FILE:LINE: ..." (or what the file looks like, when it is not text) in
 * *err. */
static uint64_t *read_user_list(const char *path, size_t *n, Error *err)
{
    FILE *file = file_open_text(path, "", err);
    if (!file)
        return NULL;
    size_t capacity = 1024, count = 0;
    uint64_t *users = xmalloc(capacity * sizeof(uint64_t));
    char *line = NULL;
    size_t line_bytes = 0;
    ssize_t len;
    int rc = 0;
    for (size_t line_no = 1; rc == 0 && (len = getline(&line, &line_bytes, file)) >= 0;
         line_no++) {
        const char *nul = memchr(line, '\0', (size_t)len);
        if (nul) {
            rc = error_set_nul_line(err, path, (long long)line_no, (size_t)(nul - line) + 1);
            break;
        }
        line[strcspn(line, "\r\n")] = '\0';
        char *text = line;
        if (line_no == 1 && strncmp(text, "\xEF\xBB\xBF", 3) == 0)
            text += 3; /* a byte-order mark, not a header */
        if (text[0] == '\0')
            continue;
        char *end;
        errno = 0;
        unsigned long long id = strtoull(text, &end, 10);
        if (end == text || *end != '\0' || errno != 0 || id > KEY_ID_MAX || text[0] == '-') {
            if (line_no == 1)
                continue; /* a header such as user_id */
            char quoted[TEXT_QUOTE_BYTES];
            rc = error_set(err, "%s:%zu: expected a user id (an integer below 2^56), found '%s'",
                           path, line_no, text_quote(quoted, text));
            break;
        }
        if (count == capacity) {
            capacity *= 2;
            users = xrealloc(users, capacity * sizeof(uint64_t));
        }
        users[count++] = id;
    }
    if (rc == 0 && ferror(file))
        rc = error_set(err, "cannot read %s: %s", path, strerror(errno));
    free(line);
    fclose(file);
    if (rc != 0) {
        free(users);
        return NULL;
    }
    *n = sort_unique_u64(users, count);
    return users;
}

/* Every user of the set, sorted. */
static uint64_t *all_users(const TrainingSet *set, size_t *n)
{
    *n = history_user_count(&set->seen);
    uint64_t *users = xmalloc((*n ? *n : 1) * sizeof(uint64_t));
    for (size_t u = 0; u < *n; u++)
        users[u] = history_user_id(&set->seen, u);
    *n = sort_unique_u64(users, *n); /* already distinct: this sorts */
    return users;
}

/* The pairs of an --exclude file as a history over the catalogue (items
 * outside it can never be recommended anyway). */
static int read_exclusions(History *out, const char *path, const Catalogue *catalogue,
                           Error *err)
{
    DatasetOptions options;
    dataset_options_default(&options);
    options.require_rating = false;
    options.implicit = true;
    options.rating_column = NULL;
    options.timestamp_column = NULL;
    options.event_column = NULL;
    Ratings pairs = {0};
    if (dataset_read(&pairs, path, &options, err) != 0) {
        ratings_free(&pairs);
        return -1;
    }
    uint64_t *users = xmalloc((pairs.n ? pairs.n : 1) * sizeof(uint64_t));
    uint32_t *items = xmalloc((pairs.n ? pairs.n : 1) * sizeof(uint32_t));
    size_t n = 0;
    for (size_t i = 0; i < pairs.n; i++) {
        int64_t item = catalogue_find(catalogue, pairs.items[i]);
        if (item < 0)
            continue;
        users[n] = pairs.users[i];
        items[n++] = (uint32_t)item;
    }
    history_build(out, users, items, n);
    free(items);
    free(users);
    ratings_free(&pairs);
    return 0;
}

/* A catalogue position with its training count, for sorting. */
typedef struct {
    double count;
    uint32_t item;
} ItemCount;

static int compare_popularity(const void *a, const void *b)
{
    const ItemCount *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return x->item < y->item ? -1 : (x->item > y->item);
}

/* Catalogue positions by training count, most popular first (ties: the
 * smaller position). */
static uint32_t *popularity_order(const Catalogue *catalogue)
{
    size_t n = catalogue->n_items;
    ItemCount *counted = xmalloc((n ? n : 1) * sizeof(ItemCount));
    for (size_t i = 0; i < n; i++)
        counted[i] = (ItemCount){.count = catalogue->counts[i], .item = (uint32_t)i};
    qsort(counted, n, sizeof(ItemCount), compare_popularity);
    uint32_t *order = xmalloc((n ? n : 1) * sizeof(uint32_t));
    for (size_t i = 0; i < n; i++)
        order[i] = counted[i].item;
    free(counted);
    return order;
}

typedef struct {
    const CatalogueScorer *scorer;
    const Catalogue *catalogue;
    const History *excluded;
    const uint32_t *popular;
    const ModelOps *model;
    const ModelParams *params;
    const LoadedModel *loaded;
    int k;
} Recommender;

/* Excluded items of a user (sorted), or none. */
static const uint32_t *user_exclusions(const History *excluded, uint64_t user, size_t *n)
{
    int64_t index = history_find_user(excluded, user);
    *n = 0;
    return index >= 0 ? history_items(excluded, (size_t)index, n) : NULL;
}

/* Writes the lists of users[0..n) to out. Returns 0, or -1 on a write error. */
static int recommend_users(const Recommender *r, const uint64_t *users, size_t n, FILE *out)
{
    int k = r->k;
    size_t block = scorer_user_block(r->scorer);
    uint32_t *items = xmalloc((size_t)k * sizeof(uint32_t));
    float *scores = xmalloc((size_t)k * sizeof(float));
    RankQuery *queries = xmalloc(block * sizeof(RankQuery));
    float *vectors = xmalloc(block * (size_t)r->scorer->score_width * sizeof(float));
    TopK *tops = xmalloc(block * sizeof(TopK));
    for (size_t q = 0; q < block; q++)
        topk_init(&tops[q], k);
    for (size_t first = 0; first < n; first += block) {
        size_t count = n - first < block ? n - first : block;
        for (size_t q = 0; q < count; q++) {
            queries[q] = (RankQuery){.top = &tops[q]};
            queries[q].excluded = user_exclusions(r->excluded, users[first + q],
                                                  &queries[q].n_excluded);
        }
        scorer_user_vectors(r->scorer, users + first, count, vectors);
        scorer_rank(r->scorer, vectors, queries, count);
        for (size_t q = 0; q < count; q++) {
            uint64_t user = users[first + q];
            int n_top;
            /* A neighbourhood model knows a user by its history. */
            bool known = r->model->neighbourhood
                             ? user_items_find(r->scorer->user_items, user) >= 0
                             : model_files_knows(r->loaded, MODEL_TABLE_USER, user);
            if (known) {
                n_top = topk_sorted(&tops[q], items, scores);
                if (r->model->finish_score)
                    for (int i = 0; i < n_top; i++)
                        scores[i] = r->model->finish_score(r->params, scores[i]);
            } else { /* never seen in training, no features: the best-sellers it lacks */
                n_top = 0;
                for (size_t p = 0; p < r->catalogue->n_items && n_top < k; p++) {
                    uint32_t item = r->popular[p];
                    if (sorted_u32_contains(queries[q].excluded, queries[q].n_excluded, item))
                        continue;
                    items[n_top] = item;
                    scores[n_top++] = (float)r->catalogue->counts[item];
                }
            }
            for (int i = 0; i < n_top; i++)
                fprintf(out, "%" PRIu64 ",%d,%" PRIu64 ",%.6g\n", user, i + 1,
                        r->catalogue->ids[items[i]], (double)scores[i]);
        }
    }
    for (size_t q = 0; q < block; q++)
        topk_free(&tops[q]);
    free(tops);
    free(vectors);
    free(queries);
    free(scores);
    free(items);
    return ferror(out) ? -1 : 0;
}

/* Appends the file at path to out and removes it. */
static int append_part(FILE *out, const char *path, Error *err)
{
    FILE *part = fopen(path, "r");
    if (!part)
        return error_set(err, "cannot read %s: %s", path, strerror(errno));
    char buffer[1 << 16];
    size_t got;
    while ((got = fread(buffer, 1, sizeof buffer, part)) > 0)
        if (fwrite(buffer, 1, got, out) != got) {
            fclose(part);
            return error_set(err, "cannot write the recommendations: %s", strerror(errno));
        }
    fclose(part);
    unlink(path);
    return 0;
}

int recommend_main(int argc, char **argv)
{
    comm_init(NULL, NULL);
    int rank = comm_world_rank(), size = comm_world_size();
    log_set_identity(rank, "rank");

    /* ---- configuration, the model and the run's data (every rank) */
    RecommendConfig config;
    Error err;
    int rc = config_load_recommend(&config, argc, argv, &err);
    int help = rc == 1;
    comm_world_max_int(&help);
    if (help) {
        if (rank == 0)
            config_report_load(1, "recommend", RECOMMEND_USAGE, RECOMMEND_OPTIONS,
                               RECOMMEND_OPTION_COUNT, &err);
        comm_finalize();
        return 0;
    }
    if (job_agree_on_failure("recommend", rc < 0, &err)) {
        comm_finalize();
        return CONFIG_EXIT_BAD_USAGE;
    }
    log_set_level((LogLevel)config.log_level);
    comm_set_rank_timeout(config.rank_timeout);
    int exit_code = CONFIG_EXIT_RUN_FAILED;
    ModelManifest manifest;
    ModelParams params;
    const ModelOps *model = NULL;
    TrainingSet set = {0};
    RunFeatures features = {0};
    History exclusions = {0};
    UserItems history = {0}; /* neighbourhood models score users from it */
    bool own_exclusions = false;
    uint64_t *users = NULL;
    size_t n_users = 0;
    Store *store = model_files_load(config.run_dir, &manifest, &params, &model, &err);
    if (job_agree_on_failure("recommend", store == NULL, &err))
        goto finish;

    TrainConfig run;
    bool failed = config_load_run(&run, config.run_dir, &err) != 0;
    TrainingSetOptions set_options;
    EventWeights weights;
    if (!failed) {
        config_training_set_options(&set_options, &weights, &run, model);
        set_options.index_users = true;
        failed = training_set_load(&set, &set_options, false, 0, 1, &err) != 0;
    }
    if (!failed)
        failed = run_features_load(&features, &params,
                                   config.item_features_path[0] ? config.item_features_path
                                                                : run.item_features_path,
                                   config.user_features_path[0] ? config.user_features_path
                                                                : run.user_features_path,
                                   &set.train, &err) != 0;
    if (job_agree_on_failure("recommend", failed, &err))
        goto finish;
    /* New products (features, no interactions) are candidates too. */
    set_options.extra_items = features.item_features.entities;
    set_options.n_extra_items = features.item_features.n_entities;
    training_set_index(&set, &set_options, false);
    LoadedModel loaded = {.store = store, .features = &features.view};
    if (config.exclude_path[0]) {
        failed = read_exclusions(&exclusions, config.exclude_path, &set.catalogue, &err) != 0;
        own_exclusions = !failed;
    }
    if (!failed && config.users_path[0])
        failed = (users = read_user_list(config.users_path, &n_users, &err)) == NULL;
    else if (!failed)
        users = all_users(&set, &n_users);
    if (job_agree_on_failure("recommend", failed, &err))
        goto finish;
    if (rank == 0 && size > 1) { /* on stderr, like the closing line */
        char *placement = job_placement(0, NULL);
        fprintf(stderr, "psrec recommend: placement: %s\n", placement);
        free(placement);
    }

    /* ---- this rank's users: a contiguous run of whole blocks */
    size_t n_blocks = (n_users + RECOMMEND_USER_BLOCK - 1) / RECOMMEND_USER_BLOCK;
    size_t first_block = n_blocks * (size_t)rank / (size_t)size;
    size_t last_block = n_blocks * (size_t)(rank + 1) / (size_t)size;
    size_t first = first_block * RECOMMEND_USER_BLOCK;
    size_t last = last_block * RECOMMEND_USER_BLOCK < n_users ? last_block * RECOMMEND_USER_BLOCK
                                                              : n_users;
    if (model->neighbourhood)
        user_items_build(&history, &set.train, &set.valid, &set.catalogue);
    CatalogueScorer scorer;
    scorer_init(&scorer, model, &params, model_files_read, &loaded, &set.catalogue, &history);
    uint32_t *popular = popularity_order(&set.catalogue);
    Recommender recommender = {
        .scorer = &scorer,
        .catalogue = &set.catalogue,
        .excluded = own_exclusions ? &exclusions : &set.known_valid,
        .popular = popular,
        .model = model,
        .params = &params,
        .loaded = &loaded,
        .k = config.k,
    };
    char part[OPTION_STRING_BYTES + 64];
    snprintf(part, sizeof part, "%s.part-%05d.tmp", config.out_path, rank);
    FILE *out = fopen(part, "w");
    failed = out == NULL;
    if (failed)
        error_set(&err, "cannot write %s: %s", part, strerror(errno));
    else if (recommend_users(&recommender, users + first, last > first ? last - first : 0, out) != 0 ||
             fclose(out) != 0)
        failed = error_set(&err, "cannot write %s: %s", part, strerror(errno)) != 0;
    free(popular);
    scorer_free(&scorer);
    if (job_agree_on_failure("recommend", failed, &err)) {
        unlink(part);
        goto finish;
    }

    /* ---- rank 0 joins the parts under a temporary name, then renames */
    if (rank == 0) {
        char joined[OPTION_STRING_BYTES + 16];
        snprintf(joined, sizeof joined, "%s.tmp", config.out_path);
        FILE *all = fopen(joined, "w");
        failed = all == NULL;
        if (failed)
            error_set(&err, "cannot write %s: %s", joined, strerror(errno));
        for (int r = 0; r < size && !failed; r++) {
            snprintf(part, sizeof part, "%s.part-%05d.tmp", config.out_path, r);
            failed = append_part(all, part, &err) != 0;
        }
        if (all && (fclose(all) != 0 || failed)) {
            if (!failed)
                error_set(&err, "cannot write %s: %s", joined, strerror(errno));
            failed = true;
            unlink(joined);
        }
        if (!failed && rename(joined, config.out_path) != 0)
            failed = error_set(&err, "cannot rename %s to %s: %s", joined, config.out_path,
                               strerror(errno)) != 0;
        if (!failed)
            fprintf(stderr, "psrec recommend: wrote the top %d items of %zu users to %s\n",
                    config.k, n_users, config.out_path);
    }
    if (!job_agree_on_failure("recommend", failed, &err))
        exit_code = 0;

finish:
    user_items_free(&history);
    free(users);
    if (own_exclusions)
        history_free(&exclusions);
    run_features_free(&features);
    training_set_free(&set);
    store_destroy(store);
    comm_finalize();
    return exit_code;
}

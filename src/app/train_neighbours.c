/* train_neighbours.c — building and evaluating neighbourhood models in a
 * training job (train_neighbours.h). */
#include "psrec/app/train_neighbours.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "psrec/core/log.h"
#include "psrec/core/util.h"
#include "psrec/ps/comm.h"

/* Reads rows from the parameter servers (a RepresentationReader). */
static void read_from_servers(void *worker, uint32_t table, const uint64_t *ids, size_t n,
                              float *out)
{
    worker_read_representations(worker, table, ids, n, out);
}

/* Bytes one distinct pair costs in a PairTable: row, column, sums, and two
 * hash slots (the table stays at most half full). */
static double pair_bytes(int width) { return 16.0 + 8.0 * width + 2.0 * sizeof(size_t); }

/* Each user's residuals r − (μ + b_u + b_i) for Pearson, parallel to
 * history->items; NULL for other similarities. */
static float *history_residuals(Worker *worker, const ModelParams *params,
                                const Catalogue *catalogue, const UserItems *history)
{
    if (params->similarity != SIMILARITY_PEARSON_BASELINE)
        return NULL;
    float *item_bias = xcalloc(catalogue->n_items + 1, sizeof(float));
    worker_read_representations(worker, MODEL_TABLE_ITEM, catalogue->ids, catalogue->n_items,
                                item_bias);
    float *user_bias = xcalloc(history->n_users + 1, sizeof(float));
    worker_read_representations(worker, MODEL_TABLE_USER, keyindex_keys(history->users),
                                history->n_users, user_bias);
    size_t n = history->offsets[history->n_users];
    float *residuals = xmalloc((n ? n : 1) * sizeof(float));
    for (size_t u = 0; u < history->n_users; u++)
        for (size_t a = history->offsets[u]; a < history->offsets[u + 1]; a++)
            residuals[a] = (float)(history->values[a] - params->global_mean - user_bias[u] -
                                   item_bias[history->items[a]]);
    free(user_bias);
    free(item_bias);
    return residuals;
}

void train_neighbours_build(Worker *worker, const ModelOps *model, const ModelParams *params,
                            const TrainConfig *config, int n_servers, const Catalogue *catalogue,
                            const UserItems *history, NeighbourBuildStats *stats)
{
    double started = time_now_s();
    memset(stats, 0, sizeof *stats);
    size_t n_items = catalogue->n_items;
    /* |i|: the users who have item i, over every worker. */
    double *norms = xcalloc(n_items + 1, sizeof(double));
    double instances = 0; /* ordered pairs this worker will count */
    for (size_t u = 0; u < history->n_users; u++) {
        size_t n = history->offsets[u + 1] - history->offsets[u];
        for (size_t a = history->offsets[u]; a < history->offsets[u + 1]; a++)
            norms[history->items[a]] += 1;
        if (config->max_history > 0 && n > (size_t)config->max_history)
            n = (size_t)config->max_history;
        instances += params->neighbours > 0 && n > 1 ? (double)n * (double)(n - 1) : 0;
    }
    comm_workers_sum_double(norms, (int)n_items);
    double all_instances = instances;
    comm_workers_sum_double(&all_instances, 1);

    int width = neighbours_pair_width(params);
    double budget = config->memory_budget * 1024.0 * 1024.0;
    /* At most every instance is a distinct pair, and at most every pair of
     * items is one: what a server would hold in one block, over the budget,
     * is how many blocks to count in. */
    double distinct = fmin(all_instances, (double)n_items * (double)n_items);
    double per_server = distinct * pair_bytes(width) / n_servers;
    uint64_t n_blocks = (uint64_t)ceil(per_server / budget);
    if (n_blocks < 1)
        n_blocks = 1;
    if (n_blocks > n_items && n_items > 0)
        n_blocks = n_items;

    PairTable *pairs = pair_table_create(width);
    for (size_t i = 0; i < n_items; i++)
        pair_table_set_norm(pairs, catalogue->ids[i], norms[i]);
    float *residuals = history_residuals(worker, params, catalogue, history);
    PairCountStats counted = {0};
    for (uint64_t block = 0; block < n_blocks; block++) {
        for (size_t u = 0; u < history->n_users; u++) {
            size_t first = history->offsets[u], n = history->offsets[u + 1] - first;
            neighbours_add_user_pairs(model, params, catalogue,
                                      keyindex_key_at(history->users, u), history->items + first,
                                      residuals ? residuals + first : NULL, n, block, n_blocks,
                                      config->max_history, config->seed, pairs, &counted);
            /* The local sums are a cache: sent early when they grow. */
            if ((double)pair_table_bytes(pairs) > budget / 2)
                worker_send_pairs(worker, pairs);
        }
        worker_send_pairs(worker, pairs);
        worker_merge_pairs(worker, block);
    }
    /* Histories are cut the same way in every block: count them once. */
    counted.users_capped /= (double)n_blocks;
    double totals[2] = {counted.pairs, counted.users_capped};
    comm_workers_sum_double(totals, 2);
    stats->pairs = totals[0];
    stats->users_capped = totals[1];
    stats->blocks = (double)n_blocks;
    stats->seconds = time_now_s() - started;
    free(residuals);
    pair_table_destroy(pairs);
    free(norms);
}

void train_neighbours_evaluate_ratings(Worker *worker, const ModelOps *model,
                                       const ModelParams *params, const Catalogue *catalogue,
                                       const UserItems *history, const Ratings *heldout,
                                       ErrorStats *stats)
{
    NeighbourModel nm;
    neighbour_model_init(&nm, model, params, read_from_servers, worker, catalogue);
    float *user_bias = xcalloc(heldout->n + 1, sizeof(float));
    worker_read_representations(worker, MODEL_TABLE_USER, heldout->users, heldout->n, user_bias);
    for (size_t r = 0; r < heldout->n; r++) {
        int64_t user = user_items_find(history, heldout->users[r]);
        size_t first = user >= 0 ? history->offsets[user] : 0;
        size_t n = user >= 0 ? history->offsets[user + 1] - first : 0;
        float predicted = neighbour_model_score(&nm, history->items + first,
                                                history->values + first, n, user_bias[r],
                                                catalogue_find(catalogue, heldout->items[r]));
        error_stats_add(stats, predicted, heldout->ratings[r]);
    }
    free(user_bias);
    neighbour_model_free(&nm);
}

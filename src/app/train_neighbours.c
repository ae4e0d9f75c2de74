/* train_neighbours.c — building and evaluating neighbourhood models in a
 * training job (train_neighbours.h). */
#include "psrec/app/train_neighbours.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "psrec/core/keys.h"
#include "psrec/core/log.h"
#include "psrec/data/exchange.h"
#include "psrec/core/util.h"
#include "psrec/ps/comm.h"

/* Bytes one distinct pair costs in a PairTable: row, column, sums, and two
 * hash slots (the table stays at most half full). */
static double pair_bytes(int width) { return 16.0 + 8.0 * width + 2.0 * sizeof(size_t); }

/* The local sums are a cache: sent to the servers early when they hold
 * more than half the budget (counted by the pairs held: a cleared table
 * keeps its memory). */
static void send_pairs_if_large(Worker *worker, PairTable *pairs, double budget)
{
    if ((double)pair_table_count(pairs) * pair_bytes(pair_table_width(pairs)) > budget / 2)
        worker_send_pairs(worker, pairs);
}

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

/* How many blocks of rows keep a server's pair sums within the budget, if
 * every one of `instances` ordered pairs (over all workers) were distinct,
 * and at most rows × columns of them can be. */
static uint64_t count_blocks(double instances, double rows, double columns, int width,
                             int n_servers, double budget)
{
    double distinct = fmin(instances, rows * columns);
    double per_server = distinct * pair_bytes(width) / n_servers;
    uint64_t n_blocks = (uint64_t)ceil(per_server / budget);
    if (n_blocks < 1)
        n_blocks = 1;
    if (rows >= 1 && n_blocks > (uint64_t)rows)
        n_blocks = (uint64_t)rows;
    return n_blocks;
}

/* |i| for every catalogue item: the users who have it, over every worker. */
static double *item_user_counts(const Catalogue *catalogue, const UserItems *history)
{
    double *counts = xcalloc(catalogue->n_items + 1, sizeof(double));
    for (size_t a = 0; a < history->offsets[history->n_users]; a++)
        counts[history->items[a]] += 1;
    comm_workers_sum_double(counts, (int)catalogue->n_items);
    return counts;
}

static void build_item_based(Worker *worker, const ModelOps *model, const ModelParams *params,
                             const TrainConfig *config, int n_servers, const Catalogue *catalogue,
                             const UserItems *history, NeighbourBuildStats *stats)
{
    size_t n_items = catalogue->n_items;
    double *norms = item_user_counts(catalogue, history);
    double instances = 0; /* ordered pairs over every worker */
    for (size_t u = 0; u < history->n_users; u++) {
        size_t n = history->offsets[u + 1] - history->offsets[u];
        if (config->max_history > 0 && n > (size_t)config->max_history)
            n = (size_t)config->max_history;
        instances += params->neighbours > 0 && n > 1 ? (double)n * (double)(n - 1) : 0;
    }
    comm_workers_sum_double(&instances, 1);
    int width = neighbours_pair_width(params);
    double budget = config->memory_budget * 1024.0 * 1024.0;
    uint64_t n_blocks = count_blocks(instances, (double)n_items, (double)n_items, width,
                                     n_servers, budget);

    PairTable *pairs = pair_table_create(width);
    for (size_t i = 0; i < n_items; i++)
        pair_table_set_norm(pairs, catalogue->ids[i], norms[i]);
    float *residuals = history_residuals(worker, params, catalogue, history);
    PairCountStats counted = {0};
    for (uint64_t block = 0; block < n_blocks; block++) {
        for (size_t u = 0; u < history->n_users; u++) {
            comm_keepalive(); /* counting takes long: the servers ask after us */
            size_t first = history->offsets[u], n = history->offsets[u + 1] - first;
            neighbours_add_user_pairs(model, params, catalogue,
                                      keyindex_key_at(history->users, u), history->items + first,
                                      residuals ? residuals + first : NULL, n, block, n_blocks,
                                      config->max_history, config->seed, pairs, &counted);
            send_pairs_if_large(worker, pairs, budget);
        }
        worker_send_pairs(worker, pairs);
        worker_merge_pairs(worker, block);
    }
    /* Histories are cut the same way in every block: count them once. */
    counted.users_capped /= (double)n_blocks;
    double totals[2] = {counted.pairs, counted.users_capped};
    comm_workers_sum_double(totals, 2);
    stats->pairs = totals[0];
    stats->sampled = totals[1];
    stats->blocks = (double)n_blocks;
    free(residuals);
    pair_table_destroy(pairs);
    free(norms);
}

/* ---- user-knn */

/* History entries per chunk a worker sends round at a time. */
#define USER_CHUNK_ENTRIES ((size_t)1 << 20)

static bool user_in_block(uint64_t user, uint64_t block, uint64_t n_blocks)
{
    return hash_u64(user ^ 0x757365726b6e6eULL) % n_blocks == block;
}

/* A user's history as [id u64][n u32][n catalogue indices u32]: how
 * histories travel between workers (every worker has the same catalogue). */
static void put_history(ByteBuffer *buf, uint64_t user, const uint32_t *items, uint32_t n)
{
    bytebuffer_append(buf, &user, sizeof user);
    bytebuffer_append(buf, &n, sizeof n);
    bytebuffer_append(buf, items, n * sizeof(uint32_t));
}

/* Reads the history at *at of data[0..len) into its parts; false at the
 * end. The bytes come from put_history on another worker of this job. */
static bool get_history(const uint8_t *data, size_t len, size_t *at, uint64_t *user,
                        const uint32_t **items, uint32_t *n)
{
    if (*at + sizeof *user + sizeof *n > len)
        return false;
    memcpy(user, data + *at, sizeof *user);
    memcpy(n, data + *at + sizeof *user, sizeof *n);
    *at += sizeof *user + sizeof *n;
    if (*at + (size_t)*n * sizeof(uint32_t) > len)
        fatal("a history from another worker is cut short (%zu bytes)", len);
    *items = (const uint32_t *)(const void *)(data + *at); /* byte buffers are malloc'ed: aligned */
    *at += (size_t)*n * sizeof(uint32_t);
    return true;
}

/* (Similarities are the servers' business: the workers only count.) */
static void build_user_based(Worker *worker, const TrainConfig *config, const CommLayout *layout,
                             const Catalogue *catalogue, const UserItems *history,
                             NeighbourBuildStats *stats)
{
    size_t n_items = catalogue->n_items;
    double *item_users = item_user_counts(catalogue, history);
    /* Ordered user pairs: Σ over items of |U_i|(|U_i| − 1), with sampled
     * items counting max_history users. */
    double instances = 0, users = (double)history->n_users, capped = 0;
    for (size_t i = 0; i < n_items; i++) {
        double n = item_users[i];
        if (config->max_history > 0 && n > config->max_history) {
            n = config->max_history;
            capped += 1;
        }
        instances += n > 1 ? n * (n - 1) : 0;
    }
    comm_workers_sum_double(&users, 1);
    double budget = config->memory_budget * 1024.0 * 1024.0;
    uint64_t n_blocks =
        count_blocks(instances, users, users, 1, layout->n_servers, budget);
    /* This worker's users in chunks of about USER_CHUNK_ENTRIES entries;
     * every worker goes through as many rounds as the one with most. */
    size_t n_own = history->n_users;
    size_t *chunk_start = xmalloc((n_own + 2) * sizeof(size_t));
    size_t n_chunks = 0;
    for (size_t u = 0; u < n_own;) {
        chunk_start[n_chunks++] = u;
        size_t entries = 0;
        while (u < n_own && (entries == 0 || entries < USER_CHUNK_ENTRIES)) {
            entries += history->offsets[u + 1] - history->offsets[u];
            u++;
        }
    }
    chunk_start[n_chunks] = n_own;
    uint64_t rounds = n_chunks;
    comm_workers_max_u64(&rounds, 1);

    PairTable *pairs = pair_table_create(1);
    for (size_t u = 0; u < n_own; u++)
        pair_table_set_norm(pairs, keyindex_key_at(history->users, u),
                            (double)(history->offsets[u + 1] - history->offsets[u]));
    size_t *inverted_start = xmalloc((n_items + 1) * sizeof(size_t));
    size_t *inverted = xmalloc((history->offsets[n_own] + 1) * sizeof(size_t));
    uint32_t *entry_items = xmalloc((history->offsets[n_own] + 1) * sizeof(uint32_t));
    size_t *entry_users = xmalloc((history->offsets[n_own] + 1) * sizeof(size_t));
    ByteBuffer chunk = {0}, received = {0};
    double pairs_counted = 0;
    for (uint64_t block = 0; block < n_blocks; block++) {
        /* item → this worker's users in the block that have it (kept):
         * the entries, then a counting sort by item */
        size_t n_entries = 0;
        for (size_t u = 0; u < n_own; u++) {
            uint64_t id = keyindex_key_at(history->users, u);
            if (!user_in_block(id, block, n_blocks))
                continue;
            for (size_t a = history->offsets[u]; a < history->offsets[u + 1]; a++)
                if (neighbours_user_pair_kept(id, history->items[a],
                                              item_users[history->items[a]],
                                              config->max_history, config->seed)) {
                    entry_items[n_entries] = history->items[a];
                    entry_users[n_entries++] = u;
                }
        }
        memset(inverted_start, 0, (n_items + 1) * sizeof(size_t));
        for (size_t e = 0; e < n_entries; e++)
            inverted_start[entry_items[e] + 1]++;
        for (size_t i = 0; i < n_items; i++)
            inverted_start[i + 1] += inverted_start[i];
        size_t *next = xmalloc((n_items + 1) * sizeof(size_t));
        memcpy(next, inverted_start, (n_items + 1) * sizeof(size_t));
        for (size_t e = 0; e < n_entries; e++)
            inverted[next[entry_items[e]]++] = entry_users[e];
        free(next);
        for (uint64_t round = 0; round < rounds; round++) {
            chunk.len = 0;
            if (round < n_chunks)
                for (size_t u = chunk_start[round]; u < chunk_start[round + 1]; u++)
                    put_history(&chunk, keyindex_key_at(history->users, u),
                                history->items + history->offsets[u],
                                (uint32_t)(history->offsets[u + 1] - history->offsets[u]));
            comm_workers_allgatherv(chunk.data, chunk.len, &received);
            size_t at = 0;
            uint64_t other;
            const uint32_t *items;
            uint32_t n;
            while (get_history(received.data, received.len, &at, &other, &items, &n)) {
                comm_keepalive(); /* counting takes long: the servers ask after us */
                pair_table_set_norm(pairs, other, (double)n);
                for (uint32_t a = 0; a < n; a++) {
                    if (!neighbours_user_pair_kept(other, items[a], item_users[items[a]],
                                                   config->max_history, config->seed))
                        continue;
                    for (size_t p = inverted_start[items[a]]; p < inverted_start[items[a] + 1];
                         p++) {
                        uint64_t mine = keyindex_key_at(history->users, inverted[p]);
                        if (mine == other)
                            continue;
                        double one = 1;
                        pair_table_add(pairs, key_make(MODEL_TABLE_NEIGHBOURS, mine), other,
                                       &one);
                        pairs_counted += 1;
                    }
                }
                send_pairs_if_large(worker, pairs, budget);
            }
        }
        worker_send_pairs(worker, pairs);
        worker_merge_pairs(worker, block);
    }
    /* Popularity in a round of its own: its norms are items'. */
    PairTable *popularity = pair_table_create(1);
    for (size_t i = 0; i < n_items; i++)
        pair_table_set_norm(popularity, catalogue->ids[i], item_users[i]);
    for (size_t u = 0; u < n_own; u++)
        neighbours_add_popularity(catalogue, history->items + history->offsets[u],
                                  history->offsets[u + 1] - history->offsets[u], popularity);
    worker_send_pairs(worker, popularity);
    worker_merge_pairs(worker, n_blocks);
    pair_table_destroy(popularity);

    comm_workers_sum_double(&pairs_counted, 1);
    stats->pairs = pairs_counted;
    stats->sampled = capped;
    stats->blocks = (double)n_blocks;
    bytebuffer_free(&chunk);
    bytebuffer_free(&received);
    free(entry_users);
    free(entry_items);
    free(inverted);
    free(inverted_start);
    free(chunk_start);
    pair_table_destroy(pairs);
    free(item_users);
}

void train_neighbours_build(Worker *worker, const ModelOps *model, const ModelParams *params,
                            const TrainConfig *config, const CommLayout *layout,
                            const Catalogue *catalogue, const UserItems *history,
                            NeighbourBuildStats *stats)
{
    double started = time_now_s();
    memset(stats, 0, sizeof *stats);
    if (neighbours_user_based(model))
        build_user_based(worker, config, layout, catalogue, history, stats);
    else
        build_item_based(worker, model, params, config, layout->n_servers, catalogue, history,
                         stats);
    stats->seconds = time_now_s() - started;
}

void train_neighbours_fetch_histories(Worker *worker, const ModelParams *params,
                                      const CommLayout *layout, const Catalogue *catalogue,
                                      const UserItems *own, UserItems *out)
{
    int n_workers = layout->n_workers;
    /* Every neighbour of this worker's users, asked of its owner. */
    size_t width = (size_t)params->neighbours * NEIGHBOUR_FLOATS;
    float *rows = xmalloc((own->n_users + 1) * width * sizeof(float));
    worker_read_representations(worker, MODEL_TABLE_NEIGHBOURS, keyindex_keys(own->users),
                                own->n_users, rows);
    KeyIndex *wanted = keyindex_create(own->n_users * 4 + 16);
    for (size_t u = 0; u < own->n_users; u++) {
        uint64_t neighbour;
        float sim;
        for (int slot = 0; slot < params->neighbours &&
                           neighbours_row_get(rows + u * width, slot, &neighbour, &sim);
             slot++)
            keyindex_insert(wanted, neighbour, NULL);
    }
    free(rows);
    ByteBuffer *asks = xcalloc((size_t)n_workers, sizeof(ByteBuffer));
    for (size_t k = 0; k < keyindex_size(wanted); k++) {
        uint64_t user = keyindex_key_at(wanted, k);
        bytebuffer_append(&asks[exchange_owner(user, n_workers)], &user, sizeof user);
    }
    keyindex_destroy(wanted);
    ByteBuffer send = {0}, received = {0};
    size_t *send_bytes = xmalloc((size_t)n_workers * sizeof(size_t));
    size_t *recv_bytes = xmalloc((size_t)n_workers * sizeof(size_t));
    for (int w = 0; w < n_workers; w++) {
        bytebuffer_append(&send, asks[w].data, asks[w].len);
        send_bytes[w] = asks[w].len;
        asks[w].len = 0;
    }
    comm_workers_alltoallv(send.data, send_bytes, &received, recv_bytes);
    /* Answer each worker's asks with the histories this worker owns. */
    send.len = 0;
    size_t at = 0;
    for (int w = 0; w < n_workers; w++) {
        size_t before = send.len;
        for (size_t end = at + recv_bytes[w]; at + sizeof(uint64_t) <= end; at += sizeof(uint64_t)) {
            uint64_t user;
            memcpy(&user, received.data + at, sizeof user);
            size_t n_items, first = user_items_range(own, user, &n_items);
            if (n_items > 0)
                put_history(&send, user, own->items + first, (uint32_t)n_items);
        }
        send_bytes[w] = send.len - before;
    }
    comm_workers_alltoallv(send.data, send_bytes, &received, recv_bytes);
    Ratings fetched = {0};
    size_t capacity = 1024;
    fetched.users = xmalloc(capacity * sizeof(uint64_t));
    fetched.items = xmalloc(capacity * sizeof(uint64_t));
    at = 0;
    uint64_t user;
    const uint32_t *items;
    uint32_t n;
    while (get_history(received.data, received.len, &at, &user, &items, &n))
        for (uint32_t a = 0; a < n; a++) {
            if (fetched.n == capacity) {
                capacity *= 2;
                fetched.users = xrealloc(fetched.users, capacity * sizeof(uint64_t));
                fetched.items = xrealloc(fetched.items, capacity * sizeof(uint64_t));
            }
            fetched.users[fetched.n] = user;
            fetched.items[fetched.n++] = catalogue->ids[items[a]];
        }
    user_items_build(out, &fetched, NULL, catalogue);
    free(fetched.users);
    free(fetched.items);
    for (int w = 0; w < n_workers; w++)
        bytebuffer_free(&asks[w]);
    free(asks);
    free(send_bytes);
    free(recv_bytes);
    bytebuffer_free(&send);
    bytebuffer_free(&received);
}

void train_neighbours_evaluate_ratings(Worker *worker, const ModelOps *model,
                                       const ModelParams *params, const Catalogue *catalogue,
                                       const UserItems *history, const Ratings *heldout,
                                       ErrorStats *stats)
{
    NeighbourModel nm;
    neighbour_model_init(&nm, model, params, worker_representation_reader, worker, catalogue);
    float *user_bias = xcalloc(heldout->n + 1, sizeof(float));
    worker_read_representations(worker, MODEL_TABLE_USER, heldout->users, heldout->n, user_bias);
    for (size_t r = 0; r < heldout->n; r++) {
        comm_keepalive(); /* a large held-out set takes a while */
        size_t n, first = user_items_range(history, heldout->users[r], &n);
        float predicted = neighbour_model_score(&nm, history->items + first,
                                                history->values + first, n, user_bias[r],
                                                catalogue_find(catalogue, heldout->items[r]));
        error_stats_add(stats, predicted, heldout->ratings[r]);
    }
    free(user_bias);
    neighbour_model_free(&nm);
}

/* neighbours.c — item-based CF and popularity (neighbours.h). */
#include "psrec/models/neighbours.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "psrec/core/keys.h"
#include "psrec/core/util.h"
#include "psrec/ps/comm.h"

/* ---- neighbour rows */

void neighbours_row_set(float *row, int slot, uint64_t id, float sim)
{
    float *at = row + (size_t)slot * NEIGHBOUR_FLOATS;
    memcpy(at, &id, sizeof id); /* the id's bits in two floats: only ever copied */
    at[2] = sim;
}

bool neighbours_row_get(const float *row, int slot, uint64_t *id, float *sim)
{
    const float *at = row + (size_t)slot * NEIGHBOUR_FLOATS;
    if (!(at[2] > 0.0f))
        return false;
    memcpy(id, at, sizeof *id);
    *sim = at[2];
    return true;
}

/* ---- the models' tables and baselines */

static int neighbour_table_specs(const ModelParams *params, TableSpec *tables)
{
    /* One float per user and item (b_u; popularity or b_i), and the lists,
     * all starting at zero (an empty list). */
    tables[0] = (TableSpec){.table_id = MODEL_TABLE_USER, .width = 1, .zero_leading = 1};
    tables[1] = (TableSpec){.table_id = MODEL_TABLE_ITEM, .width = 1, .zero_leading = 1};
    uint32_t width = (uint32_t)params->neighbours * NEIGHBOUR_FLOATS;
    if (width == 0)
        return 2;
    tables[2] = (TableSpec){.table_id = MODEL_TABLE_NEIGHBOURS, .width = width,
                            .zero_leading = width};
    return 3;
}

static int popularity_table_specs(const ModelParams *params, TableSpec *tables)
{
    ModelParams none = *params;
    none.neighbours = 0;
    return neighbour_table_specs(&none, tables);
}

extern const ModelOps MODEL_MF;

/* The baselines μ + b_u + b_i are mf without factors. */
static double baseline_batch_gradient(const ModelParams *params, ModelBatch *batch)
{
    ModelParams biases = *params;
    biases.dim = 0;
    return MODEL_MF.batch_gradient(&biases, batch);
}

const ModelOps MODEL_ITEM_KNN = {
    .name = "item-knn",
    .implicit = true,
    .neighbourhood = true,
    .table_specs = neighbour_table_specs,
};

const ModelOps MODEL_ITEM_KNN_BASELINE = {
    .name = "item-knn-baseline",
    .implicit = false,
    .neighbourhood = true,
    .table_specs = neighbour_table_specs,
    .batch_gradient = baseline_batch_gradient,
};

const ModelOps MODEL_USER_KNN = {
    .name = "user-knn",
    .implicit = true,
    .neighbourhood = true,
    .table_specs = neighbour_table_specs,
};

bool neighbours_user_based(const ModelOps *model) { return model == &MODEL_USER_KNN; }

bool neighbours_user_pair_kept(uint64_t user, uint32_t item, double users_of_item,
                               int max_history, uint64_t seed)
{
    if (max_history <= 0 || users_of_item <= max_history)
        return true;
    double share = (double)max_history / users_of_item;
    uint64_t draw = hash_u64(hash_u64(seed ^ hash_u64(item)) ^ user);
    return (double)draw < share * 18446744073709551616.0; /* 2^64 */
}

const ModelOps MODEL_POPULARITY = {
    .name = "popularity",
    .implicit = true,
    .neighbourhood = true,
    .table_specs = popularity_table_specs,
};

/* ---- users' items */

typedef struct {
    uint64_t user;
    uint32_t item;
    float value;
} UserItem;

static int compare_user_items(const void *a, const void *b)
{
    const UserItem *x = a, *y = b;
    if (x->user != y->user)
        return x->user < y->user ? -1 : 1;
    return x->item < y->item ? -1 : (x->item > y->item);
}

void user_items_build(UserItems *out, const Ratings *ratings, const Ratings *more,
                      const Catalogue *catalogue)
{
    memset(out, 0, sizeof *out);
    const Ratings *parts[2] = {ratings, more};
    size_t total = ratings->n + (more ? more->n : 0);
    UserItem *all = xmalloc((total ? total : 1) * sizeof(UserItem));
    size_t n = 0;
    for (int part = 0; part < 2 && parts[part]; part++)
        for (size_t r = 0; r < parts[part]->n; r++) {
            const Ratings *from = parts[part];
            int64_t item = catalogue_find(catalogue, from->items[r]);
            if (item >= 0)
                all[n++] = (UserItem){.user = from->users[r], .item = (uint32_t)item,
                                      .value = from->ratings ? from->ratings[r] : 1.0f};
        }
    qsort(all, n, sizeof(UserItem), compare_user_items);
    out->users = keyindex_create(n / 4 + 16);
    out->offsets = xmalloc((n + 1) * sizeof(size_t));
    out->items = xmalloc((n ? n : 1) * sizeof(uint32_t));
    out->values = xmalloc((n ? n : 1) * sizeof(float));
    size_t kept = 0;
    for (size_t r = 0; r < n;) {
        /* A repeated (user, item) is one item with the mean of its values. */
        size_t end = r;
        double sum = 0;
        while (end < n && all[end].user == all[r].user && all[end].item == all[r].item)
            sum += all[end++].value;
        if (kept == 0 || all[r].user != all[r - 1].user) {
            keyindex_insert(out->users, all[r].user, NULL);
            out->offsets[out->n_users++] = kept;
        }
        out->items[kept] = all[r].item;
        out->values[kept++] = (float)(sum / (double)(end - r));
        r = end;
    }
    out->offsets[out->n_users] = kept;
    free(all);
}

void user_items_free(UserItems *items)
{
    if (!items)
        return;
    free(items->offsets);
    free(items->items);
    free(items->values);
    keyindex_destroy(items->users);
    memset(items, 0, sizeof *items);
}

int64_t user_items_find(const UserItems *items, uint64_t user)
{
    return items->users ? keyindex_find(items->users, user) : -1;
}

size_t user_items_range(const UserItems *items, uint64_t user, size_t *n)
{
    int64_t index = user_items_find(items, user);
    *n = index >= 0 ? items->offsets[index + 1] - items->offsets[index] : 0;
    return index >= 0 ? items->offsets[index] : 0;
}

/* ---- counting */

int neighbours_pair_width(const ModelParams *params)
{
    return params->similarity == SIMILARITY_PEARSON_BASELINE ? 4 : 1;
}

/* A position of the history with its sampling priority. */
typedef struct {
    uint64_t priority;
    size_t position;
} Sampled;

static int compare_sampled(const void *a, const void *b)
{
    const Sampled *x = a, *y = b;
    if (x->priority != y->priority)
        return x->priority < y->priority ? -1 : 1;
    return x->position < y->position ? -1 : (x->position > y->position);
}

void neighbours_add_user_pairs(const ModelOps *model, const ModelParams *params,
                               const Catalogue *catalogue, uint64_t user, const uint32_t *items,
                               const float *residuals, size_t n, uint64_t block,
                               uint64_t n_blocks, int max_history, uint64_t seed,
                               PairTable *pairs, PairCountStats *stats)
{
    if (model->implicit && block == 0)
        neighbours_add_popularity(catalogue, items, n, pairs);
    if (params->neighbours == 0 || n < 2)
        return;
    /* A long history is cut to a sample: the max_history positions with
     * the smallest hash of (seed, user, item), in history order. */
    size_t *kept = xmalloc(n * sizeof(size_t));
    size_t n_kept = n;
    for (size_t a = 0; a < n; a++)
        kept[a] = a;
    if (max_history > 0 && n > (size_t)max_history) {
        Sampled *sampled = xmalloc(n * sizeof(Sampled));
        uint64_t user_hash = hash_u64(seed ^ hash_u64(user));
        for (size_t a = 0; a < n; a++)
            sampled[a] = (Sampled){.priority = hash_u64(user_hash ^ catalogue->ids[items[a]]),
                                   .position = a};
        qsort(sampled, n, sizeof(Sampled), compare_sampled);
        n_kept = (size_t)max_history;
        for (size_t a = 0; a < n_kept; a++)
            kept[a] = sampled[a].position;
        free(sampled);
        stats->users_capped += 1;
    }
    bool pearson = params->similarity == SIMILARITY_PEARSON_BASELINE;
    for (size_t x = 0; x < n_kept; x++) {
        size_t a = kept[x];
        if (items[a] % n_blocks != block)
            continue;
        uint64_t row = key_make(MODEL_TABLE_NEIGHBOURS, catalogue->ids[items[a]]);
        for (size_t y = 0; y < n_kept; y++) {
            size_t b = kept[y];
            if (b == a)
                continue;
            double values[4] = {1, 0, 0, 0};
            if (pearson) {
                double ra = residuals[a], rb = residuals[b];
                values[1] = ra * rb;
                values[2] = ra * ra;
                values[3] = rb * rb;
            }
            pair_table_add(pairs, row, catalogue->ids[items[b]], values);
            stats->pairs += 1;
        }
    }
    free(kept);
}

void neighbours_add_popularity(const Catalogue *catalogue, const uint32_t *items, size_t n,
                               PairTable *pairs)
{
    double one[4] = {1, 0, 0, 0};
    for (size_t a = 0; a < n; a++) {
        uint64_t id = catalogue->ids[items[a]];
        pair_table_add(pairs, key_make(MODEL_TABLE_ITEM, id), id, one);
    }
}

/* ---- merging */

double neighbours_similarity(const ModelParams *params, const double *sums, double norm_row,
                             double norm_column)
{
    double common = sums[0];
    switch ((Similarity)params->similarity) {
    case SIMILARITY_COSINE: {
        double denominator = pow(norm_row, params->alpha) * pow(norm_column, 1.0 - params->alpha) +
                             params->shrink;
        return denominator > 0 ? common / denominator : 0.0;
    }
    case SIMILARITY_JACCARD: {
        double denominator = norm_row + norm_column - common + params->shrink;
        return denominator > 0 ? common / denominator : 0.0;
    }
    case SIMILARITY_PEARSON_BASELINE: {
        double squares = sums[2] * sums[3];
        if (common < 2 || !(squares > 0))
            return 0.0;
        return sums[1] / sqrt(squares) * (common - 1) / (common - 1 + params->shrink);
    }
    }
    return 0.0;
}

typedef struct {
    float sim;
    uint64_t id;
} Candidate;

static int compare_candidates(const void *a, const void *b)
{
    const Candidate *x = a, *y = b;
    if (x->sim != y->sim)
        return x->sim > y->sim ? -1 : 1;
    return x->id < y->id ? -1 : (x->id > y->id);
}

int neighbours_merge(const ModelParams *params, Store *store, PairTable *pairs, Error *err)
{
    pair_table_sort(pairs);
    size_t n = pair_table_count(pairs);
    Candidate *candidates = NULL;
    size_t capacity = 0;
    for (size_t first = 0; first < n;) {
        comm_keepalive(); /* the workers wait for the merge */
        uint64_t row = pair_table_row(pairs, first);
        size_t end = first;
        while (end < n && pair_table_row(pairs, end) == row)
            end++;
        if (key_table(row) == MODEL_TABLE_ITEM) { /* a popularity count */
            store_pull(store, row, true)[0] = (float)pair_table_values(pairs, first)[0];
            first = end;
            continue;
        }
        double norm_row = 0, norm_column = 0;
        if (!pair_table_norm(pairs, key_id(row), &norm_row))
            return error_set(err, "no norm for item %llu", (unsigned long long)key_id(row));
        if (end - first > capacity) {
            capacity = 2 * (end - first);
            candidates = xrealloc(candidates, capacity * sizeof(Candidate));
        }
        size_t n_candidates = 0;
        for (size_t p = first; p < end; p++) {
            uint64_t column = pair_table_column(pairs, p);
            if (!pair_table_norm(pairs, column, &norm_column)) {
                free(candidates);
                return error_set(err, "no norm for item %llu", (unsigned long long)column);
            }
            float sim = (float)neighbours_similarity(params, pair_table_values(pairs, p),
                                                     norm_row, norm_column);
            if (sim > 0.0f && isfinite(sim))
                candidates[n_candidates++] = (Candidate){.sim = sim, .id = column};
        }
        qsort(candidates, n_candidates, sizeof(Candidate), compare_candidates);
        size_t k = (size_t)params->neighbours;
        float *weights = store_pull(store, row, true);
        memset(weights, 0, k * NEIGHBOUR_FLOATS * sizeof(float));
        for (size_t c = 0; c < n_candidates && c < k; c++)
            neighbours_row_set(weights, (int)c, candidates[c].id, candidates[c].sim);
        first = end;
    }
    free(candidates);
    return 0;
}

/* ---- scoring */

#define NEIGHBOUR_READ_BLOCK 4096

void neighbour_model_init(NeighbourModel *nm, const ModelOps *model, const ModelParams *params,
                          RepresentationReader read, void *read_context,
                          const Catalogue *catalogue)
{
    memset(nm, 0, sizeof *nm);
    nm->model = model;
    nm->params = params;
    size_t n_items = catalogue->n_items;
    nm->n_items = n_items;
    nm->item_values = xcalloc(n_items ? n_items : 1, sizeof(float));
    nm->list_start = xcalloc(n_items + 1, sizeof(size_t));
    read(read_context, MODEL_TABLE_ITEM, catalogue->ids, n_items, nm->item_values);
    if (model->implicit) {
        float best = 0;
        for (size_t i = 0; i < n_items; i++)
            best = nm->item_values[i] > best ? nm->item_values[i] : best;
        bool popularity = params->neighbours == 0;
        nm->popularity_scale = popularity ? 1.0f : best > 0 ? NEIGHBOUR_TIE_BREAK / best : 0.0f;
    }
    size_t k = (size_t)params->neighbours;
    if (k == 0 || neighbours_user_based(model)) /* user-knn's lists are users' */
        return;
    nm->list_items = xmalloc((n_items ? n_items : 1) * k * sizeof(uint32_t));
    nm->list_sims = xmalloc((n_items ? n_items : 1) * k * sizeof(float));
    float *rows = xmalloc(NEIGHBOUR_READ_BLOCK * k * NEIGHBOUR_FLOATS * sizeof(float));
    size_t n_kept = 0;
    for (size_t first = 0; first < n_items; first += NEIGHBOUR_READ_BLOCK) {
        size_t count = n_items - first < NEIGHBOUR_READ_BLOCK ? n_items - first
                                                              : NEIGHBOUR_READ_BLOCK;
        read(read_context, MODEL_TABLE_NEIGHBOURS, catalogue->ids + first, count, rows);
        for (size_t i = 0; i < count; i++) {
            const float *row = rows + i * k * NEIGHBOUR_FLOATS;
            uint64_t id;
            float sim;
            for (int slot = 0; slot < (int)k && neighbours_row_get(row, slot, &id, &sim); slot++) {
                int64_t neighbour = catalogue_find(catalogue, id);
                if (neighbour < 0)
                    continue;
                nm->list_items[n_kept] = (uint32_t)neighbour;
                nm->list_sims[n_kept++] = sim;
            }
            nm->list_start[first + i + 1] = n_kept;
        }
    }
    free(rows);
}

void neighbour_model_free(NeighbourModel *nm)
{
    if (!nm)
        return;
    free(nm->list_start);
    free(nm->list_items);
    free(nm->list_sims);
    free(nm->item_values);
    memset(nm, 0, sizeof *nm);
}

/* The baseline form's prediction for one item, given the user's residual
 * per catalogue item (NaN where the user has no rating). */
static float baseline_score(const NeighbourModel *nm, const float *residual, float user_bias,
                            size_t item)
{
    double sum = 0, weights = 0;
    int used = 0;
    for (size_t p = nm->list_start[item];
         p < nm->list_start[item + 1] && used < nm->params->rated_neighbours; p++) {
        float r = residual[nm->list_items[p]];
        if (isnan(r))
            continue;
        sum += (double)nm->list_sims[p] * r;
        weights += nm->list_sims[p];
        used++;
    }
    double predicted = nm->params->global_mean + user_bias + nm->item_values[item];
    if (weights > 0)
        predicted += sum / weights;
    if (predicted < nm->params->rating_min)
        predicted = nm->params->rating_min;
    if (predicted > nm->params->rating_max)
        predicted = nm->params->rating_max;
    return (float)predicted;
}

/* The user's residuals r_uj − b_uj per catalogue item (NaN elsewhere). */
static float *user_residuals(const NeighbourModel *nm, const uint32_t *items, const float *values,
                             size_t n, float user_bias)
{
    float *residual = xmalloc((nm->n_items ? nm->n_items : 1) * sizeof(float));
    for (size_t i = 0; i < nm->n_items; i++)
        residual[i] = NAN;
    for (size_t a = 0; a < n; a++)
        residual[items[a]] = (float)(values[a] - nm->params->global_mean - user_bias -
                                     nm->item_values[items[a]]);
    return residual;
}

void neighbour_model_scores(const NeighbourModel *nm, const uint32_t *items, const float *values,
                            size_t n, float user_bias, float *scores)
{
    if (!nm->model->implicit) {
        float *residual = user_residuals(nm, items, values, n, user_bias);
        for (size_t i = 0; i < nm->n_items; i++)
            scores[i] = baseline_score(nm, residual, user_bias, i);
        free(residual);
        return;
    }
    for (size_t i = 0; i < nm->n_items; i++)
        scores[i] = nm->popularity_scale * nm->item_values[i];
    if (nm->params->neighbours == 0)
        return;
    for (size_t a = 0; a < n; a++)
        for (size_t p = nm->list_start[items[a]]; p < nm->list_start[items[a] + 1]; p++)
            scores[nm->list_items[p]] += nm->list_sims[p];
}

float neighbour_model_score(const NeighbourModel *nm, const uint32_t *items, const float *values,
                            size_t n, float user_bias, int64_t item)
{
    if (!nm->model->implicit) {
        if (item < 0) {
            double fallback = nm->params->global_mean + user_bias;
            return (float)fmin(fmax(fallback, nm->params->rating_min), nm->params->rating_max);
        }
        float *residual = user_residuals(nm, items, values, n, user_bias);
        float score = baseline_score(nm, residual, user_bias, (size_t)item);
        free(residual);
        return score;
    }
    if (item < 0)
        return 0.0f;
    float score = nm->popularity_scale * nm->item_values[item];
    for (size_t a = 0; a < n && nm->params->neighbours > 0; a++)
        for (size_t p = nm->list_start[items[a]]; p < nm->list_start[items[a] + 1]; p++)
            if (nm->list_items[p] == (uint32_t)item)
                score += nm->list_sims[p];
    return score;
}

void neighbour_model_user_based_scores(const NeighbourModel *nm, const float *row,
                                       const UserItems *histories, float *scores)
{
    for (size_t i = 0; i < nm->n_items; i++)
        scores[i] = nm->popularity_scale * nm->item_values[i];
    uint64_t neighbour;
    float sim;
    for (int slot = 0;
         slot < nm->params->neighbours && neighbours_row_get(row, slot, &neighbour, &sim); slot++) {
        size_t n, first = user_items_range(histories, neighbour, &n);
        for (size_t a = first; a < first + n; a++)
            scores[histories->items[a]] += sim;
    }
}

/* scorer.c — catalogue scoring in blocks (scorer.h). */
#include "psrec/eval/scorer.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "psrec/core/util.h"
#include "psrec/models/linalg.h"
#include "psrec/ps/comm.h"

/* Items and users per block: a block of scores is 256 × 4096 floats (4 MiB),
 * small enough to stay in cache-friendly reach, large enough for sgemm. */
#define SCORER_ITEM_BLOCK 4096
#define SCORER_USER_BLOCK 256

/* A neighbourhood model's user vectors are whole score rows: about this
 * many floats per block of users at most. */
#define SCORER_NEIGHBOUR_BLOCK_FLOATS ((size_t)1 << 24)

void scorer_init(CatalogueScorer *scorer, const ModelOps *model, const ModelParams *params,
                 RepresentationReader read, void *read_context, const Catalogue *catalogue,
                 const UserItems *user_items)
{
    memset(scorer, 0, sizeof *scorer);
    scorer->model = model;
    scorer->params = params;
    scorer->read = read;
    scorer->read_context = read_context;
    scorer->user_block = SCORER_USER_BLOCK;
    if (model->neighbourhood) {
        assert(user_items != NULL);
        scorer->user_items = user_items;
        scorer->neighbours = xmalloc(sizeof(NeighbourModel));
        neighbour_model_init(scorer->neighbours, model, params, read, read_context, catalogue);
        scorer->n_items = catalogue->n_items;
        scorer->user_width = 1;
        scorer->score_width = (int)(catalogue->n_items ? catalogue->n_items : 1);
        size_t block = SCORER_NEIGHBOUR_BLOCK_FLOATS / (size_t)scorer->score_width;
        scorer->user_block = block < 1 ? 1 : block > SCORER_USER_BLOCK ? SCORER_USER_BLOCK : block;
        return;
    }
    scorer->user_width = (int)model_table_width(model, params, MODEL_TABLE_USER);
    scorer->score_width = model->score_width(params);
    scorer->n_items = catalogue->n_items;
    /* The dense parameters (if any), read once: every vector needs them. */
    size_t n_blocks = model_dense_blocks(model, params);
    if (n_blocks > 0) {
        scorer->dense = xmalloc(n_blocks * MODEL_DENSE_BLOCK * sizeof(float));
        model_read_dense(model, params, read, read_context, scorer->dense);
    }
    int item_width = (int)model_table_width(model, params, MODEL_TABLE_ITEM);
    size_t width = (size_t)scorer->score_width;
    scorer->item_vectors = xmalloc((scorer->n_items ? scorer->n_items : 1) * width * sizeof(float));
    float *reps = xmalloc((size_t)SCORER_ITEM_BLOCK * (size_t)item_width * sizeof(float));
    for (size_t first = 0; first < scorer->n_items; first += SCORER_ITEM_BLOCK) {
        size_t count = scorer->n_items - first;
        if (count > SCORER_ITEM_BLOCK)
            count = SCORER_ITEM_BLOCK;
        read(read_context, MODEL_TABLE_ITEM, catalogue->ids + first, count, reps);
        model->item_vectors(params, scorer->dense, reps, count, scorer->item_vectors + first * width);
    }
    free(reps);
}

void scorer_free(CatalogueScorer *scorer)
{
    if (!scorer)
        return;
    neighbour_model_free(scorer->neighbours);
    free(scorer->neighbours);
    free(scorer->item_vectors);
    free(scorer->dense);
    memset(scorer, 0, sizeof *scorer);
}

size_t scorer_user_block(const CatalogueScorer *scorer) { return scorer->user_block; }

/* A neighbourhood model's score rows: each user's history through the
 * neighbour lists (and, for ratings, its bias b_u from the USER table). */
static void neighbour_user_scores(const CatalogueScorer *scorer, const uint64_t *users, size_t n,
                                  float *out)
{
    const UserItems *history = scorer->user_items;
    if (neighbours_user_based(scorer->model)) { /* the users' own lists, their neighbours' items */
        size_t width = (size_t)scorer->params->neighbours * NEIGHBOUR_FLOATS;
        float *rows = xmalloc(n * width * sizeof(float));
        scorer->read(scorer->read_context, MODEL_TABLE_NEIGHBOURS, users, n, rows);
        for (size_t u = 0; u < n; u++) {
            comm_keepalive(); /* a row of the catalogue per user */
            neighbour_model_user_based_scores(scorer->neighbours, rows + u * width, history,
                                              out + u * scorer->n_items);
        }
        free(rows);
        return;
    }
    float *biases = xcalloc(n, sizeof(float));
    if (!scorer->model->implicit)
        scorer->read(scorer->read_context, MODEL_TABLE_USER, users, n, biases);
    for (size_t u = 0; u < n; u++) {
        comm_keepalive(); /* a row of the catalogue per user */
        size_t count, first = user_items_range(history, users[u], &count);
        neighbour_model_scores(scorer->neighbours, history->items + first,
                               history->values + first, count, biases[u],
                               out + u * scorer->n_items);
    }
    free(biases);
}

void scorer_user_vectors(const CatalogueScorer *scorer, const uint64_t *users, size_t n,
                         float *out)
{
    if (n == 0)
        return;
    if (scorer->neighbours) {
        neighbour_user_scores(scorer, users, n, out);
        return;
    }
    float *reps = xmalloc(n * (size_t)scorer->user_width * sizeof(float));
    scorer->read(scorer->read_context, MODEL_TABLE_USER, users, n, reps);
    scorer->model->user_vectors(scorer->params, scorer->dense, reps, n, out);
    free(reps);
}

float scorer_score(const CatalogueScorer *scorer, const float *user_vector, uint32_t item)
{
    if (scorer->neighbours)
        return user_vector[item];
    return linalg_dot(user_vector, scorer->item_vectors + (size_t)item * (size_t)scorer->score_width,
                      scorer->score_width);
}

/* Offers the items of one row of scores (items first .. first+n of the
 * catalogue) to a query's top K, skipping what the query leaves out; *next
 * walks the query's sorted exclusions alongside. */
static void offer_row(RankQuery *query, const float *row, size_t first, size_t n, size_t *next)
{
    const uint32_t *excluded = query->excluded;
    size_t n_excluded = query->n_excluded, e = *next;
    TopK *top = query->top;
    for (size_t i = 0; i < n; i++) {
        /* Most items score below the worst one kept: skip them without a
         * call (an equal score goes through, for the heap's tie rule). */
        if (top->n == top->k && row[i] < top->scores[0])
            continue;
        uint32_t item = (uint32_t)(first + i);
        if (query->allowed && !query->allowed[item])
            continue;
        while (e < n_excluded && excluded[e] < item)
            e++;
        if (e < n_excluded && excluded[e] == item)
            continue;
        topk_offer(top, row[i], item);
    }
    *next = e;
}

void scorer_rank(const CatalogueScorer *scorer, const float *user_vectors, RankQuery *queries,
                 size_t n_queries)
{
    if (scorer->neighbours) { /* the vectors are the scores already */
        for (size_t q = 0; q < n_queries; q++) {
            comm_keepalive(); /* a row of the catalogue per user */
            size_t next = 0;
            topk_clear(queries[q].top);
            offer_row(&queries[q], user_vectors + q * scorer->n_items, 0, scorer->n_items, &next);
        }
        return;
    }
    size_t width = (size_t)scorer->score_width;
    float *scores = xmalloc((size_t)SCORER_USER_BLOCK * SCORER_ITEM_BLOCK * sizeof(float));
    size_t *next_excluded = xmalloc((size_t)SCORER_USER_BLOCK * sizeof(size_t));
    for (size_t first_user = 0; first_user < n_queries; first_user += SCORER_USER_BLOCK) {
        size_t n_users = n_queries - first_user;
        if (n_users > SCORER_USER_BLOCK)
            n_users = SCORER_USER_BLOCK;
        RankQuery *block = queries + first_user;
        const float *block_vectors = user_vectors + first_user * width;
        for (size_t u = 0; u < n_users; u++) {
            next_excluded[u] = 0;
            topk_clear(block[u].top);
        }
        for (size_t first_item = 0; first_item < scorer->n_items; first_item += SCORER_ITEM_BLOCK) {
            size_t n_items = scorer->n_items - first_item;
            if (n_items > SCORER_ITEM_BLOCK)
                n_items = SCORER_ITEM_BLOCK;
            /* scores is (n_users, n_items) */
            linalg_scores(block_vectors, n_users, scorer->item_vectors + first_item * width,
                          n_items, (int)width, scores);
            for (size_t u = 0; u < n_users; u++) {
                /* Scoring a catalogue takes long: waiting ranks ask after
                 * us. Per user, as a block of items can take 0.1 s. */
                comm_keepalive();
                offer_row(&block[u], scores + u * n_items, first_item, n_items,
                          &next_excluded[u]);
            }
        }
    }
    free(next_excluded);
    free(scores);
}

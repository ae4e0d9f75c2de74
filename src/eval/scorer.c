/* scorer.c — catalogue scoring in blocks (scorer.h). */
#include "psrec/eval/scorer.h"

#include <stdlib.h>
#include <string.h>

#include "psrec/core/util.h"
#include "psrec/models/linalg.h"

/* Items and users per block: a block of scores is 256 × 4096 floats (4 MiB),
 * small enough to stay in cache-friendly reach, large enough for sgemm. */
#define SCORER_ITEM_BLOCK 4096
#define SCORER_USER_BLOCK 256

void scorer_init(CatalogueScorer *scorer, const ModelOps *model, const ModelParams *params,
                 RepresentationReader read, void *read_context, const Catalogue *catalogue)
{
    memset(scorer, 0, sizeof *scorer);
    scorer->model = model;
    scorer->params = params;
    scorer->read = read;
    scorer->read_context = read_context;
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
    free(scorer->item_vectors);
    free(scorer->dense);
    memset(scorer, 0, sizeof *scorer);
}

void scorer_user_vectors(const CatalogueScorer *scorer, const uint64_t *users, size_t n,
                         float *out)
{
    if (n == 0)
        return;
    float *reps = xmalloc(n * (size_t)scorer->user_width * sizeof(float));
    scorer->read(scorer->read_context, MODEL_TABLE_USER, users, n, reps);
    scorer->model->user_vectors(scorer->params, scorer->dense, reps, n, out);
    free(reps);
}

float scorer_score(const CatalogueScorer *scorer, const float *user_vector, uint32_t item)
{
    return linalg_dot(user_vector, scorer->item_vectors + (size_t)item * (size_t)scorer->score_width,
                      scorer->score_width);
}

void scorer_rank(const CatalogueScorer *scorer, const float *user_vectors, RankQuery *queries,
                 size_t n_queries)
{
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
                const float *row = scores + u * n_items;
                const uint32_t *excluded = block[u].excluded;
                size_t n_excluded = block[u].n_excluded, e = next_excluded[u];
                TopK *top = block[u].top;
                for (size_t i = 0; i < n_items; i++) {
                    /* Most items score below the worst one kept: skip them
                     * without a call (an equal score goes through, for the
                     * heap's tie rule). */
                    if (top->n == top->k && row[i] < top->scores[0])
                        continue;
                    uint32_t item = (uint32_t)(first_item + i);
                    if (block[u].allowed && !block[u].allowed[item])
                        continue;
                    /* excluded is sorted: walk it alongside the items. */
                    while (e < n_excluded && excluded[e] < item)
                        e++;
                    if (e < n_excluded && excluded[e] == item)
                        continue;
                    topk_offer(top, row[i], item);
                }
                next_excluded[u] = e;
            }
        }
    }
    free(next_excluded);
    free(scores);
}

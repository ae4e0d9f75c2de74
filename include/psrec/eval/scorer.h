/* scorer.h — scoring users against the whole item catalogue, in blocks.
 *
 * Every model scores by a dot product of a user vector and an item vector
 * (models/model.h). A CatalogueScorer holds the vectors of every catalogue
 * item (n_items × score_width floats: it grows with the items, never with
 * users × items) and ranks users a block at a time: a block of users times a
 * block of items is one matrix product (models/linalg.h), and each user's
 * best K are kept in a bounded heap (eval/ranking.h). The rows come from a
 * RepresentationReader, so the same code serves evaluation inside the
 * parameter-server job (rows pulled from the servers) and `psrec
 * recommend` (rows read from a saved model).
 */
#ifndef PSREC_SCORER_H
#define PSREC_SCORER_H

#include <stddef.h>
#include <stdint.h>

#include "psrec/data/catalogue.h"
#include "psrec/eval/ranking.h"
#include "psrec/models/model.h"
#include "psrec/models/neighbours.h"

typedef struct {
    const ModelOps *model;
    /* Neighbourhood models (models/neighbours.h) score from neighbour lists
     * and each user's history instead: a "user vector" is then the user's
     * scores of every catalogue item (score_width = n_items), which is why
     * callers score users in blocks of scorer_user_block. */
    NeighbourModel *neighbours;  /* NULL for dot-product models */
    const UserItems *user_items; /* the histories users are scored from */
    size_t user_block;
    const ModelParams *params;
    RepresentationReader read;
    void *read_context;
    int user_width;
    int score_width;
    size_t n_items;
    float *item_vectors; /* (n_items, score_width), in catalogue order */
    float *dense;        /* the model's dense parameters, or NULL */
} CatalogueScorer;

/* Reads every catalogue item (in blocks) and computes its scoring vector
 * (neighbourhood models: its neighbour list). user_items are the histories
 * a neighbourhood model scores users from — for user-knn, the histories of
 * the users' neighbours (NULL for other models). The
 * scorer keeps pointers to model, params, read_context and user_items;
 * free it with scorer_free. */
void scorer_init(CatalogueScorer *scorer, const ModelOps *model, const ModelParams *params,
                 RepresentationReader read, void *read_context, const Catalogue *catalogue,
                 const UserItems *user_items);
/* The most users whose vectors a caller should hold at once. */
size_t scorer_user_block(const CatalogueScorer *scorer);
void scorer_free(CatalogueScorer *scorer);

/* The scoring vectors of n users into out: (n, score_width). */
void scorer_user_vectors(const CatalogueScorer *scorer, const uint64_t *users, size_t n,
                         float *out);

/* One user's full ranking: its best items go into *top (topk_clear'ed
 * first), leaving out the catalogue indices in excluded (sorted
 * ascending) and, when allowed is set, every item it does not allow (e.g.
 * ranking among the cold items only). */
typedef struct {
    const uint32_t *excluded;
    size_t n_excluded;
    const uint8_t *allowed; /* NULL: every item; else only items i with allowed[i] != 0 */
    TopK *top;
} RankQuery;

/* Ranks every query's user against every catalogue item. user_vectors is
 * (n_queries, score_width): query q's user vector (scorer_user_vectors), so
 * a caller that needs the vectors anyway reads the users once. */
void scorer_rank(const CatalogueScorer *scorer, const float *user_vectors, RankQuery *queries,
                 size_t n_queries);

/* The (unfinished) score of a user vector against catalogue item `item`. */
float scorer_score(const CatalogueScorer *scorer, const float *user_vector, uint32_t item);

#endif

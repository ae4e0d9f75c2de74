/* neighbours.h — neighbourhood models: item-based collaborative filtering
 * and the popularity baseline.
 *
 * `item-knn` (implicit feedback): sim(i, j) from the users who have both
 * items, c_ij = |U_i ∩ U_j| — cosine with shrinkage
 * c_ij / (|i|^α |j|^(1−α) + shrink) or Jaccard c_ij / (|i| + |j| − c_ij +
 * shrink), |i| the item's users — and each item keeps its K most similar
 * items (sim > 0). score(u, i) = Σ over the user's training items j of
 * sim(j, i), plus a tie-break of 1e-6 × i's users as a share of the
 * best-seller's, so that items no history item is similar to are ranked by
 * popularity rather than tying at zero (and never above a similar one).
 *
 * `item-knn` on ratings (ops "item-knn-baseline", as Surprise's
 * KNNBaseline): r̂_ui = b_ui + Σ sim(i, j)(r_uj − b_uj) / Σ sim(i, j) over the
 * `rated_neighbours` items j most similar to i that u rated, with learned
 * baselines b_ui = μ + b_u + b_i (trained first, like mf without factors)
 * and sim the Pearson correlation of the baseline residuals over the users
 * who rated both, shrunk by (n − 1)/(n − 1 + shrink) (or cosine/Jaccard).
 *
 * `user-knn` (implicit feedback): the same with users and items swapped:
 * sim(u, v) from the items both users have (cosine or Jaccard over their
 * histories), each user keeping its K most similar users;
 * score(u, i) = Σ over u's neighbours v that have i of sim(u, v), with the
 * same popularity tie-break. Its rows in MODEL_TABLE_NEIGHBOURS are users'.
 *
 * `popularity`: score(u, i) = how many users have i in training, the same
 * for everyone.
 *
 * Built across the ranks: each worker counts pairs over its own users'
 * histories (neighbours_add_user_pairs) and sends the sums to the servers
 * that own the rows (ps/pairs.h); each server merges them and turns every
 * row's pairs into its neighbour list (neighbours_merge). Rows live in the
 * store like any model's: MODEL_TABLE_NEIGHBOURS holds K slots of three
 * floats per item — the neighbour's 64-bit id bit-for-bit in two, the
 * similarity in the third (0: an empty slot) — MODEL_TABLE_ITEM one float
 * (popularity: the item's users, or b_i for the baseline form) and MODEL_TABLE_USER one
 * (b_u), so checkpoints, predict and export need no special format.
 */
#ifndef PSREC_NEIGHBOURS_H
#define PSREC_NEIGHBOURS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "psrec/core/keyindex.h"
#include "psrec/data/catalogue.h"
#include "psrec/data/dataset.h"
#include "psrec/models/model.h"
#include "psrec/ps/pairs.h"
#include "psrec/ps/store.h"

/* Floats per neighbour in a MODEL_TABLE_NEIGHBOURS row. */
#define NEIGHBOUR_FLOATS 3
/* Weight of the popularity tie-break in implicit item-knn scores. */
#define NEIGHBOUR_TIE_BREAK 1e-6f

/* Slot `slot` of a neighbour row: writes (id, sim); reads it back, false
 * for an empty slot (and every slot after it). */
void neighbours_row_set(float *row, int slot, uint64_t id, float sim);
bool neighbours_row_get(const float *row, int slot, uint64_t *id, float *sim);

/* ---- users' items */

/* Each user's items as catalogue indices (sorted, distinct) with a value
 * per item: the rating (mean over repeats) for the baseline form, else 1. */
typedef struct {
    size_t n_users;
    size_t *offsets;  /* (n_users + 1,) */
    uint32_t *items;  /* per user: sorted, distinct catalogue indices */
    float *values;    /* parallel to items */
    KeyIndex *users;  /* user id → dense user index */
} UserItems;

/* Builds *out from ratings and, unless NULL, more (e.g. the training and
 * validation splits: a user is scored at test time from everything before
 * the held-out item). Items missing from the catalogue are left out. Free
 * with user_items_free. */
void user_items_build(UserItems *out, const Ratings *ratings, const Ratings *more,
                      const Catalogue *catalogue);
void user_items_free(UserItems *items);
/* The dense index of user, or -1. */
int64_t user_items_find(const UserItems *items, uint64_t user);
/* Where user's items start in items->items / items->values, with their
 * number in *n (0 for a user without items, who then starts at 0). */
size_t user_items_range(const UserItems *items, uint64_t user, size_t *n);

/* ---- counting, on the workers */

/* Values summed per pair: 1 (co-occurrences), or 4 for Pearson (n, Σxy,
 * Σx², Σy² of the residuals over the users who rated both). */
int neighbours_pair_width(const ModelParams *params);

/* Which user histories were cut to `max_history` items (their pairs grow
 * with the square of the length), and the pairs counted. */
typedef struct {
    double users_capped;
    double pairs;
} PairCountStats;

/* Adds the pairs of one user's history to pairs: for every ordered pair
 * (a, b) of distinct items of the history whose catalogue index a falls in
 * block `block` of n_blocks (a % n_blocks == block), the row
 * (MODEL_TABLE_NEIGHBOURS, id of a) gets column id of b with the pair's
 * values; residuals (the user's r − b_ui per item, NULL unless Pearson)
 * are parallel to items. A history longer than max_history (> 0) is cut to
 * a sample of max_history items that depends only on (seed, user).
 * Implicit models (and popularity) also count each item once in block 0
 * (row (MODEL_TABLE_ITEM, id), column id): its popularity. */
void neighbours_add_user_pairs(const ModelOps *model, const ModelParams *params,
                               const Catalogue *catalogue, uint64_t user, const uint32_t *items,
                               const float *residuals, size_t n, uint64_t block,
                               uint64_t n_blocks, int max_history, uint64_t seed,
                               PairTable *pairs, PairCountStats *stats);

/* True for user-knn: its neighbour rows are users', and scoring a user
 * needs its neighbours' histories. */
bool neighbours_user_based(const ModelOps *model);

/* user-knn: whether user's interaction with item (catalogue index) takes
 * part in counting: all of them, except that an item with more than
 * max_history users (> 0) keeps a sample of about max_history of them
 * (a hash of seed, item and user below max_history / users_of_item). */
bool neighbours_user_pair_kept(uint64_t user, uint32_t item, double users_of_item,
                               int max_history, uint64_t seed);

/* Counts each of a user's items once in (MODEL_TABLE_ITEM, id), column id:
 * the items' popularity. */
void neighbours_add_popularity(const Catalogue *catalogue, const uint32_t *items, size_t n,
                               PairTable *pairs);

/* ---- merging, on the servers */

/* The similarity of a pair from its sums and the two items' norms (their
 * users, or for Pearson unused). */
double neighbours_similarity(const ModelParams *params, const double *sums, double norm_row,
                             double norm_column);

/* Turns a block's pair sums into rows of store: each MODEL_TABLE_NEIGHBOURS
 * row gets its K most similar columns (similarity > 0, the larger id last on
 * ties), each MODEL_TABLE_ITEM row its summed count. Returns 0, or -1 with a
 * message when a pair's norm is missing. */
int neighbours_merge(const ModelParams *params, Store *store, PairTable *pairs, Error *err);

/* ---- scoring */

/* A neighbourhood model in memory, over a catalogue: each item's neighbour
 * list as catalogue indices (most similar first) and its item value
 * (popularity, or b_i). */
typedef struct {
    const ModelOps *model;
    const ModelParams *params;
    size_t n_items;
    size_t *list_start;    /* (n_items + 1,) */
    uint32_t *list_items;
    float *list_sims;
    float *item_values;    /* (n_items,) */
    float popularity_scale; /* implicit: what a count adds to a score */
} NeighbourModel;

/* Reads every catalogue item's rows through read (neighbours outside the
 * catalogue are dropped). Free with neighbour_model_free. */
void neighbour_model_init(NeighbourModel *nm, const ModelOps *model, const ModelParams *params,
                          RepresentationReader read, void *read_context,
                          const Catalogue *catalogue);
void neighbour_model_free(NeighbourModel *nm);

/* The scores of every catalogue item for a user whose items (catalogue
 * indices, sorted) and values are items/values[0..n) and whose baseline
 * bias is user_bias (the baseline form; else unused): scores is (n_items,). */
void neighbour_model_scores(const NeighbourModel *nm, const uint32_t *items, const float *values,
                            size_t n, float user_bias, float *scores);
/* The same score for one item (a catalogue index, or -1 for an item the
 * model never saw: the fallback, μ + b_u for ratings, 0 otherwise). */
float neighbour_model_score(const NeighbourModel *nm, const uint32_t *items, const float *values,
                            size_t n, float user_bias, int64_t item);

/* user-knn: the scores of every catalogue item for a user whose neighbour
 * row (MODEL_TABLE_NEIGHBOURS, K slots) is `row`, from the neighbours'
 * histories in `histories` (a neighbour missing there adds nothing). */
void neighbour_model_user_based_scores(const NeighbourModel *nm, const float *row,
                                       const UserItems *histories, float *scores);

#endif

/* evaluate.c — sampled and full-ranking evaluation (evaluate.h). */
#include "psrec/eval/evaluate.h"

#include <stdlib.h>
#include <string.h>

#include "psrec/core/util.h"

/* The user's held-out interactions: positions first..last of `order`. */
typedef struct {
    uint64_t user;
    size_t first;
    size_t last;
} HeldoutUser;

/* A held-out row by its user, for sorting (qsort has no context). */
typedef struct {
    uint64_t user;
    size_t row;
} UserRow;

static int compare_by_user(const void *a, const void *b)
{
    const UserRow *x = a, *y = b;
    if (x->user != y->user)
        return x->user < y->user ? -1 : 1;
    return x->row < y->row ? -1 : (x->row > y->row);
}

/* Draws up to n distinct catalogue items the user never interacted with,
 * depending only on (seed, user, item). Returns how many it drew (fewer
 * only when the user has nearly every item). */
static int draw_sampled_negatives(const RankingEvaluation *evaluation, uint64_t user,
                                  uint64_t item, uint32_t *out, int n)
{
    const uint32_t *candidates = evaluation->candidates;
    size_t n_items = candidates ? evaluation->n_candidates : evaluation->catalogue->n_items;
    int64_t user_index = history_find_user(evaluation->seen, user);
    size_t n_seen = 0;
    const uint32_t *seen = NULL;
    if (user_index >= 0)
        seen = history_items(evaluation->seen, (size_t)user_index, &n_seen);
    size_t n_seen_candidates = n_seen;
    if (candidates) { /* only seen items among the candidates shrink the pool */
        n_seen_candidates = 0;
        for (size_t k = 0; k < n_seen; k++)
            n_seen_candidates += sorted_u32_contains(candidates, n_items, seen[k]);
    }
    size_t available = n_items > n_seen_candidates ? n_items - n_seen_candidates : 0;
    if ((size_t)n > available)
        n = (int)available;
    Rng rng;
    rng_seed(&rng, hash_u64(evaluation->sampled_seed) ^ hash_u64(user * 0x9e3779b97f4a7c15ULL + item));
    int drawn = 0;
    while (drawn < n) {
        uint32_t candidate = (uint32_t)rng_below(&rng, n_items);
        if (candidates)
            candidate = candidates[candidate];
        if (user_index >= 0 && history_contains(evaluation->seen, (size_t)user_index, candidate))
            continue;
        bool repeated = false;
        for (int k = 0; k < drawn && !repeated; k++)
            repeated = out[k] == candidate;
        if (!repeated)
            out[drawn++] = candidate;
    }
    return drawn;
}

void evaluate_ranking(const CatalogueScorer *scorer, const RankingEvaluation *evaluation,
                      RankingStats *stats, double *shown)
{
    const Ratings *heldout = evaluation->heldout;
    const Catalogue *catalogue = evaluation->catalogue;
    size_t n = heldout->n;
    if (n == 0)
        return;
    UserRow *by_user = xmalloc(n * sizeof(UserRow));
    for (size_t i = 0; i < n; i++)
        by_user[i] = (UserRow){.user = heldout->users[i], .row = i};
    qsort(by_user, n, sizeof(UserRow), compare_by_user);
    size_t *order = xmalloc(n * sizeof(size_t)); /* rows, user by user */
    for (size_t i = 0; i < n; i++)
        order[i] = by_user[i].row;
    free(by_user);

    HeldoutUser *users = xmalloc(n * sizeof(HeldoutUser));
    size_t n_users = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t user = heldout->users[order[i]];
        if (n_users == 0 || users[n_users - 1].user != user)
            users[n_users++] = (HeldoutUser){.user = user, .first = i, .last = i};
        users[n_users - 1].last = i + 1;
    }

    uint8_t *allowed = NULL;
    if (evaluation->candidates) {
        allowed = xcalloc(catalogue->n_items ? catalogue->n_items : 1, 1);
        for (size_t c = 0; c < evaluation->n_candidates; c++)
            allowed[evaluation->candidates[c]] = 1;
    }
    int k_max = RANKING_CUTOFFS[RANKING_N_CUTOFFS - 1];
    RankQuery *queries = xmalloc(n_users * sizeof(RankQuery));
    TopK *tops = xmalloc(n_users * sizeof(TopK));
    for (size_t u = 0; u < n_users; u++) {
        topk_init(&tops[u], k_max);
        queries[u] = (RankQuery){.top = &tops[u], .allowed = allowed};
        int64_t index = history_find_user(evaluation->excluded, users[u].user);
        if (index >= 0)
            queries[u].excluded =
                history_items(evaluation->excluded, (size_t)index, &queries[u].n_excluded);
    }
    /* Users' vectors are read a block at a time (a block is one round
     * trip to the servers), and both protocols use them. */
    size_t width = (size_t)scorer->score_width;
    size_t block = scorer_user_block(scorer);
    uint64_t *user_ids = xmalloc(n_users * sizeof(uint64_t));
    for (size_t u = 0; u < n_users; u++)
        user_ids[u] = users[u].user;
    float *user_vectors = xmalloc(block * width * sizeof(float));
    uint32_t *top_items = xmalloc((size_t)k_max * sizeof(uint32_t));
    float *top_scores = xmalloc((size_t)k_max * sizeof(float));
    uint32_t *relevant = xmalloc(n * sizeof(uint32_t));
    int n_negatives = evaluation->sampled_negatives;
    uint32_t *negatives = xmalloc((size_t)(n_negatives > 0 ? n_negatives : 1) * sizeof(uint32_t));
    float *negative_scores = xmalloc((size_t)(n_negatives > 0 ? n_negatives : 1) * sizeof(float));
    for (size_t first = 0; first < n_users; first += block) {
        size_t count = n_users - first < block ? n_users - first : block;
        scorer_user_vectors(scorer, user_ids + first, count, user_vectors);
        scorer_rank(scorer, user_vectors, queries + first, count);
        for (size_t u = first; u < first + count; u++) {
            int n_top = topk_sorted(&tops[u], top_items, top_scores);
            int n_relevant = 0;
            for (size_t i = users[u].first; i < users[u].last; i++) {
                int64_t item = catalogue_find(catalogue, heldout->items[order[i]]);
                if (item >= 0)
                    relevant[n_relevant++] = (uint32_t)item;
            }
            /* Implicit feedback repeats pairs; ranking_add_full needs
             * distinct items, and a pair is one sampled case however often
             * it occurs. */
            n_relevant = (int)sort_unique_u32(relevant, (size_t)n_relevant);
            ranking_add_full(stats, top_items, n_top, relevant, n_relevant);
            for (int c = 0; c < RANKING_N_CUTOFFS; c++)
                for (int r = 0; r < n_top && r < RANKING_CUTOFFS[c]; r++)
                    shown[(size_t)c * catalogue->n_items + top_items[r]] = 1.0;
            if (n_negatives <= 0)
                continue;
            const float *user_vector = user_vectors + (u - first) * width;
            for (int r = 0; r < n_relevant; r++) {
                int drawn = draw_sampled_negatives(evaluation, users[u].user,
                                                   catalogue->ids[relevant[r]], negatives,
                                                   n_negatives);
                for (int j = 0; j < drawn; j++)
                    negative_scores[j] = scorer_score(scorer, user_vector, negatives[j]);
                ranking_add_sampled(stats, scorer_score(scorer, user_vector, relevant[r]),
                                    negative_scores, drawn);
            }
        }
    }
    for (size_t u = 0; u < n_users; u++)
        topk_free(&tops[u]);
    free(allowed);
    free(user_vectors);
    free(user_ids);
    free(negative_scores);
    free(negatives);
    free(relevant);
    free(top_scores);
    free(top_items);
    free(tops);
    free(queries);
    free(users);
    free(order);
}

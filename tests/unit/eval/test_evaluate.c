/* test_evaluate.c — the catalogue scorer and the ranking evaluation against
 * brute force: every score in double with plain loops, every ranking by a
 * full sort (score descending, catalogue index ascending), every sampled
 * figure by counting over all unseen items. Rows come from small seeded
 * in-memory tables through a RepresentationReader; no MPI.
 *
 * Tolerances: the scorer sums in float (sgemm), the references in double, so
 * scores agree within 1e-4, and where two reference scores are within 1e-5
 * of each other the float order may differ from the exact one: either order
 * is accepted there. Everything away from such near-ties must match exactly.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "psrec/core/util.h"
#include "psrec/data/catalogue.h"
#include "psrec/data/dataset.h"
#include "psrec/data/history.h"
#include "psrec/eval/evaluate.h"
#include "psrec/eval/scorer.h"
#include "psrec/models/model.h"

#include "test_support.h"

enum { DIM = 8, K_MAX = RANKING_MAX_CUTOFF };
#define SCORE_TOLERANCE 1e-4
#define NEAR_TIE 1e-5

/* Catalogue index i holds item id 3i + 7, so indices and ids never coincide. */
static uint64_t item_id(size_t index) { return 3 * (uint64_t)index + 7; }

/* Rows by id: rows is (n_ids, width); an id past n_ids has no row and reads
 * as zeros, the models' fallback for an unseen user or item. */
typedef struct {
    size_t n_ids;
    int width;
    float *rows;
} MemoryTable;

typedef struct {
    bool mf; /* mf rows lead with a bias on both sides; bpr users have none */
    double global_mean;
    MemoryTable user;
    MemoryTable item;
} MemoryModel;

static void memory_table_init(MemoryTable *table, size_t n_ids, int width, double std, Rng *rng)
{
    *table = (MemoryTable){n_ids, width, xmalloc(n_ids * (size_t)width * sizeof(float))};
    for (size_t k = 0; k < n_ids * (size_t)width; k++)
        table->rows[k] = (float)(std * rng_normal(rng));
}

/* Rows for user ids 0 … n_users-1 and for catalogue items 0 … n_items-2:
 * the last catalogue item has no row. */
static void memory_model_init(MemoryModel *model, bool mf, size_t n_users, size_t n_items,
                              double std, uint64_t seed)
{
    Rng rng;
    rng_seed(&rng, seed);
    model->mf = mf;
    model->global_mean = mf ? 3.5 : 0.0;
    memory_table_init(&model->user, n_users, mf ? DIM + 1 : DIM, std, &rng);
    memory_table_init(&model->item, (size_t)item_id(n_items - 1), DIM + 1, std, &rng);
}

static void memory_model_free(MemoryModel *model)
{
    free(model->user.rows);
    free(model->item.rows);
}

static const float *memory_row(const MemoryTable *table, uint64_t id)
{
    return id < table->n_ids ? table->rows + id * (size_t)table->width : NULL;
}

static void memory_read(void *context, uint32_t table_id, const uint64_t *ids, size_t n,
                        float *out)
{
    const MemoryModel *model = context;
    ck_assert(table_id == MODEL_TABLE_USER || table_id == MODEL_TABLE_ITEM);
    const MemoryTable *table = table_id == MODEL_TABLE_USER ? &model->user : &model->item;
    size_t width = (size_t)table->width;
    for (size_t k = 0; k < n; k++) {
        const float *row = memory_row(table, ids[k]);
        if (row)
            memcpy(out + k * width, row, width * sizeof(float));
        else
            memset(out + k * width, 0, width * sizeof(float));
    }
}

/* mf: μ + b_u + b_i + p_u·q_i (unclipped); bpr: b_i + p_u·q_i. */
static double score_ref(const MemoryModel *model, uint64_t user, uint64_t item)
{
    static const float zeros[DIM + 1];
    const float *u = memory_row(&model->user, user), *i = memory_row(&model->item, item);
    u = u ? u : zeros;
    i = i ? i : zeros;
    const float *p = model->mf ? u + 1 : u;
    double score = model->mf ? model->global_mean + (double)u[0] + (double)i[0] : (double)i[0];
    for (int f = 0; f < DIM; f++)
        score += (double)p[f] * (double)i[f + 1];
    return score;
}

typedef struct {
    double score;
    uint32_t item;
} ScoredItem;

static int scored_item_compare_ref(const void *a, const void *b)
{
    const ScoredItem *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return (x->item > y->item) - (x->item < y->item);
}

/* Brute-force ranking of user over the catalogue minus excluded: scores gets
 * every item's score (NAN for excluded ones), top the best k indices.
 * Returns how many went into top. */
static int rank_ref(const MemoryModel *model, const Catalogue *catalogue, uint64_t user,
                    const uint32_t *excluded, size_t n_excluded, int k, uint32_t *top,
                    double *scores)
{
    size_t n_items = catalogue->n_items, n = 0;
    for (size_t i = 0; i < n_items; i++)
        scores[i] = score_ref(model, user, catalogue->ids[i]);
    for (size_t e = 0; e < n_excluded; e++)
        scores[excluded[e]] = NAN;
    ScoredItem *all = xmalloc((n_items ? n_items : 1) * sizeof *all);
    for (size_t i = 0; i < n_items; i++)
        if (!isnan(scores[i]))
            all[n++] = (ScoredItem){scores[i], (uint32_t)i};
    qsort(all, n, sizeof *all, scored_item_compare_ref);
    int n_top = n < (size_t)k ? (int)n : k;
    for (int r = 0; r < n_top; r++)
        top[r] = all[r].item;
    free(all);
    return n_top;
}

/* Checks one scorer top list (capacity K_MAX) against rank_ref; returns how
 * many ranks differed within a near-tie. */
static int check_top_ref(const TopK *top, const MemoryModel *model, const Catalogue *catalogue,
                         uint64_t user, const uint32_t *excluded, size_t n_excluded)
{
    uint32_t items[K_MAX], want[K_MAX];
    float scores[K_MAX];
    double *ref = xmalloc((catalogue->n_items + 1) * sizeof(double));
    int n_top = topk_sorted(top, items, scores);
    int n_ref = rank_ref(model, catalogue, user, excluded, n_excluded, K_MAX, want, ref);
    ck_assert_int_eq(n_top, n_ref);
    int swaps = 0;
    for (int r = 0; r < n_top; r++) {
        uint32_t got = items[r];
        ck_assert_msg(!isnan(ref[got]), "user %llu rank %d: item %u is excluded",
                      (unsigned long long)user, r, got);
        for (int s = 0; s < r; s++)
            ck_assert_uint_ne(items[s], got);
        ck_assert_double_eq_tol(scores[r], ref[got], SCORE_TOLERANCE);
        if (got != want[r]) {
            ck_assert_msg(fabs(ref[got] - ref[want[r]]) <= NEAR_TIE,
                          "user %llu rank %d: got item %u (%.7f), want %u (%.7f)",
                          (unsigned long long)user, r, got, ref[got], want[r], ref[want[r]]);
            swaps++;
        }
    }
    free(ref);
    return swaps;
}

static void catalogue_build_n(Catalogue *catalogue, size_t n_items)
{
    uint64_t *ids = xmalloc(n_items * sizeof *ids);
    for (size_t i = 0; i < n_items; i++)
        ids[i] = item_id(n_items - 1 - i); /* any order: the catalogue sorts */
    catalogue_build(catalogue, ids, NULL, n_items);
    free(ids);
    ck_assert_uint_eq(catalogue->n_items, n_items);
}

static const ModelParams PARAMS = {.dim = DIM, .global_mean = 3.5, .rating_min = 1,
                                   .rating_max = 5};

/* More users than a user block (256) and items than an item block (4096). */
/* scorer_rank for users 0..n-1, query q being user q. */
static void rank_users_0_to_n(const CatalogueScorer *scorer, RankQuery *queries, size_t n)
{
    uint64_t *users = xmalloc(n * sizeof(uint64_t));
    for (size_t u = 0; u < n; u++)
        users[u] = u;
    float *vectors = xmalloc(n * (size_t)scorer->score_width * sizeof(float));
    scorer_user_vectors(scorer, users, n, vectors);
    scorer_rank(scorer, vectors, queries, n);
    free(vectors);
    free(users);
}

START_TEST(test_rank_matches_brute_force)
{
    enum { N_QUERIES = 300, N_ITEMS = 5000, ALL_BUT_3 = 7, NOTHING_LEFT = 8 };
    enum { ZERO_USER = N_QUERIES - 1 };
    MemoryModel model;
    /* User ZERO_USER (the last query) has no row: it scores items by bias
     * alone, and the three items biased 5, in both item blocks, tie
     * exactly, in float too. */
    memory_model_init(&model, false, N_QUERIES - 1, N_ITEMS, 0.5, 11);
    const uint32_t tied[3] = {10, 4100, 4998};
    for (int t = 0; t < 3; t++)
        model.item.rows[item_id(tied[t]) * (DIM + 1)] = 5.0f; /* b_i */
    Catalogue catalogue;
    catalogue_build_n(&catalogue, N_ITEMS);
    CatalogueScorer scorer;
    scorer_init(&scorer, model_find("bpr"), &PARAMS, memory_read, &model, &catalogue, NULL);

    Rng rng;
    rng_seed(&rng, 12);
    uint32_t *excluded = xmalloc((size_t)N_QUERIES * N_ITEMS * sizeof(uint32_t));
    RankQuery queries[N_QUERIES];
    TopK tops[N_QUERIES];
    for (size_t q = 0; q < N_QUERIES; q++) {
        uint32_t *mine = excluded + q * N_ITEMS;
        size_t n = 0;
        for (uint32_t i = 0; i < N_ITEMS; i++) {
            bool out;
            if (q % 5 == 0 || q == ZERO_USER)
                out = false;
            else if (q == ALL_BUT_3)
                out = i != 2 && i != 2500 && i != 4097;
            else if (q == NOTHING_LEFT)
                out = true;
            else /* odd users also lose two of the top-biased items */
                out = rng_uniform(&rng) < 0.1 || (q % 2 == 1 && (i == 10 || i == 4100));
            if (out)
                mine[n++] = i;
        }
        topk_init(&tops[q], K_MAX);
        queries[q] = (RankQuery){.excluded = mine, .n_excluded = n, .top = &tops[q]};
    }
    rank_users_0_to_n(&scorer, queries, N_QUERIES);

    int swaps = 0;
    for (size_t q = 0; q < N_QUERIES; q++)
        swaps += check_top_ref(&tops[q], &model, &catalogue, q, queries[q].excluded,
                               queries[q].n_excluded);
    ck_assert_int_le(swaps, 3); /* near-ties are rare, not the rule */
    ck_assert_int_eq(tops[ALL_BUT_3].n, 3);
    ck_assert_int_eq(tops[NOTHING_LEFT].n, 0);
    uint32_t items[K_MAX];
    float scores[K_MAX];
    ck_assert_int_eq(topk_sorted(&tops[ZERO_USER], items, scores), K_MAX);
    for (int t = 0; t < 3; t++) { /* exact ties: smaller index first */
        ck_assert_uint_eq(items[t], tied[t]);
        ck_assert_float_eq(scores[t], 5.0f);
    }
    for (size_t q = 0; q < N_QUERIES; q++)
        topk_free(&tops[q]);
    free(excluded);
    scorer_free(&scorer);
    catalogue_free(&catalogue);
    memory_model_free(&model);
}
END_TEST

/* ---- evaluate_ranking: 6 users, the held-out items placed at chosen ranks
 * of each user's reference list so that every figure is nontrivial. User 55
 * has two held-out items, one of them listed twice (implicit feedback repeats
 * pairs): a pair counts once. */

enum { EVAL_ITEMS = 400, EVAL_USERS = 6, EVAL_TRAIN_PER_USER = 40, EVAL_HELDOUT = 8,
       EVAL_PAIRS = 7, N_SHOWN = RANKING_N_CUTOFFS * EVAL_ITEMS };

typedef struct {
    MemoryModel model;
    Catalogue catalogue;
    CatalogueScorer scorer;
    History train;     /* excluded from the full ranking */
    History seen;      /* train and held-out */
    uint64_t users[EVAL_HELDOUT]; /* held-out rows (ids) */
    uint64_t items[EVAL_HELDOUT];
    uint32_t tops[EVAL_USERS][K_MAX]; /* reference top lists */
} EvalFixture;

static void eval_fixture_init(EvalFixture *fx)
{
    memory_model_init(&fx->model, false, 100, EVAL_ITEMS, 0.5, 21);
    catalogue_build_n(&fx->catalogue, EVAL_ITEMS);
    scorer_init(&fx->scorer, model_find("bpr"), &PARAMS, memory_read, &fx->model,
                &fx->catalogue, NULL);
    Rng rng;
    rng_seed(&rng, 22);
    enum { N_TRAIN = EVAL_USERS * EVAL_TRAIN_PER_USER };
    uint64_t users[N_TRAIN + EVAL_HELDOUT];
    uint32_t indices[N_TRAIN + EVAL_HELDOUT];
    for (size_t k = 0; k < N_TRAIN; k++) {
        users[k] = 50 + k / EVAL_TRAIN_PER_USER;
        indices[k] = (uint32_t)rng_below(&rng, EVAL_ITEMS); /* repeats are fine */
    }
    history_build(&fx->train, users, indices, N_TRAIN);
    /* Held-out ranks in each user's list (train excluded); user 55 has two,
     * the first listed twice. */
    const int positions[EVAL_HELDOUT] = {0, 2, 6, 12, 30, 1, 15, 1};
    const size_t owner[EVAL_HELDOUT] = {0, 1, 2, 3, 4, 5, 5, 5};
    double *scores = xmalloc(EVAL_ITEMS * sizeof(double));
    uint32_t ranked[64];
    for (size_t h = 0; h < EVAL_HELDOUT; h++) {
        uint64_t user = 50 + owner[h];
        size_t n_excluded;
        const uint32_t *excluded = history_items(
            &fx->train, (size_t)history_find_user(&fx->train, user), &n_excluded);
        ck_assert_int_eq(rank_ref(&fx->model, &fx->catalogue, user, excluded, n_excluded, 64,
                                  ranked, scores), 64);
        fx->users[h] = user;
        fx->items[h] = fx->catalogue.ids[ranked[positions[h]]];
        users[N_TRAIN + h] = user;
        indices[N_TRAIN + h] = ranked[positions[h]];
        memcpy(fx->tops[owner[h]], ranked, sizeof fx->tops[0]);
    }
    history_build(&fx->seen, users, indices, N_TRAIN + EVAL_HELDOUT);
    free(scores);
}

static void eval_fixture_free(EvalFixture *fx)
{
    history_free(&fx->seen);
    history_free(&fx->train);
    scorer_free(&fx->scorer);
    catalogue_free(&fx->catalogue);
    memory_model_free(&fx->model);
}

/* Runs evaluate_ranking over held-out rows given by `order` (a permutation). */
static void eval_run(const EvalFixture *fx, const size_t *order, int negatives,
                     RankingStats *stats, double *shown)
{
    uint64_t users[EVAL_HELDOUT], items[EVAL_HELDOUT];
    for (size_t h = 0; h < EVAL_HELDOUT; h++) {
        users[h] = fx->users[order[h]];
        items[h] = fx->items[order[h]];
    }
    Ratings heldout = {.n = EVAL_HELDOUT, .users = users, .items = items};
    RankingEvaluation evaluation = {.heldout = &heldout, .catalogue = &fx->catalogue,
                                    .excluded = &fx->train, .seen = &fx->seen,
                                    .sampled_negatives = negatives, .sampled_seed = 99};
    memset(stats, 0, sizeof *stats);
    memset(shown, 0, N_SHOWN * sizeof(double));
    evaluate_ranking(&fx->scorer, &evaluation, stats, shown);
}

static const size_t IN_ORDER[EVAL_HELDOUT] = {0, 1, 2, 3, 4, 5, 6, 7};
static const size_t SHUFFLED[EVAL_HELDOUT] = {6, 3, 7, 0, 5, 2, 4, 1};

/* Whether held-out row h repeats an earlier row's (user, item) pair. */
static bool eval_row_repeats(const EvalFixture *fx, size_t h)
{
    for (size_t earlier = 0; earlier < h; earlier++)
        if (fx->users[earlier] == fx->users[h] && fx->items[earlier] == fx->items[h])
            return true;
    return false;
}

/* Full ranking against the reference lists; sampled figures (20 negatives)
 * within their ranges, reproducible, and independent of the row order. */
START_TEST(test_evaluate_matches_brute_force)
{
    static EvalFixture fx;
    static double shown[N_SHOWN], expected_shown[N_SHOWN], shown_again[N_SHOWN];
    eval_fixture_init(&fx);
    RankingStats stats, expected = {0}, again, shuffled;
    eval_run(&fx, IN_ORDER, 20, &stats, shown);

    for (size_t u = 0; u < EVAL_USERS; u++) {
        uint32_t relevant[2];
        int n_relevant = 0;
        for (size_t h = 0; h < EVAL_HELDOUT; h++)
            if (fx.users[h] == 50 + u && !eval_row_repeats(&fx, h))
                relevant[n_relevant++] = (uint32_t)catalogue_find(&fx.catalogue, fx.items[h]);
        ranking_add_full(&expected, fx.tops[u], K_MAX, relevant, n_relevant);
        for (int c = 0; c < RANKING_N_CUTOFFS; c++)
            for (int r = 0; r < RANKING_CUTOFFS[c]; r++)
                expected_shown[(size_t)c * EVAL_ITEMS + fx.tops[u][r]] = 1.0;
    }
    ck_assert_double_eq(stats.sums[RANKING_SUM_USERS], EVAL_USERS);
    const RankingMetric full[] = {RANKING_PRECISION, RANKING_RECALL, RANKING_NDCG, RANKING_MAP};
    for (int m = 0; m < 4; m++)
        for (int c = 0; c < RANKING_N_CUTOFFS; c++) {
            int k = RANKING_CUTOFFS[c];
            ck_assert(ranking_mean(&expected, full[m], k) > 0); /* the check has teeth */
            ck_assert_double_eq_tol(ranking_mean(&stats, full[m], k),
                                    ranking_mean(&expected, full[m], k), 1e-12);
        }
    ck_assert_mem_eq(shown, expected_shown, sizeof shown);

    ck_assert_double_eq(stats.sums[RANKING_SUM_SAMPLED_CASES], EVAL_PAIRS);
    double auc = ranking_mean(&stats, RANKING_AUC, 0), previous_hr = 0;
    ck_assert(auc >= 0 && auc <= 1);
    for (int c = 0; c < RANKING_N_CUTOFFS; c++) {
        double hr = ranking_mean(&stats, RANKING_HR, RANKING_CUTOFFS[c]);
        double ndcg = ranking_mean(&stats, RANKING_NDCG_SAMPLED, RANKING_CUTOFFS[c]);
        ck_assert(hr >= previous_hr && hr <= 1);
        ck_assert(ndcg >= 0 && ndcg <= hr);
        previous_hr = hr;
    }
    /* The draw depends only on (seed, user, item): bit-identical reruns. */
    eval_run(&fx, IN_ORDER, 20, &again, shown_again);
    ck_assert_mem_eq(again.sums, stats.sums, sizeof stats.sums);
    ck_assert_mem_eq(shown_again, shown, sizeof shown);
    /* Row order only changes the order of additions (last bits at most). */
    eval_run(&fx, SHUFFLED, 20, &shuffled, shown_again);
    for (int f = 0; f < RANKING_FIELDS; f++)
        ck_assert_double_eq_tol(shuffled.sums[f], stats.sums[f], 1e-12);
    ck_assert_mem_eq(shown_again, shown, sizeof shown);
    eval_fixture_free(&fx);
}
END_TEST

/* With at least as many negatives as unseen items, every unseen item is a
 * negative exactly once, so the sampled figures are exact: a repeated or a
 * seen item among the negatives would change the counts. */
START_TEST(test_evaluate_sampled_exhaustive_matches_brute_force)
{
    static EvalFixture fx;
    eval_fixture_init(&fx);
    RankingStats stats;
    static double shown[N_SHOWN];
    eval_run(&fx, SHUFFLED, EVAL_ITEMS, &stats, shown);
    double auc_sum = 0, hr_sum[RANKING_N_CUTOFFS] = {0}, ndcg_sum[RANKING_N_CUTOFFS] = {0};
    for (size_t h = 0; h < EVAL_HELDOUT; h++) {
        if (eval_row_repeats(&fx, h))
            continue;
        size_t user = (size_t)history_find_user(&fx.seen, fx.users[h]);
        double positive = score_ref(&fx.model, fx.users[h], fx.items[h]);
        int above = 0, below = 0, negatives = 0;
        for (uint32_t i = 0; i < EVAL_ITEMS; i++) {
            if (history_contains(&fx.seen, user, i))
                continue;
            double score = score_ref(&fx.model, fx.users[h], fx.catalogue.ids[i]);
            ck_assert(fabs(score - positive) > NEAR_TIE); /* no float-order doubt */
            negatives++;
            above += score > positive;
            below += score < positive;
        }
        auc_sum += (double)below / negatives;
        for (int c = 0; c < RANKING_N_CUTOFFS; c++)
            if (above < RANKING_CUTOFFS[c]) {
                hr_sum[c] += 1;
                ndcg_sum[c] += 1 / log2(above + 2.0);
            }
    }
    ck_assert_double_eq_tol(ranking_mean(&stats, RANKING_AUC, 0), auc_sum / EVAL_PAIRS, 1e-12);
    for (int c = 0; c < RANKING_N_CUTOFFS; c++) {
        int k = RANKING_CUTOFFS[c];
        ck_assert_double_eq_tol(ranking_mean(&stats, RANKING_HR, k), hr_sum[c] / EVAL_PAIRS, 1e-12);
        ck_assert_double_eq_tol(ranking_mean(&stats, RANKING_NDCG_SAMPLED, k),
                                ndcg_sum[c] / EVAL_PAIRS, 1e-12);
    }
    ck_assert(hr_sum[0] > 0 && hr_sum[0] < EVAL_PAIRS); /* not all-or-nothing */
    eval_fixture_free(&fx);
}
END_TEST

/* mf scoring vectors give μ + b_u + b_i + p_u·q_i, not clipped to the
 * rating range (clipping is for `predict` only), also for missing rows. */
START_TEST(test_mf_scores_match_formula)
{
    enum { N_USERS = 10, N_ITEMS = 50 };
    MemoryModel model;
    memory_model_init(&model, true, N_USERS - 1, N_ITEMS, 1.0, 41); /* user 9 has no row */
    Catalogue catalogue;
    catalogue_build_n(&catalogue, N_ITEMS);
    CatalogueScorer scorer;
    scorer_init(&scorer, model_find("mf"), &PARAMS, memory_read, &model, &catalogue, NULL);
    ck_assert_int_eq(scorer.score_width, DIM + 2);
    float vector[DIM + 2];
    int outside = 0;
    for (uint64_t user = 0; user < N_USERS; user++) {
        scorer_user_vectors(&scorer, &user, 1, vector);
        for (uint32_t i = 0; i < N_ITEMS; i++) {
            double want = score_ref(&model, user, catalogue.ids[i]);
            ck_assert_double_eq_tol(scorer_score(&scorer, vector, i), want, SCORE_TOLERANCE);
            outside += want < PARAMS.rating_min || want > PARAMS.rating_max;
        }
    }
    ck_assert_int_gt(outside, 0);
    TopK tops[N_USERS];
    RankQuery queries[N_USERS];
    for (uint64_t user = 0; user < N_USERS; user++) {
        topk_init(&tops[user], K_MAX);
        queries[user] = (RankQuery){.top = &tops[user]};
    }
    rank_users_0_to_n(&scorer, queries, N_USERS);
    for (uint64_t user = 0; user < N_USERS; user++) {
        check_top_ref(&tops[user], &model, &catalogue, user, NULL, 0);
        topk_free(&tops[user]);
    }
    scorer_free(&scorer);
    catalogue_free(&catalogue);
    memory_model_free(&model);
}
END_TEST

static Suite *evaluate_suite(void)
{
    Suite *suite = suite_create("evaluate");
    TCase *scorer = tcase_create("scorer");
    tcase_set_timeout(scorer, 60);
    tcase_add_test(scorer, test_rank_matches_brute_force);
    tcase_add_test(scorer, test_mf_scores_match_formula);
    suite_add_tcase(suite, scorer);
    TCase *evaluate = tcase_create("evaluate");
    tcase_add_test(evaluate, test_evaluate_matches_brute_force);
    tcase_add_test(evaluate, test_evaluate_sampled_exhaustive_matches_brute_force);
    suite_add_tcase(suite, evaluate);
    return suite;
}

int main(void)
{
    return test_run_suite(evaluate_suite());
}

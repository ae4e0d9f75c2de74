/* test_ranking.c — the top-K heap against a full qsort with the same order
 * rule, and the ranking metrics against values computed by hand, including
 * the property that summed partial stats equal the stats of the whole. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "psrec/eval/ranking.h"

#include "test_support.h"

typedef struct {
    float score;
    uint32_t item;
} ScoredItem;

/* Reference order: higher score first, then smaller item. */
static int scored_item_compare_ref(const void *a, const void *b)
{
    const ScoredItem *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return (x->item > y->item) - (x->item < y->item);
}

/* Offers n pairs with few distinct scores (many ties), some NaN, items in
 * shuffled order, and checks topk_sorted against qsort of the non-NaN ones. */
static void check_topk_against_sort_ref(int k, int n, unsigned seed)
{
    srand(seed);
    ScoredItem *pairs = malloc((size_t)n * sizeof *pairs);
    for (int i = 0; i < n; i++)
        pairs[i].item = (uint32_t)i;
    for (int i = n - 1; i > 0; i--) {
        int j = rand() % (i + 1);
        uint32_t item = pairs[i].item;
        pairs[i].item = pairs[j].item;
        pairs[j].item = item;
    }
    TopK topk;
    topk_init(&topk, k);
    int n_valid = 0;
    for (int i = 0; i < n; i++) {
        float score = rand() % 10 == 0 ? NAN : (float)(rand() % 5) * 0.25f;
        topk_offer(&topk, score, pairs[i].item);
        if (!isnan(score))
            pairs[n_valid++] = (ScoredItem){score, pairs[i].item};
    }
    qsort(pairs, (size_t)n_valid, sizeof *pairs, scored_item_compare_ref);

    uint32_t *items = malloc((size_t)k * sizeof *items);
    float *scores = malloc((size_t)k * sizeof *scores);
    int expected = n_valid < k ? n_valid : k;
    for (int round = 0; round < 2; round++) { /* twice: topk_sorted keeps the heap */
        ck_assert_int_eq(topk_sorted(&topk, items, scores), expected);
        for (int r = 0; r < expected; r++) {
            ck_assert_uint_eq(items[r], pairs[r].item);
            ck_assert_float_eq(scores[r], pairs[r].score);
        }
    }
    topk_free(&topk);
    free(items);
    free(scores);
    free(pairs);
}

START_TEST(test_topk_matches_sort_with_ties)
{
    check_topk_against_sort_ref(10, 1000, 1);
    check_topk_against_sort_ref(20, 37, 2);
}
END_TEST

START_TEST(test_topk_k_larger_than_offered)
{
    check_topk_against_sort_ref(50, 20, 3);
    check_topk_against_sort_ref(5, 0, 4);
}
END_TEST

START_TEST(test_topk_k_one)
{
    check_topk_against_sort_ref(1, 500, 5);
    TopK topk;
    topk_init(&topk, 1);
    topk_offer(&topk, 2.0f, 9);
    topk_offer(&topk, 2.0f, 4); /* tie: the smaller item wins */
    topk_offer(&topk, 2.0f, 7);
    topk_offer(&topk, NAN, 1);
    uint32_t item;
    float score;
    ck_assert_int_eq(topk_sorted(&topk, &item, &score), 1);
    ck_assert_uint_eq(item, 4);
    topk_clear(&topk);
    ck_assert_int_eq(topk_sorted(&topk, &item, &score), 0);
    topk_free(&topk);
    topk_free(&topk); /* a freed TopK is zeroed, so freeing again is a no-op */
}
END_TEST

START_TEST(test_sampled_all_ties_is_pessimistic)
{
    RankingStats stats = {0};
    float negatives[99];
    for (int j = 0; j < 99; j++)
        negatives[j] = 0.5f;
    ranking_add_sampled(&stats, 0.5f, negatives, 99);
    for (int c = 0; c < RANKING_N_CUTOFFS; c++) {
        ck_assert_double_eq(ranking_mean(&stats, RANKING_HR, RANKING_CUTOFFS[c]), 0.0);
        ck_assert_double_eq(ranking_mean(&stats, RANKING_NDCG_SAMPLED, RANKING_CUTOFFS[c]), 0.0);
    }
    ck_assert_double_eq(ranking_mean(&stats, RANKING_AUC, 0), 0.5);
}
END_TEST

START_TEST(test_sampled_by_hand)
{
    RankingStats stats = {0};
    /* one above, one equal, two below: rank 2, AUC (2 + 0.5) / 4;
     * fewer negatives than any K */
    const float few[] = {0.9f, 0.5f, 0.1f, 0.2f};
    ranking_add_sampled(&stats, 0.5f, few, 4);
    ck_assert_double_eq(ranking_mean(&stats, RANKING_HR, 5), 1.0);
    ck_assert_double_eq(ranking_mean(&stats, RANKING_NDCG_SAMPLED, 5), 0.5); /* 1/log2(4) */
    ck_assert_double_eq(ranking_mean(&stats, RANKING_AUC, 0), 0.625);

    /* a second case ranked 7th of 12 (seven above): in the top 10, not the top 5 */
    float many[12];
    for (int j = 0; j < 12; j++)
        many[j] = j < 7 ? 2.0f : 0.0f;
    ranking_add_sampled(&stats, 1.0f, many, 12);
    ck_assert_double_eq(ranking_mean(&stats, RANKING_HR, 5), 0.5);
    ck_assert_double_eq(ranking_mean(&stats, RANKING_HR, 10), 1.0);
    ck_assert_double_eq_tol(ranking_mean(&stats, RANKING_NDCG_SAMPLED, 5), 0.25, 1e-15);
    ck_assert_double_eq_tol(ranking_mean(&stats, RANKING_NDCG_SAMPLED, 20),
                            (0.5 + 1.0 / log2(9.0)) / 2, 1e-15);
    ck_assert_double_eq_tol(ranking_mean(&stats, RANKING_AUC, 0), (0.625 + 5.0 / 12) / 2, 1e-15);
    ck_assert_double_eq(stats.sums[RANKING_SUM_SAMPLED_CASES], 2.0);

    /* a NaN positive ranks below all 12 negatives */
    RankingStats nan_stats = {0};
    ranking_add_sampled(&nan_stats, NAN, many, 12);
    ck_assert_double_eq(ranking_mean(&nan_stats, RANKING_HR, 10), 0.0);
    ck_assert_double_eq(ranking_mean(&nan_stats, RANKING_NDCG_SAMPLED, 20), 1.0 / log2(14.0));
    ck_assert_double_eq(ranking_mean(&nan_stats, RANKING_AUC, 0), 0.0);
}
END_TEST

START_TEST(test_full_two_relevant_by_hand)
{
    RankingStats stats = {0};
    /* 10 items ranked (K = 20 exceeds the list); hits at ranks 2 and 8 */
    const uint32_t top[] = {3, 7, 1, 9, 4, 8, 2, 6, 5, 0};
    const uint32_t relevant[] = {5, 1};
    ranking_add_full(&stats, top, 10, relevant, 2);
    double ideal = 1.0 + 1.0 / log2(3.0);
    double dcg_5 = 1.0 / log2(4.0), dcg_10 = dcg_5 + 1.0 / log2(10.0);
    const double tol = 1e-15;

    ck_assert_double_eq_tol(ranking_mean(&stats, RANKING_PRECISION, 5), 1.0 / 5, tol);
    ck_assert_double_eq_tol(ranking_mean(&stats, RANKING_RECALL, 5), 0.5, tol);
    ck_assert_double_eq_tol(ranking_mean(&stats, RANKING_NDCG, 5), dcg_5 / ideal, tol);
    ck_assert_double_eq_tol(ranking_mean(&stats, RANKING_MAP, 5), (1.0 / 3) / 2, tol);

    ck_assert_double_eq_tol(ranking_mean(&stats, RANKING_PRECISION, 10), 2.0 / 10, tol);
    ck_assert_double_eq_tol(ranking_mean(&stats, RANKING_RECALL, 10), 1.0, tol);
    ck_assert_double_eq_tol(ranking_mean(&stats, RANKING_NDCG, 10), dcg_10 / ideal, tol);
    ck_assert_double_eq_tol(ranking_mean(&stats, RANKING_MAP, 10), (1.0 / 3 + 2.0 / 9) / 2, tol);

    ck_assert_double_eq_tol(ranking_mean(&stats, RANKING_PRECISION, 20), 2.0 / 20, tol);
    ck_assert_double_eq_tol(ranking_mean(&stats, RANKING_RECALL, 20), 1.0, tol);
    ck_assert_double_eq_tol(ranking_mean(&stats, RANKING_NDCG, 20), dcg_10 / ideal, tol);
    ck_assert_double_eq_tol(ranking_mean(&stats, RANKING_MAP, 20), (1.0 / 3 + 2.0 / 9) / 2, tol);

    /* a perfect list scores 1 everywhere except precision */
    RankingStats perfect = {0};
    const uint32_t best[] = {1, 5, 3};
    ranking_add_full(&perfect, best, 3, relevant, 2);
    ck_assert_double_eq_tol(ranking_mean(&perfect, RANKING_NDCG, 5), 1.0, tol);
    ck_assert_double_eq_tol(ranking_mean(&perfect, RANKING_MAP, 20), 1.0, tol);
    ck_assert_double_eq_tol(ranking_mean(&perfect, RANKING_PRECISION, 5), 2.0 / 5, tol);
}
END_TEST

START_TEST(test_full_user_without_relevant_adds_nothing)
{
    RankingStats stats = {0}, zero = {0};
    const uint32_t top[] = {1, 2, 3};
    ranking_add_full(&stats, top, 3, NULL, 0);
    ck_assert_mem_eq(stats.sums, zero.sums, sizeof stats.sums);
    ck_assert(isnan(ranking_mean(&stats, RANKING_NDCG, 10)));
    ck_assert(isnan(ranking_mean(&stats, RANKING_HR, 10)));
    ck_assert(isnan(ranking_mean(&stats, RANKING_AUC, 0)));
    NamedFigure figures[RANKING_MAX_FIGURES];
    ck_assert_int_eq(ranking_figures(&stats, "test", figures, RANKING_MAX_FIGURES), 0);
}
END_TEST

START_TEST(test_partial_sums_add_up)
{
    RankingStats whole = {0}, part_a = {0}, part_b = {0};
    srand(7);
    for (int u = 0; u < 200; u++) {
        RankingStats *part = u % 3 ? &part_a : &part_b;
        float negatives[30];
        for (int j = 0; j < 30; j++)
            negatives[j] = (float)(rand() % 8);
        float positive = (float)(rand() % 8);
        ranking_add_sampled(&whole, positive, negatives, 30);
        ranking_add_sampled(part, positive, negatives, 30);

        uint32_t top[20], relevant[4];
        for (int r = 0; r < 20; r++)
            top[r] = (uint32_t)(u + 3 * r) % 50;
        int n_relevant = rand() % 5;
        for (int j = 0; j < n_relevant; j++)
            relevant[j] = (uint32_t)(u + 7 * j) % 50;
        ranking_add_full(&whole, top, 15 + u % 6, relevant, n_relevant);
        ranking_add_full(part, top, 15 + u % 6, relevant, n_relevant);
    }
    RankingStats merged = {0};
    for (int f = 0; f < RANKING_FIELDS; f++)
        merged.sums[f] = part_a.sums[f] + part_b.sums[f];
    for (RankingMetric m = RANKING_HR; m <= RANKING_MAP; m++)
        for (int c = 0; c < RANKING_N_CUTOFFS; c++)
            ck_assert_double_eq_tol(ranking_mean(&merged, m, RANKING_CUTOFFS[c]),
                                    ranking_mean(&whole, m, RANKING_CUTOFFS[c]), 1e-12);
    ck_assert_double_eq(merged.sums[RANKING_SUM_SAMPLED_CASES], 200.0);
    ck_assert_double_eq(merged.sums[RANKING_SUM_USERS], whole.sums[RANKING_SUM_USERS]);
}
END_TEST

START_TEST(test_figures_named_and_skipped)
{
    RankingStats stats = {0};
    const float negatives[] = {0.0f, 1.0f};
    ranking_add_sampled(&stats, 0.5f, negatives, 2);
    NamedFigure figures[RANKING_MAX_FIGURES];
    /* only the sampled protocol has cases */
    ck_assert_int_eq(ranking_figures(&stats, "valid", figures, RANKING_MAX_FIGURES), 8);
    ck_assert_str_eq(figures[0].name, "valid_hr_5");
    ck_assert_str_eq(figures[5].name, "valid_sampled_ndcg_20");
    ck_assert_str_eq(figures[6].name, "valid_auc");
    ck_assert_double_eq(figures[6].value, 0.5);
    ck_assert_str_eq(figures[7].name, "valid_sampled_cases");
    ck_assert_double_eq(figures[7].value, 1.0);

    const uint32_t top[] = {4}, relevant[] = {4};
    ranking_add_full(&stats, top, 1, relevant, 1);
    ck_assert_int_eq(ranking_figures(&stats, "test", figures, RANKING_MAX_FIGURES),
                     RANKING_MAX_FIGURES);
    ck_assert_str_eq(figures[8].name, "test_precision_5");
    ck_assert_double_eq(figures[8].value, 0.2);
    ck_assert_str_eq(figures[14].name, "test_ndcg_5");
    ck_assert_double_eq(figures[14].value, 1.0);
    ck_assert_str_eq(figures[19].name, "test_map_20");
    ck_assert_str_eq(figures[20].name, "test_users");
    /* too little room: nothing past max is written, the full count returned */
    NamedFigure two[2];
    ck_assert_int_eq(ranking_figures(&stats, "test", two, 2), RANKING_MAX_FIGURES);
    ck_assert_str_eq(two[1].name, "test_hr_10");
}
END_TEST

START_TEST(test_coverage)
{
    const uint8_t seen[] = {1, 0, 3, 0, 0, 1, 0, 0};
    ck_assert_double_eq(ranking_coverage(seen, 8), 3.0 / 8);
    ck_assert_double_eq(ranking_coverage(seen, 0), 0.0);
}
END_TEST

static Suite *ranking_suite(void)
{
    Suite *suite = suite_create("ranking");
    TCase *topk = tcase_create("topk");
    tcase_add_test(topk, test_topk_matches_sort_with_ties);
    tcase_add_test(topk, test_topk_k_larger_than_offered);
    tcase_add_test(topk, test_topk_k_one);
    suite_add_tcase(suite, topk);
    TCase *stats = tcase_create("stats");
    tcase_add_test(stats, test_sampled_all_ties_is_pessimistic);
    tcase_add_test(stats, test_sampled_by_hand);
    tcase_add_test(stats, test_full_two_relevant_by_hand);
    tcase_add_test(stats, test_full_user_without_relevant_adds_nothing);
    tcase_add_test(stats, test_partial_sums_add_up);
    tcase_add_test(stats, test_figures_named_and_skipped);
    tcase_add_test(stats, test_coverage);
    suite_add_tcase(suite, stats);
    return suite;
}

int main(void)
{
    return test_run_suite(ranking_suite());
}

/* test_metrics.c — RMSE and MAE against values computed by hand, and the
 * property that summed partial stats equal the stats of the whole. */
#include <check.h>
#include <math.h>

#include "psrec/eval/metrics.h"

#include "test_support.h"

START_TEST(test_rmse_mae_by_hand)
{
    ErrorStats stats = {0};
    ck_assert_double_eq(error_stats_rmse(&stats), 0.0);
    ck_assert_double_eq(error_stats_mae(&stats), 0.0);
    error_stats_add(&stats, 3.0, 4.0);  /* error -1 */
    error_stats_add(&stats, 5.0, 3.0);  /* error  2 */
    error_stats_add(&stats, 2.5, 2.0);  /* error  0.5 */
    /* RMSE = sqrt((1 + 4 + 0.25) / 3), MAE = 3.5 / 3 */
    ck_assert_double_eq_tol(error_stats_rmse(&stats), sqrt(5.25 / 3.0), 1e-12);
    ck_assert_double_eq_tol(error_stats_mae(&stats), 3.5 / 3.0, 1e-12);
}
END_TEST

START_TEST(test_partial_sums_add_up)
{
    ErrorStats whole = {0}, part_a = {0}, part_b = {0};
    for (int i = 0; i < 100; i++) {
        double prediction = 1.0 + (i % 7) * 0.5, truth = 1.0 + (i % 5);
        error_stats_add(&whole, prediction, truth);
        error_stats_add(i % 3 ? &part_a : &part_b, prediction, truth);
    }
    ErrorStats merged = {0};
    for (int f = 0; f < ERROR_STATS_FIELDS; f++)
        merged.sums[f] = part_a.sums[f] + part_b.sums[f];
    ck_assert_double_eq_tol(error_stats_rmse(&merged), error_stats_rmse(&whole), 1e-12);
    ck_assert_double_eq_tol(error_stats_mae(&merged), error_stats_mae(&whole), 1e-12);
}
END_TEST

static Suite *metrics_suite(void)
{
    Suite *suite = suite_create("metrics");
    TCase *tc = tcase_create("error_stats");
    tcase_add_test(tc, test_rmse_mae_by_hand);
    tcase_add_test(tc, test_partial_sums_add_up);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    return test_run_suite(metrics_suite());
}

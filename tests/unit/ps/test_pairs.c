/* test_pairs.c — PairTable against a plain array of every pair's sums. */
#include <check.h>
#include <stdlib.h>

#include "psrec/core/util.h"
#include "psrec/ps/pairs.h"

#include "test_support.h"

START_TEST(test_sums_match_a_dense_reference)
{
    /* 40 rows × 30 columns, 20000 random additions of two values each:
     * every pair's sums against a dense array. */
    enum { ROWS = 40, COLUMNS = 30, ADDS = 20000 };
    static double reference[ROWS][COLUMNS][2];
    static int touched[ROWS][COLUMNS];
    PairTable *table = pair_table_create(2);
    Rng rng;
    rng_seed(&rng, 17);
    for (int a = 0; a < ADDS; a++) {
        int r = (int)rng_below(&rng, ROWS), c = (int)rng_below(&rng, COLUMNS);
        double values[2] = {1.0, (double)rng_below(&rng, 100) / 8.0};
        pair_table_add(table, 1000 + (uint64_t)r, (uint64_t)c * 7, values);
        reference[r][c][0] += values[0];
        reference[r][c][1] += values[1];
        touched[r][c] = 1;
    }
    size_t expected = 0;
    for (int r = 0; r < ROWS; r++)
        for (int c = 0; c < COLUMNS; c++)
            expected += (size_t)touched[r][c];
    ck_assert_uint_eq(pair_table_count(table), expected);
    for (int pass = 0; pass < 2; pass++) { /* before and after sorting */
        for (size_t p = 0; p < pair_table_count(table); p++) {
            int r = (int)(pair_table_row(table, p) - 1000);
            int c = (int)(pair_table_column(table, p) / 7);
            const double *sums = pair_table_values(table, p);
            ck_assert_double_eq(sums[0], reference[r][c][0]);
            ck_assert_double_eq(sums[1], reference[r][c][1]);
            if (pass == 1 && p > 0) { /* sorted by row, then column */
                uint64_t previous_row = pair_table_row(table, p - 1);
                ck_assert(previous_row < pair_table_row(table, p) ||
                          (previous_row == pair_table_row(table, p) &&
                           pair_table_column(table, p - 1) < pair_table_column(table, p)));
            }
        }
        pair_table_sort(table);
    }
    /* Adding after sorting still finds the pair. */
    double one[2] = {1, 0};
    pair_table_add(table, 1000, 0, one);
    ck_assert_uint_eq(pair_table_count(table), expected + (touched[0][0] ? 0 : 1));
    pair_table_destroy(table);
}
END_TEST

START_TEST(test_norms_survive_clear)
{
    PairTable *table = pair_table_create(1);
    double norm = 0;
    ck_assert(!pair_table_norm(table, 5, &norm));
    pair_table_set_norm(table, 5, 3.5);
    pair_table_set_norm(table, 5, 4.5); /* the last one wins */
    double one = 1;
    pair_table_add(table, 1, 5, &one);
    size_t bytes = pair_table_bytes(table);
    ck_assert_uint_gt(bytes, 0);
    pair_table_clear(table);
    ck_assert_uint_eq(pair_table_count(table), 0);
    ck_assert(pair_table_norm(table, 5, &norm));
    ck_assert_double_eq(norm, 4.5);
    pair_table_add(table, 1, 5, &one); /* starts again at zero */
    ck_assert_double_eq(pair_table_values(table, 0)[0], 1.0);
    pair_table_destroy(table);
}
END_TEST

static Suite *pairs_suite(void)
{
    Suite *suite = suite_create("pairs");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_sums_match_a_dense_reference);
    tcase_add_test(tc, test_norms_survive_clear);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void) { return test_run_suite(pairs_suite()); }

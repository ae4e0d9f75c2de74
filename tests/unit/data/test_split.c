/* test_split.c — the leave-one-out split.
 *
 * Hand-made cases pin the rules: per user the latest interaction is the
 * test one and the one before it the validation one, ties in time go by
 * file order, users with fewer than three interactions only train, and a
 * file without timestamps needs allow_file_order. Random inputs check the
 * split against a brute-force reference and that train, valid and test
 * partition the input, with every column copied along.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "psrec/core/util.h"
#include "psrec/data/dataset.h"
#include "psrec/data/split.h"

#include "test_support.h"

/* Ratings of n rows with the given users and timestamps (NULL: none). Row i
 * has item 1000 + i, rating i / 2 and weight i + 1, so each row can be
 * recognised after the split. */
static Ratings ratings_make(const uint64_t *users, const int64_t *timestamps, size_t n)
{
    Ratings r = {0};
    r.n = n;
    r.users = xmalloc(n * sizeof *r.users);
    r.items = xmalloc(n * sizeof *r.items);
    r.ratings = xmalloc(n * sizeof *r.ratings);
    r.weights = xmalloc(n * sizeof *r.weights);
    r.timestamps = xmalloc(n * sizeof *r.timestamps);
    for (size_t i = 0; i < n; i++) {
        r.users[i] = users[i];
        r.items[i] = 1000 + i;
        r.ratings[i] = (float)i / 2;
        r.weights[i] = (float)i + 1;
        r.timestamps[i] = timestamps ? timestamps[i] : 0;
    }
    r.has_ratings = true;
    r.has_timestamps = timestamps != NULL;
    r.has_events = true;
    return r;
}

/* Checks that out holds exactly the input rows rows[0, n), in that order,
 * with every column copied and the flags of in. */
static void expect_rows(const Ratings *out, const Ratings *in, const size_t *rows, size_t n,
                        const char *name)
{
    ck_assert_msg(out->n == n, "%s has %zu rows, expected %zu", name, out->n, n);
    for (size_t k = 0; k < n; k++) {
        size_t i = rows[k];
        ck_assert_msg(out->items[k] == in->items[i], "%s row %zu is input row %d, expected %zu",
                      name, k, (int)out->items[k] - 1000, i);
        ck_assert_uint_eq(out->users[k], in->users[i]);
        ck_assert(out->ratings[k] == in->ratings[i]);
        ck_assert(out->weights[k] == (in->weights ? in->weights[i] : 1.0f));
        ck_assert_int_eq(out->timestamps[k], in->timestamps[i]);
    }
    ck_assert(out->has_ratings == in->has_ratings);
    ck_assert(out->has_timestamps == in->has_timestamps);
    ck_assert(out->has_events == in->has_events);
    ck_assert_uint_eq(out->n_skipped, 0);
}

static void split_ok(const Ratings *in, bool allow_file_order, Ratings *train, Ratings *valid,
                     Ratings *test)
{
    Error err = {{0}};
    int rc = split_leave_one_out(in, allow_file_order, train, valid, test, &err);
    ck_assert_msg(rc == 0, "split failed: %s", err.message);
}

static void free_all(Ratings *a, Ratings *b, Ratings *c, Ratings *d)
{
    ratings_free(a);
    ratings_free(b);
    ratings_free(c);
    ratings_free(d);
}

START_TEST(test_ties_go_by_file_order)
{
    /* One user; times 10, 20, 20, 5, 20: time order is rows 3, 0, 1, 2, 4. */
    const uint64_t users[] = {7, 7, 7, 7, 7};
    const int64_t times[] = {10, 20, 20, 5, 20};
    Ratings in = ratings_make(users, times, 5), train, valid, test;
    split_ok(&in, false, &train, &valid, &test);
    expect_rows(&test, &in, (size_t[]){4}, 1, "test");
    expect_rows(&valid, &in, (size_t[]){2}, 1, "valid");
    expect_rows(&train, &in, (size_t[]){0, 1, 3}, 3, "train");
    free_all(&in, &train, &valid, &test);

    /* Ties between the last two only. */
    const int64_t times2[] = {1, 9, 9, 2, 3};
    in = ratings_make(users, times2, 5);
    split_ok(&in, false, &train, &valid, &test);
    expect_rows(&test, &in, (size_t[]){2}, 1, "test");
    expect_rows(&valid, &in, (size_t[]){1}, 1, "valid");
    expect_rows(&train, &in, (size_t[]){0, 3, 4}, 3, "train");
    free_all(&in, &train, &valid, &test);
}
END_TEST

START_TEST(test_users_with_1_2_3_5_interactions)
{
    /* Users 1 (one row), 2 (two), 3 (three), 5 (five), interleaved, times
     * out of file order. */
    const uint64_t users[] = {5, 3, 2, 5, 1, 3, 5, 2, 3, 5, 5};
    const int64_t times[] = {50, 30, 1, 10, 7, 10, 40, 0, 20, 30, 20};
    /* rows:                 0   1   2  3   4  5   6   7  8   9  10 */
    Ratings in = ratings_make(users, times, 11), train, valid, test;
    split_ok(&in, false, &train, &valid, &test);
    /* User 3: times 30 (row 1), 10 (5), 20 (8) → test row 1, valid row 8.
     * User 5: 50 (0), 10 (3), 40 (6), 30 (9), 20 (10) → test 0, valid 6.
     * Users 1 and 2 only train. Outputs keep input order. */
    expect_rows(&test, &in, (size_t[]){0, 1}, 2, "test");
    expect_rows(&valid, &in, (size_t[]){6, 8}, 2, "valid");
    expect_rows(&train, &in, (size_t[]){2, 3, 4, 5, 7, 9, 10}, 7, "train");
    free_all(&in, &train, &valid, &test);
}
END_TEST

START_TEST(test_no_timestamps_needs_allow_file_order)
{
    const uint64_t users[] = {1, 2, 1, 1, 2, 2, 1};
    Ratings in = ratings_make(users, NULL, 7), train, valid, test;
    Error err = {{0}};
    ck_assert_int_eq(split_leave_one_out(&in, false, &train, &valid, &test, &err), -1);
    ck_assert_str_eq(err.message, "leave-one-out split: expected a timestamp column to order "
                                  "each user's interactions, found none in the file; "
                                  "--allow-file-order uses file order instead");
    ck_assert_uint_eq(train.n + valid.n + test.n, 0);
    free_all(&train, &valid, &test, &(Ratings){0});

    /* File order is then the time order: the last rows of each user. */
    split_ok(&in, true, &train, &valid, &test);
    expect_rows(&test, &in, (size_t[]){5, 6}, 2, "test");
    expect_rows(&valid, &in, (size_t[]){3, 4}, 2, "valid");
    expect_rows(&train, &in, (size_t[]){0, 1, 2}, 3, "train");
    free_all(&in, &train, &valid, &test);

    /* With timestamps, allow_file_order changes nothing. */
    const int64_t times[] = {9, 1, 8, 7, 2, 3, 6};
    in = ratings_make(users, times, 7);
    split_ok(&in, true, &train, &valid, &test);
    expect_rows(&test, &in, (size_t[]){0, 5}, 2, "test");
    expect_rows(&valid, &in, (size_t[]){2, 4}, 2, "valid");
    expect_rows(&train, &in, (size_t[]){1, 3, 6}, 3, "train");
    free_all(&in, &train, &valid, &test);
}
END_TEST

START_TEST(test_empty_input_and_missing_weights)
{
    Ratings in = ratings_make(NULL, NULL, 0), train, valid, test;
    in.has_timestamps = true;
    split_ok(&in, false, &train, &valid, &test);
    ck_assert_uint_eq(train.n + valid.n + test.n, 0);
    free_all(&in, &train, &valid, &test);

    /* Ratings made elsewhere may lack weights: the outputs get 1. */
    const uint64_t users[] = {4, 4, 4};
    const int64_t times[] = {3, 2, 1};
    in = ratings_make(users, times, 3);
    free(in.weights);
    in.weights = NULL;
    split_ok(&in, false, &train, &valid, &test);
    expect_rows(&test, &in, (size_t[]){0}, 1, "test");
    expect_rows(&valid, &in, (size_t[]){1}, 1, "valid");
    expect_rows(&train, &in, (size_t[]){2}, 1, "train");
    free_all(&in, &train, &valid, &test);
}
END_TEST

/* Brute force: is row i the latest (rank 0) or second latest (rank 1) of its
 * user's rows by (timestamp, row)? Returns the rank, or 2 for older rows. */
static int row_rank_from_end(const Ratings *in, size_t i)
{
    int later = 0;
    for (size_t j = 0; j < in->n; j++) {
        if (j == i || in->users[j] != in->users[i])
            continue;
        int64_t ti = in->has_timestamps ? in->timestamps[i] : 0;
        int64_t tj = in->has_timestamps ? in->timestamps[j] : 0;
        later += tj > ti || (tj == ti && j > i);
    }
    return later < 2 ? later : 2;
}

START_TEST(test_random_inputs_are_partitioned_as_the_reference_says)
{
    Rng rng;
    rng_seed(&rng, 20240601);
    for (int round = 0; round < 60; round++) {
        size_t n = (size_t)rng_below(&rng, 400);
        uint64_t n_users = 1 + rng_below(&rng, 40);
        int64_t n_times = 1 + (int64_t)rng_below(&rng, 20); /* few values: many ties */
        bool timestamps = round % 4 != 3;
        uint64_t *users = xmalloc((n ? n : 1) * sizeof *users);
        int64_t *times = xmalloc((n ? n : 1) * sizeof *times);
        for (size_t i = 0; i < n; i++) {
            users[i] = rng_below(&rng, n_users) * 1000003;
            times[i] = (int64_t)rng_below(&rng, (uint64_t)n_times) - 5;
        }
        Ratings in = ratings_make(users, timestamps ? times : NULL, n), train, valid, test;
        split_ok(&in, true, &train, &valid, &test);

        /* Reference: rank 0 → test, 1 → valid, for users with ≥ 3 rows. */
        size_t *want[3];
        size_t n_want[3] = {0, 0, 0};
        for (int p = 0; p < 3; p++)
            want[p] = xmalloc((n ? n : 1) * sizeof *want[p]);
        for (size_t i = 0; i < n; i++) {
            size_t user_rows = 0;
            for (size_t j = 0; j < n; j++)
                user_rows += users[j] == users[i];
            int rank = user_rows >= 3 ? row_rank_from_end(&in, i) : 2;
            int p = rank == 0 ? 2 : rank == 1 ? 1 : 0; /* 0 train, 1 valid, 2 test */
            want[p][n_want[p]++] = i;
        }
        expect_rows(&train, &in, want[0], n_want[0], "train");
        expect_rows(&valid, &in, want[1], n_want[1], "valid");
        expect_rows(&test, &in, want[2], n_want[2], "test");

        /* Partition: every input row (its unique item) lands exactly once. */
        unsigned char *seen = xcalloc(n ? n : 1, 1);
        const Ratings *outs[] = {&train, &valid, &test};
        for (int p = 0; p < 3; p++)
            for (size_t k = 0; k < outs[p]->n; k++)
                seen[outs[p]->items[k] - 1000]++;
        for (size_t i = 0; i < n; i++)
            ck_assert_msg(seen[i] == 1, "round %d: row %zu landed %d times", round, i, seen[i]);
        ck_assert_uint_eq(train.n + valid.n + test.n, n);
        ck_assert_uint_eq(valid.n, test.n);

        free(seen);
        for (int p = 0; p < 3; p++)
            free(want[p]);
        free(users);
        free(times);
        free_all(&in, &train, &valid, &test);
    }
}
END_TEST

START_TEST(test_millions_of_interactions)
{
    /* 3M rows of 200k users: one sort, then linear passes. */
    const size_t n = 3000000;
    Rng rng;
    rng_seed(&rng, 7);
    uint64_t *users = xmalloc(n * sizeof *users);
    int64_t *times = xmalloc(n * sizeof *times);
    for (size_t i = 0; i < n; i++) {
        users[i] = rng_below(&rng, 200000);
        times[i] = (int64_t)rng_below(&rng, 1000000);
    }
    Ratings in = ratings_make(users, times, n), train, valid, test;
    split_ok(&in, false, &train, &valid, &test); /* quadratic work would hit the timeout */
    ck_assert_uint_eq(train.n + valid.n + test.n, n);
    ck_assert_uint_eq(valid.n, test.n);
    ck_assert_uint_gt(test.n, 190000); /* nearly every user has ≥ 3 rows */
    free(users);
    free(times);
    free_all(&in, &train, &valid, &test);
}
END_TEST

static Suite *split_suite(void)
{
    Suite *suite = suite_create("split");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_ties_go_by_file_order);
    tcase_add_test(tc, test_users_with_1_2_3_5_interactions);
    tcase_add_test(tc, test_no_timestamps_needs_allow_file_order);
    tcase_add_test(tc, test_empty_input_and_missing_weights);
    tcase_add_test(tc, test_random_inputs_are_partitioned_as_the_reference_says);
    tcase_add_test(tc, test_millions_of_interactions);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    return test_run_suite(split_suite());
}

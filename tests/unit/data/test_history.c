/* test_history.c — per-user item sets: users numbered by first appearance,
 * each user's items sorted and without repeats, membership by binary
 * search, checked against a brute-force scan of random pairs.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "psrec/core/util.h"
#include "psrec/data/history.h"

#include "test_support.h"

static void expect_items(const History *h, size_t user_index, const uint32_t *want, size_t n)
{
    size_t got_n;
    const uint32_t *got = history_items(h, user_index, &got_n);
    ck_assert_uint_eq(got_n, n);
    for (size_t i = 0; i < n; i++)
        ck_assert_uint_eq(got[i], want[i]);
}

START_TEST(test_small_history)
{
    const uint64_t users[] = {9, 4, 9, 9, 4, 100, 9};
    const uint32_t items[] = {5, 2, 1, 5, 2, 0, 3};
    History h;
    history_build(&h, users, items, 7);
    ck_assert_uint_eq(history_user_count(&h), 3);
    ck_assert_int_eq(history_find_user(&h, 9), 0);
    ck_assert_int_eq(history_find_user(&h, 4), 1);
    ck_assert_int_eq(history_find_user(&h, 100), 2);
    ck_assert_int_eq(history_find_user(&h, 5), -1);
    ck_assert_uint_eq(history_user_id(&h, 1), 4);
    expect_items(&h, 0, (const uint32_t[]){1, 3, 5}, 3);
    expect_items(&h, 1, (const uint32_t[]){2}, 1);
    expect_items(&h, 2, (const uint32_t[]){0}, 1);
    ck_assert(history_contains(&h, 0, 3));
    ck_assert(!history_contains(&h, 0, 4));
    ck_assert(!history_contains(&h, 0, 6));
    ck_assert(!history_contains(&h, 1, 0));
    history_free(&h);
    ck_assert_int_eq(history_find_user(&h, 9), -1); /* zeroed: empty */
    history_free(&h);

    history_build(&h, NULL, NULL, 0);
    ck_assert_uint_eq(history_user_count(&h), 0);
    history_free(&h);
}
END_TEST

START_TEST(test_random_pairs_against_brute_force)
{
    enum { N = 4000, USERS = 60, ITEMS = 120 };
    uint64_t *users = xmalloc(N * sizeof *users);
    uint32_t *items = xmalloc(N * sizeof *items);
    Rng rng;
    rng_seed(&rng, 11);
    for (size_t i = 0; i < N; i++) {
        users[i] = rng_below(&rng, USERS) + 1000;
        items[i] = (uint32_t)rng_below(&rng, ITEMS);
    }
    History h;
    history_build(&h, users, items, N);
    size_t wrong = 0;
    for (size_t u = 0; u < history_user_count(&h); u++) {
        uint64_t id = history_user_id(&h, u);
        ck_assert_int_eq(history_find_user(&h, id), (int64_t)u);
        size_t n;
        const uint32_t *list = history_items(&h, u, &n);
        for (size_t k = 1; k < n; k++)
            wrong += list[k - 1] >= list[k];
        for (uint32_t item = 0; item < ITEMS + 2; item++) {
            bool has = false;
            for (size_t i = 0; i < N && !has; i++)
                has = users[i] == id && items[i] == item;
            wrong += has != history_contains(&h, u, item);
            size_t in_list = 0;
            for (size_t k = 0; k < n; k++)
                in_list += list[k] == item;
            wrong += in_list != (has ? 1u : 0u);
        }
    }
    ck_assert_uint_eq(wrong, 0);
    /* Users are numbered by first appearance. */
    ck_assert_uint_eq(history_user_id(&h, 0), users[0]);
    history_free(&h);
    free(users);
    free(items);
}
END_TEST

static Suite *history_suite(void)
{
    Suite *suite = suite_create("history");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_small_history);
    tcase_add_test(tc, test_random_pairs_against_brute_force);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    return test_run_suite(history_suite());
}

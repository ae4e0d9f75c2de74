/* test_user_blocks.c — examples grouped into user blocks and the epoch
 * order over them: the number of blocks from the row bytes and the batch
 * size (by hand), the arrangement checked against a direct recomputation
 * (every example kept, each in its user's block, a user's examples together
 * and in file order), and the order a permutation that visits block after
 * block and spreads each user's examples over its block, equal to a plain
 * shuffle with one block.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "psrec/core/util.h"
#include "psrec/data/user_blocks.h"

#include "test_support.h"

/* n examples of n_users users; example i's item is i (so it names the
 * example after any reordering) and its rating i % 5. */
static void make_ratings(Ratings *r, size_t n, uint64_t n_users, uint64_t seed)
{
    memset(r, 0, sizeof *r);
    r->n = n;
    r->users = xmalloc(n * sizeof *r->users);
    r->items = xmalloc(n * sizeof *r->items);
    r->ratings = xmalloc(n * sizeof *r->ratings);
    r->weights = xmalloc(n * sizeof *r->weights);
    Rng rng;
    rng_seed(&rng, seed);
    for (size_t i = 0; i < n; i++) {
        r->users[i] = 1000 + rng_below(&rng, n_users);
        r->items[i] = i;
        r->ratings[i] = (float)(i % 5);
        r->weights[i] = (float)(i % 3);
    }
}

START_TEST(test_blocks_needed)
{
    /* Rows of 1 KiB: 1024 users a block by bytes; a batch of 64 asks for at
     * least 256 users, a batch of 1024 for 4096. */
    ck_assert_uint_eq(user_blocks_needed(50000, 1024, 64), 49);  /* ⌈50000/1024⌉ */
    ck_assert_uint_eq(user_blocks_needed(50000, 1024, 1024), 13); /* ⌈50000/4096⌉ */
    ck_assert_uint_eq(user_blocks_needed(4096, 1024, 1024), 1);
    ck_assert_uint_eq(user_blocks_needed(4097, 1024, 1024), 2);
    ck_assert_uint_eq(user_blocks_needed(50000, 260, 16), 13);   /* 4032 users of 260 B */
    /* Rows past the budget: one a block by bytes, 4 per example of a batch. */
    ck_assert_uint_eq(user_blocks_needed(50000, 4u << 20, 1), 12500);
    ck_assert_uint_eq(user_blocks_needed(50000, 0, 64), 1); /* no user rows */
    ck_assert_uint_eq(user_blocks_needed(0, 256, 1024), 1);
}
END_TEST

START_TEST(test_arrange_groups_blocks_then_users)
{
    Ratings r;
    size_t n = 300000; /* arrays past a huge page: the huge-page copies too */
    make_ratings(&r, n, 7000, 2);
    uint64_t *users_before = xmalloc(n * sizeof(uint64_t));
    memcpy(users_before, r.users, n * sizeof(uint64_t));
    UserBlocks blocks;
    user_blocks_arrange(&r, 5, &blocks);
    ck_assert_uint_eq(blocks.n_blocks, 5);
    ck_assert_uint_eq(blocks.start[0], 0);
    ck_assert_uint_eq(blocks.start[5], n);
    /* Expected: block by block, users in order of first appearance, each
     * user's examples in file order: example lists per user, then walked. */
    size_t *first_seen = xmalloc(7000 * sizeof(size_t));
    size_t *next_of = xmalloc(n * sizeof(size_t)); /* the user's next example */
    size_t *last_of = xmalloc(7000 * sizeof(size_t));
    for (size_t u = 0; u < 7000; u++)
        first_seen[u] = last_of[u] = SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        size_t u = users_before[i] - 1000;
        next_of[i] = SIZE_MAX;
        if (first_seen[u] == SIZE_MAX)
            first_seen[u] = i;
        else
            next_of[last_of[u]] = i;
        last_of[u] = i;
    }
    size_t at = 0, wrong = 0;
    for (size_t b = 0; b < 5; b++) {
        ck_assert_uint_eq(at, blocks.start[b]);
        for (size_t i = 0; i < n; i++) { /* users in order of first appearance */
            uint64_t user = users_before[i];
            if (first_seen[user - 1000] != i || hash_u64(user) % 5 != b)
                continue;
            for (size_t k = i; k != SIZE_MAX; k = next_of[k]) {
                wrong += r.items[at] != k || r.users[at] != user ||
                         r.ratings[at] != (float)(k % 5) || r.weights[at] != (float)(k % 3);
                at++;
            }
        }
    }
    ck_assert_uint_eq(at, n);
    ck_assert_uint_eq(wrong, 0);
    ck_assert_ptr_null(r.timestamps); /* absent arrays stay absent */
    free(first_seen);
    free(next_of);
    free(last_of);
    free(users_before);
    user_blocks_free(&blocks);
    ratings_free(&r);
    /* One block: file order, untouched. */
    make_ratings(&r, 1000, 50, 3);
    user_blocks_arrange(&r, 1, &blocks);
    for (size_t i = 0; i < 1000; i++)
        ck_assert_uint_eq(r.items[i], i);
    user_blocks_free(&blocks);
    ratings_free(&r);
}
END_TEST

/* How many positions of order[first, last) hold a user that one of the
 * `window` positions before also holds. */
static size_t repeats_within(const Ratings *r, const size_t *order, size_t first, size_t last,
                             size_t window)
{
    size_t repeats = 0;
    for (size_t p = first; p < last; p++)
        for (size_t q = p > first + window ? p - window : first; q < p; q++)
            if (r->users[order[q]] == r->users[order[p]]) {
                repeats++;
                break;
            }
    return repeats;
}

START_TEST(test_epoch_order_visits_block_after_block)
{
    Ratings r;
    size_t n = 20000;
    make_ratings(&r, n, 900, 3); /* about 22 examples a user, 100 users a block */
    UserBlocks blocks;
    user_blocks_arrange(&r, 9, &blocks);
    size_t *order = xmalloc(n * sizeof(size_t));
    size_t *again = xmalloc(n * sizeof(size_t));
    size_t *other_epoch = xmalloc(n * sizeof(size_t));
    user_blocks_epoch_order(&blocks, r.users, n, 42, 0, 3, order);
    user_blocks_epoch_order(&blocks, r.users, n, 42, 0, 3, again);
    user_blocks_epoch_order(&blocks, r.users, n, 42, 0, 4, other_epoch);
    ck_assert_mem_eq(order, again, n * sizeof(size_t));
    ck_assert(memcmp(order, other_epoch, n * sizeof(size_t)) != 0);
    /* A permutation in which each block's positions form one run, the runs
     * not in the blocks' own order, and within a run a user's examples
     * spread out: with ~22 of ~2200, a window of 32 positions almost never
     * holds one user twice. */
    char *seen = xcalloc(n, 1);
    size_t at = 0, runs_in_order = 0, repeats = 0;
    for (size_t run = 0; run < blocks.n_blocks; run++) {
        size_t b = 0;
        while (!(order[at] >= blocks.start[b] && order[at] < blocks.start[b + 1]))
            b++;
        runs_in_order += b == run;
        size_t size = blocks.start[b + 1] - blocks.start[b];
        for (size_t k = 0; k < size; k++) {
            ck_assert_uint_ge(order[at + k], blocks.start[b]);
            ck_assert_uint_lt(order[at + k], blocks.start[b + 1]);
            ck_assert_int_eq(seen[order[at + k]]++, 0);
        }
        repeats += repeats_within(&r, order, at, at + size, 32);
        at += size;
    }
    ck_assert_uint_eq(at, n);
    ck_assert_uint_lt(runs_in_order, blocks.n_blocks);
    ck_assert_uint_lt(repeats, n / 100);
    /* A plain shuffle of each block repeats far more (so the check above
     * can fail): about 0.3 of positions. */
    size_t plain_repeats = 0;
    Rng rng;
    rng_seed(&rng, 5);
    for (size_t b = 0; b < blocks.n_blocks; b++) {
        size_t m = blocks.start[b + 1] - blocks.start[b];
        for (size_t i = 0; i < m; i++)
            other_epoch[i] = blocks.start[b] + i;
        for (size_t i = m; i > 1; i--) {
            size_t j = (size_t)rng_below(&rng, i), tmp = other_epoch[i - 1];
            other_epoch[i - 1] = other_epoch[j];
            other_epoch[j] = tmp;
        }
        plain_repeats += repeats_within(&r, other_epoch, 0, m, 32);
    }
    ck_assert_uint_gt(plain_repeats, n / 10);
    /* One block is a plain Fisher–Yates shuffle of 0..n-1. */
    UserBlocks one = {.n_blocks = 1, .start = (size_t[]){0, n}};
    user_blocks_epoch_order(&one, r.users, n, 42, 1, 0, order);
    user_blocks_epoch_order(NULL, NULL, n, 42, 1, 0, again);
    ck_assert_mem_eq(order, again, n * sizeof(size_t));
    rng_seed(&rng, hash_u64(42) ^ hash_u64(((uint64_t)1 << 32) | 0));
    for (size_t i = 0; i < n; i++)
        other_epoch[i] = i;
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)rng_below(&rng, i), tmp = other_epoch[i - 1];
        other_epoch[i - 1] = other_epoch[j];
        other_epoch[j] = tmp;
    }
    ck_assert_mem_eq(order, other_epoch, n * sizeof(size_t));
    free(seen);
    free(order);
    free(again);
    free(other_epoch);
    user_blocks_free(&blocks);
    ratings_free(&r);
}
END_TEST

static Suite *user_blocks_suite(void)
{
    Suite *suite = suite_create("user_blocks");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_blocks_needed);
    tcase_add_test(tc, test_arrange_groups_blocks_then_users);
    tcase_add_test(tc, test_epoch_order_visits_block_after_block);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    return test_run_suite(user_blocks_suite());
}

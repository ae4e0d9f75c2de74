/* test_keyindex.c — the key → dense index map.
 *
 * Checks, against a plain array as reference, that indices are handed out
 * densely in insertion order and stay put through many doublings, that
 * every 64-bit value (0 and UINT64_MAX included) is a key, and that clear
 * forgets everything while the index stays usable.
 */
#include <check.h>
#include <stdlib.h>

#include "psrec/core/keyindex.h"
#include "psrec/core/keys.h"
#include "psrec/core/util.h"

#include "test_support.h"

/* Inserts keys[0..n) into index (all distinct) and checks each gets the next
 * index, then that every key is found at its index and listed in order.
 * Loops count mismatches and assert once: a passing ck_assert costs a write
 * to Check's log, far more than the lookup under test. */
static void check_insert_dense(KeyIndex *index, const uint64_t *keys, size_t n)
{
    size_t base = keyindex_size(index);
    size_t wrong_index = 0, not_new = 0;
    for (size_t i = 0; i < n; i++) {
        bool inserted = false;
        wrong_index += keyindex_insert(index, keys[i], &inserted) != base + i;
        not_new += !inserted;
    }
    ck_assert_uint_eq(wrong_index, 0);
    ck_assert_uint_eq(not_new, 0);
    ck_assert_uint_eq(keyindex_size(index), base + n);
    const uint64_t *listed = keyindex_keys(index);
    size_t not_found = 0, wrong_key = 0;
    for (size_t i = 0; i < n; i++) {
        not_found += keyindex_find(index, keys[i]) != (int64_t)(base + i);
        wrong_key += keyindex_key_at(index, base + i) != keys[i] || listed[base + i] != keys[i];
    }
    ck_assert_uint_eq(not_found, 0);
    ck_assert_uint_eq(wrong_key, 0);
}

START_TEST(test_million_random_keys_with_growth)
{
    enum { N = 1000000 };
    uint64_t *keys = malloc(N * sizeof *keys);
    Rng rng;
    rng_seed(&rng, 42);
    for (size_t i = 0; i < N; i++)
        keys[i] = rng_next_u64(&rng); /* a splitmix stream: distinct values */
    KeyIndex *index = keyindex_create(1);
    size_t bytes_small = keyindex_bytes(index);
    check_insert_dense(index, keys, N);
    ck_assert_uint_gt(keyindex_bytes(index), bytes_small);
    /* Load ≤ 1/2 and doubling: 1M keys need exactly 2^21 slots (16 bytes:
     * key and index) and 2^20 dense keys, plus the struct. */
    ck_assert_uint_ge(keyindex_bytes(index), ((size_t)1 << 21) * 16 + ((size_t)1 << 20) * 8);
    ck_assert_uint_le(keyindex_bytes(index), ((size_t)1 << 21) * 16 + ((size_t)1 << 20) * 8 + 256);

    /* Re-inserting finds the same index and adds nothing. */
    size_t wrong = 0;
    for (size_t i = 0; i < N; i += 7) {
        bool inserted = true;
        wrong += keyindex_insert(index, keys[i], &inserted) != i || inserted;
    }
    ck_assert_uint_eq(wrong, 0);
    ck_assert_uint_eq(keyindex_insert(index, keys[N - 1], NULL), N - 1);
    ck_assert_uint_eq(keyindex_size(index), N);

    /* Keys never inserted are absent: another seed's splitmix stream is
     * disjoint from the first million values (hash_u64 is a bijection and
     * the two counter sequences do not meet that early). */
    rng_seed(&rng, 4242);
    size_t found = 0;
    for (int i = 0; i < 100000; i++)
        found += keyindex_find(index, rng_next_u64(&rng)) != -1;
    ck_assert_uint_eq(found, 0);
    ck_assert_int_eq(keyindex_find(index, keys[0] + 1), -1);
    keyindex_destroy(index);
    free(keys);
}
END_TEST

START_TEST(test_structured_keys)
{
    /* Sequential ids in several tables, and keys that all fall in one vshard
     * of 16 (what one server holds): both must work and stay dense. */
    enum { N = 200000 };
    uint64_t *keys = malloc(N * sizeof *keys);
    for (size_t i = 0; i < N; i++)
        keys[i] = key_make((uint32_t)(i % 3), i / 3);
    KeyIndex *index = keyindex_create(0);
    check_insert_dense(index, keys, N);
    keyindex_destroy(index);

    size_t n = 0;
    for (uint64_t id = 0; n < N; id++) {
        if (hash_u64(key_make(1, id)) % 16 == 5)
            keys[n++] = key_make(1, id);
    }
    index = keyindex_create(16);
    check_insert_dense(index, keys, N);
    ck_assert_int_eq(keyindex_find(index, key_make(2, 0)), -1);
    keyindex_destroy(index);
    free(keys);
}
END_TEST

START_TEST(test_extreme_keys)
{
    KeyIndex *index = keyindex_create(4);
    ck_assert_int_eq(keyindex_find(index, 0), -1);
    ck_assert_int_eq(keyindex_find(index, UINT64_MAX), -1);
    const uint64_t keys[] = {0, UINT64_MAX, 1, UINT64_MAX - 1, UINT64_C(1) << 63};
    check_insert_dense(index, keys, sizeof keys / sizeof *keys);
    bool inserted = true;
    ck_assert_uint_eq(keyindex_insert(index, 0, &inserted), 0);
    ck_assert(!inserted);
    ck_assert_uint_eq(keyindex_insert(index, UINT64_MAX, &inserted), 1);
    ck_assert(!inserted);
    keyindex_destroy(index);
    keyindex_destroy(NULL);
}
END_TEST

START_TEST(test_clear_then_reuse)
{
    enum { N = 50000 };
    uint64_t *keys = malloc(2 * N * sizeof *keys);
    for (size_t i = 0; i < 2 * N; i++)
        keys[i] = hash_u64(i + 1000);
    KeyIndex *index = keyindex_create(2);
    check_insert_dense(index, keys, N);
    size_t bytes = keyindex_bytes(index);

    keyindex_clear(index);
    ck_assert_uint_eq(keyindex_size(index), 0);
    ck_assert_uint_eq(keyindex_bytes(index), bytes); /* memory kept */
    size_t found = 0;
    for (size_t i = 0; i < N; i++)
        found += keyindex_find(index, keys[i]) != -1;
    ck_assert_uint_eq(found, 0);

    /* Numbering restarts at 0; old and new keys mix freely. */
    check_insert_dense(index, keys + N / 2, N);
    ck_assert_int_eq(keyindex_find(index, keys[0]), -1);
    ck_assert_int_eq(keyindex_find(index, keys[N / 2]), 0);
    keyindex_destroy(index);
    free(keys);
}
END_TEST

static Suite *keyindex_suite(void)
{
    Suite *suite = suite_create("keyindex");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_million_random_keys_with_growth);
    tcase_add_test(tc, test_structured_keys);
    tcase_add_test(tc, test_extreme_keys);
    tcase_add_test(tc, test_clear_then_reuse);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    return test_run_suite(keyindex_suite());
}

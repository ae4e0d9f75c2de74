/* test_keys.c — key packing, virtual shards and the default shard map.
 *
 * The vshard hash is a persistent contract (checkpoints are laid out by it),
 * so besides range and balance this pins key_vshard to values recorded once,
 * not to a second copy of its formula that would change along with it.
 */
#include <check.h>
#include <stdlib.h>

#include "psrec/core/keys.h"

#include "test_support.h"

START_TEST(test_key_round_trip_at_edges)
{
    const uint32_t tables[] = {0, 1, 7, 128, KEY_TABLE_MAX};
    const uint64_t ids[] = {0, 1, 12345, KEY_ID_MAX - 1, KEY_ID_MAX};
    for (size_t t = 0; t < sizeof tables / sizeof *tables; t++) {
        for (size_t i = 0; i < sizeof ids / sizeof *ids; i++) {
            uint64_t key = key_make(tables[t], ids[i]);
            ck_assert_uint_eq(key_table(key), tables[t]);
            ck_assert_uint_eq(key_id(key), ids[i]);
        }
    }
    /* Layout: table in the top 8 bits. */
    ck_assert_uint_eq(key_make(1, 0), UINT64_C(1) << 56);
    ck_assert_uint_eq(key_make(KEY_TABLE_MAX, KEY_ID_MAX), UINT64_MAX);
    ck_assert_uint_eq(key_make(0, 0), 0);
    /* An id wider than 56 bits is truncated, not spilled into the table. */
    ck_assert_uint_eq(key_table(key_make(3, UINT64_MAX)), 3);
    ck_assert_uint_eq(key_id(key_make(3, UINT64_MAX)), KEY_ID_MAX);
}
END_TEST

START_TEST(test_vshard_in_range)
{
    const uint32_t counts[] = {1, 2, 3, 7, 64, 1000, 4096};
    for (size_t c = 0; c < sizeof counts / sizeof *counts; c++) {
        for (uint64_t id = 0; id < 5000; id++) {
            uint64_t key = key_make((uint32_t)(id % 4), id * 7919);
            ck_assert_uint_lt(key_vshard(key, counts[c]), counts[c]);
        }
    }
    ck_assert_uint_eq(key_vshard(UINT64_MAX, 1), 0);
}
END_TEST

/* Recorded once from key_vshard itself. Every saved model is laid out by
 * these values (a shard file holds exactly the keys its slot owns, and is
 * refused otherwise): if this test fails, key_vshard changed and every model
 * saved before can no longer be loaded. Fix key_vshard; never edit the table. */
static const struct {
    uint32_t table;
    uint64_t id;
    uint32_t vshard[6]; /* for each of PINNED_VSHARD_COUNTS */
} PINNED_VSHARDS[] = {
    {0, UINT64_C(0), {0, 0, 0, 0, 0, 0}},
    {1, UINT64_C(0), {0, 0, 3, 54, 694, 27318}},
    {1, UINT64_C(1), {0, 1, 0, 39, 807, 65319}},
    {1, UINT64_C(943), {0, 1, 5, 31, 31, 31}},
    {2, UINT64_C(1), {0, 0, 0, 36, 420, 21924}},
    {2, UINT64_C(1682), {0, 0, 4, 38, 614, 21094}},
    {1, UINT64_C(123456789), {0, 0, 6, 58, 186, 36026}},
    {2, UINT64_C(72057594037927935), {0, 0, 0, 58, 634, 18042}},
    {3, UINT64_C(42), {0, 0, 0, 2, 834, 26434}},
    {7, UINT64_C(1000000007), {0, 0, 4, 8, 776, 60168}},
    {255, UINT64_C(0), {0, 0, 1, 50, 562, 47666}},
    {255, UINT64_C(72057594037927935), {0, 1, 0, 59, 379, 48507}},
};
static const uint32_t PINNED_VSHARD_COUNTS[6] = {1, 2, 7, 64, 1024, 65536};

START_TEST(test_vshard_pinned)
{
    for (size_t k = 0; k < sizeof PINNED_VSHARDS / sizeof *PINNED_VSHARDS; k++) {
        uint64_t key = key_make(PINNED_VSHARDS[k].table, PINNED_VSHARDS[k].id);
        for (size_t c = 0; c < 6; c++)
            ck_assert_msg(key_vshard(key, PINNED_VSHARD_COUNTS[c]) == PINNED_VSHARDS[k].vshard[c],
                          "key %u:%llu with %u vshards: vshard %u, pinned %u: the hash changed "
                          "and saved models no longer load",
                          PINNED_VSHARDS[k].table, (unsigned long long)PINNED_VSHARDS[k].id,
                          PINNED_VSHARD_COUNTS[c], key_vshard(key, PINNED_VSHARD_COUNTS[c]),
                          PINNED_VSHARDS[k].vshard[c]);
    }
}
END_TEST

START_TEST(test_vshard_spread_even)
{
    enum { N_VSHARDS = 64, N_KEYS = 100000 };
    unsigned counts[N_VSHARDS] = {0};
    /* Sequential ids in two tables: the structured case real data produces. */
    for (uint64_t i = 0; i < N_KEYS; i++)
        counts[key_vshard(key_make((uint32_t)(i & 1), i >> 1), N_VSHARDS)]++;
    double mean = (double)N_KEYS / N_VSHARDS;
    for (int v = 0; v < N_VSHARDS; v++) {
        ck_assert_msg(counts[v] > 0.8 * mean && counts[v] < 1.2 * mean,
                      "vshard %d holds %u keys, mean %.0f", v, counts[v], mean);
    }
}
END_TEST

START_TEST(test_shardmap_default)
{
    const uint32_t layouts[][2] = {{64, 1}, {64, 3}, {64, 64}, {100, 7}, {5, 5}};
    for (size_t l = 0; l < sizeof layouts / sizeof *layouts; l++) {
        ShardMap map;
        shardmap_init(&map, layouts[l][0], layouts[l][1]);
        ck_assert_uint_eq(map.n_vshards, layouts[l][0]);
        ck_assert_uint_eq(map.n_servers, layouts[l][1]);
        unsigned *owned = calloc(map.n_servers, sizeof *owned);
        for (uint32_t v = 0; v < map.n_vshards; v++) {
            ck_assert_uint_eq(map.server_of_vshard[v], v % map.n_servers);
            owned[map.server_of_vshard[v]]++;
        }
        for (uint32_t s = 0; s < map.n_servers; s++)
            ck_assert_uint_gt(owned[s], 0);
        /* Lookup by key goes through the vshard. */
        for (uint64_t id = 0; id < 1000; id++) {
            uint64_t key = key_make(2, id);
            uint32_t server = shardmap_server_of(&map, key);
            ck_assert_uint_lt(server, map.n_servers);
            ck_assert_uint_eq(server, key_vshard(key, map.n_vshards) % map.n_servers);
        }
        free(owned);
        shardmap_free(&map);
        ck_assert_ptr_null(map.server_of_vshard);
    }
}
END_TEST

static Suite *keys_suite(void)
{
    Suite *suite = suite_create("keys");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_key_round_trip_at_edges);
    tcase_add_test(tc, test_vshard_in_range);
    tcase_add_test(tc, test_vshard_pinned);
    tcase_add_test(tc, test_vshard_spread_even);
    tcase_add_test(tc, test_shardmap_default);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    return test_run_suite(keys_suite());
}

/* test_checkpoint.c — shard files and manifests on disk.
 *
 * A store with two tables of different widths and Adam state is written and
 * read back into a fresh store, row by row, bit for bit; damaged files (one
 * flipped byte, truncation, trailing bytes, wrong magic or version) and
 * stores that do not match the file are refused with a message that starts
 * with the path, and so is a shard file read for a slot whose keys it does not
 * own; manifests round-trip exactly and bad ones name the line, the missing
 * key or the fields that contradict each other. Each test gets a fresh mkdtemp scratch folder, removed after.
 */
#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "psrec/ps/checkpoint.h"
#include "psrec/core/keys.h"

#include "test_support.h"

#define TABLE_USERS 1u
#define TABLE_ITEMS 2u

static const OptimizerConfig ADAM = {.kind = OPTIMIZER_ADAM, .learning_rate = 0.01f,
                                     .beta1 = 0.9f, .beta2 = 0.999f, .epsilon = 1e-8f};

/* Users: a bias and 7 factors; items: 3 factors. Different widths on purpose. */
static const TableSpec TABLES[2] = {
    {.table_id = TABLE_USERS, .width = 8, .zero_leading = 1, .init_std = 0.1f},
    {.table_id = TABLE_ITEMS, .width = 3, .zero_leading = 0, .init_std = 0.5f},
};

/* ---- scratch folder: a fresh one per test (a checked fixture) */

static char test_dir[64];

static void test_dir_create(void)
{
    test_scratch_create(test_dir, sizeof test_dir, "checkpoint");
}

static void test_dir_remove(void)
{
    test_scratch_remove(test_dir);
}

static void test_path(char *out, size_t bytes, const char *name)
{
    snprintf(out, bytes, "%s/%s", test_dir, name);
}

/* ---- file helpers */

static long test_file_size(const char *path)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fclose(f);
    return size;
}

static void test_file_poke(const char *path, long offset, uint8_t xor_mask)
{
    FILE *f = fopen(path, "r+b");
    ck_assert_ptr_nonnull(f);
    fseek(f, offset, SEEK_SET);
    int c = fgetc(f);
    ck_assert_int_ne(c, EOF);
    fseek(f, offset, SEEK_SET);
    fputc(c ^ xor_mask, f);
    fclose(f);
}

static void test_write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static bool test_starts_with(const char *text, const char *prefix)
{
    return strncmp(text, prefix, strlen(prefix)) == 0;
}

/* ---- a store with contents worth checking */

/* Fills the store with n_users and n_items rows; every third row also takes
 * a few Adam steps, so steps and m, v differ from row to row. */
static void test_fill_store(Store *store, size_t n_users, size_t n_items)
{
    float grad[8];
    for (size_t u = 0; u < n_users; u++) {
        uint64_t key = key_make(TABLE_USERS, u * 31 + 5);
        store_pull(store, key, true);
        for (size_t step = 0; step < u % 3; step++) {
            for (int i = 0; i < 8; i++)
                grad[i] = 0.1f * (float)((int)(u + step) % 7 - 3) + 0.01f * (float)i;
            store_push(store, key, grad);
        }
    }
    for (size_t i = 0; i < n_items; i++) {
        uint64_t key = key_make(TABLE_ITEMS, i * 17 + 1);
        /* Items are created by a push, not a pull. */
        for (int k = 0; k < 3; k++)
            grad[k] = -0.2f * (float)k + 0.05f * (float)(i % 5);
        store_push(store, key, grad);
    }
}

/* Asserts that b holds exactly a's rows: same keys in the same order, same
 * steps, the same bits in every weight and optimizer float. */
static void test_assert_same_rows(Store *a, Store *b)
{
    ck_assert_int_eq(store_table_count(a), store_table_count(b));
    for (int t = 0; t < store_table_count(a); t++) {
        size_t stride = store_row_stride(a, t);
        ck_assert_uint_eq(store_row_stride(b, t), stride);
        ck_assert_uint_eq(store_row_count(b, t), store_row_count(a, t));
        for (size_t r = 0; r < store_row_count(a, t); r++) {
            ck_assert_uint_eq(store_row_key(b, t, r), store_row_key(a, t, r));
            ck_assert_uint_eq(*store_row_step(b, t, r), *store_row_step(a, t, r));
            ck_assert_int_eq(
                memcmp(store_row_data(b, t, r), store_row_data(a, t, r), stride * sizeof(float)),
                0);
        }
    }
}

/* ---- shard round trip */

START_TEST(test_shard_round_trip)
{
    Store *store = store_create(TABLES, 2, &ADAM, 42);
    test_fill_store(store, 300, 200);
    /* Sanity of the fixture: some rows took steps, and Adam's m is non-zero. */
    ck_assert_uint_eq(*store_row_step(store, 0, 2), 2);
    ck_assert_uint_eq(store_row_stride(store, 0), 24);
    ck_assert_uint_eq(store_row_stride(store, 1), 9);
    ck_assert(store_row_data(store, 1, 0)[3 + 1] != 0.0f); /* m of weight 1 */

    char path[256];
    checkpoint_shard_path(path, sizeof path, test_dir, 0, 1);
    Error err;
    ck_assert_msg(checkpoint_write_shard(path, store, 0, &err) == 0, "%s", err.message);

    /* Exact size from the format: header, directory, rows, checksum. */
    long expected = 24 + 2 * 20 + 300 * (12 + 24 * 4) + 200 * (12 + 9 * 4) + 8;
    ck_assert_int_eq(test_file_size(path), expected);
    char tmp[300];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    ck_assert_int_ne(access(tmp, F_OK), 0); /* renamed away */

    Store *loaded = store_create(TABLES, 2, &ADAM, 42);
    ck_assert_msg(checkpoint_read_shard(path, loaded, NULL, 0, NULL, &err) == 0, "%s", err.message);
    test_assert_same_rows(store, loaded);
    /* And through the key path, as a server would see it. */
    uint64_t key = key_make(TABLE_USERS, 5 * 31 + 5);
    ck_assert_int_eq(memcmp(store_pull(loaded, key, false), store_pull(store, key, false),
                            8 * sizeof(float)),
                     0);

    store_destroy(store);
    store_destroy(loaded);
}
END_TEST

START_TEST(test_shard_large_crosses_chunks)
{
    /* About 7 MB of rows: the reader's and writer's chunks must wrap mid-row. */
    Store *store = store_create(TABLES, 2, &ADAM, 7);
    test_fill_store(store, 60000, 30000);
    char path[256];
    test_path(path, sizeof path, "big.bin");
    Error err;
    ck_assert_msg(checkpoint_write_shard(path, store, 0, &err) == 0, "%s", err.message);
    ck_assert_int_gt(test_file_size(path), 6 << 20);
    Store *loaded = store_create(TABLES, 2, &ADAM, 7);
    ck_assert_msg(checkpoint_read_shard(path, loaded, NULL, 0, NULL, &err) == 0, "%s", err.message);
    test_assert_same_rows(store, loaded);
    store_destroy(store);
    store_destroy(loaded);
}
END_TEST

START_TEST(test_shard_empty_store)
{
    Store *store = store_create(TABLES, 2, &ADAM, 1);
    char path[256];
    test_path(path, sizeof path, "empty.bin");
    Error err;
    ck_assert_int_eq(checkpoint_write_shard(path, store, 0, &err), 0);
    ck_assert_int_eq(test_file_size(path), 24 + 2 * 20 + 8);
    Store *loaded = store_create(TABLES, 2, &ADAM, 1);
    ck_assert_msg(checkpoint_read_shard(path, loaded, NULL, 0, NULL, &err) == 0, "%s", err.message);
    ck_assert_uint_eq(store_row_count(loaded, 0), 0);
    ck_assert_uint_eq(store_row_count(loaded, 1), 0);
    store_destroy(store);
    store_destroy(loaded);
}
END_TEST

/* The run id a shard names comes back; a version 1 file (no run id, the
 * format before it) still reads, with run id 0. */
START_TEST(test_shard_run_id_and_version_1)
{
    Store *store = store_create(TABLES, 2, &ADAM, 42);
    test_fill_store(store, 20, 10);
    char path[256], old[256];
    test_path(path, sizeof path, "run.bin");
    Error err;
    ck_assert_msg(checkpoint_write_shard(path, store, 0xfeedbeef12345678ULL, &err) == 0, "%s",
                  err.message);
    Store *loaded = store_create(TABLES, 2, &ADAM, 42);
    uint64_t run_id = 0;
    ck_assert_msg(checkpoint_read_shard(path, loaded, NULL, 0, &run_id, &err) == 0, "%s",
                  err.message);
    ck_assert_uint_eq(run_id, 0xfeedbeef12345678ULL);
    store_destroy(loaded);

    /* Version 1: the same bytes without the run id, version 1, its own
     * checksum. */
    FILE *in = fopen(path, "rb");
    ck_assert_ptr_nonnull(in);
    long size = test_file_size(path);
    uint8_t *bytes = malloc((size_t)size);
    ck_assert_uint_eq(fread(bytes, 1, (size_t)size, in), (size_t)size);
    fclose(in);
    size_t v1_size = (size_t)size - 8;
    uint8_t *v1 = malloc(v1_size);
    memcpy(v1, bytes, 16);
    v1[8] = 1;
    memcpy(v1 + 16, bytes + 24, v1_size - 16 - 8);
    uint64_t checksum = checksum_update(CHECKSUM_INIT, v1, v1_size - 8);
    memcpy(v1 + v1_size - 8, &checksum, 8);
    test_path(old, sizeof old, "v1.bin");
    FILE *out = fopen(old, "wb");
    ck_assert_uint_eq(fwrite(v1, 1, v1_size, out), v1_size);
    fclose(out);
    loaded = store_create(TABLES, 2, &ADAM, 42);
    run_id = 7;
    ck_assert_msg(checkpoint_read_shard(old, loaded, NULL, 0, &run_id, &err) == 0, "%s",
                  err.message);
    ck_assert_uint_eq(run_id, 0);
    test_assert_same_rows(store, loaded);
    store_destroy(loaded);
    store_destroy(store);
    free(bytes);
    free(v1);
}
END_TEST

/* ---- damaged files */

/* Writes the fixture shard to dir/name and returns its path in out. */
static void test_write_fixture(char *out, size_t bytes, const char *name)
{
    Store *store = store_create(TABLES, 2, &ADAM, 42);
    test_fill_store(store, 50, 40);
    test_path(out, bytes, name);
    Error err;
    ck_assert_msg(checkpoint_write_shard(out, store, 0, &err) == 0, "%s", err.message);
    store_destroy(store);
}

/* Reading path into a fresh fixture-shaped store fails with a message that
 * starts with the path and contains `expected`. */
static void test_assert_read_fails(const char *path, const char *expected)
{
    Store *store = store_create(TABLES, 2, &ADAM, 42);
    Error err = {{0}};
    ck_assert_int_eq(checkpoint_read_shard(path, store, NULL, 0, NULL, &err), -1);
    ck_assert_msg(test_starts_with(err.message, path), "message does not start with the path: %s",
                  err.message);
    ck_assert_msg(strstr(err.message, expected) != NULL, "expected '%s' in: %s", expected,
                  err.message);
    store_destroy(store);
}

START_TEST(test_shard_flipped_byte)
{
    char path[256];
    test_write_fixture(path, sizeof path, "flip.bin");
    /* A byte inside the floats of user row 25 (not a key, which would be
     * caught earlier for naming the wrong table). */
    long offset = 24 + 2 * 20 + 25 * (12 + 24 * 4) + 12 + 37;
    test_file_poke(path, offset, 0x10);
    test_assert_read_fails(path, "checksum mismatch: the file is corrupt");
    /* Flipping it back makes the file good again: the test would see any other damage. */
    test_file_poke(path, offset, 0x10);
    Store *store = store_create(TABLES, 2, &ADAM, 42);
    Error err;
    ck_assert_msg(checkpoint_read_shard(path, store, NULL, 0, NULL, &err) == 0, "%s", err.message);
    store_destroy(store);

    /* A step field, and the checksum itself, are covered too. */
    test_file_poke(path, 24 + 2 * 20 + 3 * (12 + 24 * 4) + 8, 0x01);
    test_assert_read_fails(path, "checksum mismatch");
    test_file_poke(path, 24 + 2 * 20 + 3 * (12 + 24 * 4) + 8, 0x01);
    test_file_poke(path, test_file_size(path) - 3, 0x80);
    test_assert_read_fails(path, "checksum mismatch");
}
END_TEST

START_TEST(test_shard_corrupt_key_table)
{
    char path[256];
    test_write_fixture(path, sizeof path, "key.bin");
    /* The top byte of user row 10's key is its table id: 1 → 9. */
    test_file_poke(path, 24 + 2 * 20 + 10 * (12 + 24 * 4) + 7, 0x08);
    test_assert_read_fails(path, "has a key of table 9");
}
END_TEST

START_TEST(test_shard_truncated_and_trailing)
{
    char path[256];
    test_write_fixture(path, sizeof path, "cut.bin");
    long size = test_file_size(path);
    ck_assert_int_eq(truncate(path, size - 1), 0);
    test_assert_read_fails(path, "truncated");
    ck_assert_int_eq(truncate(path, size / 2), 0);
    test_assert_read_fails(path, "truncated");
    ck_assert_int_eq(truncate(path, 30), 0); /* inside the directory */
    test_assert_read_fails(path, "truncated");
    ck_assert_int_eq(truncate(path, 5), 0);
    test_assert_read_fails(path, "not a psrec shard file");
    ck_assert_int_eq(truncate(path, 0), 0);
    test_assert_read_fails(path, "not a psrec shard file");

    test_write_fixture(path, sizeof path, "cut.bin");
    FILE *f = fopen(path, "ab");
    fputs("xyz", f);
    fclose(f);
    test_assert_read_fails(path, "3 unexpected bytes");
}
END_TEST

START_TEST(test_shard_wrong_magic_and_version)
{
    char path[256];
    test_write_fixture(path, sizeof path, "magic.bin");
    test_file_poke(path, 0, 0x20); /* 'P' → 'p' */
    test_assert_read_fails(path, "not a psrec shard file");

    test_write_fixture(path, sizeof path, "magic.bin");
    test_file_poke(path, 8, 0x01); /* version 2 → 3 */
    test_assert_read_fails(path, "shard format version 3");

    test_write_text(path, "user_id,item_id,rating\n1,2,3.5\n");
    test_assert_read_fails(path, "not a psrec shard file");

    char missing[256];
    test_path(missing, sizeof missing, "no-such-file.bin");
    test_assert_read_fails(missing, "cannot open");
}
END_TEST

START_TEST(test_shard_store_mismatch)
{
    char path[256];
    test_write_fixture(path, sizeof path, "mismatch.bin");
    Error err;

    /* Items 4 wide instead of 3 (another dim). */
    TableSpec wider[2] = {TABLES[0], TABLES[1]};
    wider[1].width = 4;
    Store *store = store_create(wider, 2, &ADAM, 42);
    ck_assert_int_eq(checkpoint_read_shard(path, store, NULL, 0, NULL, &err), -1);
    ck_assert(test_starts_with(err.message, path));
    ck_assert_ptr_nonnull(strstr(err.message, "table 2 has width 3 in the file but 4"));
    store_destroy(store);

    /* Same widths, Adagrad instead of Adam: the stride differs. */
    OptimizerConfig adagrad = ADAM;
    adagrad.kind = OPTIMIZER_ADAGRAD;
    store = store_create(TABLES, 2, &adagrad, 42);
    ck_assert_int_eq(checkpoint_read_shard(path, store, NULL, 0, NULL, &err), -1);
    ck_assert(test_starts_with(err.message, path));
    ck_assert_ptr_nonnull(strstr(err.message, "24 floats per row in the file but 16"));
    store_destroy(store);

    /* The items table is missing from the model. */
    store = store_create(TABLES, 1, &ADAM, 42);
    ck_assert_int_eq(checkpoint_read_shard(path, store, NULL, 0, NULL, &err), -1);
    ck_assert(test_starts_with(err.message, path));
    ck_assert_ptr_nonnull(strstr(err.message, "table 2 is not part of this model"));
    ck_assert_uint_eq(store_row_count(store, 0), 0); /* refused before any row */
    store_destroy(store);
}
END_TEST

/* Splits the fixture rows between two stores by the owner of each key. */
static void test_split_store(Store *whole, const ShardMap *map, Store *parts[2])
{
    for (int t = 0; t < store_table_count(whole); t++) {
        for (size_t r = 0; r < store_row_count(whole, t); r++) {
            uint64_t key = store_row_key(whole, t, r);
            store_put_row(parts[shardmap_server_of(map, key)], key, store_row_data(whole, t, r),
                          *store_row_step(whole, t, r));
        }
    }
}

START_TEST(test_shard_owner_check)
{
    ShardMap map;
    shardmap_init(&map, 16, 2);
    Store *whole = store_create(TABLES, 2, &ADAM, 42);
    test_fill_store(whole, 50, 40);
    Store *parts[2] = {store_create(TABLES, 2, &ADAM, 42), store_create(TABLES, 2, &ADAM, 42)};
    test_split_store(whole, &map, parts);
    /* Both servers own rows, so reading either file in the wrong slot is caught. */
    ck_assert_uint_gt(store_row_count(parts[0], 0), 0);
    ck_assert_uint_gt(store_row_count(parts[1], 0), 0);

    char paths[2][256];
    Error err;
    for (int s = 0; s < 2; s++) {
        checkpoint_shard_path(paths[s], sizeof paths[s], test_dir, s, 2);
        ck_assert_msg(checkpoint_write_shard(paths[s], parts[s], 0, &err) == 0, "%s", err.message);
    }

    /* Each file in its own slot: accepted, every row back. */
    Store *loaded = store_create(TABLES, 2, &ADAM, 42);
    for (int s = 0; s < 2; s++)
        ck_assert_msg(checkpoint_read_shard(paths[s], loaded, &map, s, NULL, &err) == 0, "%s",
                      err.message);
    ck_assert_uint_eq(store_row_count(loaded, 0), 50);
    ck_assert_uint_eq(store_row_count(loaded, 1), 40);
    store_destroy(loaded);

    /* Shard 0 read as shard 1 (and the reverse): refused at its first row,
     * naming the file, the key, its owner and the slot asked for. */
    for (int s = 0; s < 2; s++) {
        uint64_t first = store_row_key(parts[s], 0, 0);
        char expected[768];
        snprintf(expected, sizeof expected,
                 "%s: holds key %u:%llu, which belongs to shard %d of 2, not shard %d: shard "
                 "files are mixed up",
                 paths[s], key_table(first), (unsigned long long)key_id(first), s, 1 - s);
        loaded = store_create(TABLES, 2, &ADAM, 42);
        Error wrong = {{0}};
        ck_assert_int_eq(checkpoint_read_shard(paths[s], loaded, &map, 1 - s, NULL, &wrong), -1);
        ck_assert_str_eq(wrong.message, expected);
        store_destroy(loaded);
    }

    /* NULL skips the check: any file goes into any store. */
    loaded = store_create(TABLES, 2, &ADAM, 42);
    ck_assert_msg(checkpoint_read_shard(paths[0], loaded, NULL, 1, NULL, &err) == 0, "%s", err.message);
    test_assert_same_rows(parts[0], loaded);
    store_destroy(loaded);

    /* With one server, server 0 owns every key. */
    ShardMap single;
    shardmap_init(&single, 16, 1);
    loaded = store_create(TABLES, 2, &ADAM, 42);
    ck_assert_msg(checkpoint_read_shard(paths[1], loaded, &single, 0, NULL, &err) == 0, "%s",
                  err.message);
    store_destroy(loaded);
    shardmap_free(&single);

    store_destroy(parts[0]);
    store_destroy(parts[1]);
    store_destroy(whole);
    shardmap_free(&map);
}
END_TEST

START_TEST(test_shard_write_error)
{
    Store *store = store_create(TABLES, 2, &ADAM, 42);
    Error err;
    const char *path = "/nonexistent-psrec-folder/shard.bin";
    ck_assert_int_eq(checkpoint_write_shard(path, store, 0, &err), -1);
    ck_assert(test_starts_with(err.message, path));
    ck_assert_ptr_nonnull(strstr(err.message, "No such file or directory"));
    store_destroy(store);
}
END_TEST

START_TEST(test_shard_path_format)
{
    char out[128];
    checkpoint_shard_path(out, sizeof out, "runs/model", 1, 4);
    ck_assert_str_eq(out, "runs/model/shard-00001-of-00004.bin");
    checkpoint_shard_path(out, sizeof out, "/m", 12, 123456);
    ck_assert_str_eq(out, "/m/shard-00012-of-123456.bin");
    checkpoint_shard_path(out, 10, "runs/model", 1, 4); /* cut, but terminated */
    ck_assert_str_eq(out, "runs/mode");
}
END_TEST

/* ---- manifest */

static ModelManifest test_manifest(void)
{
    ModelManifest m = {.version = CHECKPOINT_MANIFEST_VERSION,
                       .dim = 32,
                       .n_servers = 4,
                       .n_vshards = 1024,
                       .optimizer = OPTIMIZER_ADAM,
                       .init_seed = UINT64_MAX - 5,
                       .epochs_done = 7,
                       .clock = 123456789012ull,
                       .global_mean = 3.5299999,
                       .rating_min = 0.1,
                       .rating_max = 5.0};
    strcpy(m.model, "mf");
    return m;
}

START_TEST(test_manifest_round_trip)
{
    char path[256];
    test_path(path, sizeof path, "manifest.txt");
    ModelManifest m = test_manifest();
    Error err;
    ck_assert_msg(checkpoint_write_manifest(path, &m, &err) == 0, "%s", err.message);

    ModelManifest back;
    ck_assert_msg(checkpoint_read_manifest(path, &back, &err) == 0, "%s", err.message);
    ck_assert_int_eq(back.version, CHECKPOINT_MANIFEST_VERSION);
    ck_assert_str_eq(back.model, "mf");
    ck_assert_int_eq(back.dim, 32);
    ck_assert_int_eq(back.n_servers, 4);
    ck_assert_int_eq(back.n_vshards, 1024);
    ck_assert_int_eq(back.optimizer, OPTIMIZER_ADAM);
    ck_assert_uint_eq(back.init_seed, UINT64_MAX - 5);
    ck_assert_int_eq(back.epochs_done, 7);
    ck_assert_uint_eq(back.clock, 123456789012ull);
    /* Exact equality: %.17g must give back the very same doubles. */
    ck_assert(back.global_mean == 3.5299999);
    ck_assert(back.rating_min == 0.1);
    ck_assert(back.rating_max == 5.0);

    /* A hand-written manifest with comments, blank lines, odd spacing and the
     * keys in another order reads the same. */
    test_write_text(path, "# by hand\n\n"
                          "model=bpr\n  dim   =  16  \nversion = 1\nn_servers = 2\n"
                          "n_vshards = 64\noptimizer = 1\ninit_seed = 9\nepochs_done = 0\n"
                          "clock = 0\nglobal_mean = 0\nrating_min = -1e-3\nrating_max = 1\n");
    ck_assert_msg(checkpoint_read_manifest(path, &back, &err) == 0, "%s", err.message);
    ck_assert_str_eq(back.model, "bpr");
    ck_assert_int_eq(back.dim, 16);
    ck_assert(back.rating_min == -1e-3);
}
END_TEST

/* A warm-started model names its source (run id and manifest checksum);
 * the reader hands back the checksum line's value, which is the one that
 * names this exact manifest: any other field changes it. */
START_TEST(test_manifest_warm_start_and_checksum)
{
    char path[256], other[256];
    test_path(path, sizeof path, "manifest.txt");
    test_path(other, sizeof other, "other.txt");
    ModelManifest m = test_manifest();
    m.warm_start_run_id = 0x1234abcd5678ef00ull;
    m.warm_start_checksum = UINT64_MAX - 1;
    Error err;
    ck_assert_msg(checkpoint_write_manifest(path, &m, &err) == 0, "%s", err.message);
    ModelManifest back;
    ck_assert_msg(checkpoint_read_manifest(path, &back, &err) == 0, "%s", err.message);
    ck_assert_uint_eq(back.warm_start_run_id, 0x1234abcd5678ef00ull);
    ck_assert_uint_eq(back.warm_start_checksum, UINT64_MAX - 1);
    /* The checksum is the file's last line, as written. */
    FILE *file = fopen(path, "r");
    ck_assert_ptr_nonnull(file);
    char line[256], last[256] = "";
    while (fgets(line, sizeof line, file))
        strcpy(last, line);
    fclose(file);
    unsigned long long written = 0;
    ck_assert_int_eq(sscanf(last, "checksum = %llu", &written), 1);
    ck_assert_uint_ne(back.checksum, 0);
    ck_assert_uint_eq(back.checksum, written);

    m.warm_start_checksum = 0; /* one field changed: another checksum */
    ck_assert_msg(checkpoint_write_manifest(other, &m, &err) == 0, "%s", err.message);
    ModelManifest changed;
    ck_assert_msg(checkpoint_read_manifest(other, &changed, &err) == 0, "%s", err.message);
    ck_assert_uint_ne(changed.checksum, back.checksum);
    ck_assert_uint_eq(changed.warm_start_checksum, 0);

    /* A manifest without the keys (older files) reads them as 0, and one
     * without a checksum line has checksum 0. */
    test_write_text(path, "version = 1\nmodel = mf\ndim = 8\nn_servers = 1\nn_vshards = 4\n"
                          "optimizer = 2\ninit_seed = 9\nepochs_done = 0\nclock = 0\n"
                          "global_mean = 0\nrating_min = 1\nrating_max = 5\n");
    ck_assert_msg(checkpoint_read_manifest(path, &back, &err) == 0, "%s", err.message);
    ck_assert_uint_eq(back.warm_start_run_id, 0);
    ck_assert_uint_eq(back.warm_start_checksum, 0);
    ck_assert_uint_eq(back.checksum, 0);
}
END_TEST

/* Writes text as a manifest and expects reading it to fail with a message
 * that is the path followed by expected_suffix (":LINE: ..." or ": ..."). */
static void test_manifest_fails(const char *text, const char *expected_suffix)
{
    char path[256];
    test_path(path, sizeof path, "bad-manifest.txt");
    test_write_text(path, text);
    ModelManifest back;
    Error err;
    ck_assert_int_eq(checkpoint_read_manifest(path, &back, &err), -1);
    char expected[512];
    snprintf(expected, sizeof expected, "%s%s", path, expected_suffix);
    ck_assert_msg(test_starts_with(err.message, expected), "expected '%s...', got '%s'", expected,
                  err.message);
}

#define MANIFEST_GOOD_TAIL                                                                   \
    "n_servers = 2\nn_vshards = 64\noptimizer = 2\ninit_seed = 9\nepochs_done = 0\n"          \
    "clock = 0\nglobal_mean = 0\nrating_min = 1\nrating_max = 5\n"

START_TEST(test_manifest_errors)
{
    /* The good base reads; each case below breaks one thing. */
    char path[256];
    test_path(path, sizeof path, "good.txt");
    test_write_text(path, "version = 1\nmodel = mf\ndim = 8\n" MANIFEST_GOOD_TAIL);
    ModelManifest back;
    Error err;
    ck_assert_msg(checkpoint_read_manifest(path, &back, &err) == 0, "%s", err.message);

    test_manifest_fails("version = 1\nmodel = mf\ndim = 8\nlearning_rate = 0.1\n" MANIFEST_GOOD_TAIL,
                        ":4: unknown key 'learning_rate'");
    test_manifest_fails("version = 1\nmodel = mf\n" MANIFEST_GOOD_TAIL, ": missing key 'dim'");
    test_manifest_fails("version = 1\nmodel = mf\ndim = eight\n" MANIFEST_GOOD_TAIL,
                        ":3: dim must be an integer");
    test_manifest_fails("version = 1\nmodel = mf\ndim = 0\n" MANIFEST_GOOD_TAIL,
                        ":3: dim must be an integer from 1");
    test_manifest_fails("version = 1\nmodel = mf\ndim = 8x\n" MANIFEST_GOOD_TAIL,
                        ":3: dim must be an integer");
    test_manifest_fails("version = 2\nmodel = mf\ndim = 8\n" MANIFEST_GOOD_TAIL,
                        ":1: manifest version 2, but this psrec reads version 1");
    test_manifest_fails("version = 1\nmodel = mf\ndim = 8\ndim = 9\n" MANIFEST_GOOD_TAIL,
                        ":4: key 'dim' is given twice");
    test_manifest_fails("version = 1\nmodel = mf\ndim = 8\njust words\n" MANIFEST_GOOD_TAIL,
                        ":4: expected 'key = value'");
    test_manifest_fails("version = 1\nmodel =\ndim = 8\n" MANIFEST_GOOD_TAIL,
                        ":2: model must be a name");
    test_manifest_fails("version = 1\nmodel = mf\ndim = 8\n" MANIFEST_GOOD_TAIL "clock = -1\n",
                        ":13: key 'clock' is given twice");
    test_manifest_fails("version = 1\nmodel = mf\ndim = 8\ninit_seed = -1\n",
                        ":4: init_seed must be an unsigned integer");
    test_manifest_fails("version = 1\nmodel = mf\ndim = 8\nglobal_mean = nan\n",
                        ":4: global_mean must be a finite number");
    test_manifest_fails("version = 1\nmodel = mf\ndim = 8\noptimizer = 3\n",
                        ":4: optimizer must be an integer from 0 to 2");
    test_manifest_fails("", ": missing key 'version'");
}
END_TEST

START_TEST(test_manifest_contradictions)
{
    /* Every value is fine alone; together they cannot describe a model. */
    test_manifest_fails("version = 1\nmodel = mf\ndim = 8\nn_servers = 2\nn_vshards = 64\n"
                        "optimizer = 2\ninit_seed = 9\nepochs_done = 0\nclock = 0\n"
                        "global_mean = 0\nrating_min = 9\nrating_max = 5\n",
                        ": rating_min 9 is above rating_max 5");
    test_manifest_fails("version = 1\nmodel = mf\ndim = 8\nn_servers = 4\nn_vshards = 3\n"
                        "optimizer = 2\ninit_seed = 9\nepochs_done = 0\nclock = 0\n"
                        "global_mean = 0\nrating_min = 1\nrating_max = 5\n",
                        ": n_vshards 3 is below n_servers 4");

    /* The edges are fine: a single rating value, one virtual shard per server. */
    char path[256];
    test_path(path, sizeof path, "edge.txt");
    test_write_text(path, "version = 1\nmodel = mf\ndim = 8\nn_servers = 4\nn_vshards = 4\n"
                          "optimizer = 2\ninit_seed = 9\nepochs_done = 0\nclock = 0\n"
                          "global_mean = 0\nrating_min = 5\nrating_max = 5\n");
    ModelManifest back;
    Error err;
    ck_assert_msg(checkpoint_read_manifest(path, &back, &err) == 0, "%s", err.message);
    ck_assert_int_eq(back.n_vshards, 4);
    ck_assert(back.rating_min == 5.0 && back.rating_max == 5.0);
}
END_TEST

static Suite *checkpoint_suite(void)
{
    Suite *s = suite_create("checkpoint");
    TCase *shard = tcase_create("shard");
    tcase_add_checked_fixture(shard, test_dir_create, test_dir_remove);
    tcase_set_timeout(shard, 60);
    tcase_add_test(shard, test_shard_round_trip);
    tcase_add_test(shard, test_shard_run_id_and_version_1);
    tcase_add_test(shard, test_shard_large_crosses_chunks);
    tcase_add_test(shard, test_shard_empty_store);
    tcase_add_test(shard, test_shard_flipped_byte);
    tcase_add_test(shard, test_shard_corrupt_key_table);
    tcase_add_test(shard, test_shard_truncated_and_trailing);
    tcase_add_test(shard, test_shard_wrong_magic_and_version);
    tcase_add_test(shard, test_shard_store_mismatch);
    tcase_add_test(shard, test_shard_owner_check);
    tcase_add_test(shard, test_shard_write_error);
    tcase_add_test(shard, test_shard_path_format);
    suite_add_tcase(s, shard);

    TCase *manifest = tcase_create("manifest");
    tcase_add_checked_fixture(manifest, test_dir_create, test_dir_remove);
    tcase_add_test(manifest, test_manifest_round_trip);
    tcase_add_test(manifest, test_manifest_warm_start_and_checksum);
    tcase_add_test(manifest, test_manifest_errors);
    tcase_add_test(manifest, test_manifest_contradictions);
    suite_add_tcase(s, manifest);
    return s;
}

int main(void)
{
    return test_run_suite(checkpoint_suite());
}

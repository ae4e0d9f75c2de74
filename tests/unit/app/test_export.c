/* test_export.c — `psrec export`: a model folder to .npy and _ids.csv files.
 *
 * A small mf model (two tables, Adam state, rows in no particular order,
 * split over two shard files) is written as a run folder the way `psrec
 * train` leaves it, exported, and read back by an independent .npy reader
 * written here from the NumPy format 1.0 description. Every float is compared
 * bit for bit with the values the test generated (not with the store), every
 * id with the sorted ids it inserted. Missing models, unwritable output
 * folders and bad flags give the documented messages and exit codes.
 */
#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "psrec/app/export.h"
#include "psrec/core/keys.h"
#include "psrec/models/model.h"
#include "psrec/ps/checkpoint.h"

#include "test_support.h"

#define DIM 4
#define WIDTH (DIM + 1)
#define N_USERS 40
#define N_ITEMS 25
#define N_SERVERS 2
#define N_VSHARDS 8

static const OptimizerConfig ADAM = {.kind = OPTIMIZER_ADAM, .learning_rate = 0.01f,
                                     .beta1 = 0.9f, .beta2 = 0.999f, .epsilon = 1e-8f};

/* ---- scratch: RUN (the scratch folder), RUN/model and RUN/out */

static char run_dir[64];
static char model_dir[96];
static char out_dir[96];

static void test_dirs_create(void)
{
    test_scratch_create(run_dir, sizeof run_dir, "export");
    snprintf(model_dir, sizeof model_dir, "%s/model", run_dir);
    snprintf(out_dir, sizeof out_dir, "%s/out", run_dir);
}

/* Removes RUN/model and RUN/out when they exist, then RUN. */
static void test_dirs_remove(void)
{
    if (access(model_dir, F_OK) == 0)
        test_scratch_remove(model_dir);
    if (access(out_dir, F_OK) == 0)
        test_scratch_remove(out_dir);
    test_scratch_remove(run_dir);
}

/* ---- the model the tests export: ids and values known without the store */

/* The ids of a table, distinct and in no order: 0, the largest id, and
 * scattered ones. */
static uint64_t test_id(uint32_t table, size_t i)
{
    if (i == 0)
        return KEY_ID_MAX;
    if (i == 1)
        return 0;
    return hash_u64((uint64_t)table * 1000 + i) % 1000003;
}

static size_t test_n_rows(uint32_t table) { return table == MODEL_TABLE_USER ? N_USERS : N_ITEMS; }

/* Weight k of the row of (table, id): varied signs and magnitudes, and a
 * negative zero to catch a writer that goes through arithmetic. */
static float test_weight(uint32_t table, uint64_t id, uint32_t k)
{
    if (id == 0 && k == 0)
        return -0.0f;
    uint64_t h = hash_u64(id * 131 + k * 7 + table);
    return (float)((int64_t)(h % 200001) - 100000) / 37.0f * (k % 2 ? 1e-3f : 1.0f);
}

/* Optimizer state gets a value no weight has, so a leak into the export
 * shows. */
#define TEST_STATE_VALUE 12345.5f

static Store *test_model_store(void)
{
    ModelParams params = {.dim = DIM};
    TableSpec specs[STORE_MAX_TABLES];
    int n_tables = model_find("mf")->table_specs(&params, specs);
    ck_assert_int_eq(n_tables, 2);
    return store_create(specs, n_tables, &ADAM, 42);
}

/* Writes the test model as run_dir/model: the rows of both tables split
 * over N_SERVERS shard files by key owner, and the manifest. */
static void test_write_model(void)
{
    ck_assert_int_eq(mkdir(model_dir, 0755), 0);
    ShardMap map;
    shardmap_init(&map, N_VSHARDS, N_SERVERS);
    Store *parts[N_SERVERS];
    for (int s = 0; s < N_SERVERS; s++)
        parts[s] = test_model_store();
    size_t stride = store_row_stride(parts[0], 0);
    ck_assert_uint_gt(stride, WIDTH); /* Adam keeps state behind the weights */
    float *row = malloc(stride * sizeof *row);
    const uint32_t tables[] = {MODEL_TABLE_USER, MODEL_TABLE_ITEM};
    for (int t = 0; t < 2; t++) {
        for (size_t i = 0; i < test_n_rows(tables[t]); i++) {
            uint64_t id = test_id(tables[t], i);
            for (uint32_t k = 0; k < stride; k++)
                row[k] = k < WIDTH ? test_weight(tables[t], id, k) : TEST_STATE_VALUE;
            uint64_t key = key_make(tables[t], id);
            store_put_row(parts[shardmap_server_of(&map, key)], key, row, 3);
        }
    }
    free(row);
    char path[256];
    Error err;
    for (int s = 0; s < N_SERVERS; s++) {
        ck_assert_uint_gt(store_row_count(parts[s], 0), 0); /* both files matter */
        checkpoint_shard_path(path, sizeof path, model_dir, s, N_SERVERS);
        ck_assert_msg(checkpoint_write_shard(path, parts[s], 0, &err) == 0, "%s", err.message);
        store_destroy(parts[s]);
    }
    shardmap_free(&map);

    ModelManifest manifest = {.version = CHECKPOINT_MANIFEST_VERSION, .dim = DIM,
                              .n_servers = N_SERVERS, .n_vshards = N_VSHARDS,
                              .optimizer = OPTIMIZER_ADAM, .init_seed = 42, .epochs_done = 3,
                              .clock = 10, .global_mean = 3.5299999, .rating_min = 1.0,
                              .rating_max = 5.0};
    strcpy(manifest.model, "mf");
    snprintf(path, sizeof path, "%s/manifest.txt", model_dir);
    ck_assert_msg(checkpoint_write_manifest(path, &manifest, &err) == 0, "%s", err.message);
}

/* ---- an independent reader */

/* The whole file in a malloc'd buffer (the caller frees it). */
static uint8_t *test_read_file(const char *path, size_t *bytes)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    long size = ftell(f);
    ck_assert_int_ge(size, 0);
    rewind(f);
    uint8_t *data = malloc((size_t)size + 1);
    ck_assert_uint_eq(fread(data, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    data[size] = '\0';
    *bytes = (size_t)size;
    return data;
}

/* Reads a float32 C-order 2-D .npy file as the format 1.0 describes it.
 * Returns the floats (malloc'd, rows × cols) and their shape. */
static float *test_read_npy(const char *path, size_t *rows, size_t *cols)
{
    size_t bytes = 0;
    uint8_t *file = test_read_file(path, &bytes);
    ck_assert_uint_ge(bytes, 10);
    ck_assert_int_eq(memcmp(file, "\x93NUMPY", 6), 0);
    ck_assert_uint_eq(file[6], 1);
    ck_assert_uint_eq(file[7], 0);
    size_t header_bytes = (size_t)file[8] | (size_t)file[9] << 8;
    size_t data_offset = 10 + header_bytes;
    ck_assert_uint_eq(data_offset % 64, 0); /* what numpy writes */
    ck_assert_uint_le(data_offset, bytes);
    char *header = (char *)file + 10;
    ck_assert_int_eq(header[header_bytes - 1], '\n');

    unsigned long long n_rows = 0, n_cols = 0;
    int consumed = 0;
    ck_assert_int_eq(sscanf(header,
                            "{'descr': '<f4', 'fortran_order': False, 'shape': (%llu, %llu), }%n",
                            &n_rows, &n_cols, &consumed),
                     2);
    ck_assert_int_gt(consumed, 0);
    for (size_t i = (size_t)consumed; i + 1 < header_bytes; i++)
        ck_assert_msg(header[i] == ' ', "%s: header byte %zu is '%c', not padding", path, i,
                      header[i]);

    ck_assert_uint_eq(bytes - data_offset, n_rows * n_cols * 4);
    float *values = malloc((size_t)(n_rows * n_cols + 1) * sizeof *values);
    for (size_t i = 0; i < n_rows * n_cols; i++) {
        const uint8_t *p = file + data_offset + 4 * i;
        uint32_t bits = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                        (uint32_t)p[3] << 24;
        memcpy(&values[i], &bits, sizeof bits);
    }
    free(file);
    *rows = (size_t)n_rows;
    *cols = (size_t)n_cols;
    return values;
}

/* Reads a `row,id` CSV: checks the header and the row numbers, returns the
 * ids (malloc'd) and their count. */
static uint64_t *test_read_ids(const char *path, size_t *n)
{
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    char line[128];
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
    ck_assert_str_eq(line, "row,id\n");
    uint64_t *ids = malloc(1000 * sizeof *ids);
    size_t count = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long long row = 0, id = 0;
        char end = 0;
        ck_assert_int_eq(sscanf(line, "%llu,%llu%c", &row, &id, &end), 3);
        ck_assert_int_eq(end, '\n');
        ck_assert_uint_eq(row, count);
        ck_assert_uint_lt(count, 1000);
        ids[count++] = id;
    }
    fclose(f);
    *n = count;
    return ids;
}

static int test_compare_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Checks out_dir/<name>.npy and <name>_ids.csv hold exactly the test's rows
 * of table: the ids sorted, each row's weights bit for bit. */
static void test_assert_table(const char *name, uint32_t table)
{
    size_t n_expected = test_n_rows(table);
    uint64_t *expected = malloc(n_expected * sizeof *expected);
    for (size_t i = 0; i < n_expected; i++)
        expected[i] = test_id(table, i);
    qsort(expected, n_expected, sizeof *expected, test_compare_u64);
    for (size_t i = 1; i < n_expected; i++)
        ck_assert_uint_lt(expected[i - 1], expected[i]); /* the fixture's ids are distinct */

    char path[256];
    snprintf(path, sizeof path, "%s/%s_ids.csv", out_dir, name);
    size_t n_ids = 0;
    uint64_t *ids = test_read_ids(path, &n_ids);
    ck_assert_uint_eq(n_ids, n_expected);
    for (size_t i = 0; i < n_ids; i++)
        ck_assert_uint_eq(ids[i], expected[i]);

    snprintf(path, sizeof path, "%s/%s.npy", out_dir, name);
    size_t rows = 0, cols = 0;
    float *values = test_read_npy(path, &rows, &cols);
    ck_assert_uint_eq(rows, n_expected);
    ck_assert_uint_eq(cols, WIDTH);
    for (size_t r = 0; r < rows; r++) {
        for (uint32_t k = 0; k < WIDTH; k++) {
            float want = test_weight(table, expected[r], k);
            ck_assert_msg(memcmp(&values[r * cols + k], &want, sizeof want) == 0,
                          "%s row %zu (id %llu) column %u: %a, expected %a", name, r,
                          (unsigned long long)expected[r], k, (double)values[r * cols + k],
                          (double)want);
        }
    }
    free(values);
    free(ids);
    free(expected);
}

/* ---- tests */

START_TEST(test_export_round_trip)
{
    test_write_model();
    ExportSummary summary;
    Error err;
    ck_assert_msg(export_model(run_dir, out_dir, &summary, &err) == 0, "%s", err.message);
    ck_assert_int_eq(summary.n_tables, 2);
    ck_assert_str_eq(summary.tables[0].name, "user");
    ck_assert_uint_eq(summary.tables[0].n_rows, N_USERS);
    ck_assert_uint_eq(summary.tables[0].width, WIDTH);
    ck_assert_str_eq(summary.tables[1].name, "item");
    ck_assert_uint_eq(summary.tables[1].n_rows, N_ITEMS);

    test_assert_table("user", MODEL_TABLE_USER);
    test_assert_table("item", MODEL_TABLE_ITEM);

    char path[256];
    snprintf(path, sizeof path, "%s/model.txt", out_dir);
    size_t bytes = 0;
    char *text = (char *)test_read_file(path, &bytes);
    ck_assert_ptr_nonnull(strstr(text, "\nmodel = mf\n"));
    ck_assert_ptr_nonnull(strstr(text, "\ndim = 4\n"));
    const char *mean = strstr(text, "\nglobal_mean = ");
    ck_assert_ptr_nonnull(mean);
    ck_assert(strtod(mean + strlen("\nglobal_mean = "), NULL) == 3.5299999); /* exact */
    ck_assert_ptr_nonnull(strstr(text, "\nrating_min = 1\n"));
    ck_assert_ptr_nonnull(strstr(text, "\nrating_max = 5\n"));
    ck_assert_ptr_nonnull(strstr(text, "\ntables = user item\n"));
    ck_assert_ptr_nonnull(strstr(text, "global_mean + U[u,0] + I[i,0] + dot(U[u,1:], I[i,1:])"));
    free(text);

    /* Exactly the five files: no temporary file is left behind. */
    const char *names[] = {"user.npy", "user_ids.csv", "item.npy", "item_ids.csv", "model.txt"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        snprintf(path, sizeof path, "%s/%s.tmp", out_dir, names[i]);
        ck_assert_int_ne(access(path, F_OK), 0);
    }

    /* A second export over the first replaces it with the same bytes. */
    ck_assert_msg(export_model(run_dir, out_dir, NULL, &err) == 0, "%s", err.message);
    test_assert_table("user", MODEL_TABLE_USER);
}
END_TEST

START_TEST(test_export_empty_tables)
{
    /* A model whose tables have no rows: shape (0, width), header only. */
    ck_assert_int_eq(mkdir(model_dir, 0755), 0);
    Store *store = test_model_store();
    char path[256];
    Error err;
    checkpoint_shard_path(path, sizeof path, model_dir, 0, 1);
    ck_assert_msg(checkpoint_write_shard(path, store, 0, &err) == 0, "%s", err.message);
    store_destroy(store);
    ModelManifest manifest = {.version = CHECKPOINT_MANIFEST_VERSION, .dim = DIM,
                              .n_servers = 1, .n_vshards = 4, .optimizer = OPTIMIZER_ADAM,
                              .rating_min = 1.0, .rating_max = 5.0};
    strcpy(manifest.model, "mf");
    snprintf(path, sizeof path, "%s/manifest.txt", model_dir);
    ck_assert_msg(checkpoint_write_manifest(path, &manifest, &err) == 0, "%s", err.message);

    ck_assert_msg(export_model(run_dir, out_dir, NULL, &err) == 0, "%s", err.message);
    snprintf(path, sizeof path, "%s/item.npy", out_dir);
    size_t rows = 1, cols = 0;
    float *values = test_read_npy(path, &rows, &cols);
    ck_assert_uint_eq(rows, 0);
    ck_assert_uint_eq(cols, WIDTH);
    free(values);
    snprintf(path, sizeof path, "%s/item_ids.csv", out_dir);
    size_t n_ids = 1;
    free(test_read_ids(path, &n_ids));
    ck_assert_uint_eq(n_ids, 0);
}
END_TEST

START_TEST(test_export_no_model)
{
    Error err = {{0}};
    ck_assert_int_eq(export_model(run_dir, out_dir, NULL, &err), -1);
    char expected[512];
    snprintf(expected, sizeof expected,
             "%s has no trained model (no %s/model/manifest.txt): run psrec train --run-dir %s "
             "first",
             run_dir, run_dir, run_dir);
    ck_assert_str_eq(err.message, expected);
    ck_assert_int_ne(access(out_dir, F_OK), 0); /* nothing created */
}
END_TEST

START_TEST(test_export_unwritable_out)
{
    test_write_model();
    /* A folder cannot be made below a plain file (root can write anywhere,
     * so permissions would not do). */
    char blocker[256], target[300];
    snprintf(blocker, sizeof blocker, "%s/model/manifest.txt", run_dir);
    snprintf(target, sizeof target, "%s/sub", blocker);
    Error err = {{0}};
    ck_assert_int_eq(export_model(run_dir, target, NULL, &err), -1);
    ck_assert_msg(strstr(err.message, "cannot create directory") != NULL, "%s", err.message);
    ck_assert_ptr_null(strchr(err.message, '\n'));
}
END_TEST

START_TEST(test_export_main_exit_codes)
{
    /* Usage errors exit 2, a run that fails exits 1, success 0. */
    char *no_out[] = {"--run-dir", run_dir, NULL};
    ck_assert_int_eq(export_main(2, no_out), 2);
    char *unknown[] = {"--run-dir", run_dir, "--out", out_dir, "--dim", "3", NULL};
    ck_assert_int_eq(export_main(6, unknown), 2);
    char *args[] = {"--run-dir", run_dir, "--out", out_dir, NULL};
    ck_assert_int_eq(export_main(4, args), 1); /* no model yet */
    test_write_model();
    ck_assert_int_eq(export_main(4, args), 0);
}
END_TEST

START_TEST(test_table_names)
{
    ck_assert_str_eq(model_table_name(MODEL_TABLE_USER), "user");
    ck_assert_str_eq(model_table_name(MODEL_TABLE_ITEM), "item");
    ck_assert_str_eq(model_table_name(MODEL_TABLE_ITEM_FEATURE), "item_feature");
    ck_assert_str_eq(model_table_name(MODEL_TABLE_USER_FEATURE), "user_feature");
    ck_assert_str_eq(model_table_name(MODEL_TABLE_USER_HISTORY), "user_history");
    ck_assert_str_eq(model_table_name(MODEL_TABLE_DENSE), "dense");
    ck_assert_str_eq(model_table_name(0), "table0");
    ck_assert_str_eq(model_table_name(MODEL_TABLE_NEIGHBOURS), "neighbours");
    ck_assert_str_eq(model_table_name(8), "table8");
    ck_assert_str_eq(model_table_name(42), "table42");
    ck_assert_str_eq(model_table_name(199), "table199");
    ck_assert_str_eq(model_table_name(KEY_TABLE_MAX), "table255");
    char expected[16];
    for (uint32_t t = MODEL_TABLE_NEIGHBOURS + 1; t <= KEY_TABLE_MAX; t++) {
        snprintf(expected, sizeof expected, "table%u", t);
        ck_assert_str_eq(model_table_name(t), expected);
    }
}
END_TEST

static Suite *export_suite(void)
{
    Suite *s = suite_create("export");
    TCase *tc = tcase_create("export");
    tcase_add_checked_fixture(tc, test_dirs_create, test_dirs_remove);
    tcase_add_test(tc, test_export_round_trip);
    tcase_add_test(tc, test_export_empty_tables);
    tcase_add_test(tc, test_export_no_model);
    tcase_add_test(tc, test_export_unwritable_out);
    tcase_add_test(tc, test_export_main_exit_codes);
    tcase_add_test(tc, test_table_names);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_run_suite(export_suite());
}

/* test_features.c — feature files, the SVD++ history map, the bags that
 * turn them into representations, and the cold-item split.
 *
 * Files are written to a scratch folder and read back: weights become a
 * per-entity weighted mean (repeats add up, zeros drop out), every kind of
 * bad line fails with FILE:LINE and what was found. model_bag lists a row
 * and its features with those weights; model_table_specs adds one table
 * per feature kind with the width of the row it adds to.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "psrec/core/keys.h"
#include "psrec/data/features.h"
#include "psrec/data/split.h"
#include "psrec/models/model.h"

#include "test_support.h"

static char scratch[256];
static char path[512];

static void write_file(const char *text)
{
    snprintf(path, sizeof path, "%s/features.csv", scratch);
    FILE *file = fopen(path, "w");
    ck_assert_ptr_nonnull(file);
    fputs(text, file);
    ck_assert_int_eq(fclose(file), 0);
}

/* Reads text as a feature file, expecting failure; the message must hold
 * every one of the given fragments. */
static void expect_error(const char *text, const char *fragment1, const char *fragment2)
{
    write_file(text);
    FeatureMap map;
    Error err;
    ck_assert_int_eq(feature_map_read(&map, path, "item", &err), -1);
    ck_assert_msg(strstr(err.message, fragment1), "'%s' lacks '%s'", err.message, fragment1);
    ck_assert_msg(strstr(err.message, fragment2), "'%s' lacks '%s'", err.message, fragment2);
    ck_assert_uint_eq(map.n_entities, 0);
    feature_map_free(&map);
}

START_TEST(test_weighted_mean_per_entity)
{
    test_scratch_create(scratch, sizeof scratch, "features");
    /* item 7: features 1 (1+1), 3 (2) → weights 0.5, 0.5; item 2: feature 9
     * alone → 1; item 5: only a zero weight → no features. Blank lines and
     * spaces around fields are fine. */
    write_file("item_id,feature_id,weight\n7, 3 ,2\n\n2,9,0.25\n7,1,1\n7,1,1\n5,4,0\n");
    FeatureMap map;
    Error err;
    ck_assert_int_eq(feature_map_read(&map, path, "item", &err), 0);
    ck_assert_uint_eq(map.n_lines, 5);
    ck_assert_uint_eq(map.n_entities, 2);
    ck_assert_uint_eq(map.n_features, 3);
    ck_assert_uint_eq(map.entities[0], 2);
    ck_assert_uint_eq(map.entities[1], 7);
    size_t n;
    const float *weights;
    const uint64_t *features = feature_map_find(&map, 7, &weights, &n);
    ck_assert_uint_eq(n, 2);
    ck_assert_uint_eq(features[0], 1);
    ck_assert_uint_eq(features[1], 3);
    ck_assert_float_eq_tol(weights[0], 0.5f, 1e-7f);
    ck_assert_float_eq_tol(weights[1], 0.5f, 1e-7f);
    features = feature_map_find(&map, 2, &weights, &n);
    ck_assert_uint_eq(n, 1);
    ck_assert_float_eq_tol(weights[0], 1.0f, 1e-7f);
    ck_assert_ptr_null(feature_map_find(&map, 5, &weights, &n));
    ck_assert_uint_eq(n, 0);
    uint64_t known[] = {2, 3};
    ck_assert_uint_eq(feature_map_count_missing(&map, known, 2), 1); /* item 7 */
    feature_map_free(&map);

    /* Two columns: every weight 1, so the mean is plain. */
    write_file("user_id,feature_id\n4,10\n4,11\n4,12\n");
    ck_assert_int_eq(feature_map_read(&map, path, "user", &err), 0);
    features = feature_map_find(&map, 4, &weights, &n);
    ck_assert_uint_eq(n, 3);
    for (size_t f = 0; f < n; f++)
        ck_assert_float_eq_tol(weights[f], 1.0f / 3.0f, 1e-7f);
    feature_map_free(&map);
    test_scratch_remove(scratch);
}
END_TEST

START_TEST(test_bad_files_name_the_line)
{
    test_scratch_create(scratch, sizeof scratch, "features");
    expect_error("item_id,feature_id\n1,2\n1,x\n", "features.csv:3:", "feature id");
    expect_error("item_id,feature_id\n-1,2\n", "features.csv:2:", "item id");
    expect_error("item_id,feature_id,weight\n1,2,-0.5\n", "features.csv:2:", "-0.5");
    expect_error("item_id,feature_id,weight\n1,2,nan\n", "features.csv:2:", "finite");
    expect_error("item_id,feature_id,weight\n1,2,inf\n", "features.csv:2:", "weight");
    expect_error("item_id,feature_id,weight\n1,2\n", "features.csv:2:", "3 comma-separated");
    expect_error("1,2\n3,4\n", "features.csv:1:", "header");
    expect_error("item_id\n1\n", "features.csv:1:", "2 or 3 columns");
    expect_error("", "features.csv", "empty");
    expect_error("item_id,feature_id\n72057594037927936,1\n", "features.csv:2:", "2^56");
    FeatureMap map;
    Error err;
    ck_assert_int_eq(feature_map_read(&map, "/nonexistent/f.csv", "item", &err), -1);
    ck_assert_ptr_nonnull(strstr(err.message, "/nonexistent/f.csv"));
    test_scratch_remove(scratch);
}
END_TEST

/* A feature file that is not UTF-8 text, or holds a NUL, is refused saying
 * so; control characters are quoted escaped; a UTF-8 byte-order mark is
 * skipped. */
START_TEST(test_files_that_are_not_text)
{
    test_scratch_create(scratch, sizeof scratch, "features");
    snprintf(path, sizeof path, "%s/features.csv", scratch);
    static const char UTF16[] = "\xfe\xff\0i\0t\0e\0m\0_\0i\0d\0,\0f\0\n";
    FILE *file = fopen(path, "wb");
    ck_assert_ptr_nonnull(file);
    ck_assert_uint_eq(fwrite(UTF16, 1, sizeof UTF16 - 1, file), sizeof UTF16 - 1);
    ck_assert_int_eq(fclose(file), 0);
    FeatureMap map;
    Error err;
    ck_assert_int_eq(feature_map_read(&map, path, "item", &err), -1);
    char expected[sizeof path + 200];
    snprintf(expected, sizeof expected,
             "%s: looks like UTF-16 text (byte-order mark FE FF); save it as UTF-8 (e.g. iconv "
             "-t UTF-8)",
             path);
    ck_assert_str_eq(err.message, expected);

    static const char NUL[] = "item_id,feature_id\n1,2\n3,\0\n";
    file = fopen(path, "wb");
    ck_assert_ptr_nonnull(file);
    ck_assert_uint_eq(fwrite(NUL, 1, sizeof NUL - 1, file), sizeof NUL - 1);
    ck_assert_int_eq(fclose(file), 0);
    ck_assert_int_eq(feature_map_read(&map, path, "item", &err), -1);
    snprintf(expected, sizeof expected,
             "%s:3: NUL byte in the line (byte 3); a text file holds none: is the file binary, "
             "damaged, or saved as UTF-16?",
             path);
    ck_assert_str_eq(err.message, expected);

    write_file("item_id,feature_id\n1,\x1b[5m\n");
    ck_assert_int_eq(feature_map_read(&map, path, "item", &err), -1);
    snprintf(expected, sizeof expected,
             "%s:2: expected a feature id (an integer below 2^56), found '\\x1b[5m'", path);
    ck_assert_str_eq(err.message, expected);
    write_file("item_id,feature_id,weight\n1,2,\xc2\x9b" "1\n");
    ck_assert_int_eq(feature_map_read(&map, path, "item", &err), -1);
    snprintf(expected, sizeof expected,
             "%s:2: expected a weight (a finite number >= 0), found '\\xc2\\x9b1'", path);
    ck_assert_str_eq(err.message, expected);

    write_file("\xEF\xBB\xBF" "item_id,feature_id\n4,5\n");
    ck_assert_msg(feature_map_read(&map, path, "item", &err) == 0, "%s", err.message);
    ck_assert_uint_eq(map.n_lines, 1);
    feature_map_free(&map);
    test_scratch_remove(scratch);
}
END_TEST

START_TEST(test_history_weights)
{
    /* user 1 has items 5, 6, 6 (a repeat), 7 → three distinct, 0.5/√3 each;
     * user 2 has item 5 → 0.5. */
    uint64_t users[] = {1, 2, 1, 1, 1}, items[] = {5, 5, 6, 6, 7};
    FeatureMap map;
    feature_map_from_history(&map, users, items, 5, 0.5);
    size_t n;
    const float *weights;
    const uint64_t *features = feature_map_find(&map, 1, &weights, &n);
    ck_assert_uint_eq(n, 3);
    ck_assert_uint_eq(features[2], 7);
    for (size_t f = 0; f < n; f++)
        ck_assert_float_eq_tol(weights[f], (float)(0.5 / sqrt(3.0)), 1e-7f);
    feature_map_find(&map, 2, &weights, &n);
    ck_assert_uint_eq(n, 1);
    ck_assert_float_eq_tol(weights[0], 0.5f, 1e-7f);
    feature_map_free(&map);
}
END_TEST

typedef struct {
    int n;
    uint64_t keys[8];
    float weights[8];
} Bag;

static void bag_add(void *context, uint64_t key, float weight)
{
    Bag *bag = context;
    ck_assert_int_lt(bag->n, 8);
    bag->keys[bag->n] = key;
    bag->weights[bag->n++] = weight;
}

START_TEST(test_bags_and_feature_tables)
{
    uint64_t item_ids[] = {3, 3}, item_features[] = {40, 41};
    uint64_t user_ids[] = {9}, user_items[] = {3};
    FeatureMap items, history;
    feature_map_from_history(&items, item_ids, item_features, 2, 1.0);
    feature_map_from_history(&history, user_ids, user_items, 1, 1.0);
    ModelFeatures features = {.item_features = &items, .user_history = &history};
    Bag bag = {0};
    model_bag(&features, MODEL_TABLE_ITEM, 3, bag_add, &bag);
    ck_assert_int_eq(bag.n, 3);
    ck_assert_uint_eq(bag.keys[0], key_make(MODEL_TABLE_ITEM, 3));
    ck_assert_float_eq(bag.weights[0], 1.0f);
    ck_assert_uint_eq(bag.keys[1], key_make(MODEL_TABLE_ITEM_FEATURE, 40));
    ck_assert_uint_eq(bag.keys[2], key_make(MODEL_TABLE_ITEM_FEATURE, 41));
    ck_assert_float_eq_tol(bag.weights[2], (float)(1.0 / sqrt(2.0)), 1e-7f);
    bag.n = 0;
    model_bag(&features, MODEL_TABLE_USER, 9, bag_add, &bag);
    ck_assert_int_eq(bag.n, 2);
    ck_assert_uint_eq(bag.keys[1], key_make(MODEL_TABLE_USER_HISTORY, 3));
    bag.n = 0;
    model_bag(&features, MODEL_TABLE_USER, 10, bag_add, &bag); /* no features */
    ck_assert_int_eq(bag.n, 1);
    bag.n = 0;
    model_bag(NULL, MODEL_TABLE_ITEM, 3, bag_add, &bag);
    ck_assert_int_eq(bag.n, 1);
    feature_map_free(&items);
    feature_map_free(&history);

    /* One table per feature kind, as wide as the row it adds to. */
    ModelParams params = {.dim = 6, .init_std = 0.1f, .item_features = true,
                          .user_history = true};
    const ModelOps *mf = model_find("mf");
    TableSpec specs[STORE_MAX_TABLES];
    ck_assert_int_eq(model_table_specs(mf, &params, specs), 4);
    ck_assert_uint_eq(model_table_width(mf, &params, MODEL_TABLE_ITEM_FEATURE), 7);
    ck_assert_uint_eq(model_table_width(mf, &params, MODEL_TABLE_USER_HISTORY), 7);
    ck_assert_uint_eq(model_table_width(mf, &params, MODEL_TABLE_USER_FEATURE), 0);
    ck_assert_uint_eq(specs[2].zero_leading, 1); /* the bias column starts at zero too */
}
END_TEST

START_TEST(test_cold_items_split)
{
    /* 20000 items, 2 interactions each: about 10% cold, every interaction
     * of a cold item in test, none in train; the same set for any order. */
    size_t n = 40000;
    Ratings in = {0};
    in.n = n;
    in.users = xcalloc(n, sizeof(uint64_t));
    in.items = xcalloc(n, sizeof(uint64_t));
    in.ratings = xcalloc(n, sizeof(float));
    in.timestamps = xcalloc(n, sizeof(int64_t));
    for (size_t i = 0; i < n; i++) {
        in.users[i] = i % 97;
        in.items[i] = i / 2;
    }
    Ratings train, test;
    split_cold_items(&in, 0.1, 5, &train, &test);
    ck_assert_uint_eq(train.n + test.n, n);
    ck_assert_msg(test.n > 3600 && test.n < 4400, "%zu of 40000 held out", test.n);
    for (size_t i = 0; i < test.n; i++)
        ck_assert(split_item_is_cold(test.items[i], 0.1, 5));
    for (size_t i = 0; i < train.n; i++)
        ck_assert(!split_item_is_cold(train.items[i], 0.1, 5));
    size_t same = 0, cold_other_seed = 0;
    for (uint64_t item = 0; item < 20000; item++) {
        same += split_item_is_cold(item, 0.1, 5) == split_item_is_cold(item, 0.1, 5);
        cold_other_seed += split_item_is_cold(item, 0.1, 5) && split_item_is_cold(item, 0.1, 6);
    }
    ck_assert_uint_eq(same, 20000);
    ck_assert_msg(cold_other_seed < 400, "seeds pick overlapping sets: %zu", cold_other_seed);
    ratings_free(&in);
    ratings_free(&train);
    ratings_free(&test);
}
END_TEST

static Suite *features_suite(void)
{
    Suite *suite = suite_create("features");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_weighted_mean_per_entity);
    tcase_add_test(tc, test_bad_files_name_the_line);
    tcase_add_test(tc, test_files_that_are_not_text);
    tcase_add_test(tc, test_history_weights);
    tcase_add_test(tc, test_bags_and_feature_tables);
    tcase_add_test(tc, test_cold_items_split);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    return test_run_suite(features_suite());
}

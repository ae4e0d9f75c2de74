/* test_store.c — a parameter server's rows.
 *
 * Checks that rows start the same wherever and whenever they are created
 * (only key, seed and spec matter), that biases start at 0 and the rest at
 * roughly the configured std, that push is exactly optimizer_apply on the
 * row, that growth keeps contents, and that the whole-table accessors and
 * store_put_row round trip (what checkpoints rely on).
 */
#include <check.h>
#include <math.h>
#include <string.h>

#include "psrec/core/keys.h"
#include "psrec/ps/store.h"
#include "psrec/core/util.h"

#include "test_support.h"

enum { USER_TABLE = 1, ITEM_TABLE = 2, DENSE_TABLE = 9, WIDTH = 9, DENSE_WIDTH = 4 };

static const TableSpec TABLES[] = {
    {.table_id = USER_TABLE, .width = WIDTH, .zero_leading = 1, .init_std = 0.1f},
    {.table_id = ITEM_TABLE, .width = WIDTH, .zero_leading = 1, .init_std = 0.1f},
    {.table_id = DENSE_TABLE, .width = DENSE_WIDTH, .zero_leading = 0, .init_std = 0.5f},
};
enum { N_TABLES = sizeof TABLES / sizeof *TABLES };

static OptimizerConfig config_make(OptimizerKind kind)
{
    OptimizerConfig config = {.kind = kind,
                              .learning_rate = 0.01f,
                              .beta1 = 0.9f,
                              .beta2 = 0.999f,
                              .epsilon = 1e-8f,
                              .adagrad_init = 0.1f};
    return config;
}

static Store *store_make(OptimizerKind kind, uint64_t seed)
{
    OptimizerConfig config = config_make(kind);
    return store_create(TABLES, N_TABLES, &config, seed);
}

START_TEST(test_table_lookup_and_layout)
{
    Store *store = store_make(OPTIMIZER_ADAM, 1);
    ck_assert_int_eq(store_table_count(store), N_TABLES);
    const TableSpec *spec = store_table_spec(store, ITEM_TABLE);
    ck_assert_ptr_nonnull(spec);
    ck_assert_uint_eq(spec->width, WIDTH);
    ck_assert_ptr_null(store_table_spec(store, 0));
    ck_assert_ptr_null(store_table_spec(store, 3));
    ck_assert_ptr_null(store_table_spec(store, KEY_TABLE_MAX));
    ck_assert_ptr_null(store_table_spec(store, 100000));
    for (int t = 0; t < N_TABLES; t++) {
        ck_assert_uint_eq(store_table_at(store, t)->table_id, TABLES[t].table_id);
        ck_assert_uint_eq(store_row_count(store, t), 0);
        /* Adam: weights, then m and v. */
        ck_assert_uint_eq(store_row_stride(store, t), 3 * TABLES[t].width);
    }
    store_destroy(store);
    store_destroy(NULL);

    store = store_make(OPTIMIZER_ADAGRAD, 1);
    ck_assert_uint_eq(store_row_stride(store, 0), 2 * WIDTH);
    store_destroy(store);
    store = store_make(OPTIMIZER_SGD, 1);
    ck_assert_uint_eq(store_row_stride(store, 2), DENSE_WIDTH);
    store_destroy(store);
}
END_TEST

START_TEST(test_init_reproducible_and_order_free)
{
    enum { N = 2000 };
    Store *forward = store_make(OPTIMIZER_ADAM, 1234);
    Store *backward = store_make(OPTIMIZER_ADAM, 1234);
    /* The second store sees other keys first and the shared ones in reverse. */
    for (uint64_t id = 0; id < 500; id++)
        store_pull(backward, key_make(ITEM_TABLE, id + 1000000), true);
    for (uint64_t id = 0; id < N; id++)
        store_pull(forward, key_make(USER_TABLE, id), true);
    for (uint64_t id = N; id-- > 0;)
        store_pull(backward, key_make(USER_TABLE, id), true);

    size_t differ = 0, differ_ref = 0;
    float expected[WIDTH];
    for (uint64_t id = 0; id < N; id++) {
        uint64_t key = key_make(USER_TABLE, id);
        const float *a = store_pull(forward, key, false);
        const float *b = store_pull(backward, key, false);
        differ += memcmp(a, b, WIDTH * sizeof *a) != 0;
        store_init_row(&TABLES[0], 1234, key, expected);
        differ_ref += memcmp(a, expected, WIDTH * sizeof *a) != 0;
    }
    ck_assert_uint_eq(differ, 0);
    ck_assert_uint_eq(differ_ref, 0);

    /* Not a constant: different keys, seeds and tables give other values. */
    float other[WIDTH];
    store_init_row(&TABLES[0], 1234, key_make(USER_TABLE, 1), expected);
    store_init_row(&TABLES[0], 1234, key_make(USER_TABLE, 2), other);
    ck_assert_float_ne(expected[1], other[1]);
    store_init_row(&TABLES[0], 1235, key_make(USER_TABLE, 1), other);
    ck_assert_float_ne(expected[1], other[1]);
    store_init_row(&TABLES[0], 1234, key_make(ITEM_TABLE, 1), other);
    ck_assert_float_ne(expected[1], other[1]);
    store_destroy(forward);
    store_destroy(backward);
}
END_TEST

START_TEST(test_init_biases_zero_and_std)
{
    enum { N = 20000 };
    Store *store = store_make(OPTIMIZER_ADAM, 99);
    double sum = 0, sum_sq = 0, dense_sum_sq = 0;
    size_t nonzero_bias = 0, nonzero_state = 0;
    for (uint64_t id = 0; id < N; id++) {
        const float *row = store_pull(store, key_make(ITEM_TABLE, id), true);
        nonzero_bias += row[0] != 0.0f;
        for (int i = 1; i < WIDTH; i++) {
            sum += row[i];
            sum_sq += (double)row[i] * row[i];
        }
        for (int i = WIDTH; i < 3 * WIDTH; i++) /* Adam m and v start at 0 */
            nonzero_state += row[i] != 0.0f;
        const float *dense = store_pull(store, key_make(DENSE_TABLE, id), true);
        for (int i = 0; i < DENSE_WIDTH; i++)
            dense_sum_sq += (double)dense[i] * dense[i];
    }
    ck_assert_uint_eq(nonzero_bias, 0);
    ck_assert_uint_eq(nonzero_state, 0);
    double count = (double)N * (WIDTH - 1);
    double mean = sum / count;
    double std = sqrt(sum_sq / count - mean * mean);
    /* 160k samples: the sample std is within ~0.2% of the truth. */
    ck_assert_double_eq_tol(mean, 0.0, 0.002);
    ck_assert_double_eq_tol(std, 0.1, 0.002);
    ck_assert_double_eq_tol(sqrt(dense_sum_sq / (N * DENSE_WIDTH)), 0.5, 0.01);

    /* Adagrad's accumulators start at adagrad_init. */
    Store *adagrad = store_make(OPTIMIZER_ADAGRAD, 99);
    const float *row = store_pull(adagrad, key_make(USER_TABLE, 5), true);
    for (int i = WIDTH; i < 2 * WIDTH; i++)
        ck_assert_float_eq(row[i], 0.1f);
    store_destroy(adagrad);
    store_destroy(store);
}
END_TEST

START_TEST(test_pull_without_create)
{
    Store *store = store_make(OPTIMIZER_SGD, 5);
    uint64_t key = key_make(USER_TABLE, 77);
    ck_assert_ptr_null(store_pull(store, key, false));
    ck_assert_uint_eq(store_row_count(store, 0), 0); /* nothing created */
    float *created = store_pull(store, key, true);
    ck_assert_ptr_nonnull(created);
    ck_assert_ptr_eq(store_pull(store, key, false), created);
    ck_assert_ptr_eq(store_pull(store, key, true), created);
    ck_assert_uint_eq(store_row_count(store, 0), 1);
    /* The same id in another table is another row. */
    ck_assert_ptr_null(store_pull(store, key_make(ITEM_TABLE, 77), false));
    store_destroy(store);
}
END_TEST

/* Pushes grad to key and checks the row equals optimizer_apply run on a copy
 * of the row taken before the push. */
static void check_push_matches_optimizer(Store *store, OptimizerKind kind, int table_index,
                                         uint64_t key, const float *grad)
{
    OptimizerConfig config = config_make(kind);
    const TableSpec *spec = store_table_at(store, table_index);
    size_t stride = store_row_stride(store, table_index);
    float before[3 * WIDTH];
    uint32_t step_before = 0;
    const float *row = store_pull(store, key, false);
    if (row) {
        memcpy(before, row, stride * sizeof *row);
        for (size_t r = 0; r < store_row_count(store, table_index); r++)
            if (store_row_key(store, table_index, r) == key)
                step_before = *store_row_step(store, table_index, r);
    } else {
        /* An absent row is created with its initial values, then updated. */
        store_init_row(spec, 42, key, before);
        optimizer_init_state(&config, before + spec->width, spec->width);
    }
    uint32_t step = step_before;
    optimizer_apply(&config, before, before + spec->width, &step, grad, spec->width);

    store_push(store, key, grad);
    row = store_pull(store, key, false);
    ck_assert_ptr_nonnull(row);
    for (size_t i = 0; i < stride; i++)
        ck_assert_float_eq(row[i], before[i]);
}

START_TEST(test_push_applies_optimizer)
{
    const OptimizerKind kinds[] = {OPTIMIZER_SGD, OPTIMIZER_ADAGRAD, OPTIMIZER_ADAM};
    float grad[WIDTH];
    for (int i = 0; i < WIDTH; i++)
        grad[i] = 0.1f * (float)(i - 4);
    for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++) {
        Store *store = store_make(kinds[k], 42);
        uint64_t key = key_make(ITEM_TABLE, 3);
        check_push_matches_optimizer(store, kinds[k], 1, key, grad); /* creates */
        store_pull(store, key_make(ITEM_TABLE, 4), true);
        for (int s = 0; s < 3; s++)
            check_push_matches_optimizer(store, kinds[k], 1, key, grad);
        ck_assert_uint_eq(*store_row_step(store, 1, 0), 4);
        ck_assert_uint_eq(*store_row_step(store, 1, 1), 0); /* pulled only */
        store_destroy(store);
    }
}
END_TEST

START_TEST(test_lazy_adam_per_row_step)
{
    Store *store = store_make(OPTIMIZER_ADAM, 8);
    uint64_t busy = key_make(USER_TABLE, 1), quiet = key_make(USER_TABLE, 2);
    float grad[WIDTH];
    for (int i = 0; i < WIDTH; i++)
        grad[i] = (i % 2) ? 2.0f : -0.5f;
    for (int s = 0; s < 10; s++)
        store_push(store, busy, grad);
    float start[WIDTH];
    memcpy(start, store_pull(store, quiet, true), sizeof start);
    store_push(store, quiet, grad);
    const float *row = store_pull(store, quiet, false);
    /* t = 1 for the quiet row: every weight moves by lr·sign(g). */
    for (int i = 0; i < WIDTH; i++)
        ck_assert_double_eq_tol(row[i], start[i] - 0.01 * ((i % 2) ? 1.0 : -1.0), 1e-6);
    ck_assert_uint_eq(*store_row_step(store, 0, 0), 10);
    ck_assert_uint_eq(*store_row_step(store, 0, 1), 1);
    store_destroy(store);
}
END_TEST

START_TEST(test_growth_keeps_contents)
{
    enum { N = 200000 };
    Store *store = store_make(OPTIMIZER_ADAGRAD, 3);
    size_t bytes_empty = store_bytes(store);
    float *first = store_pull(store, key_make(USER_TABLE, 0), true);
    first[1] = -123.0f;
    for (uint64_t id = 0; id < N; id++) {
        float *row = store_pull(store, key_make(USER_TABLE, id), true);
        row[0] = (float)id; /* a mark that survives only if rows move intact */
        row[WIDTH] = (float)(id % 1000);
    }
    ck_assert_uint_eq(store_row_count(store, 0), N);
    size_t wrong = 0;
    for (uint64_t id = 0; id < N; id++) {
        const float *row = store_pull(store, key_make(USER_TABLE, id), false);
        wrong += !row || row[0] != (float)id || row[WIDTH] != (float)(id % 1000);
        wrong += store_row_key(store, 0, id) != key_make(USER_TABLE, id);
    }
    ck_assert_uint_eq(wrong, 0);
    ck_assert_float_eq(store_pull(store, key_make(USER_TABLE, 0), false)[1], -123.0f);
    /* Every other weight is still its initial value. */
    float expected[WIDTH];
    store_init_row(&TABLES[0], 3, key_make(USER_TABLE, N - 1), expected);
    const float *last = store_pull(store, key_make(USER_TABLE, N - 1), false);
    for (int i = 1; i < WIDTH; i++)
        ck_assert_float_eq(last[i], expected[i]);

    size_t bytes = store_bytes(store);
    size_t payload = (size_t)N * (2 * WIDTH * sizeof(float) + sizeof(uint32_t));
    ck_assert_uint_gt(bytes, bytes_empty);
    ck_assert_uint_ge(bytes, payload);
    ck_assert_uint_le(bytes, 3 * payload); /* geometric growth, modest index */
    store_destroy(store);
}
END_TEST

START_TEST(test_put_row_and_accessors_round_trip)
{
    enum { N = 1000 };
    Store *source = store_make(OPTIMIZER_ADAM, 11);
    float grad[WIDTH];
    for (int i = 0; i < WIDTH; i++)
        grad[i] = 0.3f * (float)(i + 1);
    for (uint64_t id = 0; id < N; id++) {
        store_pull(source, key_make(ITEM_TABLE, id * 31), true);
        for (uint64_t s = 0; s < id % 4; s++)
            store_push(source, key_make(ITEM_TABLE, id * 31), grad);
        store_pull(source, key_make(DENSE_TABLE, id), true);
    }

    /* Copy every row through the accessors into a store with another seed,
     * as a checkpoint restore does. */
    Store *copy = store_make(OPTIMIZER_ADAM, 12);
    for (int t = 0; t < store_table_count(source); t++) {
        for (size_t r = 0; r < store_row_count(source, t); r++)
            store_put_row(copy, store_row_key(source, t, r), store_row_data(source, t, r),
                          *store_row_step(source, t, r));
    }
    size_t differ = 0;
    for (int t = 0; t < store_table_count(source); t++) {
        size_t stride = store_row_stride(source, t);
        ck_assert_uint_eq(store_row_count(copy, t), store_row_count(source, t));
        for (size_t r = 0; r < store_row_count(source, t); r++) {
            differ += store_row_key(copy, t, r) != store_row_key(source, t, r);
            differ += *store_row_step(copy, t, r) != *store_row_step(source, t, r);
            differ += memcmp(store_row_data(copy, t, r), store_row_data(source, t, r),
                             stride * sizeof(float)) != 0;
        }
    }
    ck_assert_uint_eq(differ, 0);
    ck_assert_uint_eq(store_row_count(copy, 0), 0);
    ck_assert_uint_eq(*store_row_step(copy, 1, 3), 3);

    /* Overwriting an existing row replaces weights, state and step only. */
    float data[3 * WIDTH];
    for (int i = 0; i < 3 * WIDTH; i++)
        data[i] = (float)i + 0.5f;
    uint64_t key = key_make(ITEM_TABLE, 5 * 31);
    store_put_row(copy, key, data, 77);
    ck_assert_uint_eq(store_row_count(copy, 1), N);
    ck_assert_int_eq(memcmp(store_pull(copy, key, false), data, sizeof data), 0);
    ck_assert_uint_eq(*store_row_step(copy, 1, 5), 77);
    /* ...and a push continues from the restored state (step 78). */
    store_push(copy, key, grad);
    ck_assert_uint_eq(*store_row_step(copy, 1, 5), 78);

    /* A new key through put_row is not initialised over. */
    uint64_t fresh = key_make(USER_TABLE, 9);
    store_put_row(copy, fresh, data, 0);
    ck_assert_int_eq(memcmp(store_pull(copy, fresh, false), data, sizeof data), 0);
    store_destroy(source);
    store_destroy(copy);
}
END_TEST

static Suite *store_suite(void)
{
    Suite *suite = suite_create("store");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_table_lookup_and_layout);
    tcase_add_test(tc, test_init_reproducible_and_order_free);
    tcase_add_test(tc, test_init_biases_zero_and_std);
    tcase_add_test(tc, test_pull_without_create);
    tcase_add_test(tc, test_push_applies_optimizer);
    tcase_add_test(tc, test_lazy_adam_per_row_step);
    tcase_add_test(tc, test_growth_keeps_contents);
    tcase_add_test(tc, test_put_row_and_accessors_round_trip);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    return test_run_suite(store_suite());
}

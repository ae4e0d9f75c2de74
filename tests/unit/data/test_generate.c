/* test_generate.c — the synthetic ratings generator.
 *
 * Only what a user of the files can observe is tested: determinism, exact
 * line counts, valid and distinct (user, item) pairs, a split that
 * partitions the unsplit output, power-law item popularity, heavy-tailed
 * user activity, and ratings that carry a persistent per-item and per-user
 * signal (split-half correlation of means), as a known model would give.
 */
#include <check.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "psrec/app/config.h"
#include "psrec/data/generate.h"
#include "psrec/core/util.h"

#include "test_support.h"

static char scratch_dir[64];

/* A fresh scratch folder per test (a checked fixture). */
static void scratch_setup(void)
{
    test_scratch_create(scratch_dir, sizeof scratch_dir, "generate");
}

static void scratch_teardown(void)
{
    test_scratch_remove(scratch_dir);
}

/* A GenerateConfig with the table defaults, writing into the scratch folder
 * (test_out NULL: no split). */
static GenerateConfig config_make(int users, int items, uint64_t ratings, const char *out,
                                  const char *test_out)
{
    GenerateConfig config;
    Error err;
    ck_assert_int_eq(config_load_generate(&config, 0, NULL, &err), 0);
    config.users = users;
    config.items = items;
    config.ratings = ratings;
    snprintf(config.out_path, sizeof config.out_path, "%s/%s", scratch_dir, out);
    if (test_out)
        snprintf(config.test_out_path, sizeof config.test_out_path, "%s/%s", scratch_dir,
                 test_out);
    return config;
}

static GenerateSummary generate_ok(const GenerateConfig *config)
{
    GenerateSummary summary;
    Error err = {{0}};
    ck_assert_msg(generate_ratings(config, &summary, &err) == 0, "%s", err.message);
    return summary;
}

typedef struct {
    size_t n;
    uint64_t *users;
    uint64_t *items;
    int *ratings;
    uint64_t *timestamps;
} Lines;

/* Reads a generated CSV, checking its header and the shape of every line. */
static Lines lines_read(const char *path)
{
    FILE *file = fopen(path, "r");
    ck_assert_ptr_nonnull(file);
    char header[64];
    ck_assert_ptr_nonnull(fgets(header, sizeof header, file));
    ck_assert_str_eq(header, "user_id,item_id,rating,timestamp\n");
    Lines lines = {0};
    size_t cap = 0;
    unsigned long long u, i, t;
    int r;
    char end;
    while (fscanf(file, "%llu,%llu,%d,%llu%c", &u, &i, &r, &t, &end) == 5) {
        ck_assert_int_eq(end, '\n');
        if (lines.n == cap) {
            cap = cap ? cap * 2 : 1024;
            lines.users = xrealloc(lines.users, cap * sizeof *lines.users);
            lines.items = xrealloc(lines.items, cap * sizeof *lines.items);
            lines.ratings = xrealloc(lines.ratings, cap * sizeof *lines.ratings);
            lines.timestamps = xrealloc(lines.timestamps, cap * sizeof *lines.timestamps);
        }
        lines.users[lines.n] = u;
        lines.items[lines.n] = i;
        lines.ratings[lines.n] = r;
        lines.timestamps[lines.n] = t;
        lines.n++;
    }
    ck_assert_msg(feof(file), "%s: a line does not read as user,item,rating,timestamp", path);
    fclose(file);
    return lines;
}

static void lines_free(Lines *lines)
{
    free(lines->users);
    free(lines->items);
    free(lines->ratings);
    free(lines->timestamps);
    memset(lines, 0, sizeof *lines);
}

/* The whole file as bytes (NUL-terminated); *bytes gets its length. */
static char *file_slurp(const char *path, size_t *bytes)
{
    FILE *file = fopen(path, "rb");
    ck_assert_ptr_nonnull(file);
    fseek(file, 0, SEEK_END);
    long size = ftell(file);
    fseek(file, 0, SEEK_SET);
    char *data = xmalloc((size_t)size + 1);
    ck_assert_uint_eq(fread(data, 1, (size_t)size, file), (size_t)size);
    data[size] = '\0';
    fclose(file);
    *bytes = (size_t)size;
    return data;
}

static int compare_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static int compare_u64_desc(const void *a, const void *b) { return compare_u64(b, a); }

/* Pearson correlation of x and y (n,). */
static double correlation(const double *x, const double *y, size_t n)
{
    double mx = 0, my = 0;
    for (size_t k = 0; k < n; k++) {
        mx += x[k];
        my += y[k];
    }
    mx /= (double)n;
    my /= (double)n;
    double sxy = 0, sxx = 0, syy = 0;
    for (size_t k = 0; k < n; k++) {
        sxy += (x[k] - mx) * (y[k] - my);
        sxx += (x[k] - mx) * (x[k] - mx);
        syy += (y[k] - my) * (y[k] - my);
    }
    return sxy / sqrt(sxx * syy);
}

START_TEST(test_same_seed_same_bytes)
{
    GenerateConfig a = config_make(500, 300, 20000, "a.csv", "a_test.csv");
    GenerateConfig b = config_make(500, 300, 20000, "b.csv", "b_test.csv");
    generate_ok(&a);
    generate_ok(&b);
    size_t na, nb;
    char *da = file_slurp(a.out_path, &na), *db = file_slurp(b.out_path, &nb);
    ck_assert_uint_eq(na, nb);
    ck_assert_int_eq(memcmp(da, db, na), 0);
    free(da);
    free(db);
    da = file_slurp(a.test_out_path, &na);
    db = file_slurp(b.test_out_path, &nb);
    ck_assert_uint_eq(na, nb);
    ck_assert_int_eq(memcmp(da, db, na), 0);
    free(da);
    free(db);

    b.seed = 43;
    generate_ok(&b);
    da = file_slurp(a.out_path, &na);
    db = file_slurp(b.out_path, &nb);
    ck_assert(na != nb || memcmp(da, db, na) != 0);
    free(da);
    free(db);
}
END_TEST

START_TEST(test_lines_valid_and_distinct)
{
    const int users = 700, items = 400;
    const uint64_t ratings = 30000;
    GenerateConfig config = config_make(users, items, ratings, "train.csv", "test.csv");
    GenerateSummary summary = generate_ok(&config);
    Lines train = lines_read(config.out_path);
    Lines test = lines_read(config.test_out_path);
    ck_assert_uint_eq(train.n, summary.n_train);
    ck_assert_uint_eq(test.n, summary.n_test);
    ck_assert_uint_eq(train.n + test.n, ratings);

    uint64_t *pairs = xmalloc(ratings * sizeof *pairs);
    bool *user_seen = xcalloc((size_t)users + 1, 1);
    bool *item_seen = xcalloc((size_t)items + 1, 1);
    size_t n = 0;
    for (int part = 0; part < 2; part++) {
        const Lines *lines = part ? &test : &train;
        for (size_t k = 0; k < lines->n; k++) {
            ck_assert_uint_ge(lines->users[k], 1);
            ck_assert_uint_le(lines->users[k], users);
            ck_assert_uint_ge(lines->items[k], 1);
            ck_assert_uint_le(lines->items[k], items);
            ck_assert_int_ge(lines->ratings[k], 1);
            ck_assert_int_le(lines->ratings[k], 5);
            ck_assert_uint_gt(lines->timestamps[k], 1000000000);
            /* Each file lists users in order, and a user's history in time
             * order. */
            if (k > 0) {
                ck_assert_uint_ge(lines->users[k], lines->users[k - 1]);
                if (lines->users[k] == lines->users[k - 1])
                    ck_assert_uint_gt(lines->timestamps[k], lines->timestamps[k - 1]);
            }
            pairs[n++] = lines->users[k] * (uint64_t)(items + 1) + lines->items[k];
            user_seen[lines->users[k]] = true;
            item_seen[lines->items[k]] = true;
        }
    }
    qsort(pairs, n, sizeof *pairs, compare_u64);
    for (size_t k = 1; k < n; k++)
        ck_assert_msg(pairs[k] != pairs[k - 1], "user %llu rated item %llu twice",
                      (unsigned long long)(pairs[k] / (uint64_t)(items + 1)),
                      (unsigned long long)(pairs[k] % (uint64_t)(items + 1)));
    uint64_t active_users = 0, active_items = 0;
    for (int u = 1; u <= users; u++)
        active_users += user_seen[u];
    for (int i = 1; i <= items; i++)
        active_items += item_seen[i];
    /* More ratings than users: every user rates at least one item. */
    ck_assert_uint_eq(active_users, users);
    ck_assert_uint_eq(summary.n_users_active, active_users);
    ck_assert_uint_eq(summary.n_items_active, active_items);
    free(pairs);
    free(user_seen);
    free(item_seen);
    lines_free(&train);
    lines_free(&test);
}
END_TEST

typedef struct {
    uint64_t user, item, rating, timestamp;
} LineKey;

static LineKey line_key(const Lines *lines, size_t k)
{
    LineKey key = {lines->users[k], lines->items[k], (uint64_t)lines->ratings[k],
                   lines->timestamps[k]};
    return key;
}

static int compare_line_key(const void *a, const void *b)
{
    const LineKey *x = a, *y = b;
    if (x->user != y->user)
        return (x->user > y->user) - (x->user < y->user);
    if (x->item != y->item)
        return (x->item > y->item) - (x->item < y->item);
    if (x->rating != y->rating)
        return (x->rating > y->rating) - (x->rating < y->rating);
    return (x->timestamp > y->timestamp) - (x->timestamp < y->timestamp);
}

/* Train + test hold exactly the lines of the unsplit file, and the test
 * share is test_fraction. */
START_TEST(test_split_partitions_output)
{
    GenerateConfig whole = config_make(1000, 500, 50000, "whole.csv", NULL);
    GenerateConfig split = config_make(1000, 500, 50000, "train.csv", "test.csv");
    generate_ok(&whole);
    GenerateSummary summary = generate_ok(&split);
    double share = (double)summary.n_test / 50000.0;
    ck_assert_msg(fabs(share - 0.1) < 0.01, "test share %.4f", share);

    Lines all = lines_read(whole.out_path);
    Lines train = lines_read(split.out_path);
    Lines test = lines_read(split.test_out_path);
    ck_assert_uint_eq(all.n, train.n + test.n);
    /* Compare the sorted multisets of lines. */
    LineKey *a = xmalloc(all.n * sizeof *a), *b = xmalloc(all.n * sizeof *b);
    for (size_t k = 0; k < all.n; k++)
        a[k] = line_key(&all, k);
    size_t n = 0;
    for (size_t k = 0; k < train.n; k++)
        b[n++] = line_key(&train, k);
    for (size_t k = 0; k < test.n; k++)
        b[n++] = line_key(&test, k);
    qsort(a, all.n, sizeof *a, compare_line_key);
    qsort(b, n, sizeof *b, compare_line_key);
    for (size_t k = 0; k < all.n; k++) {
        ck_assert_uint_eq(a[k].user, b[k].user);
        ck_assert_uint_eq(a[k].item, b[k].item);
        ck_assert_uint_eq(a[k].rating, b[k].rating);
        ck_assert_uint_eq(a[k].timestamp, b[k].timestamp);
    }
    free(a);
    free(b);
    lines_free(&all);
    lines_free(&train);
    lines_free(&test);
}
END_TEST

/* Ratings per item, sorted from most to least rated. */
static uint64_t *item_counts_sorted(const Lines *lines, int items)
{
    uint64_t *counts = xcalloc((size_t)items, sizeof *counts);
    for (size_t k = 0; k < lines->n; k++)
        counts[lines->items[k] - 1]++;
    qsort(counts, (size_t)items, sizeof *counts, compare_u64_desc);
    return counts;
}

static double top_share(const uint64_t *sorted, int top, uint64_t total)
{
    uint64_t sum = 0;
    for (int r = 0; r < top; r++)
        sum += sorted[r];
    return (double)sum / (double)total;
}

START_TEST(test_popularity_power_law)
{
    const int items = 5000;
    const uint64_t ratings = 200000;
    GenerateConfig config = config_make(20000, items, ratings, "zipf.csv", NULL);
    generate_ok(&config);
    Lines lines = lines_read(config.out_path);
    uint64_t *sorted = item_counts_sorted(&lines, items);
    /* Zipf(1) over 5000 items puts H(50)/H(5000) ≈ 49% of draws on the top
     * 1%; the no-repeat rule flattens the head a little. */
    double share = top_share(sorted, items / 100, ratings);
    ck_assert_msg(share > 0.25, "top 1%% of items hold %.3f of ratings", share);
    /* rank^-1: the 10th item is rated about 10x as often as the 100th and
     * the 100th about 10x as often as the 1000th. */
    double head = (double)sorted[9] / (double)sorted[99];
    double tail = (double)sorted[99] / (double)sorted[999];
    ck_assert_msg(head > 5 && head < 20, "count(10)/count(100) = %.2f", head);
    ck_assert_msg(tail > 5 && tail < 20, "count(100)/count(1000) = %.2f", tail);
    /* Decreasing on average: each decile of ranks holds fewer ratings than
     * the one before. */
    for (int d = 1; d < 10; d++) {
        double before = top_share(sorted + (d - 1) * 500, 500, ratings);
        double here = top_share(sorted + d * 500, 500, ratings);
        ck_assert_msg(here < before, "decile %d holds %.4f, decile %d %.4f", d, here, d - 1,
                      before);
    }
    free(sorted);
    lines_free(&lines);

    /* Exponent 0 is uniform: the top 1% holds about 1%. */
    config.zipf_exponent = 0.0;
    generate_ok(&config);
    lines = lines_read(config.out_path);
    sorted = item_counts_sorted(&lines, items);
    share = top_share(sorted, items / 100, ratings);
    ck_assert_msg(share < 0.03, "uniform: top 1%% of items hold %.3f", share);
    free(sorted);
    lines_free(&lines);
}
END_TEST

START_TEST(test_user_activity_heavy_tailed)
{
    const int users = 5000;
    GenerateConfig config = config_make(users, 2000, 100000, "users.csv", NULL);
    generate_ok(&config);
    Lines lines = lines_read(config.out_path);
    uint64_t *counts = xcalloc((size_t)users, sizeof *counts);
    for (size_t k = 0; k < lines.n; k++)
        counts[lines.users[k] - 1]++;
    qsort(counts, (size_t)users, sizeof *counts, compare_u64);
    double mean = 100000.0 / users;
    ck_assert_uint_ge(counts[0], 1);
    ck_assert_uint_le(counts[users - 1], 1000); /* at most half the items */
    ck_assert_msg((double)counts[users - 1] > 5 * mean, "most active user has %llu",
                  (unsigned long long)counts[users - 1]);
    /* Right-skewed: the median user is below the mean. */
    ck_assert_msg((double)counts[users / 2] < 0.8 * mean, "median %llu, mean %.1f",
                  (unsigned long long)counts[users / 2], mean);
    free(counts);
    lines_free(&lines);
}
END_TEST

/* Per-item (and per-user) mean ratings computed on two disjoint halves of
 * the data agree, which only persistent biases and factors can explain;
 * with the model's signal swamped by noise they stop agreeing. */
static double item_split_half_correlation(const Lines *lines, int items, int min_each)
{
    double *sum = xcalloc(2 * (size_t)items, sizeof *sum);
    int *count = xcalloc(2 * (size_t)items, sizeof *count);
    for (size_t k = 0; k < lines->n; k++) {
        size_t slot = 2 * (lines->items[k] - 1) + (lines->users[k] & 1);
        sum[slot] += lines->ratings[k];
        count[slot]++;
    }
    double *x = xmalloc((size_t)items * sizeof *x), *y = xmalloc((size_t)items * sizeof *y);
    size_t n = 0;
    for (int i = 0; i < items; i++) {
        if (count[2 * i] >= min_each && count[2 * i + 1] >= min_each) {
            x[n] = sum[2 * i] / count[2 * i];
            y[n] = sum[2 * i + 1] / count[2 * i + 1];
            n++;
        }
    }
    ck_assert_uint_ge(n, 50);
    double r = correlation(x, y, n);
    free(sum);
    free(count);
    free(x);
    free(y);
    return r;
}

START_TEST(test_ratings_follow_true_model)
{
    const int users = 3000, items = 1000;
    GenerateConfig config = config_make(users, items, 150000, "model.csv", NULL);
    generate_ok(&config);
    Lines lines = lines_read(config.out_path);

    int histogram[6] = {0};
    double mean = 0;
    for (size_t k = 0; k < lines.n; k++) {
        histogram[lines.ratings[k]]++;
        mean += lines.ratings[k];
    }
    mean /= (double)lines.n;
    ck_assert_msg(mean > 3.2 && mean < 3.8, "mean rating %.3f", mean);
    for (int r = 1; r <= 5; r++)
        ck_assert_msg(histogram[r] > 0.01 * (double)lines.n, "rating %d appears %d times", r,
                      histogram[r]);

    double item_r = item_split_half_correlation(&lines, items, 20);
    ck_assert_msg(item_r > 0.6, "item split-half correlation %.3f", item_r);

    /* Users: split each user's ratings by item parity. */
    double *sum = xcalloc(2 * (size_t)users, sizeof *sum);
    int *count = xcalloc(2 * (size_t)users, sizeof *count);
    for (size_t k = 0; k < lines.n; k++) {
        size_t slot = 2 * (lines.users[k] - 1) + (lines.items[k] & 1);
        sum[slot] += lines.ratings[k];
        count[slot]++;
    }
    double *x = xmalloc((size_t)users * sizeof *x), *y = xmalloc((size_t)users * sizeof *y);
    size_t n = 0;
    for (int u = 0; u < users; u++) {
        if (count[2 * u] >= 20 && count[2 * u + 1] >= 20) {
            x[n] = sum[2 * u] / count[2 * u];
            y[n] = sum[2 * u + 1] / count[2 * u + 1];
            n++;
        }
    }
    ck_assert_uint_ge(n, 100);
    double user_r = correlation(x, y, n);
    ck_assert_msg(user_r > 0.4, "user split-half correlation %.3f", user_r);
    free(sum);
    free(count);
    free(x);
    free(y);
    lines_free(&lines);

    /* Negative control: noise far above the signal (and clipped to 1..5)
     * leaves little for the halves to share. */
    config.noise_std = 10.0;
    generate_ok(&config);
    lines = lines_read(config.out_path);
    double noisy_r = item_split_half_correlation(&lines, items, 20);
    ck_assert_msg(noisy_r < item_r - 0.3, "noisy %.3f vs clean %.3f", noisy_r, item_r);
    lines_free(&lines);
}
END_TEST

/* Every user at the cap of half the items, under a steep popularity: must
 * finish, with each user holding exactly items / 2 distinct items. */
START_TEST(test_full_capacity_terminates)
{
    GenerateConfig config = config_make(3, 10, 15, "full.csv", NULL);
    config.zipf_exponent = 5.0;
    generate_ok(&config);
    Lines lines = lines_read(config.out_path);
    ck_assert_uint_eq(lines.n, 15);
    int per_user[4] = {0};
    for (size_t k = 0; k < lines.n; k++)
        per_user[lines.users[k]]++;
    for (int u = 1; u <= 3; u++)
        ck_assert_int_eq(per_user[u], 5);
    lines_free(&lines);

    config = config_make(20, 20000, 200000, "steep.csv", NULL);
    config.zipf_exponent = 3.0;
    GenerateSummary summary = generate_ok(&config);
    ck_assert_uint_eq(summary.n_train, 200000);
    ck_assert_uint_eq(summary.n_users_active, 20);
}
END_TEST

START_TEST(test_fewer_ratings_than_users)
{
    GenerateConfig config = config_make(100, 50, 10, "few.csv", NULL);
    GenerateSummary summary = generate_ok(&config);
    Lines lines = lines_read(config.out_path);
    ck_assert_uint_eq(lines.n, 10);
    ck_assert_uint_eq(summary.n_users_active, 10);
    lines_free(&lines);
}
END_TEST

START_TEST(test_errors)
{
    GenerateConfig config = config_make(10, 6, 31, "too_many.csv", NULL);
    GenerateSummary summary;
    Error err = {{0}};
    ck_assert_int_eq(generate_ratings(&config, &summary, &err), -1);
    ck_assert_str_eq(err.message, "--ratings 31 is more than --users 10 * --items 6 / 2 = 30 "
                                  "allows (a user rates at most half the items)");
    ck_assert_int_eq(access(config.out_path, F_OK), -1); /* nothing written */

    config = config_make(10, 6, 30, "ok.csv", NULL);
    strcpy(config.out_path, "/nonexistent/dir/out.csv");
    ck_assert_int_eq(generate_ratings(&config, &summary, &err), -1);
    ck_assert_str_eq(err.message, "cannot create '/nonexistent/dir/out.csv': No such file or "
                                  "directory");

    /* A test file that cannot be created leaves no train file behind. */
    config = config_make(10, 6, 30, "orphan.csv", NULL);
    strcpy(config.test_out_path, "/nonexistent/dir/test.csv");
    ck_assert_int_eq(generate_ratings(&config, &summary, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.message, "/nonexistent/dir/test.csv"));
    ck_assert_int_eq(access(config.out_path, F_OK), -1);
}
END_TEST

static Suite *generate_suite(void)
{
    Suite *suite = suite_create("generate");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, scratch_setup, scratch_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_same_seed_same_bytes);
    tcase_add_test(tc, test_lines_valid_and_distinct);
    tcase_add_test(tc, test_split_partitions_output);
    tcase_add_test(tc, test_popularity_power_law);
    tcase_add_test(tc, test_user_activity_heavy_tailed);
    tcase_add_test(tc, test_ratings_follow_true_model);
    tcase_add_test(tc, test_full_capacity_terminates);
    tcase_add_test(tc, test_fewer_ratings_than_users);
    tcase_add_test(tc, test_errors);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    return test_run_suite(generate_suite());
}

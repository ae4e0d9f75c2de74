/* test_neighbours.c — item-knn built the distributed way (pairs counted per
 * worker, merged per server, cut into blocks) against a brute-force
 * computation from the user × item matrix, exactly; scoring, the
 * popularity tie-break and the baseline form against their formulas. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "psrec/core/keys.h"
#include "psrec/core/util.h"
#include "psrec/models/neighbours.h"

#include "test_support.h"

enum { USERS = 60, ITEMS = 25, WORKERS = 2, SERVERS = 2, K = 6 };

static const ModelOps *item_knn(void) { return model_find("item-knn"); }

/* A random implicit data set with a few repeated pairs; item ids are
 * 100 + 3i so that ids and catalogue indices differ. */
static void make_data(Ratings *ratings, bool have[USERS][ITEMS])
{
    memset(ratings, 0, sizeof *ratings);
    memset(have, 0, sizeof(bool) * USERS * ITEMS);
    size_t capacity = USERS * ITEMS * 2;
    ratings->users = xmalloc(capacity * sizeof(uint64_t));
    ratings->items = xmalloc(capacity * sizeof(uint64_t));
    ratings->ratings = xmalloc(capacity * sizeof(float));
    Rng rng;
    rng_seed(&rng, 5);
    for (int u = 0; u < USERS; u++)
        for (int i = 0; i < ITEMS; i++)
            if (rng_below(&rng, 100) < (uint64_t)(8 + 2 * (i % 7))) {
                int repeats = rng_below(&rng, 5) == 0 ? 2 : 1;
                for (int r = 0; r < repeats; r++) {
                    ratings->users[ratings->n] = 7 + (uint64_t)u;
                    ratings->items[ratings->n] = 100 + 3 * (uint64_t)i;
                    ratings->ratings[ratings->n++] = 1.0f;
                }
                have[u][i] = true;
            }
}

/* One worker's share: users with u % WORKERS == worker. */
static void worker_share(Ratings *out, const Ratings *all, int worker)
{
    memset(out, 0, sizeof *out);
    out->users = xmalloc(all->n * sizeof(uint64_t));
    out->items = xmalloc(all->n * sizeof(uint64_t));
    out->ratings = xmalloc(all->n * sizeof(float));
    for (size_t r = 0; r < all->n; r++)
        if ((int)((all->users[r] - 7) % WORKERS) == worker) {
            out->users[out->n] = all->users[r];
            out->items[out->n] = all->items[r];
            out->ratings[out->n++] = all->ratings[r];
        }
}

static void free_ratings(Ratings *r)
{
    free(r->users);
    free(r->items);
    free(r->ratings);
}

/* The servers' stores after building with n_blocks blocks: each worker
 * counts its users' pairs, the sums go (as floats, like the wire) to the
 * server a row hashes to, each server merges. */
static void build(Store *stores[SERVERS], const ModelParams *params, const Ratings *all,
                  const Catalogue *catalogue, uint64_t n_blocks, int max_history)
{
    TableSpec specs[STORE_MAX_TABLES];
    int n_tables = item_knn()->table_specs(params, specs);
    OptimizerConfig sgd = {.kind = OPTIMIZER_SGD, .learning_rate = 1};
    PairTable *server_pairs[SERVERS];
    for (int s = 0; s < SERVERS; s++) {
        stores[s] = store_create(specs, n_tables, &sgd, 1);
        server_pairs[s] = NULL;
    }
    /* Norms: users per item over everyone. */
    UserItems everyone;
    user_items_build(&everyone, all, NULL, catalogue);
    double norms[ITEMS] = {0};
    for (size_t a = 0; a < everyone.offsets[everyone.n_users]; a++)
        norms[everyone.items[a]] += 1;
    user_items_free(&everyone);
    for (uint64_t block = 0; block < n_blocks; block++) {
        for (int s = 0; s < SERVERS; s++)
            server_pairs[s] = pair_table_create(neighbours_pair_width(params));
        for (int w = 0; w < WORKERS; w++) {
            Ratings share;
            worker_share(&share, all, w);
            UserItems mine;
            user_items_build(&mine, &share, NULL, catalogue);
            PairTable *local = pair_table_create(neighbours_pair_width(params));
            PairCountStats stats = {0};
            for (size_t u = 0; u < mine.n_users; u++)
                neighbours_add_user_pairs(item_knn(), params, catalogue,
                                          keyindex_key_at(mine.users, u),
                                          mine.items + mine.offsets[u], NULL,
                                          mine.offsets[u + 1] - mine.offsets[u], block, n_blocks,
                                          max_history, 11, local, &stats);
            for (size_t p = 0; p < pair_table_count(local); p++) {
                uint64_t row = pair_table_row(local, p);
                int s = (int)(hash_u64(row) % SERVERS);
                double sum = (float)pair_table_values(local, p)[0];
                pair_table_add(server_pairs[s], row, pair_table_column(local, p), &sum);
            }
            pair_table_destroy(local);
            user_items_free(&mine);
            free_ratings(&share);
        }
        for (int s = 0; s < SERVERS; s++) {
            for (int i = 0; i < ITEMS; i++)
                pair_table_set_norm(server_pairs[s], catalogue->ids[i], (float)norms[i]);
            Error err;
            ck_assert_int_eq(neighbours_merge(params, stores[s], server_pairs[s], &err), 0);
            pair_table_destroy(server_pairs[s]);
        }
    }
}

/* The neighbour row of an item: from whichever store holds it (zeros when
 * none does). */
static void read_stores(void *context, uint32_t table, const uint64_t *ids, size_t n, float *out)
{
    Store **stores = context;
    for (size_t k = 0; k < n; k++) {
        uint64_t key = key_make(table, ids[k]);
        uint32_t width = store_table_spec(stores[0], table)->width;
        memset(out + k * width, 0, width * sizeof(float));
        for (int s = 0; s < SERVERS; s++) {
            const float *row = store_pull(stores[s], key, false);
            if (row)
                memcpy(out + k * width, row, width * sizeof(float));
        }
    }
}

typedef struct {
    float sim;
    uint64_t id;
} Expected;

static int compare_expected(const void *a, const void *b)
{
    const Expected *x = a, *y = b;
    if (x->sim != y->sim)
        return x->sim > y->sim ? -1 : 1;
    return x->id < y->id ? -1 : (x->id > y->id);
}

/* Item i's top K from the matrix, by the formula in double. */
static int brute_force_list(const ModelParams *params, bool have[USERS][ITEMS], int i,
                            Expected *out)
{
    double n_i = 0;
    for (int u = 0; u < USERS; u++)
        n_i += have[u][i];
    int n = 0;
    for (int j = 0; j < ITEMS; j++) {
        if (j == i)
            continue;
        double common = 0, n_j = 0;
        for (int u = 0; u < USERS; u++) {
            common += have[u][i] && have[u][j];
            n_j += have[u][j];
        }
        double sim = params->similarity == SIMILARITY_JACCARD
                         ? common / (n_i + n_j - common + params->shrink)
                         : common / (pow(n_i, params->alpha) * pow(n_j, 1 - params->alpha) +
                                     params->shrink);
        if ((float)sim > 0)
            out[n++] = (Expected){.sim = (float)sim, .id = 100 + 3 * (uint64_t)j};
    }
    qsort(out, (size_t)n, sizeof(Expected), compare_expected);
    return n < K ? n : K;
}

static void make_catalogue(Catalogue *catalogue, const Ratings *all)
{
    catalogue_build(catalogue, all->items, NULL, all->n);
    ck_assert_uint_eq(catalogue->n_items, ITEMS);
}

static void check_lists_against_brute_force(int similarity, double alpha, double shrink,
                                            uint64_t n_blocks)
{
    static bool have[USERS][ITEMS];
    Ratings all;
    make_data(&all, have);
    Catalogue catalogue;
    make_catalogue(&catalogue, &all);
    ModelParams params = {.neighbours = K, .similarity = similarity, .alpha = alpha,
                          .shrink = shrink};
    Store *stores[SERVERS];
    build(stores, &params, &all, &catalogue, n_blocks, 0);
    float row[K * NEIGHBOUR_FLOATS];
    for (int i = 0; i < ITEMS; i++) {
        Expected expected[ITEMS];
        int n = brute_force_list(&params, have, i, expected);
        read_stores(stores, MODEL_TABLE_NEIGHBOURS, &catalogue.ids[i], 1, row);
        int slot = 0;
        uint64_t id;
        float sim;
        for (; slot < K && neighbours_row_get(row, slot, &id, &sim); slot++) {
            ck_assert_int_lt(slot, n);
            ck_assert_uint_eq(id, expected[slot].id);
            ck_assert_float_eq(sim, expected[slot].sim); /* exactly: integer counts */
        }
        ck_assert_int_eq(slot, n);
        /* popularity: the item's users (a repeated pair counts once) */
        float count, users = 0;
        for (int u = 0; u < USERS; u++)
            users += have[u][i];
        read_stores(stores, MODEL_TABLE_ITEM, &catalogue.ids[i], 1, &count);
        ck_assert_float_eq(count, users);
    }
    for (int s = 0; s < SERVERS; s++)
        store_destroy(stores[s]);
    catalogue_free(&catalogue);
    free_ratings(&all);
}

START_TEST(test_cosine_lists_match_brute_force)
{
    check_lists_against_brute_force(SIMILARITY_COSINE, 0.5, 0, 1);
    check_lists_against_brute_force(SIMILARITY_COSINE, 0.3, 5, 1);
}
END_TEST

START_TEST(test_jaccard_lists_match_brute_force) { check_lists_against_brute_force(SIMILARITY_JACCARD, 0.5, 2, 1); }
END_TEST

START_TEST(test_blocks_give_the_same_lists)
{
    check_lists_against_brute_force(SIMILARITY_COSINE, 0.5, 10, 3);
    check_lists_against_brute_force(SIMILARITY_COSINE, 0.5, 10, ITEMS);
}
END_TEST

START_TEST(test_similarity_formulas)
{
    ModelParams params = {.similarity = SIMILARITY_COSINE, .alpha = 0.5, .shrink = 0};
    double sums[4] = {3, 0, 0, 0};
    ck_assert_double_eq_tol(neighbours_similarity(&params, sums, 4, 9), 3.0 / 6.0, 1e-15);
    params.alpha = 1;
    params.shrink = 2;
    ck_assert_double_eq_tol(neighbours_similarity(&params, sums, 4, 9), 3.0 / 6.0, 1e-15);
    params.similarity = SIMILARITY_JACCARD;
    params.shrink = 0;
    ck_assert_double_eq_tol(neighbours_similarity(&params, sums, 4, 9), 3.0 / 10.0, 1e-15);
    /* Pearson of residual pairs (1, 2), (−1, −1), (2, 0) shrunk by
     * (n−1)/(n−1+shrink) */
    params.similarity = SIMILARITY_PEARSON_BASELINE;
    params.shrink = 2;
    double pearson[4] = {3, 1 * 2 + 1 + 0, 1 + 1 + 4, 4 + 1 + 0};
    double expected = 3.0 / sqrt(6.0 * 5.0) * 2.0 / 4.0;
    ck_assert_double_eq_tol(neighbours_similarity(&params, pearson, 0, 0), expected, 1e-15);
    double single[4] = {1, 2, 1, 4}; /* one common rater: no correlation */
    ck_assert_double_eq(neighbours_similarity(&params, single, 0, 0), 0.0);
}
END_TEST

START_TEST(test_long_histories_are_sampled)
{
    /* One user with 10 items and a cap of 4: 4 × 3 ordered pairs from 4
     * of its items, the same 4 for the same seed. */
    Catalogue catalogue;
    uint64_t ids[10];
    for (int i = 0; i < 10; i++)
        ids[i] = 50 + (uint64_t)i;
    catalogue_build(&catalogue, ids, NULL, 10);
    uint32_t items[10];
    for (uint32_t i = 0; i < 10; i++)
        items[i] = i;
    ModelParams params = {.neighbours = K, .similarity = SIMILARITY_COSINE, .alpha = 0.5};
    PairTable *first = pair_table_create(1), *second = pair_table_create(1);
    PairCountStats stats = {0};
    neighbours_add_user_pairs(item_knn(), &params, &catalogue, 3, items, NULL, 10, 0, 1, 4, 9,
                              first, &stats);
    ck_assert_double_eq(stats.users_capped, 1);
    ck_assert_double_eq(stats.pairs, 12);
    neighbours_add_user_pairs(item_knn(), &params, &catalogue, 3, items, NULL, 10, 0, 1, 4, 9,
                              second, &stats);
    /* 10 popularity rows + 12 pairs, identical twice */
    ck_assert_uint_eq(pair_table_count(first), 22);
    pair_table_sort(first);
    pair_table_sort(second);
    for (size_t p = 0; p < 22; p++)
        ck_assert_uint_eq(pair_table_column(first, p), pair_table_column(second, p));
    pair_table_destroy(first);
    pair_table_destroy(second);
    catalogue_free(&catalogue);
}
END_TEST

START_TEST(test_scores_sum_similarities_and_break_ties_by_popularity)
{
    static bool have[USERS][ITEMS];
    Ratings all;
    make_data(&all, have);
    Catalogue catalogue;
    make_catalogue(&catalogue, &all);
    ModelParams params = {.neighbours = K, .similarity = SIMILARITY_COSINE, .alpha = 0.5,
                          .shrink = 0};
    Store *stores[SERVERS];
    build(stores, &params, &all, &catalogue, 1, 0);
    NeighbourModel nm;
    neighbour_model_init(&nm, item_knn(), &params, read_stores, stores, &catalogue);
    UserItems history;
    user_items_build(&history, &all, NULL, &catalogue);
    float scores[ITEMS], users[ITEMS] = {0};
    float best = 0;
    for (int i = 0; i < ITEMS; i++) {
        for (int u = 0; u < USERS; u++)
            users[i] += have[u][i];
        best = fmaxf(best, users[i]);
    }
    for (size_t u = 0; u < history.n_users; u++) {
        const uint32_t *items = history.items + history.offsets[u];
        size_t n = history.offsets[u + 1] - history.offsets[u];
        neighbour_model_scores(&nm, items, history.values + history.offsets[u], n, 0, scores);
        for (int i = 0; i < ITEMS; i++) {
            /* Σ over the user's items j of sim(j, i), from j's list */
            double expected = NEIGHBOUR_TIE_BREAK / best * users[i];
            for (size_t a = 0; a < n; a++) {
                float row[K * NEIGHBOUR_FLOATS];
                read_stores(stores, MODEL_TABLE_NEIGHBOURS, &catalogue.ids[items[a]], 1, row);
                uint64_t id;
                float sim;
                for (int slot = 0; slot < K && neighbours_row_get(row, slot, &id, &sim); slot++)
                    if (id == catalogue.ids[i])
                        expected += sim;
            }
            ck_assert_double_eq_tol(scores[i], expected, 1e-5);
            /* one pair scores the same, bit for bit */
            ck_assert_float_eq(neighbour_model_score(&nm, items, history.values +
                                                                 history.offsets[u],
                                                     n, 0, i),
                               scores[i]);
        }
    }
    /* With no history, items rank by popularity and never tie unless their
     * counts do. */
    neighbour_model_scores(&nm, NULL, NULL, 0, 0, scores);
    for (int i = 0; i < ITEMS; i++)
        for (int j = 0; j < ITEMS; j++)
            if (users[i] > users[j])
                ck_assert_float_gt(scores[i], scores[j]);
    ck_assert_float_eq(neighbour_model_score(&nm, NULL, NULL, 0, 0, -1), 0.0f);
    user_items_free(&history);
    neighbour_model_free(&nm);
    for (int s = 0; s < SERVERS; s++)
        store_destroy(stores[s]);
    catalogue_free(&catalogue);
    free_ratings(&all);
}
END_TEST

START_TEST(test_baseline_form)
{
    /* Items 10, 20, 30, 40; item 10's list: 20 (0.5), 30 (0.25), 40 (0.2).
     * The user rated 20 (4) and 40 (2); with rated_neighbours 1 only 20
     * counts, with 2 both do. */
    uint64_t ids[4] = {10, 20, 30, 40};
    Catalogue catalogue;
    catalogue_build(&catalogue, ids, NULL, 4);
    ModelParams params = {.neighbours = 3, .similarity = SIMILARITY_PEARSON_BASELINE,
                          .rated_neighbours = 1, .global_mean = 3.0, .rating_min = 1,
                          .rating_max = 5};
    const ModelOps *baseline = model_find("item-knn-baseline");
    TableSpec specs[STORE_MAX_TABLES];
    int n_tables = baseline->table_specs(&params, specs);
    OptimizerConfig sgd = {.kind = OPTIMIZER_SGD, .learning_rate = 1};
    Store *stores[SERVERS] = {store_create(specs, n_tables, &sgd, 1),
                              store_create(specs, n_tables, &sgd, 1)};
    float *list = store_pull(stores[0], key_make(MODEL_TABLE_NEIGHBOURS, 10), true);
    neighbours_row_set(list, 0, 20, 0.5f);
    neighbours_row_set(list, 1, 30, 0.25f);
    neighbours_row_set(list, 2, 40, 0.2f);
    float biases[4] = {0.1f, 0.3f, -0.2f, -0.4f};
    for (int i = 0; i < 4; i++)
        store_pull(stores[0], key_make(MODEL_TABLE_ITEM, ids[i]), true)[0] = biases[i];
    NeighbourModel nm;
    neighbour_model_init(&nm, baseline, &params, read_stores, stores, &catalogue);
    uint32_t items[2] = {1, 3};
    float values[2] = {4, 2};
    float user_bias = 0.2f;
    double r20 = 4 - (3.0 + 0.2 + 0.3), r40 = 2 - (3.0 + 0.2 - 0.4);
    double base = 3.0 + 0.2 + 0.1;
    ck_assert_double_eq_tol(neighbour_model_score(&nm, items, values, 2, user_bias, 0),
                            base + r20, 1e-5);
    params.rated_neighbours = 2;
    ck_assert_double_eq_tol(neighbour_model_score(&nm, items, values, 2, user_bias, 0),
                            base + (0.5 * r20 + 0.2 * r40) / 0.7, 1e-5);
    /* no list: the baseline; unknown item: μ + b_u; clipped to the range */
    ck_assert_double_eq_tol(neighbour_model_score(&nm, items, values, 2, user_bias, 2),
                            3.0 + 0.2 - 0.2, 1e-5);
    ck_assert_double_eq_tol(neighbour_model_score(&nm, items, values, 2, user_bias, -1), 3.2,
                            1e-6);
    ck_assert_double_eq_tol(neighbour_model_score(&nm, items, values, 2, 9.0f, -1), 5.0, 1e-6);
    float scores[4];
    neighbour_model_scores(&nm, items, values, 2, user_bias, scores);
    for (int i = 0; i < 4; i++)
        ck_assert_float_eq(scores[i], neighbour_model_score(&nm, items, values, 2, user_bias, i));
    neighbour_model_free(&nm);
    store_destroy(stores[0]);
    store_destroy(stores[1]);
    catalogue_free(&catalogue);
}
END_TEST

START_TEST(test_row_encoding_keeps_64_bit_ids)
{
    float row[2 * NEIGHBOUR_FLOATS] = {0};
    uint64_t id = 0xfff8000000000001ULL; /* the bits of a NaN in the low float */
    neighbours_row_set(row, 0, id, 0.75f);
    uint64_t back;
    float sim;
    ck_assert(neighbours_row_get(row, 0, &back, &sim));
    ck_assert_uint_eq(back, id);
    ck_assert_float_eq(sim, 0.75f);
    ck_assert(!neighbours_row_get(row, 1, &back, &sim)); /* empty slot */
}
END_TEST

static Suite *neighbours_suite(void)
{
    Suite *suite = suite_create("neighbours");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_cosine_lists_match_brute_force);
    tcase_add_test(tc, test_jaccard_lists_match_brute_force);
    tcase_add_test(tc, test_blocks_give_the_same_lists);
    tcase_add_test(tc, test_similarity_formulas);
    tcase_add_test(tc, test_long_histories_are_sampled);
    tcase_add_test(tc, test_scores_sum_similarities_and_break_ties_by_popularity);
    tcase_add_test(tc, test_baseline_form);
    tcase_add_test(tc, test_row_encoding_keeps_64_bit_ids);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void) { return test_run_suite(neighbours_suite()); }

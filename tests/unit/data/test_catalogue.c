/* test_catalogue.c — the item catalogue built from gathered (id, count)
 * pairs: ids sorted and distinct, counts of repeated ids summed, lookups
 * by id, and the same catalogue (to the last bit) whatever order the pairs
 * come in, as every process must agree on it.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "psrec/core/util.h"
#include "psrec/data/catalogue.h"

#include "test_support.h"

START_TEST(test_merges_and_sorts)
{
    const uint64_t ids[] = {42, 7, 42, UINT64_C(1) << 55, 0, 7, 42};
    const double counts[] = {1, 2, 3, 4, 5, 6, 0.5};
    Catalogue c;
    catalogue_build(&c, ids, counts, 7);
    ck_assert_uint_eq(c.n_items, 4);
    const uint64_t want_ids[] = {0, 7, 42, UINT64_C(1) << 55};
    const double want_counts[] = {5, 8, 4.5, 4};
    for (size_t i = 0; i < 4; i++) {
        ck_assert_uint_eq(c.ids[i], want_ids[i]);
        ck_assert(c.counts[i] == want_counts[i]);
        ck_assert_int_eq(catalogue_find(&c, want_ids[i]), (int64_t)i);
    }
    ck_assert_int_eq(catalogue_find(&c, 8), -1);
    catalogue_free(&c);
    ck_assert_ptr_null(c.ids);
    ck_assert_int_eq(catalogue_find(&c, 7), -1); /* zeroed: empty */
    catalogue_free(&c);

    /* NULL counts: every pair counts 1. */
    catalogue_build(&c, ids, NULL, 7);
    ck_assert_uint_eq(c.n_items, 4);
    ck_assert(c.counts[0] == 1 && c.counts[1] == 2 && c.counts[2] == 3 && c.counts[3] == 1);
    catalogue_free(&c);

    catalogue_build(&c, NULL, NULL, 0);
    ck_assert_uint_eq(c.n_items, 0);
    ck_assert_int_eq(catalogue_find(&c, 0), -1);
    catalogue_free(&c);
}
END_TEST

START_TEST(test_same_multiset_same_catalogue)
{
    enum { N = 5000 };
    uint64_t *ids = xmalloc(N * sizeof *ids);
    double *counts = xmalloc(N * sizeof *counts);
    Rng rng;
    rng_seed(&rng, 3);
    for (size_t i = 0; i < N; i++) {
        ids[i] = rng_below(&rng, 300) * 977;
        counts[i] = rng_uniform(&rng) * 1e3; /* fractional: sums depend on order */
    }
    Catalogue a;
    catalogue_build(&a, ids, counts, N);
    for (int round = 0; round < 5; round++) {
        for (size_t i = N - 1; i > 0; i--) { /* Fisher-Yates shuffle of the pairs */
            size_t j = (size_t)rng_below(&rng, i + 1);
            uint64_t id = ids[i];
            double count = counts[i];
            ids[i] = ids[j], counts[i] = counts[j];
            ids[j] = id, counts[j] = count;
        }
        Catalogue b;
        catalogue_build(&b, ids, counts, N);
        ck_assert_uint_eq(b.n_items, a.n_items);
        ck_assert_mem_eq(b.ids, a.ids, a.n_items * sizeof *a.ids);
        ck_assert_mem_eq(b.counts, a.counts, a.n_items * sizeof *a.counts);
        catalogue_free(&b);
    }
    for (size_t i = 1; i < a.n_items; i++)
        ck_assert_uint_lt(a.ids[i - 1], a.ids[i]);
    catalogue_free(&a);
    free(ids);
    free(counts);
}
END_TEST

static Suite *catalogue_suite(void)
{
    Suite *suite = suite_create("catalogue");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_merges_and_sorts);
    tcase_add_test(tc, test_same_multiset_same_catalogue);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    return test_run_suite(catalogue_suite());
}

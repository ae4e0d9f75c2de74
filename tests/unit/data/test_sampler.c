/* test_sampler.c — negative sampling.
 *
 * A draw must never be an excluded item (random exclusion sets, a user who
 * owns all items but one, a user who owns all), and the draws must follow
 * the target: uniform, or count^exponent for exponents 1 and 0.5 — and,
 * with exclusions, that target renormalised over the allowed items. The
 * distribution checks use Pearson's chi-square on 200k draws from a fixed
 * seed, against a bound (df + 6·sqrt(2·df) + 10) that a correct sampler
 * exceeds with probability below 1e-6, while a wrong exponent or a biased
 * alias table lands orders of magnitude above it.
 */
#include <check.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "psrec/core/util.h"
#include "psrec/data/sampler.h"

#include "test_support.h"

#define N_DRAWS 200000

/* Draws N_DRAWS items and checks their histogram against the target
 * weights (n,) renormalised over the items not in excluded: items of zero
 * target probability must never come up, the others must pass the
 * chi-square bound. */
static void expect_distribution(const Sampler *s, const double *weights, size_t n,
                                const uint32_t *excluded, size_t n_excluded, uint64_t seed,
                                const char *what)
{
    double *target = xcalloc(n, sizeof *target);
    double total = 0.0;
    for (size_t i = 0; i < n; i++) {
        bool is_excluded = false;
        for (size_t k = 0; k < n_excluded; k++)
            is_excluded |= excluded[k] == i;
        target[i] = is_excluded ? 0.0 : weights[i];
        total += target[i];
    }
    size_t *observed = xcalloc(n, sizeof *observed);
    Rng rng;
    rng_seed(&rng, seed);
    for (int d = 0; d < N_DRAWS; d++) {
        uint32_t item = sampler_draw(s, &rng, excluded, n_excluded);
        ck_assert_msg(item < n, "%s: draw %d gave %u", what, d, (unsigned)item);
        observed[item]++;
    }
    double chi2 = 0.0;
    int df = -1;
    for (size_t i = 0; i < n; i++) {
        double expected = target[i] / total * N_DRAWS;
        if (expected == 0.0) {
            ck_assert_msg(observed[i] == 0, "%s: item %zu has no target mass but came up %zu times",
                          what, i, observed[i]);
            continue;
        }
        double diff = (double)observed[i] - expected;
        chi2 += diff * diff / expected;
        df++;
    }
    double bound = df + 6.0 * sqrt(2.0 * df) + 10.0;
    ck_assert_msg(chi2 < bound, "%s: chi-square %.1f with %d degrees of freedom, bound %.1f",
                  what, chi2, df, bound);
    free(observed);
    free(target);
}

/* counts[i] = i + 1 for i < n: a gentle popularity slope where every item
 * still gets hundreds of the 200k draws. */
static double *counts_linear(size_t n)
{
    double *counts = xmalloc(n * sizeof *counts);
    for (size_t i = 0; i < n; i++)
        counts[i] = (double)(i + 1);
    return counts;
}

START_TEST(test_uniform_distribution)
{
    const size_t n = 50;
    double ones[50];
    for (size_t i = 0; i < n; i++)
        ones[i] = 1.0;
    Sampler s;
    sampler_init(&s, SAMPLER_UNIFORM, NULL, n, 1.0);
    expect_distribution(&s, ones, n, NULL, 0, 1, "uniform");
    const uint32_t excluded[] = {0, 3, 4, 5, 17, 30, 49};
    expect_distribution(&s, ones, n, excluded, 7, 2, "uniform, excluded");
    sampler_free(&s);
    sampler_free(&s); /* zeroed: a no-op */
}
END_TEST

START_TEST(test_popularity_distribution)
{
    const size_t n = 50;
    double *counts = counts_linear(n);
    counts[10] = 0.0; /* never seen: never a target */
    double exponents[] = {1.0, 0.5};
    for (int e = 0; e < 2; e++) {
        double weights[50];
        for (size_t i = 0; i < n; i++)
            weights[i] = counts[i] > 0 ? pow(counts[i], exponents[e]) : 0.0;
        Sampler s;
        sampler_init(&s, SAMPLER_POPULARITY, counts, n, exponents[e]);
        char what[64];
        snprintf(what, sizeof what, "popularity^%g", exponents[e]);
        expect_distribution(&s, weights, n, NULL, 0, 10 + (uint64_t)e, what);
        /* The most popular items excluded: the rest renormalised. */
        const uint32_t excluded[] = {2, 20, 40, 45, 46, 47, 48, 49};
        snprintf(what, sizeof what, "popularity^%g, excluded", exponents[e]);
        expect_distribution(&s, weights, n, excluded, 8, 20 + (uint64_t)e, what);
        sampler_free(&s);
    }
    free(counts);
}
END_TEST

START_TEST(test_skewed_alias_table)
{
    /* One item holds 97% of the mass, so most alias columns hold a small
     * item topped up with the giant; each small item must still get its
     * share (~190 of the draws). With the giant excluded, rejection succeeds
     * only 3% of the time per try, so the uniform fallback (equal to the
     * renormalised target here) runs in about one draw of six. */
    const size_t n = 30;
    double counts[30], weights[30];
    for (size_t i = 0; i < n; i++)
        counts[i] = 1.0;
    counts[7] = 1e3;
    for (size_t i = 0; i < n; i++)
        weights[i] = counts[i];
    Sampler s;
    sampler_init(&s, SAMPLER_POPULARITY, counts, n, 1.0);
    expect_distribution(&s, weights, n, NULL, 0, 30, "skewed");
    const uint32_t giant[] = {7};
    expect_distribution(&s, weights, n, giant, 1, 31, "skewed, giant excluded");
    sampler_free(&s);

    /* Without any positive count the target is uniform. */
    double zeros[30] = {0};
    double ones[30];
    for (size_t i = 0; i < n; i++)
        ones[i] = 1.0;
    sampler_init(&s, SAMPLER_POPULARITY, zeros, n, 1.0);
    expect_distribution(&s, ones, n, NULL, 0, 32, "all counts zero");
    sampler_free(&s);
}
END_TEST

START_TEST(test_uniform_fallback_when_nearly_all_excluded)
{
    /* 95 of 100 items excluded: rejection succeeds 5% of the time per try,
     * so both paths run, and both must give uniform over the 5 left. */
    const size_t n = 100;
    uint32_t excluded[100];
    size_t n_excluded = 0;
    for (uint32_t i = 0; i < n; i++)
        if (i != 0 && i != 13 && i != 14 && i != 77 && i != 99)
            excluded[n_excluded++] = i;
    double ones[100];
    for (size_t i = 0; i < n; i++)
        ones[i] = 1.0;
    Sampler s;
    sampler_init(&s, SAMPLER_UNIFORM, NULL, n, 1.0);
    expect_distribution(&s, ones, n, excluded, n_excluded, 40, "95 of 100 excluded");
    sampler_free(&s);
}
END_TEST

/* Checks many draws for one exclusion list: never excluded, always < n. */
static void expect_never_excluded(const Sampler *s, Rng *rng, const uint32_t *excluded,
                                  size_t n_excluded, const unsigned char *is_excluded, int draws)
{
    size_t bad = 0;
    for (int d = 0; d < draws; d++) {
        uint32_t item = sampler_draw(s, rng, excluded, n_excluded);
        bad += item >= s->n_items || is_excluded[item];
    }
    ck_assert_msg(bad == 0, "%zu of %d draws were excluded or out of range", bad, draws);
}

START_TEST(test_never_returns_excluded_items)
{
    Rng rng;
    rng_seed(&rng, 99);
    for (int round = 0; round < 400; round++) {
        size_t n = 1 + (size_t)rng_below(&rng, 80);
        SamplerKind kind = round % 2 ? SAMPLER_POPULARITY : SAMPLER_UNIFORM;
        double *counts = xmalloc(n * sizeof *counts);
        for (size_t i = 0; i < n; i++)
            counts[i] = (double)rng_below(&rng, 1000); /* some zero */
        Sampler s;
        sampler_init(&s, kind, counts, n, round % 3 ? 1.0 : 0.5);

        /* A random subset; every third round, all but one item. */
        uint32_t *excluded = xmalloc(n * sizeof *excluded);
        unsigned char *is_excluded = xcalloc(n, 1);
        size_t n_excluded = 0;
        uint32_t kept = (uint32_t)rng_below(&rng, n);
        double keep_probability = rng_uniform(&rng);
        for (uint32_t i = 0; i < n; i++) {
            bool exclude = round % 3 == 0 ? i != kept : rng_uniform(&rng) > keep_probability;
            if (exclude) {
                excluded[n_excluded++] = i;
                is_excluded[i] = 1;
            }
        }
        if (n_excluded == n) {
            ck_assert_uint_eq(sampler_draw(&s, &rng, excluded, n_excluded), UINT32_MAX);
        } else {
            expect_never_excluded(&s, &rng, excluded, n_excluded, is_excluded, 500);
            if (round % 3 == 0)
                for (int d = 0; d < 50; d++)
                    ck_assert_uint_eq(sampler_draw(&s, &rng, excluded, n_excluded), kept);
        }
        free(is_excluded);
        free(excluded);
        free(counts);
        sampler_free(&s);
    }
}
END_TEST

START_TEST(test_all_excluded_and_edge_sizes)
{
    const uint32_t all[] = {0, 1, 2, 3};
    double counts[4] = {1, 2, 3, 4};
    Rng rng;
    rng_seed(&rng, 5);
    for (int kind = 0; kind < 2; kind++) {
        Sampler s;
        sampler_init(&s, (SamplerKind)kind, counts, 4, 1.0);
        ck_assert_uint_eq(sampler_draw(&s, &rng, all, 4), UINT32_MAX);
        ck_assert_uint_eq(sampler_draw(&s, &rng, all + 1, 3), 0);
        ck_assert_uint_eq(sampler_draw(&s, &rng, all, 3), 3);
        sampler_free(&s);

        /* One item: it, unless excluded; no items: nothing. */
        sampler_init(&s, (SamplerKind)kind, counts, 1, 1.0);
        ck_assert_uint_eq(sampler_draw(&s, &rng, NULL, 0), 0);
        ck_assert_uint_eq(sampler_draw(&s, &rng, all, 1), UINT32_MAX);
        sampler_free(&s);
        sampler_init(&s, (SamplerKind)kind, counts, 0, 1.0);
        ck_assert_uint_eq(sampler_draw(&s, &rng, NULL, 0), UINT32_MAX);
        sampler_free(&s);
    }
}
END_TEST

START_TEST(test_same_rng_state_same_draws)
{
    const size_t n = 1000;
    double *counts = counts_linear(n);
    const uint32_t excluded[] = {5, 500, 999};
    for (int kind = 0; kind < 2; kind++) {
        Sampler a, b;
        sampler_init(&a, (SamplerKind)kind, counts, n, 0.75);
        sampler_init(&b, (SamplerKind)kind, counts, n, 0.75);
        Rng ra, rb;
        rng_seed(&ra, 1234);
        rng_seed(&rb, 1234);
        size_t differ = 0;
        for (int d = 0; d < 10000; d++)
            differ += sampler_draw(&a, &ra, excluded, 3) != sampler_draw(&b, &rb, excluded, 3);
        ck_assert_uint_eq(differ, 0);
        ck_assert_uint_eq(ra.state, rb.state);
        sampler_free(&a);
        sampler_free(&b);
    }
    free(counts);
}
END_TEST

static Suite *sampler_suite(void)
{
    Suite *suite = suite_create("sampler");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_uniform_distribution);
    tcase_add_test(tc, test_popularity_distribution);
    tcase_add_test(tc, test_skewed_alias_table);
    tcase_add_test(tc, test_uniform_fallback_when_nearly_all_excluded);
    tcase_add_test(tc, test_never_returns_excluded_items);
    tcase_add_test(tc, test_all_excluded_and_edge_sizes);
    tcase_add_test(tc, test_same_rng_state_same_draws);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    return test_run_suite(sampler_suite());
}

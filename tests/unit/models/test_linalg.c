/* test_linalg.c — the OpenBLAS products against plain loops (_ref). */
#include <check.h>
#include <stdlib.h>

#include "psrec/models/linalg.h"

#include "test_support.h"

static void scores_ref(const float *a, size_t m, const float *b, size_t n, int width, double *out)
{
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            double sum = 0;
            for (int k = 0; k < width; k++)
                sum += (double)a[i * (size_t)width + (size_t)k] * (double)b[j * (size_t)width + (size_t)k];
            out[i * n + j] = sum;
        }
}

START_TEST(test_scores_match_plain_loops)
{
    /* Odd sizes on purpose: no block of the BLAS kernel fits exactly. */
    const size_t shapes[][3] = {{1, 1, 1}, {7, 13, 5}, {33, 70, 65}, {256, 300, 17}};
    srand(11);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        size_t m = shapes[s][0], n = shapes[s][1];
        int width = (int)shapes[s][2];
        float *a = malloc(m * (size_t)width * sizeof(float));
        float *b = malloc(n * (size_t)width * sizeof(float));
        float *scores = malloc(m * n * sizeof(float));
        double *expected = malloc(m * n * sizeof(double));
        for (size_t i = 0; i < m * (size_t)width; i++)
            a[i] = (float)(rand() / (double)RAND_MAX - 0.5);
        for (size_t i = 0; i < n * (size_t)width; i++)
            b[i] = (float)(rand() / (double)RAND_MAX - 0.5);
        linalg_scores(a, m, b, n, width, scores);
        scores_ref(a, m, b, n, width, expected);
        for (size_t i = 0; i < m * n; i++)
            ck_assert_double_eq_tol(scores[i], expected[i], 1e-4);
        ck_assert_double_eq_tol(linalg_dot(a, b, width), expected[0], 1e-5);
        free(a);
        free(b);
        free(scores);
        free(expected);
    }
}
END_TEST

static Suite *linalg_suite(void)
{
    Suite *suite = suite_create("linalg");
    TCase *tc = tcase_create("scores");
    tcase_add_test(tc, test_scores_match_plain_loops);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    return test_run_suite(linalg_suite());
}

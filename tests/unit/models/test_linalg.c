/* test_linalg.c — the OpenBLAS products (linalg_scores, linalg_gemm in every
 * transpose combination) against plain loops (_ref). */
#include <check.h>
#include <math.h>
#include <stdbool.h>
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

/* c = alpha · op(a) · op(b) + beta · c in double, from the definition;
 * shapes as in linalg_gemm. */
static void gemm_ref(bool transpose_a, bool transpose_b, size_t m, size_t n, size_t k, double alpha,
                     const float *a, const float *b, double beta, const float *c, double *out)
{
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            double sum = 0;
            for (size_t l = 0; l < k; l++) {
                double a_il = transpose_a ? a[l * m + i] : a[i * k + l];
                double b_lj = transpose_b ? b[j * k + l] : b[l * n + j];
                sum += a_il * b_lj;
            }
            out[i * n + j] = alpha * sum + beta * c[i * n + j];
        }
}

START_TEST(test_gemm_matches_plain_loops)
{
    /* (m, n, k), none square, odd so no kernel block fits exactly. */
    const size_t shapes[][3] = {{1, 1, 1}, {3, 5, 7}, {7, 2, 13}, {37, 19, 64}, {65, 130, 9}};
    srand(13);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        size_t m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
        float *a = malloc(m * k * sizeof(float)), *b = malloc(k * n * sizeof(float));
        float *c = malloc(m * n * sizeof(float)), *c_start = malloc(m * n * sizeof(float));
        double *expected = malloc(m * n * sizeof(double));
        for (size_t i = 0; i < m * k; i++)
            a[i] = (float)(rand() / (double)RAND_MAX - 0.5);
        for (size_t i = 0; i < k * n; i++)
            b[i] = (float)(rand() / (double)RAND_MAX - 0.5);
        for (size_t i = 0; i < m * n; i++)
            c_start[i] = (float)(rand() / (double)RAND_MAX - 0.5);
        for (int t = 0; t < 4; t++) { /* a as is / transposed × b as is / transposed */
            bool transpose_a = t & 1, transpose_b = t & 2;
            for (size_t i = 0; i < m * n; i++)
                c[i] = c_start[i];
            linalg_gemm(transpose_a, transpose_b, m, n, k, 0.75f, a, b, -1.5f, c);
            gemm_ref(transpose_a, transpose_b, m, n, k, 0.75, a, b, -1.5, c_start, expected);
            for (size_t i = 0; i < m * n; i++)
                ck_assert_msg(fabs(c[i] - expected[i]) <= 1e-5 * (1 + fabs(expected[i])),
                              "(%zu, %zu, %zu) transpose a %d b %d: c[%zu] = %.7g, expected %.7g",
                              m, n, k, transpose_a, transpose_b, i, c[i], expected[i]);
        }
        free(a);
        free(b);
        free(c);
        free(c_start);
        free(expected);
    }
}
END_TEST

START_TEST(test_gemm_with_empty_inner_dimension)
{
    /* k = 0: the product is empty, so c becomes beta · c (a and b unread). */
    float c[6] = {1, -2, 3, -4, 5, -6};
    linalg_gemm(false, true, 2, 3, 0, 1.0f, NULL, NULL, 0.5f, c);
    for (int i = 0; i < 6; i++)
        ck_assert_float_eq(c[i], 0.5f * (float)((i % 2 ? -1 : 1) * (i + 1)));
    linalg_gemm(true, false, 3, 2, 0, 2.0f, NULL, NULL, 0.0f, c);
    for (int i = 0; i < 6; i++)
        ck_assert_float_eq(c[i], 0.0f);
    /* m or n = 0: nothing to write. */
    float untouched = 7.0f;
    linalg_gemm(false, false, 0, 3, 4, 1.0f, NULL, NULL, 0.0f, &untouched);
    linalg_gemm(false, false, 3, 0, 4, 1.0f, NULL, NULL, 0.0f, &untouched);
    ck_assert_float_eq(untouched, 7.0f);
}
END_TEST

static Suite *linalg_suite(void)
{
    Suite *suite = suite_create("linalg");
    TCase *tc = tcase_create("scores");
    tcase_add_test(tc, test_scores_match_plain_loops);
    tcase_add_test(tc, test_gemm_matches_plain_loops);
    tcase_add_test(tc, test_gemm_with_empty_inner_dimension);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    return test_run_suite(linalg_suite());
}

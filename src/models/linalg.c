/* linalg.c — OpenBLAS behind linalg.h. */
#include "psrec/models/linalg.h"

#include <cblas.h>

#define LINALG_DOT_LANES 8

double linalg_dot_double(const float *a, const float *b, int n)
{
    double lanes[LINALG_DOT_LANES] = {0};
    int k = 0;
    for (; k + LINALG_DOT_LANES <= n; k += LINALG_DOT_LANES)
        for (int l = 0; l < LINALG_DOT_LANES; l++)
            lanes[l] += (double)a[k + l] * (double)b[k + l];
    for (int l = 0; k < n; k++, l++)
        lanes[l] += (double)a[k] * (double)b[k];
    /* A pairwise tree over the lanes. */
    for (int width = LINALG_DOT_LANES / 2; width > 0; width /= 2)
        for (int l = 0; l < width; l++)
            lanes[l] += lanes[l + width];
    return lanes[0];
}

float linalg_dot(const float *a, const float *b, int n) { return (float)linalg_dot_double(a, b, n); }

void linalg_scores(const float *a, size_t m, const float *b, size_t n, int width, float *scores)
{
    if (m == 0 || n == 0)
        return;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)n, width, 1.0f, a, width, b,
                width, 0.0f, scores, (int)n);
}

void linalg_gemm(bool transpose_a, bool transpose_b, size_t m, size_t n, size_t k, float alpha,
                 const float *a, const float *b, float beta, float *c)
{
    if (m == 0 || n == 0)
        return;
    if (k == 0) { /* BLAS needs lda ≥ 1; the product is empty */
        for (size_t i = 0; i < m * n; i++)
            c[i] = beta == 0.0f ? 0.0f : beta * c[i];
        return;
    }
    cblas_sgemm(CblasRowMajor, transpose_a ? CblasTrans : CblasNoTrans,
                transpose_b ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k, alpha, a,
                transpose_a ? (int)m : (int)k, b, transpose_b ? (int)k : (int)n, beta, c, (int)n);
}

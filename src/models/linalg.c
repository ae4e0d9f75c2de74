/* linalg.c — OpenBLAS behind linalg.h. */
#include "psrec/models/linalg.h"

#include <cblas.h>

float linalg_dot(const float *a, const float *b, int n)
{
    double sum = 0.0;
    for (int k = 0; k < n; k++)
        sum += (double)a[k] * (double)b[k];
    return (float)sum;
}

void linalg_scores(const float *a, size_t m, const float *b, size_t n, int width, float *scores)
{
    if (m == 0 || n == 0)
        return;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)n, width, 1.0f, a, width, b,
                width, 0.0f, scores, (int)n);
}

/* linalg.h — the dense linear algebra the models need, on OpenBLAS.
 *
 * The only module that calls BLAS: everything else asks for products of
 * row-major float matrices through these functions, so a change of library
 * (or a reference build) touches one file.
 */
#ifndef PSREC_LINALG_H
#define PSREC_LINALG_H

#include <stddef.h>

/* Σ a[k]·b[k] over k < n, accumulated in double. */
float linalg_dot(const float *a, const float *b, int n);

/* scores = a · bᵀ: a is (m, width), b is (n, width), scores is (m, n),
 * all row-major and dense (cblas_sgemm). */
void linalg_scores(const float *a, size_t m, const float *b, size_t n, int width, float *scores);

#endif

/* linalg.h — the dense linear algebra the models need, on OpenBLAS.
 *
 * The only module that calls BLAS: everything else asks for products of
 * row-major float matrices through these functions, so a change of library
 * (or a reference build) touches one file.
 */
#ifndef PSREC_LINALG_H
#define PSREC_LINALG_H

#include <stdbool.h>
#include <stddef.h>

/* Σ a[k]·b[k] over k < n, accumulated in double in LINALG_DOT_LANES
 * interleaved partial sums added in a fixed order at the end: the lanes
 * are independent, so the loop vectorises instead of waiting on one long
 * chain of dependent additions (mf's gradient spent most of its time
 * there), and the result is the same on every machine. */
double linalg_dot_double(const float *a, const float *b, int n);

/* linalg_dot_double rounded to float. */
float linalg_dot(const float *a, const float *b, int n);

/* scores = a · bᵀ: a is (m, width), b is (n, width), scores is (m, n),
 * all row-major and dense (cblas_sgemm). */
void linalg_scores(const float *a, size_t m, const float *b, size_t n, int width, float *scores);

/* c = alpha · op(a) · op(b) + beta · c, row-major and dense (cblas_sgemm):
 * op(a) is (m, k) — a is stored (k, m) when transpose_a — op(b) is (k, n)
 * — b is stored (n, k) when transpose_b — and c is (m, n). Nothing happens
 * when m or n is 0; k = 0 scales c by beta. */
void linalg_gemm(bool transpose_a, bool transpose_b, size_t m, size_t n, size_t k, float alpha,
                 const float *a, const float *b, float beta, float *c);

#endif

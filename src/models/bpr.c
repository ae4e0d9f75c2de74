/* bpr.c — matrix factorisation for implicit feedback with the BPR loss.
 *
 *   s(u, i) = b_i + p_u·q_i,
 *   loss = w · Σ_j −ln σ(s(u, i) − s(u, j))  per positive (u, i) of weight w,
 * over its sampled negatives j, plus ½λ|row|² (½λ_b b² on item biases) for
 * every row an example touches. A user row is p_u (width dim); an item row
 * [b_i, q_i] (width dim + 1, bias first). Scoring vectors: [1, p_u] · [b_i,
 * q_i] = s(u, i); an unseen user scores items by their bias alone.
 */
#include <math.h>
#include <stddef.h>

#include "psrec/models/linalg.h"
#include "psrec/models/model.h"

static int bpr_table_specs(const ModelParams *params, TableSpec *tables)
{
    tables[0] = (TableSpec){.table_id = MODEL_TABLE_USER, .width = (uint32_t)params->dim,
                            .zero_leading = 0, .init_std = params->init_std};
    tables[1] = (TableSpec){.table_id = MODEL_TABLE_ITEM, .width = (uint32_t)params->dim + 1,
                            .zero_leading = 1, .init_std = params->init_std};
    return 2;
}

/* s(u, i) for a user row and an item row. */
static double bpr_score(int dim, const float *user, const float *item)
{
    return (double)item[0] + linalg_dot_double(user, item + 1, dim);
}

/* Adds the L2 gradient of one occurrence of an item row. */
static void bpr_item_l2(const ModelParams *params, const float *item, float *grad)
{
    grad[0] += params->l2_bias * item[0];
    for (int f = 1; f <= params->dim; f++)
        grad[f] += params->l2 * item[f];
}

static double bpr_batch_gradient(const ModelParams *params, ModelBatch *batch)
{
    int dim = params->dim;
    size_t per_example = (size_t)batch->items_per_example;
    double loss = 0.0;
    for (size_t e = 0; e < batch->n_examples; e++) {
        size_t user_at = model_batch_user(batch, e), positive_at = model_batch_item(batch, e, 0);
        const float *user = batch->users + user_at;
        float *grad_user = batch->grad_users + user_at;
        const float *positive = batch->items + positive_at;
        float *grad_positive = batch->grad_items + positive_at;
        double positive_score = bpr_score(dim, user, positive);
        float weight = batch->weights[e];
        for (size_t j = 1; j < per_example; j++) {
            size_t negative_at = model_batch_item(batch, e, j);
            const float *negative = batch->items + negative_at;
            float *grad_negative = batch->grad_items + negative_at;
            double margin = positive_score - bpr_score(dim, user, negative);
            /* −ln σ(x) = ln(1 + e^−x), computed without overflow either way. */
            loss += weight * (margin > 0 ? log1p(exp(-margin)) : -margin + log1p(exp(margin)));
            /* d/dx −ln σ(x) = −σ(−x) */
            float g = -weight * (float)(1.0 / (1.0 + exp(margin)));
            grad_positive[0] += g;
            grad_negative[0] -= g;
            for (int f = 0; f < dim; f++) {
                grad_user[f] += g * (positive[f + 1] - negative[f + 1]);
                grad_positive[f + 1] += g * user[f];
                grad_negative[f + 1] -= g * user[f];
            }
            bpr_item_l2(params, negative, grad_negative);
        }
        bpr_item_l2(params, positive, grad_positive);
        for (int f = 0; f < dim; f++)
            grad_user[f] += params->l2 * user[f];
    }
    return loss;
}

static int bpr_score_width(const ModelParams *params) { return params->dim + 1; }

static void bpr_user_vectors(const ModelParams *params, const float *dense,
                             const float *reps, size_t n, float *out)
{
    (void)dense; /* no dense parameters */
    size_t dim = (size_t)params->dim;
    for (size_t u = 0; u < n; u++) {
        out[u * (dim + 1)] = 1.0f;
        for (size_t f = 0; f < dim; f++)
            out[u * (dim + 1) + 1 + f] = reps[u * dim + f];
    }
}

static void bpr_item_vectors(const ModelParams *params, const float *dense,
                             const float *reps, size_t n, float *out)
{
    (void)dense; /* no dense parameters */
    size_t width = (size_t)params->dim + 1;
    for (size_t k = 0; k < n * width; k++)
        out[k] = reps[k];
}

const ModelOps MODEL_BPR = {
    .name = "bpr",
    .implicit = true,
    .rows_in_place = true,
    .table_specs = bpr_table_specs,
    .dense_size = NULL,
    .dense_matrices = NULL,
    .batch_gradient = bpr_batch_gradient,
    .score_width = bpr_score_width,
    .user_vectors = bpr_user_vectors,
    .item_vectors = bpr_item_vectors,
    .finish_score = NULL,
};

/* mf.c — biased matrix factorisation for explicit ratings (`mf`).
 *
 *   r̂ = μ + b_u + b_i + p_u·q_i,
 *   loss = ½(r̂ − r)² + ½λ(|p_u|² + |q_i|²) + ½λ_b(b_u² + b_i²)  per example,
 * with μ the mean training rating (fixed, not learned). A user row is
 * [b_u, p_u] and an item row [b_i, q_i] (width dim + 1, bias first).
 * Scoring vectors: [1, μ + b_u, p_u] · [b_i, 1, q_i] = r̂. Predictions are
 * clipped to the training ratings' range; an unseen user or item is a zero
 * row, so the fallback is μ + the known bias.
 */
#include <stddef.h>

#include "psrec/models/linalg.h"
#include "psrec/models/model.h"

static int mf_table_specs(const ModelParams *params, TableSpec *tables)
{
    uint32_t width = (uint32_t)params->dim + 1;
    tables[0] = (TableSpec){.table_id = MODEL_TABLE_USER, .width = width, .zero_leading = 1,
                            .init_std = params->init_std};
    tables[1] = (TableSpec){.table_id = MODEL_TABLE_ITEM, .width = width, .zero_leading = 1,
                            .init_std = params->init_std};
    return 2;
}

static double mf_batch_gradient(const ModelParams *params, ModelBatch *batch)
{
    int dim = params->dim;
    double squared_error = 0.0;
    for (size_t e = 0; e < batch->n_examples; e++) {
        size_t user_at = model_batch_user(batch, e), item_at = model_batch_item(batch, e, 0);
        const float *user = batch->users + user_at;
        const float *item = batch->items + item_at;
        float *grad_user = batch->grad_users + user_at;
        float *grad_item = batch->grad_items + item_at;
        double dot = linalg_dot_double(user + 1, item + 1, dim);
        double error = params->global_mean + (double)user[0] + (double)item[0] + dot -
                       (double)batch->labels[e];
        float e_w = (float)error * batch->weights[e];
        grad_user[0] += e_w + params->l2_bias * user[0];
        grad_item[0] += e_w + params->l2_bias * item[0];
        for (int f = 1; f <= dim; f++) {
            grad_user[f] += e_w * item[f] + params->l2 * user[f];
            grad_item[f] += e_w * user[f] + params->l2 * item[f];
        }
        squared_error += error * error;
    }
    return squared_error;
}

static int mf_score_width(const ModelParams *params) { return params->dim + 2; }

static void mf_user_vectors(const ModelParams *params, const float *dense,
                            const float *reps, size_t n, float *out)
{
    (void)dense; /* no dense parameters */
    size_t width = (size_t)params->dim + 1, out_width = width + 1;
    for (size_t u = 0; u < n; u++) {
        const float *user = reps + u * width;
        float *vector = out + u * out_width;
        vector[0] = 1.0f;
        vector[1] = (float)params->global_mean + user[0];
        for (int f = 1; f <= params->dim; f++)
            vector[f + 1] = user[f];
    }
}

static void mf_item_vectors(const ModelParams *params, const float *dense,
                            const float *reps, size_t n, float *out)
{
    (void)dense; /* no dense parameters */
    size_t width = (size_t)params->dim + 1, out_width = width + 1;
    for (size_t i = 0; i < n; i++) {
        const float *item = reps + i * width;
        float *vector = out + i * out_width;
        vector[0] = item[0];
        vector[1] = 1.0f;
        for (int f = 1; f <= params->dim; f++)
            vector[f + 1] = item[f];
    }
}

static float mf_finish_score(const ModelParams *params, float score)
{
    if (score < params->rating_min)
        return (float)params->rating_min;
    if (score > params->rating_max)
        return (float)params->rating_max;
    return score;
}

const ModelOps MODEL_MF = {
    .name = "mf",
    .implicit = false,
    .rows_in_place = true,
    .table_specs = mf_table_specs,
    .dense_size = NULL,
    .dense_matrices = NULL,
    .batch_gradient = mf_batch_gradient,
    .score_width = mf_score_width,
    .user_vectors = mf_user_vectors,
    .item_vectors = mf_item_vectors,
    .finish_score = mf_finish_score,
};

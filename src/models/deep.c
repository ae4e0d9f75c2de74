/* deep.c — one hidden layer over the user row, for implicit feedback (`deep`).
 *
 *   f(i|u) = a_u·(W_o v_i) + b_o,   a_u = σ(W_h h_u + b_h),
 * h_u the user row and v_i the item row (width dim, no bias), σ the activation
 * (relu, sigmoid or tanh), H = hidden. Loss per positive of weight w, over its
 * sampled negatives: BCE (positive → 1, negatives → 0) or BPR, plus ½λ|row|²
 * for every row an example touches; the dense parameters are not regularised.
 * Dense vector (2·H·dim + H + 1 floats): [W_h (H, dim) row-major | b_h (H) |
 * W_o (H, dim) row-major | b_o]. Scoring vectors: [a_u, 1]·[W_o v_i, b_o] = f;
 * an unseen user (zero row) has a_u = σ(b_h), the same for everyone.
 */
#include <assert.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>

#include "psrec/core/util.h"
#include "psrec/models/linalg.h"
#include "psrec/models/model.h"

/* Where each parameter starts in the dense vector (see the header). */
typedef struct {
    size_t w_hidden, b_hidden, w_out, b_out;
} DeepLayout;

static DeepLayout deep_layout(const ModelParams *params)
{
    size_t weights = (size_t)params->hidden * (size_t)params->dim;
    DeepLayout at = {.w_hidden = 0, .b_hidden = weights};
    at.w_out = at.b_hidden + (size_t)params->hidden;
    at.b_out = at.w_out + weights;
    return at;
}

static int deep_dense_matrices(const ModelParams *params, DenseMatrix *out)
{
    DeepLayout at = deep_layout(params);
    size_t hidden = (size_t)params->hidden, dim = (size_t)params->dim;
    out[0] = (DenseMatrix){.name = "w_hidden", .rows = hidden, .cols = dim, .offset = at.w_hidden};
    out[1] = (DenseMatrix){.name = "b_hidden", .rows = 1, .cols = hidden, .offset = at.b_hidden};
    out[2] = (DenseMatrix){.name = "w_out", .rows = hidden, .cols = dim, .offset = at.w_out};
    out[3] = (DenseMatrix){.name = "b_out", .rows = 1, .cols = 1, .offset = at.b_out};
    return 4;
}

static size_t deep_dense_size(const ModelParams *params)
{
    assert(params->hidden > 0 && params->dim > 0);
    return deep_layout(params).b_out + 1;
}

static int deep_table_specs(const ModelParams *params, TableSpec *tables)
{
    tables[0] = (TableSpec){.table_id = MODEL_TABLE_USER, .width = (uint32_t)params->dim,
                            .zero_leading = 0, .init_std = params->init_std};
    tables[1] = (TableSpec){.table_id = MODEL_TABLE_ITEM, .width = (uint32_t)params->dim,
                            .zero_leading = 0, .init_std = params->init_std};
    /* Both layers map dim inputs to H units: a 1/√dim spread keeps the
     * pre-activations of the same order as the rows (Xavier-like). The
     * biases are drawn the same way, not zero — the blocks mix weights and
     * biases, and a small random start is harmless. */
    tables[2] = (TableSpec){.table_id = MODEL_TABLE_DENSE, .width = MODEL_DENSE_BLOCK,
                            .zero_leading = 0, .init_std = 1.0f / sqrtf((float)params->dim)};
    return 3;
}

/* σ(z) for the activation in use. */
static float deep_activate(int activation, float z)
{
    switch (activation) {
    case ACTIVATION_SIGMOID:
        return 1.0f / (1.0f + expf(-z));
    case ACTIVATION_TANH:
        return tanhf(z);
    default:
        assert(activation == ACTIVATION_RELU);
        return z > 0.0f ? z : 0.0f;
    }
}

/* σ'(z), given a = σ(z). */
static float deep_activation_slope(int activation, float z, float a)
{
    switch (activation) {
    case ACTIVATION_SIGMOID:
        return a * (1.0f - a);
    case ACTIVATION_TANH:
        return 1.0f - a * a;
    default:
        return z > 0.0f ? 1.0f : 0.0f;
    }
}

/* The logistic function, without overflow for large |x|. */
static double deep_logistic(double x)
{
    if (x >= 0)
        return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}

/* ln(1 + eˣ) = −ln σ(−x), without overflow either way. */
static double deep_softplus(double x)
{
    return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x));
}

/* The ranking loss of one example of weight `weight`: scores holds its per
 * scores (positive first) and is overwritten with d loss / d score. Returns
 * the loss. */
static double deep_example_loss(int loss_kind, float weight, float *scores, size_t per)
{
    double positive = scores[0], loss = 0.0;
    if (loss_kind == RANKING_LOSS_BPR) {
        double grad_positive = 0.0;
        for (size_t j = 1; j < per; j++) {
            double margin = positive - scores[j];
            loss += deep_softplus(-margin);
            double slope = deep_logistic(-margin); /* −d/dmargin of −ln σ(margin) */
            grad_positive -= slope;
            scores[j] = weight * (float)slope;
        }
        scores[0] = weight * (float)grad_positive;
    } else {
        assert(loss_kind == RANKING_LOSS_BCE);
        /* −ln σ(s) for the positive, −ln(1 − σ(s)) = −ln σ(−s) per negative. */
        loss += deep_softplus(-positive);
        scores[0] = weight * (float)(deep_logistic(positive) - 1.0);
        for (size_t j = 1; j < per; j++) {
            loss += deep_softplus(scores[j]);
            scores[j] = weight * (float)deep_logistic(scores[j]);
        }
    }
    return weight * loss;
}

static double deep_batch_gradient(const ModelParams *params, ModelBatch *batch)
{
    assert(batch->dense && batch->grad_dense);
    assert(batch->user_width == params->dim && batch->item_width == params->dim);
    size_t n = batch->n_examples, per = (size_t)batch->items_per_example;
    size_t n_items = n * per, dim = (size_t)params->dim, hidden = (size_t)params->hidden;
    DeepLayout at = deep_layout(params);
    const float *dense = batch->dense;
    float *grad_dense = batch->grad_dense;

    /* Scratch for this call only (batch_gradient may run on several threads). */
    float *scratch = xmalloc((3 * n * hidden + 2 * n_items * hidden + n_items) * sizeof(float));
    float *z = scratch;                /* (n, H) pre-activations W_h h_u + b_h */
    float *a = z + n * hidden;         /* (n, H) activations σ(z) */
    float *d_z = a + n * hidden;       /* (n, H) d loss / d a, then d loss / d z */
    float *t = d_z + n * hidden;       /* (n·per, H) W_o v for every item occurrence */
    float *d_t = t + n_items * hidden; /* (n·per, H) d loss / d t */
    float *g = d_t + n_items * hidden; /* (n, per) scores, then d loss / d score */

    /* Forward: z = users · W_hᵀ + b_h, a = σ(z), t = items · W_oᵀ. */
    linalg_gemm(false, true, n, hidden, dim, 1.0f, batch->users, dense + at.w_hidden, 0.0f, z);
    for (size_t e = 0; e < n; e++)
        for (size_t k = 0; k < hidden; k++) {
            z[e * hidden + k] += dense[at.b_hidden + k];
            a[e * hidden + k] = deep_activate(params->activation, z[e * hidden + k]);
        }
    linalg_gemm(false, true, n_items, hidden, dim, 1.0f, batch->items, dense + at.w_out, 0.0f, t);

    double loss = 0.0, grad_b_out = 0.0;
    for (size_t e = 0; e < n; e++) {
        const float *a_e = a + e * hidden;
        float *g_e = g + e * per;
        for (size_t j = 0; j < per; j++)
            g_e[j] = linalg_dot(a_e, t + (e * per + j) * hidden, (int)hidden) + dense[at.b_out];
        loss += deep_example_loss(params->loss, batch->weights[e], g_e, per);

        /* s = a·t + b_o: d t = g·a, d a = Σ_j g_j t_j, d b_o = Σ_j g_j. */
        float *d_a = d_z + e * hidden;
        for (size_t k = 0; k < hidden; k++)
            d_a[k] = 0.0f;
        for (size_t j = 0; j < per; j++) {
            const float *t_j = t + (e * per + j) * hidden;
            float *d_t_j = d_t + (e * per + j) * hidden;
            for (size_t k = 0; k < hidden; k++) {
                d_t_j[k] = g_e[j] * a_e[k];
                d_a[k] += g_e[j] * t_j[k];
            }
            grad_b_out += g_e[j];
        }
        /* d z = d a ⊙ σ'(z), in place; b_h adds to z, so d b_h = Σ_e d z. */
        for (size_t k = 0; k < hidden; k++) {
            d_a[k] *= deep_activation_slope(params->activation, z[e * hidden + k], a_e[k]);
            grad_dense[at.b_hidden + k] += d_a[k];
        }
    }
    grad_dense[at.b_out] += (float)grad_b_out;

    /* Backward through the products: t = items · W_oᵀ and z = users · W_hᵀ. */
    linalg_gemm(true, false, hidden, dim, n_items, 1.0f, d_t, batch->items, 1.0f,
                grad_dense + at.w_out);
    linalg_gemm(false, false, n_items, dim, hidden, 1.0f, d_t, dense + at.w_out, 1.0f,
                batch->grad_items);
    linalg_gemm(true, false, hidden, dim, n, 1.0f, d_z, batch->users, 1.0f,
                grad_dense + at.w_hidden);
    linalg_gemm(false, false, n, dim, hidden, 1.0f, d_z, dense + at.w_hidden, 1.0f,
                batch->grad_users);

    /* L2 on every row occurrence, as in bpr: not part of the returned loss. */
    for (size_t i = 0; i < n * dim; i++)
        batch->grad_users[i] += params->l2 * batch->users[i];
    for (size_t i = 0; i < n_items * dim; i++)
        batch->grad_items[i] += params->l2 * batch->items[i];

    free(scratch);
    return loss;
}

static int deep_score_width(const ModelParams *params) { return params->hidden + 1; }

/* out is (n, H + 1): rows [σ(W_h h_u + b_h), 1]. */
static void deep_user_vectors(const ModelParams *params, const float *dense, const float *reps,
                              size_t n, float *out)
{
    assert(dense);
    size_t hidden = (size_t)params->hidden;
    DeepLayout at = deep_layout(params);
    float *z = xmalloc(n * hidden * sizeof(float)); /* (n, H) */
    linalg_gemm(false, true, n, hidden, (size_t)params->dim, 1.0f, reps, dense + at.w_hidden,
                0.0f, z);
    for (size_t u = 0; u < n; u++) {
        float *vector = out + u * (hidden + 1);
        for (size_t k = 0; k < hidden; k++)
            vector[k] =
                deep_activate(params->activation, z[u * hidden + k] + dense[at.b_hidden + k]);
        vector[hidden] = 1.0f;
    }
    free(z);
}

/* out is (n, H + 1): rows [W_o v_i, b_o]. */
static void deep_item_vectors(const ModelParams *params, const float *dense, const float *reps,
                              size_t n, float *out)
{
    assert(dense);
    size_t hidden = (size_t)params->hidden;
    DeepLayout at = deep_layout(params);
    float *t = xmalloc(n * hidden * sizeof(float)); /* (n, H) */
    linalg_gemm(false, true, n, hidden, (size_t)params->dim, 1.0f, reps, dense + at.w_out, 0.0f, t);
    for (size_t i = 0; i < n; i++) {
        float *vector = out + i * (hidden + 1);
        for (size_t k = 0; k < hidden; k++)
            vector[k] = t[i * hidden + k];
        vector[hidden] = dense[at.b_out];
    }
    free(t);
}

const ModelOps MODEL_DEEP = {
    .name = "deep",
    .implicit = true,
    .table_specs = deep_table_specs,
    .dense_size = deep_dense_size,
    .dense_matrices = deep_dense_matrices,
    .batch_gradient = deep_batch_gradient,
    .score_width = deep_score_width,
    .user_vectors = deep_user_vectors,
    .item_vectors = deep_item_vectors,
    .finish_score = NULL,
};

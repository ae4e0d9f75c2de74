/* test_deep.c — the `deep` model against plain loops in double (_ref).
 *
 * The reference restates the model from its formulas, with no BLAS: the
 * score f(i|u) = σ(W_h h_u + b_h)·(W_o v_i) + b_o, the ranking loss with L2,
 * and its gradient by hand. deep.c's scores, scoring vectors and batch
 * gradient (which runs as matrix products) must agree with it: at a small
 * size against central finite differences of the reference loss (and the
 * hand gradient, so that one is checked too), at a larger size against the
 * hand gradient alone. Every test runs for each activation × loss.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "psrec/core/util.h"
#include "psrec/models/model.h"

#include "test_support.h"

static const char *const ACTIVATION_NAMES[] = {"relu", "sigmoid", "tanh"};
static const char *const LOSS_NAMES[] = {"bce", "bpr"};

static ModelParams make_params(int dim, int hidden, int activation, int loss, int per)
{
    ModelParams params = {.dim = dim, .hidden = hidden, .activation = activation, .loss = loss,
                          .init_std = 0.1f, .l2 = 0.05f, .l2_bias = 0.02f,
                          .negatives = per - 1};
    return params;
}

/* ---- the reference, in double */

/* A batch in double. Every value is a float widened, so deep.c (which reads
 * floats) and the reference see the same numbers. */
typedef struct {
    size_t n;
    int per, dim, hidden;
    double *users;   /* (n, dim) */
    double *items;   /* (n, per, dim) */
    double *weights; /* (n) */
    double *dense;   /* (dense_count) */
    size_t dense_count;
} RefBatch;

/* The dense vector's layout, restated from deep.c's header:
 * [W_h (hidden, dim) | b_h (hidden) | W_o (hidden, dim) | b_o]. */
static double ref_w_hidden(const RefBatch *b, int k, int f) { return b->dense[k * b->dim + f]; }
static double ref_b_hidden(const RefBatch *b, int k) { return b->dense[b->hidden * b->dim + k]; }
static double ref_w_out(const RefBatch *b, int k, int f)
{
    return b->dense[b->hidden * b->dim + b->hidden + k * b->dim + f];
}
static double ref_b_out(const RefBatch *b) { return b->dense[2 * b->hidden * b->dim + b->hidden]; }

static double ref_logistic(double x) { return 1.0 / (1.0 + exp(-x)); }

static double ref_activate(int activation, double z)
{
    if (activation == ACTIVATION_SIGMOID)
        return ref_logistic(z);
    if (activation == ACTIVATION_TANH)
        return tanh(z);
    return z > 0 ? z : 0;
}

static double ref_activation_slope(int activation, double z)
{
    if (activation == ACTIVATION_SIGMOID)
        return ref_logistic(z) * (1 - ref_logistic(z));
    if (activation == ACTIVATION_TANH)
        return 1 - tanh(z) * tanh(z);
    return z > 0 ? 1 : 0;
}

/* The hidden layer of one user: z and a are (hidden). */
static void ref_hidden(const ModelParams *p, const RefBatch *b, const double *user, double *z,
                       double *a)
{
    for (int k = 0; k < b->hidden; k++) {
        z[k] = ref_b_hidden(b, k);
        for (int f = 0; f < b->dim; f++)
            z[k] += ref_w_hidden(b, k, f) * user[f];
        a[k] = ref_activate(p->activation, z[k]);
    }
}

/* W_o v for one item: t is (hidden). */
static void ref_item_out(const RefBatch *b, const double *item, double *t)
{
    for (int k = 0; k < b->hidden; k++) {
        t[k] = 0;
        for (int f = 0; f < b->dim; f++)
            t[k] += ref_w_out(b, k, f) * item[f];
    }
}

static double ref_score(const ModelParams *p, const RefBatch *b, const double *user,
                        const double *item)
{
    double z[b->hidden], a[b->hidden], t[b->hidden];
    ref_hidden(p, b, user, z, a);
    ref_item_out(b, item, t);
    double score = ref_b_out(b);
    for (int k = 0; k < b->hidden; k++)
        score += a[k] * t[k];
    return score;
}

static const double *ref_item(const RefBatch *b, size_t e, int j)
{
    return b->items + (e * (size_t)b->per + (size_t)j) * (size_t)b->dim;
}

/* The batch's weighted ranking loss, plus ½λ|row|² per row occurrence when
 * with_l2. */
static double ref_loss(const ModelParams *p, const RefBatch *b, bool with_l2)
{
    double loss = 0;
    for (size_t e = 0; e < b->n; e++) {
        const double *user = b->users + e * (size_t)b->dim;
        double s0 = ref_score(p, b, user, ref_item(b, e, 0)), example = 0;
        if (p->loss == RANKING_LOSS_BCE)
            example -= log(ref_logistic(s0));
        for (int j = 1; j < b->per; j++) {
            double s = ref_score(p, b, user, ref_item(b, e, j));
            if (p->loss == RANKING_LOSS_BCE)
                example -= log(1 - ref_logistic(s));
            else
                example -= log(ref_logistic(s0 - s));
        }
        loss += b->weights[e] * example;
        if (!with_l2)
            continue;
        for (int f = 0; f < b->dim; f++)
            loss += 0.5 * p->l2 * user[f] * user[f];
        for (int j = 0; j < b->per; j++)
            for (int f = 0; f < b->dim; f++)
                loss += 0.5 * p->l2 * ref_item(b, e, j)[f] * ref_item(b, e, j)[f];
    }
    return loss;
}

/* The gradient of ref_loss(with L2) by the chain rule, example by example;
 * the grad arrays (shaped like the batch's) are zeroed here. */
static void ref_gradient(const ModelParams *p, const RefBatch *b, double *grad_users,
                         double *grad_items, double *grad_dense)
{
    int dim = b->dim, hidden = b->hidden, per = b->per;
    for (size_t i = 0; i < b->n * (size_t)dim; i++)
        grad_users[i] = 0;
    for (size_t i = 0; i < b->n * (size_t)per * (size_t)dim; i++)
        grad_items[i] = 0;
    for (size_t i = 0; i < b->dense_count; i++)
        grad_dense[i] = 0;
    double *grad_w_hidden = grad_dense, *grad_b_hidden = grad_dense + hidden * dim;
    double *grad_w_out = grad_b_hidden + hidden, *grad_b_out = grad_w_out + hidden * dim;
    for (size_t e = 0; e < b->n; e++) {
        const double *user = b->users + e * (size_t)dim;
        double *grad_user = grad_users + e * (size_t)dim;
        double z[hidden], a[hidden], t[per][hidden], score[per], g[per];
        ref_hidden(p, b, user, z, a);
        for (int j = 0; j < per; j++) {
            ref_item_out(b, ref_item(b, e, j), t[j]);
            score[j] = ref_b_out(b);
            for (int k = 0; k < hidden; k++)
                score[j] += a[k] * t[j][k];
        }
        /* g[j] = d loss / d score[j] */
        double w = b->weights[e];
        if (p->loss == RANKING_LOSS_BCE) {
            g[0] = -w * (1 - ref_logistic(score[0]));
            for (int j = 1; j < per; j++)
                g[j] = w * ref_logistic(score[j]);
        } else {
            g[0] = 0;
            for (int j = 1; j < per; j++) {
                double pull = w * (1 - ref_logistic(score[0] - score[j]));
                g[0] -= pull;
                g[j] = pull;
            }
        }
        for (int j = 0; j < per; j++) {
            const double *item = ref_item(b, e, j);
            double *grad_item = grad_items + (e * (size_t)per + (size_t)j) * (size_t)dim;
            *grad_b_out += g[j];
            for (int k = 0; k < hidden; k++)
                for (int f = 0; f < dim; f++) {
                    grad_w_out[k * dim + f] += g[j] * a[k] * item[f];
                    grad_item[f] += g[j] * a[k] * ref_w_out(b, k, f);
                }
            for (int f = 0; f < dim; f++)
                grad_item[f] += p->l2 * item[f];
        }
        for (int k = 0; k < hidden; k++) {
            double d_a = 0;
            for (int j = 0; j < per; j++)
                d_a += g[j] * t[j][k];
            double d_z = d_a * ref_activation_slope(p->activation, z[k]);
            grad_b_hidden[k] += d_z;
            for (int f = 0; f < dim; f++) {
                grad_w_hidden[k * dim + f] += d_z * user[f];
                grad_user[f] += d_z * ref_w_hidden(b, k, f);
            }
        }
        for (int f = 0; f < dim; f++)
            grad_user[f] += p->l2 * user[f];
    }
}

/* ---- batches */

/* Uniform in [-scale, scale), rounded to a float. */
static void fill_random(Rng *rng, double *values, size_t count, double scale)
{
    for (size_t i = 0; i < count; i++)
        values[i] = (float)(scale * (2 * rng_uniform(rng) - 1));
}

/* A random batch for params' sizes. Users are redrawn until every
 * pre-activation is at least margin away from 0, so ReLU's kink lies
 * outside any finite-difference step and any float rounding. */
static RefBatch ref_batch_create(const ModelParams *p, size_t n, int per, uint64_t seed,
                                 double margin)
{
    RefBatch b = {.n = n, .per = per, .dim = p->dim, .hidden = p->hidden};
    b.dense_count = model_dense_size(model_find("deep"), p);
    b.users = malloc(n * (size_t)p->dim * sizeof(double));
    b.items = malloc(n * (size_t)per * (size_t)p->dim * sizeof(double));
    b.weights = malloc(n * sizeof(double));
    b.dense = malloc(b.dense_count * sizeof(double));
    Rng rng;
    rng_seed(&rng, seed);
    fill_random(&rng, b.dense, b.dense_count, 0.6);
    fill_random(&rng, b.items, n * (size_t)per * (size_t)p->dim, 1.0);
    for (size_t e = 0; e < n; e++) {
        b.weights[e] = (float)(0.25 + 1.5 * rng_uniform(&rng)); /* not uniform on purpose */
        double *user = b.users + e * (size_t)p->dim;
        double z[p->hidden], a[p->hidden];
        for (bool near_kink = true; near_kink;) {
            fill_random(&rng, user, (size_t)p->dim, 1.0);
            ref_hidden(p, &b, user, z, a);
            near_kink = false;
            for (int k = 0; k < p->hidden; k++)
                near_kink = near_kink || fabs(z[k]) < margin;
        }
    }
    return b;
}

static void ref_batch_free(RefBatch *b)
{
    free(b->users);
    free(b->items);
    free(b->weights);
    free(b->dense);
}

static float *to_floats(const double *values, size_t count)
{
    float *out = malloc((count ? count : 1) * sizeof(float));
    for (size_t i = 0; i < count; i++)
        out[i] = (float)values[i];
    return out;
}

/* What deep.c's batch_gradient gives for b: gradients shaped like b's
 * arrays, and the returned loss. */
typedef struct {
    float *grad_users, *grad_items, *grad_dense;
    double loss;
} ModelRun;

static ModelRun run_model(const ModelParams *p, const RefBatch *b)
{
    size_t n_users = b->n * (size_t)b->dim, n_items = n_users * (size_t)b->per;
    float *users = to_floats(b->users, n_users), *items = to_floats(b->items, n_items);
    float *weights = to_floats(b->weights, b->n), *dense = to_floats(b->dense, b->dense_count);
    ModelRun run = {.grad_users = calloc(n_users, sizeof(float)),
                    .grad_items = calloc(n_items, sizeof(float)),
                    .grad_dense = calloc(b->dense_count, sizeof(float))};
    ModelBatch batch = {.n_examples = b->n, .items_per_example = b->per,
                        .user_width = b->dim, .item_width = b->dim, .users = users,
                        .items = items, .weights = weights, .dense = dense,
                        .grad_users = run.grad_users, .grad_items = run.grad_items,
                        .grad_dense = run.grad_dense};
    run.loss = model_find("deep")->batch_gradient(p, &batch);
    free(users);
    free(items);
    free(weights);
    free(dense);
    return run;
}

static void model_run_free(ModelRun *run)
{
    free(run->grad_users);
    free(run->grad_items);
    free(run->grad_dense);
}

/* ---- tests */

START_TEST(test_deep_tables_and_sizes)
{
    const ModelOps *deep = model_find("deep");
    ck_assert_ptr_nonnull(deep);
    ck_assert(deep->implicit);
    ck_assert(deep->finish_score == NULL); /* the score is f itself */
    ModelParams params = make_params(16, 12, ACTIVATION_RELU, RANKING_LOSS_BCE, 5);
    ck_assert_uint_eq(model_table_width(deep, &params, MODEL_TABLE_USER), 16);
    ck_assert_uint_eq(model_table_width(deep, &params, MODEL_TABLE_ITEM), 16);
    ck_assert_uint_eq(model_table_width(deep, &params, MODEL_TABLE_DENSE), MODEL_DENSE_BLOCK);
    ck_assert_uint_eq(model_table_width(deep, &params, MODEL_TABLE_ITEM_FEATURE), 0);
    ck_assert_uint_eq(model_dense_size(deep, &params), 2 * 12 * 16 + 12 + 1); /* 397 */
    ck_assert_uint_eq(model_dense_blocks(deep, &params), 2);
    ck_assert_int_eq(deep->score_width(&params), 13);

    TableSpec specs[STORE_MAX_TABLES];
    ck_assert_int_eq(model_table_specs(deep, &params, specs), 3);
    for (int t = 0; t < 3; t++)
        ck_assert_uint_eq(specs[t].zero_leading, 0);
    ck_assert_float_eq_tol(specs[0].init_std, 0.1f, 1e-7f);
    ck_assert_float_eq_tol(specs[2].init_std, 0.25f, 1e-7f); /* 1/√16 */

    /* Feature rows add to the user and item rows: same width. */
    params.item_features = params.user_history = true;
    ck_assert_int_eq(model_table_specs(deep, &params, specs), 5);
    ck_assert_uint_eq(model_table_width(deep, &params, MODEL_TABLE_ITEM_FEATURE), 16);
    ck_assert_uint_eq(model_table_width(deep, &params, MODEL_TABLE_USER_HISTORY), 16);

    /* Small: one block, padded; exactly a block; one float over. */
    params = make_params(5, 3, ACTIVATION_TANH, RANKING_LOSS_BPR, 4);
    ck_assert_uint_eq(model_dense_size(deep, &params), 34);
    ck_assert_uint_eq(model_dense_blocks(deep, &params), 1);
    params.dim = 17;
    params.hidden = 7; /* 2·7·17 + 7 + 1 = 246 */
    ck_assert_uint_eq(model_dense_blocks(deep, &params), 1);
    params.dim = 9;
    params.hidden = 15; /* 2·15·9 + 15 + 1 = 286 */
    ck_assert_uint_eq(model_dense_blocks(deep, &params), 2);
}
END_TEST

/* Loop index: activation (relu, sigmoid, tanh) × loss (bce, bpr). */
static ModelParams params_for(int index, int dim, int hidden, int per)
{
    return make_params(dim, hidden, index % 3, index / 3, per);
}

START_TEST(test_deep_scores_match_reference)
{
    const ModelOps *deep = model_find("deep");
    ModelParams params = params_for(_i, 5, 3, 4);
    RefBatch b = ref_batch_create(&params, 6, 4, 101 + (uint64_t)_i, 0.0);
    float *dense = to_floats(b.dense, b.dense_count);
    float *users = to_floats(b.users, b.n * 5), *items = to_floats(b.items, b.n * 5);
    int width = deep->score_width(&params);
    ck_assert_int_eq(width, 4);
    float user_vectors[6 * 4], item_vectors[6 * 4];
    deep->user_vectors(&params, dense, users, b.n, user_vectors);
    deep->item_vectors(&params, dense, items, b.n, item_vectors); /* items are rows here */
    for (size_t u = 0; u < b.n; u++) {
        const double *user = b.users + u * 5;
        double z[3], a[3], t[3];
        ref_hidden(&params, &b, user, z, a);
        ref_item_out(&b, b.items + u * 5, t);
        for (int k = 0; k < 3; k++) {
            ck_assert_double_eq_tol(user_vectors[u * 4 + (size_t)k], a[k], 1e-5 * (1 + fabs(a[k])));
            ck_assert_double_eq_tol(item_vectors[u * 4 + (size_t)k], t[k], 1e-5 * (1 + fabs(t[k])));
        }
        ck_assert_float_eq(user_vectors[u * 4 + 3], 1.0f);
        ck_assert_float_eq(item_vectors[u * 4 + 3], (float)ref_b_out(&b));
        for (size_t i = 0; i < b.n; i++) {
            double expected = ref_score(&params, &b, user, b.items + i * 5);
            float score = model_score_pair(deep, &params, dense, users + u * 5, items + i * 5);
            ck_assert_msg(fabs(score - expected) <= 1e-5 * (1 + fabs(expected)),
                          "%s: score(%zu, %zu) = %.7g, expected %.7g",
                          ACTIVATION_NAMES[params.activation], u, i, score, expected);
        }
    }
    free(dense);
    free(users);
    free(items);
    ref_batch_free(&b);
}
END_TEST

/* Checks got[0, count) against expected within rel relative to the larger
 * of each entry and the array's largest entry: a float sum over the batch
 * errs in proportion to its terms, not to a result that cancels to ~0. */
static void check_close(const float *got, const double *expected, size_t count, double rel,
                        const ModelParams *p, const char *what)
{
    double largest = 0;
    for (size_t i = 0; i < count; i++)
        largest = fmax(largest, fabs(expected[i]));
    for (size_t i = 0; i < count; i++)
        ck_assert_msg(fabs(got[i] - expected[i]) <= rel * fmax(fabs(expected[i]), largest),
                      "%s/%s: %s[%zu] = %.7g, expected %.7g", ACTIVATION_NAMES[p->activation],
                      LOSS_NAMES[p->loss], what, i, got[i], expected[i]);
}

/* Checks grad[0, count) against central differences of ref_loss (with L2)
 * in values, which it perturbs one entry at a time and restores. */
static void check_differences(const ModelParams *p, RefBatch *b, double *values, size_t count,
                              const float *grad, const char *what)
{
    const double h = 1e-6;
    for (size_t i = 0; i < count; i++) {
        double saved = values[i];
        values[i] = saved + h;
        double up = ref_loss(p, b, true);
        values[i] = saved - h;
        double down = ref_loss(p, b, true);
        values[i] = saved;
        double expected = (up - down) / (2 * h);
        ck_assert_msg(fabs(grad[i] - expected) <= 1e-4 * (1 + fabs(expected)),
                      "%s/%s: %s[%zu] = %.7g, finite differences %.7g",
                      ACTIVATION_NAMES[p->activation], LOSS_NAMES[p->loss], what, i, grad[i],
                      expected);
    }
}

START_TEST(test_deep_gradient_matches_finite_differences)
{
    /* dim ≠ hidden, so a transposed or swapped product cannot pass. */
    const size_t n = 4;
    const int per = 4, dim = 5, hidden = 3;
    ModelParams params = params_for(_i, dim, hidden, per);
    RefBatch b = ref_batch_create(&params, n, per, 7 + (uint64_t)_i, 1e-2);
    ModelRun run = run_model(&params, &b);
    double expected_loss = ref_loss(&params, &b, false); /* as bpr: without L2 */
    ck_assert_msg(fabs(run.loss - expected_loss) <= 1e-5 * (1 + fabs(expected_loss)),
                  "%s/%s: loss %.7g, expected %.7g", ACTIVATION_NAMES[params.activation],
                  LOSS_NAMES[params.loss], run.loss, expected_loss);
    check_differences(&params, &b, b.users, n * (size_t)dim, run.grad_users, "users");
    check_differences(&params, &b, b.items, n * (size_t)per * (size_t)dim, run.grad_items,
                      "items");
    check_differences(&params, &b, b.dense, b.dense_count, run.grad_dense, "dense");

    /* The hand gradient agrees here, where the differences vouch for deep.c. */
    double grad_users[n * dim], grad_items[n * per * dim], grad_dense[b.dense_count];
    ref_gradient(&params, &b, grad_users, grad_items, grad_dense);
    check_close(run.grad_users, grad_users, n * (size_t)dim, 1e-5, &params, "users");
    check_close(run.grad_items, grad_items, n * (size_t)per * (size_t)dim, 1e-5, &params,
                "items");
    check_close(run.grad_dense, grad_dense, b.dense_count, 1e-5, &params, "dense");
    model_run_free(&run);
    ref_batch_free(&b);
}
END_TEST

START_TEST(test_deep_gradient_matches_plain_loops)
{
    const size_t n = 64;
    const int per = 5, dim = 16, hidden = 12;
    ModelParams params = params_for(_i, dim, hidden, per);
    RefBatch b = ref_batch_create(&params, n, per, 31 + (uint64_t)_i, 1e-3);
    ModelRun run = run_model(&params, &b);
    size_t n_users = n * (size_t)dim, n_items = n_users * (size_t)per;
    double *grad_users = malloc(n_users * sizeof(double));
    double *grad_items = malloc(n_items * sizeof(double));
    double *grad_dense = malloc(b.dense_count * sizeof(double));
    ref_gradient(&params, &b, grad_users, grad_items, grad_dense);
    double expected_loss = ref_loss(&params, &b, false);
    ck_assert_double_eq_tol(run.loss, expected_loss, 1e-5 * fabs(expected_loss));
    check_close(run.grad_users, grad_users, n_users, 1e-4, &params, "users");
    check_close(run.grad_items, grad_items, n_items, 1e-4, &params, "items");
    check_close(run.grad_dense, grad_dense, b.dense_count, 1e-4, &params, "dense");
    free(grad_users);
    free(grad_items);
    free(grad_dense);
    model_run_free(&run);
    ref_batch_free(&b);
}
END_TEST

static Suite *deep_suite(void)
{
    Suite *suite = suite_create("deep");
    TCase *tc = tcase_create("deep");
    tcase_add_test(tc, test_deep_tables_and_sizes);
    /* 6 = 3 activations × 2 losses (params_for). */
    tcase_add_loop_test(tc, test_deep_scores_match_reference, 0, 6);
    tcase_add_loop_test(tc, test_deep_gradient_matches_finite_differences, 0, 6);
    tcase_add_loop_test(tc, test_deep_gradient_matches_plain_loops, 0, 6);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    return test_run_suite(deep_suite());
}

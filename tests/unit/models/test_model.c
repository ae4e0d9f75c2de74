/* test_model.c — the models over a batch: mf and bpr scores against their
 * formulas, the fallback for missing rows, and every batch gradient against
 * central finite differences of an independent double-precision loss. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "psrec/models/model.h"

#include "test_support.h"

#define DIM 4
#define EXAMPLES 3
#define NEGATIVES 3

static ModelParams make_params(void)
{
    ModelParams params = {.dim = DIM, .init_std = 0.1f, .l2 = 0.05f, .l2_bias = 0.02f,
                          .negatives = NEGATIVES, .global_mean = 3.5, .rating_min = 1.0,
                          .rating_max = 5.0};
    return params;
}

START_TEST(test_mf_score_formula)
{
    const ModelOps *mf = model_find("mf");
    ck_assert_ptr_nonnull(mf);
    ModelParams params = make_params();
    float user[DIM + 1] = {0.25f, 1.0f, 2.0f, -1.0f, 0.5f};
    float item[DIM + 1] = {-0.5f, 0.1f, 0.2f, 0.3f, -0.4f};
    /* 3.5 + 0.25 - 0.5 + (0.1 + 0.4 - 0.3 - 0.2) = 3.25 */
    ck_assert_float_eq_tol(model_score_pair(mf, &params, NULL, user, item), 3.25f, 1e-6f);
}
END_TEST

START_TEST(test_mf_score_clips_and_falls_back)
{
    const ModelOps *mf = model_find("mf");
    ModelParams params = make_params();
    float big[DIM + 1] = {3.0f, 0, 0, 0, 0};
    float zeros[DIM + 1] = {0};
    ck_assert_float_eq_tol(model_score_pair(mf, &params, NULL, big, zeros), 5.0f, 1e-6f);
    big[0] = -4.0f;
    ck_assert_float_eq_tol(model_score_pair(mf, &params, NULL, big, zeros), 1.0f, 1e-6f);
    ck_assert_float_eq_tol(model_score_pair(mf, &params, NULL, zeros, zeros), 3.5f, 1e-6f); /* μ */
}
END_TEST

START_TEST(test_bpr_score_formula)
{
    const ModelOps *bpr = model_find("bpr");
    ck_assert_ptr_nonnull(bpr);
    ModelParams params = make_params();
    float user[DIM] = {1.0f, 2.0f, -1.0f, 0.5f};
    float item[DIM + 1] = {-0.5f, 0.1f, 0.2f, 0.3f, -0.4f};
    /* -0.5 + (0.1 + 0.4 - 0.3 - 0.2) = -0.5: no clipping, no global mean */
    ck_assert_float_eq_tol(model_score_pair(bpr, &params, NULL, user, item), -0.5f, 1e-6f);
    float zeros[DIM] = {0};
    ck_assert_float_eq_tol(model_score_pair(bpr, &params, NULL, zeros, item), -0.5f, 1e-6f);
    ck_assert_int_eq((int)model_table_width(bpr, &params, MODEL_TABLE_USER), DIM);
    ck_assert_int_eq((int)model_table_width(bpr, &params, MODEL_TABLE_ITEM), DIM + 1);
    ck_assert_int_eq((int)model_table_width(bpr, &params, 9), 0);
    ck_assert_ptr_null(model_find("nope"));
}
END_TEST

/* ---- reference losses in double, written from the formulas in mf.c/bpr.c */

typedef struct {
    int user_width, item_width, per_example;
    double users[EXAMPLES][DIM + 1];
    double items[EXAMPLES][1 + NEGATIVES][DIM + 1];
    double labels[EXAMPLES];
    double weights[EXAMPLES];
} RefBatch;

static double mf_loss_ref(const ModelParams *p, const RefBatch *b)
{
    double loss = 0;
    for (int e = 0; e < EXAMPLES; e++) {
        const double *u = b->users[e], *v = b->items[e][0];
        double prediction = p->global_mean + u[0] + v[0];
        double reg = 0.5 * p->l2_bias * (u[0] * u[0] + v[0] * v[0]);
        for (int f = 1; f <= DIM; f++) {
            prediction += u[f] * v[f];
            reg += 0.5 * p->l2 * (u[f] * u[f] + v[f] * v[f]);
        }
        double error = prediction - b->labels[e];
        loss += b->weights[e] * 0.5 * error * error + reg;
    }
    return loss;
}

static double bpr_loss_ref(const ModelParams *p, const RefBatch *b)
{
    double loss = 0;
    for (int e = 0; e < EXAMPLES; e++) {
        const double *u = b->users[e];
        double score[1 + NEGATIVES];
        for (int j = 0; j <= NEGATIVES; j++) {
            const double *v = b->items[e][j];
            score[j] = v[0];
            for (int f = 0; f < DIM; f++)
                score[j] += u[f] * v[f + 1];
            loss += 0.5 * p->l2_bias * v[0] * v[0];
            for (int f = 1; f <= DIM; f++)
                loss += 0.5 * p->l2 * v[f] * v[f];
        }
        for (int j = 1; j <= NEGATIVES; j++)
            loss += b->weights[e] * log1p(exp(-(score[0] - score[j])));
        for (int f = 0; f < DIM; f++)
            loss += 0.5 * p->l2 * u[f] * u[f];
    }
    return loss;
}

/* Checks a model's batch gradient against central differences of ref. */
static void check_gradient(const char *name, double (*ref)(const ModelParams *, const RefBatch *))
{
    const ModelOps *model = model_find(name);
    ModelParams params = make_params();
    RefBatch b = {.user_width = (int)model_table_width(model, &params, MODEL_TABLE_USER),
                  .item_width = (int)model_table_width(model, &params, MODEL_TABLE_ITEM),
                  .per_example = model->implicit ? 1 + NEGATIVES : 1};
    srand(7);
    float users[EXAMPLES * (DIM + 1)], items[EXAMPLES * (1 + NEGATIVES) * (DIM + 1)];
    float grad_users[EXAMPLES * (DIM + 1)] = {0}, grad_items[EXAMPLES * (1 + NEGATIVES) * (DIM + 1)] = {0};
    float labels[EXAMPLES], weights[EXAMPLES];
    for (int e = 0; e < EXAMPLES; e++) {
        for (int f = 0; f < b.user_width; f++)
            users[e * b.user_width + f] = (float)(b.users[e][f] = rand() / (double)RAND_MAX - 0.5);
        for (int j = 0; j < b.per_example; j++)
            for (int f = 0; f < b.item_width; f++)
                items[(e * b.per_example + j) * b.item_width + f] =
                    (float)(b.items[e][j][f] = rand() / (double)RAND_MAX - 0.5);
        labels[e] = (float)(b.labels[e] = 1 + e);
        weights[e] = (float)(b.weights[e] = 0.5 + e);
    }
    ModelBatch batch = {.n_examples = EXAMPLES, .items_per_example = b.per_example,
                        .user_width = b.user_width, .item_width = b.item_width, .users = users,
                        .items = items, .labels = labels, .weights = weights,
                        .grad_users = grad_users, .grad_items = grad_items};
    double loss = model->batch_gradient(&params, &batch);
    if (model->implicit) { /* the returned loss is the weighted ranking loss alone */
        RefBatch no_l2 = b;
        ModelParams p = params;
        p.l2 = p.l2_bias = 0;
        ck_assert_double_eq_tol(loss, ref(&p, &no_l2), 1e-4);
    }
    const double h = 1e-5;
    for (int e = 0; e < EXAMPLES; e++) {
        for (int f = 0; f < b.user_width; f++) {
            double saved = b.users[e][f];
            b.users[e][f] = saved + h;
            double up = ref(&params, &b);
            b.users[e][f] = saved - h;
            double down = ref(&params, &b);
            b.users[e][f] = saved;
            ck_assert_double_eq_tol(grad_users[e * b.user_width + f], (up - down) / (2 * h), 1e-4);
        }
        for (int j = 0; j < b.per_example; j++)
            for (int f = 0; f < b.item_width; f++) {
                double saved = b.items[e][j][f];
                b.items[e][j][f] = saved + h;
                double up = ref(&params, &b);
                b.items[e][j][f] = saved - h;
                double down = ref(&params, &b);
                b.items[e][j][f] = saved;
                ck_assert_double_eq_tol(grad_items[(e * b.per_example + j) * b.item_width + f],
                                        (up - down) / (2 * h), 1e-4);
            }
    }
}

START_TEST(test_mf_gradient_matches_finite_differences) { check_gradient("mf", mf_loss_ref); }
END_TEST

START_TEST(test_bpr_gradient_matches_finite_differences) { check_gradient("bpr", bpr_loss_ref); }
END_TEST

/* A model that reads rows in place (ModelBatch offsets) must compute what
 * its dense form computes with the gradients then summed per row: the same
 * batch, where examples share users and items, both ways. */
static void check_rows_in_place(const char *name)
{
    enum { ROWS = 5, N = 12 };
    const ModelOps *model = model_find(name);
    ck_assert(model->rows_in_place);
    ModelParams params = make_params();
    int width = DIM + 1; /* a row's room; bpr's user rows use DIM of it */
    int user_width = (int)model_table_width(model, &params, MODEL_TABLE_USER);
    int item_width = (int)model_table_width(model, &params, MODEL_TABLE_ITEM);
    int per = model->implicit ? 1 + NEGATIVES : 1;
    float rows[ROWS * (DIM + 1)], labels[N], weights[N];
    srand(11);
    for (int k = 0; k < ROWS * width; k++)
        rows[k] = (float)(rand() / (double)RAND_MAX - 0.5);
    size_t user_offsets[N], item_offsets[N * (1 + NEGATIVES)];
    float users[N * (DIM + 1)], items[N * (1 + NEGATIVES) * (DIM + 1)];
    for (int e = 0; e < N; e++) {
        int user_row = e % 3; /* rows 0-2 are users, 2-4 items: row 2 is both */
        user_offsets[e] = (size_t)(user_row * width);
        memcpy(users + e * user_width, rows + user_row * width, (size_t)user_width * sizeof(float));
        for (int j = 0; j < per; j++) {
            int item_row = 2 + (e + j) % 3;
            item_offsets[e * per + j] = (size_t)(item_row * width);
            memcpy(items + (e * per + j) * item_width, rows + item_row * width,
                   (size_t)item_width * sizeof(float));
        }
        labels[e] = (float)(1 + e % 5);
        weights[e] = 0.5f + (float)e / N;
    }
    float grad_users[N * (DIM + 1)] = {0}, grad_items[N * (1 + NEGATIVES) * (DIM + 1)] = {0};
    ModelBatch dense = {.n_examples = N, .items_per_example = per, .user_width = user_width,
                        .item_width = item_width, .users = users, .items = items,
                        .labels = labels, .weights = weights, .grad_users = grad_users,
                        .grad_items = grad_items};
    double dense_loss = model->batch_gradient(&params, &dense);
    double expected[ROWS * (DIM + 1)] = {0};
    for (int e = 0; e < N; e++) {
        for (int f = 0; f < user_width; f++)
            expected[user_offsets[e] + (size_t)f] += grad_users[e * user_width + f];
        for (int j = 0; j < per; j++)
            for (int f = 0; f < item_width; f++)
                expected[item_offsets[e * per + j] + (size_t)f] +=
                    grad_items[(e * per + j) * item_width + f];
    }
    float grads[ROWS * (DIM + 1)] = {0};
    ModelBatch in_place = {.n_examples = N, .items_per_example = per, .user_width = user_width,
                           .item_width = item_width, .users = rows, .items = rows,
                           .user_offsets = user_offsets, .item_offsets = item_offsets,
                           .labels = labels, .weights = weights, .grad_users = grads,
                           .grad_items = grads};
    ck_assert_double_eq_tol(model->batch_gradient(&params, &in_place), dense_loss, 1e-9);
    for (int k = 0; k < ROWS * width; k++)
        ck_assert_double_eq_tol(grads[k], expected[k], 1e-5);
}

START_TEST(test_rows_in_place_equal_dense_then_summed)
{
    check_rows_in_place("mf");
    check_rows_in_place("bpr");
}
END_TEST

START_TEST(test_score_vectors_reproduce_scores)
{
    /* For both models, user_vector · item_vector is the score that the
     * gradient code's formula gives (the matrix-product scoring relies on
     * it). */
    const char *names[] = {"mf", "bpr"};
    for (int m = 0; m < 2; m++) {
        const ModelOps *model = model_find(names[m]);
        ModelParams params = make_params();
        params.rating_min = -100;
        params.rating_max = 100;
        float user[DIM + 1] = {0.3f, -0.7f, 0.2f, 0.9f, -0.4f};
        float item[DIM + 1] = {0.6f, 0.1f, -0.5f, 0.3f, 0.8f};
        double expected = model->implicit ? item[0] : params.global_mean + user[0] + item[0];
        for (int f = 0; f < DIM; f++)
            expected += model->implicit ? user[f] * item[f + 1] : user[f + 1] * item[f + 1];
        ck_assert_double_eq_tol(model_score_pair(model, &params, NULL, user, item), expected, 1e-5);
    }
}
END_TEST

static Suite *model_suite(void)
{
    Suite *suite = suite_create("model");
    TCase *tc = tcase_create("models");
    tcase_add_test(tc, test_mf_score_formula);
    tcase_add_test(tc, test_mf_score_clips_and_falls_back);
    tcase_add_test(tc, test_bpr_score_formula);
    tcase_add_test(tc, test_mf_gradient_matches_finite_differences);
    tcase_add_test(tc, test_bpr_gradient_matches_finite_differences);
    tcase_add_test(tc, test_rows_in_place_equal_dense_then_summed);
    tcase_add_test(tc, test_score_vectors_reproduce_scores);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    return test_run_suite(model_suite());
}

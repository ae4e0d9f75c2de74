/* test_model.c — the mf model: prediction formula, clipping, fallback for
 * missing rows, and its gradient against central finite differences. */
#include <check.h>
#include <math.h>

#include "psrec/core/keys.h"
#include "psrec/models/model.h"

#include "test_support.h"

#define DIM 4

static ModelParams make_params(void)
{
    ModelParams params = {.dim = DIM, .init_std = 0.1f, .l2 = 0.05f, .l2_bias = 0.02f,
                          .global_mean = 3.5, .rating_min = 1.0, .rating_max = 5.0};
    return params;
}

START_TEST(test_mf_predict_formula)
{
    const ModelOps *mf = model_find("mf");
    ck_assert_ptr_nonnull(mf);
    ModelParams params = make_params();
    float user[DIM + 1] = {0.25f, 1.0f, 2.0f, -1.0f, 0.5f};
    float item[DIM + 1] = {-0.5f, 0.1f, 0.2f, 0.3f, -0.4f};
    const float *rows[2] = {user, item};
    /* 3.5 + 0.25 - 0.5 + (0.1 + 0.4 - 0.3 - 0.2) = 3.25 */
    ck_assert_float_eq_tol(mf->predict(&params, rows), 3.25f, 1e-6f);
}
END_TEST

START_TEST(test_mf_predict_clips_and_falls_back)
{
    const ModelOps *mf = model_find("mf");
    ModelParams params = make_params();
    float big[DIM + 1] = {3.0f, 0, 0, 0, 0};
    float zeros[DIM + 1] = {0};
    const float *rows[2] = {big, zeros};
    ck_assert_float_eq_tol(mf->predict(&params, rows), 5.0f, 1e-6f); /* 6.5 clipped */
    big[0] = -4.0f;
    ck_assert_float_eq_tol(mf->predict(&params, rows), 1.0f, 1e-6f); /* -0.5 clipped */
    const float *unknown[2] = {zeros, zeros};
    ck_assert_float_eq_tol(mf->predict(&params, unknown), 3.5f, 1e-6f); /* μ */
}
END_TEST

/* The loss whose gradient example_gradient returns (see model.h). */
static double mf_loss_ref(const ModelParams *params, const double *user, const double *item,
                          double rating)
{
    double prediction = params->global_mean + user[0] + item[0];
    double reg = 0.5 * params->l2_bias * (user[0] * user[0] + item[0] * item[0]);
    for (int f = 1; f <= DIM; f++) {
        prediction += user[f] * item[f];
        reg += 0.5 * params->l2 * (user[f] * user[f] + item[f] * item[f]);
    }
    double error = prediction - rating;
    return 0.5 * error * error + reg;
}

/* The central difference of mf_loss_ref in the coordinate *x, which is an
 * entry of u or of v; *x is left as it was. */
static double mf_loss_slope_ref(const ModelParams *params, double *u, double *v, double rating,
                                double *x)
{
    const double h = 1e-5;
    double saved = *x;
    *x = saved + h;
    double up = mf_loss_ref(params, u, v, rating);
    *x = saved - h;
    double down = mf_loss_ref(params, u, v, rating);
    *x = saved;
    return (up - down) / (2 * h);
}

START_TEST(test_mf_gradient_matches_finite_differences)
{
    const ModelOps *mf = model_find("mf");
    ModelParams params = make_params();
    float user[DIM + 1] = {0.3f, 0.5f, -0.2f, 0.8f, 0.1f};
    float item[DIM + 1] = {-0.1f, 0.4f, 0.6f, -0.3f, 0.9f};
    float grad_user[DIM + 1] = {0}, grad_item[DIM + 1] = {0};
    const float *rows[2] = {user, item};
    float *grads[2] = {grad_user, grad_item};
    double squared_error = mf->example_gradient(&params, rows, grads, 4.0f);

    double u[DIM + 1], v[DIM + 1];
    for (int f = 0; f <= DIM; f++) {
        u[f] = user[f];
        v[f] = item[f];
    }
    double prediction = params.global_mean + u[0] + v[0];
    for (int f = 1; f <= DIM; f++)
        prediction += u[f] * v[f];
    ck_assert_double_eq_tol(squared_error, (prediction - 4.0) * (prediction - 4.0), 1e-5);

    for (int f = 0; f <= DIM; f++) {
        ck_assert_double_eq_tol(grad_user[f], mf_loss_slope_ref(&params, u, v, 4.0, &u[f]), 1e-4);
        ck_assert_double_eq_tol(grad_item[f], mf_loss_slope_ref(&params, u, v, 4.0, &v[f]), 1e-4);
    }
}
END_TEST

START_TEST(test_mf_gradient_accumulates)
{
    const ModelOps *mf = model_find("mf");
    ModelParams params = make_params();
    float user[DIM + 1] = {0.3f, 0.5f, -0.2f, 0.8f, 0.1f};
    float item[DIM + 1] = {-0.1f, 0.4f, 0.6f, -0.3f, 0.9f};
    float once_user[DIM + 1] = {0}, once_item[DIM + 1] = {0};
    float twice_user[DIM + 1] = {0}, twice_item[DIM + 1] = {0};
    const float *rows[2] = {user, item};
    float *once[2] = {once_user, once_item};
    float *twice[2] = {twice_user, twice_item};
    mf->example_gradient(&params, rows, once, 2.0f);
    mf->example_gradient(&params, rows, twice, 2.0f);
    mf->example_gradient(&params, rows, twice, 2.0f);
    for (int f = 0; f <= DIM; f++) {
        ck_assert_float_eq_tol(twice_user[f], 2 * once_user[f], 1e-6f);
        ck_assert_float_eq_tol(twice_item[f], 2 * once_item[f], 1e-6f);
    }
}
END_TEST

START_TEST(test_mf_tables_and_keys)
{
    const ModelOps *mf = model_find("mf");
    ModelParams params = make_params();
    TableSpec specs[STORE_MAX_TABLES];
    ck_assert_int_eq(mf->table_specs(&params, specs), 2);
    ck_assert_uint_eq(specs[0].width, DIM + 1);
    ck_assert_uint_eq(specs[0].zero_leading, 1);
    uint64_t keys[2];
    mf->example_keys(17, 42, keys);
    ck_assert_uint_eq(key_table(keys[0]), MODEL_TABLE_USER);
    ck_assert_uint_eq(key_id(keys[0]), 17);
    ck_assert_uint_eq(key_table(keys[1]), MODEL_TABLE_ITEM);
    ck_assert_uint_eq(key_id(keys[1]), 42);
    ck_assert_ptr_null(model_find("nope"));
}
END_TEST

static Suite *model_suite(void)
{
    Suite *suite = suite_create("model");
    TCase *tc = tcase_create("mf");
    tcase_add_test(tc, test_mf_predict_formula);
    tcase_add_test(tc, test_mf_predict_clips_and_falls_back);
    tcase_add_test(tc, test_mf_gradient_matches_finite_differences);
    tcase_add_test(tc, test_mf_gradient_accumulates);
    tcase_add_test(tc, test_mf_tables_and_keys);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    return test_run_suite(model_suite());
}

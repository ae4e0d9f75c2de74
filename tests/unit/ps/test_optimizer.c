/* test_optimizer.c — SGD, Adagrad and lazy Adam on one row.
 *
 * Each rule is checked for two steps against numbers worked out by hand
 * (written below as plain arithmetic), and Adam additionally against a
 * double-precision reference over many random steps. Lazy Adam must use the
 * row's own step count for bias correction.
 */
#include <check.h>
#include <math.h>

#include "psrec/ps/optimizer.h"
#include "psrec/core/util.h"

#include "test_support.h"

#define TOLERANCE 1e-6

static OptimizerConfig config_make(OptimizerKind kind, float learning_rate)
{
    OptimizerConfig config = {.kind = kind,
                              .learning_rate = learning_rate,
                              .beta1 = 0.9f,
                              .beta2 = 0.999f,
                              .epsilon = 1e-8f,
                              .adagrad_init = 0.1f};
    return config;
}

START_TEST(test_state_sizes_and_init)
{
    ck_assert_uint_eq(optimizer_state_floats(OPTIMIZER_SGD, 8), 0);
    ck_assert_uint_eq(optimizer_state_floats(OPTIMIZER_ADAGRAD, 8), 8);
    ck_assert_uint_eq(optimizer_state_floats(OPTIMIZER_ADAM, 8), 16);

    float state[16];
    for (int i = 0; i < 16; i++)
        state[i] = -7.0f;
    OptimizerConfig adagrad = config_make(OPTIMIZER_ADAGRAD, 0.1f);
    adagrad.adagrad_init = 0.25f;
    optimizer_init_state(&adagrad, state, 8);
    for (int i = 0; i < 8; i++)
        ck_assert_float_eq(state[i], 0.25f);
    ck_assert_float_eq(state[8], -7.0f); /* writes only its own floats */

    OptimizerConfig adam = config_make(OPTIMIZER_ADAM, 0.1f);
    optimizer_init_state(&adam, state, 8);
    for (int i = 0; i < 16; i++)
        ck_assert_float_eq(state[i], 0.0f);
}
END_TEST

START_TEST(test_sgd_by_hand)
{
    OptimizerConfig config = config_make(OPTIMIZER_SGD, 0.1f);
    float w[2] = {1.0f, -2.0f};
    uint32_t step = 0;
    const float g1[2] = {0.5f, -1.0f};
    optimizer_apply(&config, w, NULL, &step, g1, 2);
    ck_assert_uint_eq(step, 1);
    ck_assert_double_eq_tol(w[0], 1.0 - 0.1 * 0.5, TOLERANCE);    /* 0.95 */
    ck_assert_double_eq_tol(w[1], -2.0 - 0.1 * -1.0, TOLERANCE);  /* -1.9 */
    const float g2[2] = {0.2f, 0.4f};
    optimizer_apply(&config, w, NULL, &step, g2, 2);
    ck_assert_uint_eq(step, 2);
    ck_assert_double_eq_tol(w[0], 0.95 - 0.1 * 0.2, TOLERANCE);  /* 0.93 */
    ck_assert_double_eq_tol(w[1], -1.9 - 0.1 * 0.4, TOLERANCE);  /* -1.94 */
}
END_TEST

START_TEST(test_adagrad_by_hand)
{
    /* A large epsilon so that its place in the formula shows. */
    OptimizerConfig config = config_make(OPTIMIZER_ADAGRAD, 0.5f);
    config.epsilon = 0.1f;
    config.adagrad_init = 0.1f;
    float w[2] = {1.0f, 0.0f};
    float s[2];
    uint32_t step = 0;
    optimizer_init_state(&config, s, 2);

    const float g1[2] = {1.0f, -2.0f};
    optimizer_apply(&config, w, s, &step, g1, 2);
    /* s = 0.1 + g²: 1.1 and 4.1; w -= 0.5 g / (sqrt(s) + 0.1) */
    ck_assert_double_eq_tol(s[0], 1.1, TOLERANCE);
    ck_assert_double_eq_tol(s[1], 4.1, TOLERANCE);
    double w0 = 1.0 - 0.5 * 1.0 / (sqrt(1.1) + 0.1); /* 0.564774 */
    double w1 = 0.0 - 0.5 * -2.0 / (sqrt(4.1) + 0.1); /* 0.470627 */
    ck_assert_double_eq_tol(w[0], w0, TOLERANCE);
    ck_assert_double_eq_tol(w[1], w1, TOLERANCE);
    ck_assert_double_eq_tol(w[0], 0.564774, 1e-5);

    const float g2[2] = {0.5f, 1.0f};
    optimizer_apply(&config, w, s, &step, g2, 2);
    ck_assert_uint_eq(step, 2);
    /* s = 1.1 + 0.25 = 1.35 and 4.1 + 1 = 5.1 */
    ck_assert_double_eq_tol(s[0], 1.35, TOLERANCE);
    ck_assert_double_eq_tol(s[1], 5.1, TOLERANCE);
    ck_assert_double_eq_tol(w[0], w0 - 0.5 * 0.5 / (sqrt(1.35) + 0.1), TOLERANCE);
    ck_assert_double_eq_tol(w[1], w1 - 0.5 * 1.0 / (sqrt(5.1) + 0.1), TOLERANCE);
}
END_TEST

START_TEST(test_adam_by_hand)
{
    OptimizerConfig config = config_make(OPTIMIZER_ADAM, 0.01f);
    float w[3] = {0.5f, -0.5f, 0.0f};
    float state[6];
    uint32_t step = 0;
    optimizer_init_state(&config, state, 3);

    /* Step 1: m = 0.1 g, v = 0.001 g²; corrected m̂ = g, v̂ = g², so each
     * weight moves by lr·g/|g| = lr·sign(g); a zero gradient moves nothing. */
    const float g1[3] = {0.3f, -2.0f, 0.0f};
    optimizer_apply(&config, w, state, &step, g1, 3);
    ck_assert_uint_eq(step, 1);
    ck_assert_double_eq_tol(w[0], 0.5 - 0.01, TOLERANCE);
    ck_assert_double_eq_tol(w[1], -0.5 + 0.01, TOLERANCE);
    ck_assert_double_eq_tol(w[2], 0.0, TOLERANCE);
    ck_assert_double_eq_tol(state[0], 0.1 * 0.3, TOLERANCE);          /* m */
    ck_assert_double_eq_tol(state[1], 0.1 * -2.0, TOLERANCE);
    ck_assert_double_eq_tol(state[3], 0.001 * 0.3 * 0.3, TOLERANCE);  /* v */
    ck_assert_double_eq_tol(state[4], 0.001 * 4.0, TOLERANCE);

    /* Step 2, weight 0 with g = 0.1:
     *   m = 0.9·0.03 + 0.1·0.1 = 0.037
     *   v = 0.999·0.00009 + 0.001·0.01 = 0.00009991
     *   m̂ = 0.037 / (1 - 0.9²) = 0.037 / 0.19
     *   v̂ = 0.00009991 / (1 - 0.999²) = 0.00009991 / 0.001999
     *   w = 0.49 - 0.01 · m̂ / (sqrt(v̂) + 1e-8) ≈ 0.481289
     * weight 2 (m = v = 0 before) with g = 0.5:
     *   m = 0.05, v = 0.00025; m̂ = 0.05/0.19, v̂ = 0.00025/0.001999 */
    const float g2[3] = {0.1f, 1.0f, 0.5f};
    optimizer_apply(&config, w, state, &step, g2, 3);
    ck_assert_uint_eq(step, 2);
    ck_assert_double_eq_tol(state[0], 0.037, TOLERANCE);
    ck_assert_double_eq_tol(state[3], 0.00009991, 1e-8);
    double w0 = 0.49 - 0.01 * (0.037 / 0.19) / (sqrt(0.00009991 / 0.001999) + 1e-8);
    ck_assert_double_eq_tol(w[0], w0, TOLERANCE);
    ck_assert_double_eq_tol(w[0], 0.481289, 1e-5);
    /* weight 1: m = 0.9·-0.2 + 0.1·1 = -0.08, v = 0.999·0.004 + 0.001·1 = 0.004996 */
    double w1 = -0.49 - 0.01 * (-0.08 / 0.19) / (sqrt(0.004996 / 0.001999) + 1e-8);
    ck_assert_double_eq_tol(w[1], w1, TOLERANCE);
    double w2 = 0.0 - 0.01 * (0.05 / 0.19) / (sqrt(0.00025 / 0.001999) + 1e-8);
    ck_assert_double_eq_tol(w[2], w2, TOLERANCE);
}
END_TEST

/* Reference Adam in double with the header's formula, one weight at a time. */
static void adam_apply_ref(const OptimizerConfig *config, double *w, double *m, double *v,
                           uint32_t *step, const float *grad, size_t width)
{
    *step += 1;
    double b1 = config->beta1, b2 = config->beta2;
    for (size_t i = 0; i < width; i++) {
        double g = grad[i];
        m[i] = b1 * m[i] + (1 - b1) * g;
        v[i] = b2 * v[i] + (1 - b2) * g * g;
        double m_hat = m[i] / (1 - pow(b1, *step));
        double v_hat = v[i] / (1 - pow(b2, *step));
        w[i] -= config->learning_rate * m_hat / (sqrt(v_hat) + config->epsilon);
    }
}

START_TEST(test_adam_matches_reference)
{
    enum { WIDTH = 16, STEPS = 200 };
    OptimizerConfig config = config_make(OPTIMIZER_ADAM, 0.003f);
    float w[WIDTH], state[2 * WIDTH], grad[WIDTH];
    double w_ref[WIDTH], m_ref[WIDTH] = {0}, v_ref[WIDTH] = {0};
    Rng rng;
    rng_seed(&rng, 7);
    for (int i = 0; i < WIDTH; i++)
        w_ref[i] = w[i] = (float)rng_normal(&rng);
    optimizer_init_state(&config, state, WIDTH);
    uint32_t step = 0, step_ref = 0;
    for (int s = 0; s < STEPS; s++) {
        for (int i = 0; i < WIDTH; i++)
            grad[i] = (float)(rng_normal(&rng) * (1 + i));
        optimizer_apply(&config, w, state, &step, grad, WIDTH);
        adam_apply_ref(&config, w_ref, m_ref, v_ref, &step_ref, grad, WIDTH);
    }
    ck_assert_uint_eq(step, STEPS);
    for (int i = 0; i < WIDTH; i++) {
        ck_assert_double_eq_tol(w[i], w_ref[i], 1e-4);
        ck_assert_double_eq_tol(state[i], m_ref[i], 1e-4 * (1 + i));
        ck_assert_double_eq_tol(state[WIDTH + i], v_ref[i], 1e-3 * (1 + i) * (1 + i));
    }
}
END_TEST

START_TEST(test_lazy_adam_uses_row_step)
{
    OptimizerConfig config = config_make(OPTIMIZER_ADAM, 0.05f);
    float busy_w[1] = {0.0f}, busy_state[2];
    float quiet_w[1] = {1.0f}, quiet_state[2];
    uint32_t busy_step = 0, quiet_step = 0;
    optimizer_init_state(&config, busy_state, 1);
    optimizer_init_state(&config, quiet_state, 1);
    const float g[1] = {0.7f};
    for (int i = 0; i < 10; i++)
        optimizer_apply(&config, busy_w, busy_state, &busy_step, g, 1);
    ck_assert_uint_eq(busy_step, 10);

    /* The quiet row's first update is a t = 1 step: exactly lr·sign(g). With
     * a global t = 11 it would move 0.05·(0.1/(1-0.9^11))/sqrt(0.001/(1-0.999^11))
     * ≈ 0.05·0.146/0.302 ≈ 0.024 instead. */
    const float g_neg[1] = {-3.0f};
    optimizer_apply(&config, quiet_w, quiet_state, &quiet_step, g_neg, 1);
    ck_assert_uint_eq(quiet_step, 1);
    ck_assert_double_eq_tol(quiet_w[0], 1.0 + 0.05, TOLERANCE);

    /* A row restored with step 10 continues at t = 11, like the busy row. */
    float copy_w[1] = {busy_w[0]}, copy_state[2] = {busy_state[0], busy_state[1]};
    uint32_t copy_step = 10;
    optimizer_apply(&config, busy_w, busy_state, &busy_step, g, 1);
    optimizer_apply(&config, copy_w, copy_state, &copy_step, g, 1);
    ck_assert_float_eq(copy_w[0], busy_w[0]);
    ck_assert_uint_eq(copy_step, 11);
}
END_TEST

static Suite *optimizer_suite(void)
{
    Suite *suite = suite_create("optimizer");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_state_sizes_and_init);
    tcase_add_test(tc, test_sgd_by_hand);
    tcase_add_test(tc, test_adagrad_by_hand);
    tcase_add_test(tc, test_adam_by_hand);
    tcase_add_test(tc, test_adam_matches_reference);
    tcase_add_test(tc, test_lazy_adam_uses_row_step);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    return test_run_suite(optimizer_suite());
}

/* optimizer.c — SGD, Adagrad and lazy Adam applied to one row on a server.
 *
 * The state layout is fixed by optimizer_state_floats and is what
 * checkpoints store: Adagrad keeps one accumulator per weight, Adam keeps m
 * (width floats) then v (width floats). Weights and state are float; Adam's
 * bias corrections are computed in double from the row's own step count, so
 * 1 - beta^t stays accurate for the small t of rarely touched rows.
 */
#include "psrec/ps/optimizer.h"

#include <assert.h>
#include <math.h>
#include <string.h>

#include "psrec/core/util.h"

size_t optimizer_state_floats(OptimizerKind kind, size_t width)
{
    switch (kind) {
    case OPTIMIZER_SGD:
        return 0;
    case OPTIMIZER_ADAGRAD:
        return width;
    case OPTIMIZER_ADAM:
        return 2 * width;
    }
    assert(!"unknown optimizer kind");
    return 0;
}

void optimizer_init_state(const OptimizerConfig *config, float *state, size_t width)
{
    switch (config->kind) {
    case OPTIMIZER_SGD:
        return;
    case OPTIMIZER_ADAGRAD:
        for (size_t i = 0; i < width; i++)
            state[i] = config->adagrad_init;
        return;
    case OPTIMIZER_ADAM:
        memset(state, 0, 2 * width * sizeof *state);
        return;
    }
    assert(!"unknown optimizer kind");
}

/* base^exponent by repeated squaring: at most 2·32 multiplications, a few
 * nanoseconds where pow() took tens — twice per row update, it was a tenth
 * of a server's time. Relative error about 1e-15 per multiplication. */
static double power_of(double base, uint32_t exponent)
{
    double result = 1.0;
    while (exponent) {
        if (exponent & 1u)
            result *= base;
        base *= base;
        exponent >>= 1;
    }
    return result;
}

/* Adam with per-row bias correction; t is the row's step after increment. */
VECTOR_CLONES static void optimizer_apply_adam(const OptimizerConfig *config, float *restrict weights,
                                 float *restrict state, uint32_t t,
                                 const float *restrict grad, size_t width)
{
    float *restrict m = state;
    float *restrict v = state + width;
    const float beta1 = config->beta1, beta2 = config->beta2, eps = config->epsilon;
    /* Fold the corrections into the step: w -= (lr/bc1) m / (sqrt(v/bc2) + eps). */
    double bias1 = 1.0 - power_of((double)beta1, t);
    double bias2 = 1.0 - power_of((double)beta2, t);
    const float step_size = (float)((double)config->learning_rate / bias1);
    const float inv_bias2 = (float)(1.0 / bias2);
    for (size_t i = 0; i < width; i++) {
        float g = grad[i];
        m[i] = beta1 * m[i] + (1.0f - beta1) * g;
        v[i] = beta2 * v[i] + (1.0f - beta2) * g * g;
        weights[i] -= step_size * m[i] / (sqrtf(v[i] * inv_bias2) + eps);
    }
}

void optimizer_apply(const OptimizerConfig *config, float *weights, float *state,
                     uint32_t *step, const float *grad, size_t width)
{
    assert(*step < UINT32_MAX);
    *step += 1;
    const float lr = config->learning_rate;
    switch (config->kind) {
    case OPTIMIZER_SGD:
        for (size_t i = 0; i < width; i++)
            weights[i] -= lr * grad[i];
        return;
    case OPTIMIZER_ADAGRAD:
        for (size_t i = 0; i < width; i++) {
            float g = grad[i];
            state[i] += g * g;
            weights[i] -= lr * g / (sqrtf(state[i]) + config->epsilon);
        }
        return;
    case OPTIMIZER_ADAM:
        optimizer_apply_adam(config, weights, state, *step, grad, width);
        return;
    }
    assert(!"unknown optimizer kind");
}

/* optimizer.h — the update rules the parameter servers apply to one row.
 *
 * A row keeps its weights and its optimizer state side by side. Adam is
 * "lazy": each row counts its own steps for bias correction, so a row that is
 * rarely touched is not decayed by other rows' steps. Adagrad and plain SGD
 * are the cheap alternatives. The gradient passed in is the full gradient of
 * the loss (any L2 term already added by the model).
 */
#ifndef PSREC_OPTIMIZER_H
#define PSREC_OPTIMIZER_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    OPTIMIZER_SGD = 0,
    OPTIMIZER_ADAGRAD = 1,
    OPTIMIZER_ADAM = 2
} OptimizerKind;

typedef struct {
    OptimizerKind kind;
    float learning_rate;
    float beta1;         /* Adam */
    float beta2;         /* Adam */
    float epsilon;       /* Adam and Adagrad */
    float adagrad_init;  /* initial accumulator value of Adagrad */
} OptimizerConfig;

/* Floats of optimizer state per row of `width` weights:
 * SGD 0, Adagrad width (sum of squares), Adam 2*width (m then v). */
size_t optimizer_state_floats(OptimizerKind kind, size_t width);

/* Fills state (optimizer_state_floats of them) with its initial value. */
void optimizer_init_state(const OptimizerConfig *config, float *state, size_t width);

/* One update of a row. weights is (width,), state as above, grad (width,).
 * *step is the row's update count: incremented here (Adam's bias correction
 * uses the new value).
 *   SGD:     w -= lr * g
 *   Adagrad: s += g²;  w -= lr * g / (sqrt(s) + eps)
 *   Adam:    t += 1; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g²;
 *            w -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)      */
void optimizer_apply(const OptimizerConfig *config, float *weights, float *state,
                     uint32_t *step, const float *grad, size_t width);

#endif

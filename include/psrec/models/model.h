/* model.h — the models that train through the pull/compute/push loop.
 *
 * A model is a small table of functions (ModelOps): which parameter tables it
 * has, which rows an example touches, the loss and gradient of one example
 * given those rows, and a prediction. Workers and `psrec predict` only talk
 * to models through this table, so a new model is a new ModelOps.
 *
 * Model `mf` — biased matrix factorisation for explicit ratings:
 *   r̂ = μ + b_u + b_i + p_u·q_i,
 *   loss = ½(r̂ − r)² + ½λ(|p_u|² + |q_i|²) + ½λ_b(b_u² + b_i²)  per example,
 * with μ the mean training rating (fixed, not learned). A user row is
 * [b_u, p_u] and an item row [b_i, q_i] (width dim + 1, bias first).
 * Predictions are clipped to the training ratings' range; a row that does not
 * exist (an unseen user or item) counts as all zeros, so the fallback for an
 * unknown user is μ + b_i, and for unknown both μ.
 */
#ifndef PSREC_MODEL_H
#define PSREC_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "psrec/ps/store.h"

#define MODEL_MAX_KEYS_PER_EXAMPLE 8

enum { MODEL_TABLE_USER = 1, MODEL_TABLE_ITEM = 2 };

typedef struct {
    int dim;
    float init_std;
    float l2;          /* λ on factors */
    float l2_bias;     /* λ_b on biases */
    double global_mean;
    double rating_min;
    double rating_max;
} ModelParams;

typedef struct {
    const char *name;
    int keys_per_example;
    /* Writes the model's table specs into tables (≤ STORE_MAX_TABLES) and
     * returns how many. */
    int (*table_specs)(const ModelParams *params, TableSpec *tables);
    /* The keys of one example (keys_per_example of them). */
    void (*example_keys)(uint64_t user, uint64_t item, uint64_t *keys);
    /* Loss of one example (rating r) given its rows (rows[k] for keys[k]),
     * and its gradient added into grads[k] (same shapes as rows). Returns
     * the squared error (r̂ − r)² so callers can report a train MSE. */
    double (*example_gradient)(const ModelParams *params, const float *const *rows,
                               float *const *grads, float rating);
    /* The clipped prediction from the rows of an example. */
    float (*predict)(const ModelParams *params, const float *const *rows);
} ModelOps;

/* The model named `name` ("mf"), or NULL. */
const ModelOps *model_find(const char *name);

/* The name of a parameter table in files a person reads (e.g. exports):
 * "user" for MODEL_TABLE_USER, "item" for MODEL_TABLE_ITEM, "table<N>" for
 * any other id N (table_id <= KEY_TABLE_MAX). Names never change once files
 * use them. The result is a constant string. */
const char *model_table_name(uint32_t table_id);

#endif

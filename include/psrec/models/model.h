/* model.h — the models that train through the pull/compute/push loop.
 *
 * A model is a small table of functions (ModelOps) over a whole batch. The
 * worker gathers, per example, a user representation and one or more item
 * representations (the positive or rated item first, then sampled
 * negatives) from the rows it pulled; the model computes the loss of the
 * batch and the gradient of every representation; the worker scatters those
 * back onto the rows (models/batch.h). Dense parameters are not needed by
 * mf or bpr; a model that has them declares them as tables of its own.
 *
 * Every model scores by a dot product: score(u, i) = user_vector(u) ·
 * item_vector(i), where the vectors (score_width floats) are computed from
 * the representations. That lets evaluation, `predict` and `recommend`
 * score a block of users against a block of items with one matrix product
 * (models/linalg.h), whatever the model.
 *
 * Tables: MODEL_TABLE_USER and MODEL_TABLE_ITEM hold one row per user and
 * per item. A row that does not exist (an unseen user or item) reads as
 * zeros: the model's fallback.
 */
#ifndef PSREC_MODEL_H
#define PSREC_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "psrec/ps/store.h"

enum { MODEL_TABLE_USER = 1, MODEL_TABLE_ITEM = 2 };

typedef struct {
    int dim;
    float init_std;
    float l2;          /* λ on factors, per occurrence in a batch */
    float l2_bias;     /* λ_b on biases */
    int negatives;     /* implicit models: sampled negatives per positive */
    double global_mean;
    double rating_min;
    double rating_max;
} ModelParams;

/* One batch as the model sees it: dense representations, row-major.
 * users is (n_examples, user_width); items is (n_examples,
 * items_per_example, item_width), item 0 of an example being the rated or
 * positive item and the others its sampled negatives. The model adds the
 * gradient of the batch's loss into grad_users / grad_items (same shapes,
 * zeroed by the caller). */
typedef struct {
    size_t n_examples;
    int items_per_example;
    int user_width;
    int item_width;
    const float *users;
    const float *items;
    const float *labels;   /* (n_examples,) ratings (explicit models) */
    const float *weights;  /* (n_examples,) example weights */
    float *grad_users;
    float *grad_items;
} ModelBatch;

typedef struct {
    const char *name;
    /* True: learns from positive interactions against sampled negatives
     * (items_per_example = 1 + negatives); false: learns ratings. */
    bool implicit;
    /* Writes the model's table specs into tables (≤ STORE_MAX_TABLES) and
     * returns how many. */
    int (*table_specs)(const ModelParams *params, TableSpec *tables);
    /* The loss of the batch (summed over examples, weighted), with its
     * gradient added into the batch's grad arrays. For explicit models the
     * returned loss is the summed squared error (r̂ − r)², so callers can
     * report a train MSE; for implicit ones the summed ranking loss. */
    double (*batch_gradient)(const ModelParams *params, ModelBatch *batch);
    /* Floats in a scoring vector. */
    int (*score_width)(const ModelParams *params);
    /* Scoring vectors of n users / items from their representations:
     * reps is (n, user_width or item_width), out is (n, score_width). */
    void (*user_vectors)(const ModelParams *params, const float *reps, size_t n, float *out);
    void (*item_vectors)(const ModelParams *params, const float *reps, size_t n, float *out);
    /* What a raw dot-product score becomes for `predict` (mf clips to the
     * rating range); NULL means the score as it is. */
    float (*finish_score)(const ModelParams *params, float score);
} ModelOps;

/* The model named `name` ("mf", "bpr"), or NULL. */
const ModelOps *model_find(const char *name);

/* The width of table_id's rows in the model, or 0 when it has no such
 * table. */
uint32_t model_table_width(const ModelOps *model, const ModelParams *params, uint32_t table_id);

/* The score of one user against one item, finished: for `predict`. */
float model_score_pair(const ModelOps *model, const ModelParams *params, const float *user_rep,
                       const float *item_rep);
/* The name of a parameter table in files a person reads (e.g. exports):
 * "user" for MODEL_TABLE_USER, "item" for MODEL_TABLE_ITEM, "table<N>" for
 * any other id N (table_id <= KEY_TABLE_MAX). Names never change once files
 * use them. The result is a constant string. */
const char *model_table_name(uint32_t table_id);

#endif

/* model.h — the models that train through the pull/compute/push loop.
 *
 * A model is a small table of functions (ModelOps) over a whole batch. The
 * worker gathers, per example, a user representation and one or more item
 * representations (the positive or rated item first, then sampled
 * negatives) from the rows it pulled; the model computes the loss of the
 * batch and the gradient of every representation; the worker scatters those
 * back onto the rows. A model with dense parameters (`deep`: its layers)
 * declares their size; they live on the servers as blocks of rows of
 * MODEL_TABLE_DENSE, are pulled with every batch and reach the model as one
 * contiguous vector, and their gradient (summed over the batch) is pushed
 * like any row's.
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
 *
 * Content features (hybrid models) are the same for every model: a user's
 * or item's representation is its own row plus the weighted mean of its
 * features' rows (tables MODEL_TABLE_ITEM_FEATURE, MODEL_TABLE_USER_FEATURE,
 * same width as the row they add to), plus for `--user-history-features`
 * Σ_j y_j / √|N(u)| over the user's training items j (MODEL_TABLE_USER_HISTORY:
 * SVD++'s implicit term). So an item with features and no interactions is
 * still scored, from its features alone. The model only ever sees the sums.
 */
#ifndef PSREC_MODEL_H
#define PSREC_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "psrec/data/features.h"
#include "psrec/ps/store.h"

enum {
    MODEL_TABLE_USER = 1,
    MODEL_TABLE_ITEM = 2,
    MODEL_TABLE_ITEM_FEATURE = 3, /* product attributes: one row per feature id */
    MODEL_TABLE_USER_FEATURE = 4, /* user profile features */
    MODEL_TABLE_USER_HISTORY = 5, /* y_j of SVD++: one row per item, as a user's feature */
    MODEL_TABLE_DENSE = 6,        /* a model's dense parameters, MODEL_DENSE_BLOCK per row */
    MODEL_TABLE_NEIGHBOURS = 7    /* neighbourhood models: an item's top-K neighbour list */
};

/* Floats in one row of MODEL_TABLE_DENSE: the dense vector is cut into
 * blocks of this size (the last one padded), spread over the servers by
 * their keys like any rows. */
#define MODEL_DENSE_BLOCK 256

/* One matrix inside a model's dense vector: rows × cols floats, row-major,
 * from float `offset` on. */
#define MODEL_MAX_DENSE_MATRICES 8
typedef struct {
    const char *name; /* e.g. "w_hidden": a file name in exports */
    size_t rows, cols, offset;
} DenseMatrix;

typedef enum { ACTIVATION_RELU = 0, ACTIVATION_SIGMOID = 1, ACTIVATION_TANH = 2 } Activation;

/* The loss of implicit models that offer a choice (`deep`). */
typedef enum {
    RANKING_LOSS_BCE = 0, /* binary cross-entropy: positive → 1, each negative → 0 */
    RANKING_LOSS_BPR = 1  /* −ln σ(s_pos − s_neg) per negative */
} RankingLoss;

/* How neighbourhood models compare two items (models/neighbours.h). */
typedef enum {
    SIMILARITY_COSINE = 0,           /* c_ij / (|i|^α |j|^(1−α) + shrink) */
    SIMILARITY_JACCARD = 1,          /* c_ij / (|i| + |j| − c_ij + shrink) */
    SIMILARITY_PEARSON_BASELINE = 2  /* Pearson of the baseline residuals, shrunk */
} Similarity;

typedef struct {
    int dim;
    float init_std;
    float l2;          /* λ on factors, per occurrence in a batch */
    float l2_bias;     /* λ_b on biases */
    float l2_features; /* λ_f on feature rows, per weighted occurrence (the worker's) */
    int negatives;     /* implicit models: sampled negatives per positive */
    int hidden;        /* deep: width of the hidden layer */
    int activation;    /* deep: Activation */
    int loss;          /* deep: RankingLoss */
    /* Which feature tables the representations use (see above). */
    bool item_features;
    bool user_features;
    bool user_history;
    double history_scale; /* user history weights: history_scale/√|N(u)| */
    /* Neighbourhood models (models/neighbours.h). */
    int neighbours;         /* K: neighbours kept per item */
    int similarity;         /* Similarity */
    double alpha;           /* cosine's exponent of |i| */
    double shrink;          /* added to the similarity's denominator */
    int rated_neighbours;   /* baseline form: the k most similar items the user rated */
    double global_mean;
    double rating_min;
    double rating_max;
} ModelParams;

/* One batch as the model sees it: dense representations, row-major.
 * users is (n_examples, user_width); items is (n_examples,
 * items_per_example, item_width), item 0 of an example being the rated or
 * positive item and the others its sampled negatives. The model adds the
 * gradient of the batch's loss into grad_users / grad_items (same shapes,
 * zeroed by the caller).
 *
 * A model that reads rows in place (ModelOps.rows_in_place) may instead get
 * offsets: example e's user at users + user_offsets[e], its item j at
 * items + item_offsets[e * items_per_example + j], and their gradients at
 * the same offsets into grad_users / grad_items. A row the batch names
 * twice is then one row, its gradients adding up where it lies (the worker
 * passes the pulled rows themselves, with no copy). model_batch_user and
 * model_batch_item find the offset either way. */
typedef struct {
    size_t n_examples;
    int items_per_example;
    int user_width;
    int item_width;
    const float *users;
    const float *items;
    const size_t *user_offsets; /* (n_examples,) or NULL: dense */
    const size_t *item_offsets; /* (n_examples * items_per_example,) or NULL: dense */
    const float *labels;   /* (n_examples,) ratings (explicit models) */
    const float *weights;  /* (n_examples,) example weights */
    const float *dense;    /* (dense_size,) the model's dense parameters, or NULL */
    float *grad_users;
    float *grad_items;
    float *grad_dense;     /* (dense_size,) zeroed by the caller, or NULL */
} ModelBatch;

/* Where example e's user (and its gradient) starts in users / grad_users. */
static inline size_t model_batch_user(const ModelBatch *batch, size_t e)
{
    return batch->user_offsets ? batch->user_offsets[e] : e * (size_t)batch->user_width;
}

/* Where item j of example e (and its gradient) starts in items / grad_items. */
static inline size_t model_batch_item(const ModelBatch *batch, size_t e, size_t j)
{
    size_t k = e * (size_t)batch->items_per_example + j;
    return batch->item_offsets ? batch->item_offsets[k] : k * (size_t)batch->item_width;
}

typedef struct {
    const char *name;
    /* True: learns from positive interactions against sampled negatives
     * (items_per_example = 1 + negatives); false: learns ratings. */
    bool implicit;
    /* True: a neighbourhood model (models/neighbours.h): scored from
     * neighbour lists and the user's history, not by a dot product, so
     * score_width, user_vectors and item_vectors are unused (NULL);
     * batch_gradient, if any, trains its baselines. */
    bool neighbourhood;
    /* True: batch_gradient takes a ModelBatch with offsets (rows read and
     * their gradients summed in place); false: always dense copies. */
    bool rows_in_place;
    /* Writes the specs of the model's own tables (user, item, and dense if it
     * has dense parameters) into tables and returns how many. Feature tables
     * are added by model_table_specs. */
    int (*table_specs)(const ModelParams *params, TableSpec *tables);
    /* Floats in the model's dense parameters; NULL means none. */
    size_t (*dense_size)(const ModelParams *params);
    /* The named matrices the dense vector holds (for exports): writes at
     * most MODEL_MAX_DENSE_MATRICES into out and returns how many; NULL
     * for a model without dense parameters. */
    int (*dense_matrices)(const ModelParams *params, DenseMatrix *out);
    /* The loss of the batch (summed over examples, weighted), with its
     * gradient added into the batch's grad arrays. For explicit models the
     * returned loss is the summed squared error (r̂ − r)², so callers can
     * report a train MSE; for implicit ones the summed ranking loss. */
    double (*batch_gradient)(const ModelParams *params, ModelBatch *batch);
    /* Floats in a scoring vector. */
    int (*score_width)(const ModelParams *params);
    /* Scoring vectors of n users / items from their representations:
     * reps is (n, user_width or item_width), out is (n, score_width); dense
     * is the model's dense parameters (NULL for a model without). */
    void (*user_vectors)(const ModelParams *params, const float *dense, const float *reps,
                         size_t n, float *out);
    void (*item_vectors)(const ModelParams *params, const float *dense, const float *reps,
                         size_t n, float *out);
    /* What a raw dot-product score becomes for `predict` (mf clips to the
     * rating range); NULL means the score as it is. */
    float (*finish_score)(const ModelParams *params, float score);
} ModelOps;

/* The model named `name` ("mf", "bpr", "deep"), or NULL. */
const ModelOps *model_find(const char *name);

/* Every table of the model with params' features: the model's own, then a
 * feature table for each feature kind in use (the width of the row it adds
 * to, factors drawn like that row's). Writes at most STORE_MAX_TABLES specs
 * and returns how many. */
int model_table_specs(const ModelOps *model, const ModelParams *params, TableSpec *tables);

/* The width of table_id's rows in the model, or 0 when it has no such
 * table. */
uint32_t model_table_width(const ModelOps *model, const ModelParams *params, uint32_t table_id);

/* Floats in the model's dense parameters (0: none), and how many rows of
 * MODEL_TABLE_DENSE hold them. */
size_t model_dense_size(const ModelOps *model, const ModelParams *params);
size_t model_dense_blocks(const ModelOps *model, const ModelParams *params);

/* The feature maps a run's representations use; NULL maps are unused
 * (params' feature flags say which tables exist). Not owned. */
typedef struct {
    const FeatureMap *item_features; /* item → attributes, weights summing to 1 */
    const FeatureMap *user_features; /* user → profile features */
    const FeatureMap *user_history;  /* user → training items, 1/√|N(u)| each */
} ModelFeatures;

/* Receives one entry of a bag: a key and its weight. */
typedef void (*ModelBagEntry)(void *context, uint64_t key, float weight);

/* The bag of keys whose weighted sum is the representation of row `id` of
 * `table`: the row itself (weight 1), then for MODEL_TABLE_ITEM its item
 * features and for MODEL_TABLE_USER its profile features and history, each
 * in its own table. Any other table's bag is the row alone. features may be
 * NULL (no features). Calls add(context, key, weight) per entry, in that
 * order. */
void model_bag(const ModelFeatures *features, uint32_t table, uint64_t id, ModelBagEntry add,
               void *context);

/* Writes the representations of n users or items (table MODEL_TABLE_USER or
 * MODEL_TABLE_ITEM: rows with their features) or of n blocks of the dense
 * parameters (MODEL_TABLE_DENSE, ids = block numbers) into out: (n, that
 * table's width). Implemented by whoever holds the rows: the servers
 * (through a worker) or a loaded model. */
typedef void (*RepresentationReader)(void *context, uint32_t table, const uint64_t *ids,
                                     size_t n, float *out);

/* Reads the model's dense parameters through read into dense
 * (model_dense_blocks × MODEL_DENSE_BLOCK floats); nothing for a model
 * without. */
void model_read_dense(const ModelOps *model, const ModelParams *params, RepresentationReader read,
                      void *context, float *dense);

/* The score of one user against one item, finished: for `predict`. */
float model_score_pair(const ModelOps *model, const ModelParams *params, const float *dense,
                       const float *user_rep, const float *item_rep);
/* The name of a parameter table in files a person reads (e.g. exports):
 * "user", "item", "item_feature", "user_feature", "user_history", "dense"
 * for the model tables, "table<N>" for any other id N (<= KEY_TABLE_MAX). Names never change once files
 * use them. The result is a constant string. */
const char *model_table_name(uint32_t table_id);

#endif

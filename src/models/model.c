/* model.c — the table of models and what every model shares. */
#include "psrec/models/model.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "psrec/core/keys.h"
#include "psrec/models/linalg.h"

extern const ModelOps MODEL_MF;   /* models/mf.c */
extern const ModelOps MODEL_BPR;  /* models/bpr.c */
extern const ModelOps MODEL_DEEP; /* models/deep.c */
/* models/neighbours.c */
extern const ModelOps MODEL_ITEM_KNN, MODEL_ITEM_KNN_BASELINE, MODEL_USER_KNN, MODEL_POPULARITY;

static const ModelOps *const MODELS[] = {&MODEL_MF,       &MODEL_BPR,
                                         &MODEL_DEEP,     &MODEL_ITEM_KNN,
                                         &MODEL_ITEM_KNN_BASELINE, &MODEL_USER_KNN,
                                         &MODEL_POPULARITY};

const ModelOps *model_find(const char *name)
{
    for (size_t i = 0; i < sizeof MODELS / sizeof MODELS[0]; i++)
        if (strcmp(MODELS[i]->name, name) == 0)
            return MODELS[i];
    return NULL;
}

/* The spec of table_id among specs[0..n), or NULL. */
static const TableSpec *find_spec(const TableSpec *specs, int n, uint32_t table_id)
{
    for (int t = 0; t < n; t++)
        if (specs[t].table_id == table_id)
            return &specs[t];
    return NULL;
}

int model_table_specs(const ModelOps *model, const ModelParams *params, TableSpec *tables)
{
    int n = model->table_specs(params, tables);
    /* A feature row adds to a user or item row: same width, and drawn the
     * same way (a bias at the same place starts at zero too). */
    struct {
        bool used;
        uint32_t table_id, adds_to;
    } features[] = {
        {params->item_features, MODEL_TABLE_ITEM_FEATURE, MODEL_TABLE_ITEM},
        {params->user_features, MODEL_TABLE_USER_FEATURE, MODEL_TABLE_USER},
        {params->user_history, MODEL_TABLE_USER_HISTORY, MODEL_TABLE_USER},
    };
    int n_own = n;
    for (size_t f = 0; f < sizeof features / sizeof features[0]; f++) {
        if (!features[f].used)
            continue;
        const TableSpec *base = find_spec(tables, n_own, features[f].adds_to);
        assert(base && n < STORE_MAX_TABLES);
        tables[n] = *base;
        tables[n].table_id = features[f].table_id;
        n++;
    }
    return n;
}

size_t model_dense_size(const ModelOps *model, const ModelParams *params)
{
    return model->dense_size ? model->dense_size(params) : 0;
}

size_t model_dense_blocks(const ModelOps *model, const ModelParams *params)
{
    return (model_dense_size(model, params) + MODEL_DENSE_BLOCK - 1) / MODEL_DENSE_BLOCK;
}

uint32_t model_table_width(const ModelOps *model, const ModelParams *params, uint32_t table_id)
{
    TableSpec specs[STORE_MAX_TABLES];
    int n = model_table_specs(model, params, specs);
    for (int t = 0; t < n; t++)
        if (specs[t].table_id == table_id)
            return specs[t].width;
    return 0;
}

void model_read_dense(const ModelOps *model, const ModelParams *params, RepresentationReader read,
                      void *context, float *dense)
{
    size_t n_blocks = model_dense_blocks(model, params);
    if (n_blocks == 0)
        return;
    uint64_t *blocks = xmalloc(n_blocks * sizeof(uint64_t));
    for (size_t b = 0; b < n_blocks; b++)
        blocks[b] = b;
    read(context, MODEL_TABLE_DENSE, blocks, n_blocks, dense);
    free(blocks);
}

/* Adds the features of entity from map (rows of feature_table) to a bag. */
static void bag_add_features(const FeatureMap *map, uint32_t feature_table, uint64_t entity,
                             ModelBagEntry add, void *context)
{
    if (!map)
        return;
    size_t n;
    const float *weights;
    const uint64_t *features = feature_map_find(map, entity, &weights, &n);
    for (size_t f = 0; f < n; f++)
        add(context, key_make(feature_table, features[f]), weights[f]);
}

void model_bag(const ModelFeatures *features, uint32_t table, uint64_t id, ModelBagEntry add,
               void *context)
{
    add(context, key_make(table, id), 1.0f);
    if (!features)
        return;
    if (table == MODEL_TABLE_ITEM) {
        bag_add_features(features->item_features, MODEL_TABLE_ITEM_FEATURE, id, add, context);
    } else if (table == MODEL_TABLE_USER) {
        bag_add_features(features->user_features, MODEL_TABLE_USER_FEATURE, id, add, context);
        bag_add_features(features->user_history, MODEL_TABLE_USER_HISTORY, id, add, context);
    }
}

float model_score_pair(const ModelOps *model, const ModelParams *params, const float *dense,
                       const float *user_rep, const float *item_rep)
{
    int width = model->score_width(params);
    float user_vector[width], item_vector[width]; /* width is dim or hidden + a few */
    model->user_vectors(params, dense, user_rep, 1, user_vector);
    model->item_vectors(params, dense, item_rep, 1, item_vector);
    float score = linalg_dot(user_vector, item_vector, width);
    return model->finish_score ? model->finish_score(params, score) : score;
}

/* "table0" … "table255": the names of tables no model has named. */
#define TABLE_NAME_ROW(tens)                                                                  \
    "table" #tens "0", "table" #tens "1", "table" #tens "2", "table" #tens "3",                 \
        "table" #tens "4", "table" #tens "5", "table" #tens "6", "table" #tens "7",             \
        "table" #tens "8", "table" #tens "9"
static const char *const TABLE_NAMES_NUMBERED[KEY_TABLE_MAX + 1] = {
    TABLE_NAME_ROW(), TABLE_NAME_ROW(1), TABLE_NAME_ROW(2), TABLE_NAME_ROW(3),
    TABLE_NAME_ROW(4), TABLE_NAME_ROW(5), TABLE_NAME_ROW(6), TABLE_NAME_ROW(7),
    TABLE_NAME_ROW(8), TABLE_NAME_ROW(9), TABLE_NAME_ROW(10), TABLE_NAME_ROW(11),
    TABLE_NAME_ROW(12), TABLE_NAME_ROW(13), TABLE_NAME_ROW(14), TABLE_NAME_ROW(15),
    TABLE_NAME_ROW(16), TABLE_NAME_ROW(17), TABLE_NAME_ROW(18), TABLE_NAME_ROW(19),
    TABLE_NAME_ROW(20), TABLE_NAME_ROW(21), TABLE_NAME_ROW(22), TABLE_NAME_ROW(23),
    TABLE_NAME_ROW(24),
    "table250", "table251", "table252", "table253", "table254", "table255",
};
#undef TABLE_NAME_ROW

const char *model_table_name(uint32_t table_id)
{
    assert(table_id <= KEY_TABLE_MAX);
    switch (table_id) {
    case MODEL_TABLE_USER:
        return "user";
    case MODEL_TABLE_ITEM:
        return "item";
    case MODEL_TABLE_ITEM_FEATURE:
        return "item_feature";
    case MODEL_TABLE_USER_FEATURE:
        return "user_feature";
    case MODEL_TABLE_NEIGHBOURS:
        return "neighbours";
    case MODEL_TABLE_USER_HISTORY:
        return "user_history";
    case MODEL_TABLE_DENSE:
        return "dense";
    default:
        return TABLE_NAMES_NUMBERED[table_id];
    }
}

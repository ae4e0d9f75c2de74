/* model.c — the model table and biased matrix factorisation (`mf`).
 * See model.h for the maths and row layouts. */
#include "psrec/models/model.h"

#include <assert.h>
#include <string.h>

#include "psrec/core/keys.h"

static int mf_table_specs(const ModelParams *params, TableSpec *tables)
{
    uint32_t width = (uint32_t)params->dim + 1;
    tables[0] = (TableSpec){.table_id = MODEL_TABLE_USER, .width = width, .zero_leading = 1,
                            .init_std = params->init_std};
    tables[1] = (TableSpec){.table_id = MODEL_TABLE_ITEM, .width = width, .zero_leading = 1,
                            .init_std = params->init_std};
    return 2;
}

static void mf_example_keys(uint64_t user, uint64_t item, uint64_t *keys)
{
    keys[0] = key_make(MODEL_TABLE_USER, user);
    keys[1] = key_make(MODEL_TABLE_ITEM, item);
}

/* r̂ without clipping: μ + b_u + b_i + p_u·q_i. */
static double mf_raw_prediction(const ModelParams *params, const float *user, const float *item)
{
    double dot = 0.0;
    for (int f = 1; f <= params->dim; f++)
        dot += (double)user[f] * (double)item[f];
    return params->global_mean + (double)user[0] + (double)item[0] + dot;
}

static double mf_example_gradient(const ModelParams *params, const float *const *rows,
                                  float *const *grads, float rating)
{
    const float *user = rows[0];
    const float *item = rows[1];
    float *grad_user = grads[0];
    float *grad_item = grads[1];
    double error = mf_raw_prediction(params, user, item) - (double)rating;
    float e = (float)error;
    grad_user[0] += e + params->l2_bias * user[0];
    grad_item[0] += e + params->l2_bias * item[0];
    for (int f = 1; f <= params->dim; f++) {
        grad_user[f] += e * item[f] + params->l2 * user[f];
        grad_item[f] += e * user[f] + params->l2 * item[f];
    }
    return error * error;
}

static float mf_predict(const ModelParams *params, const float *const *rows)
{
    double r = mf_raw_prediction(params, rows[0], rows[1]);
    if (r < params->rating_min)
        r = params->rating_min;
    if (r > params->rating_max)
        r = params->rating_max;
    return (float)r;
}

static const ModelOps MODEL_MF = {
    .name = "mf",
    .keys_per_example = 2,
    .table_specs = mf_table_specs,
    .example_keys = mf_example_keys,
    .example_gradient = mf_example_gradient,
    .predict = mf_predict,
};

static const ModelOps *const MODELS[] = {&MODEL_MF};

const ModelOps *model_find(const char *name)
{
    for (size_t i = 0; i < sizeof MODELS / sizeof MODELS[0]; i++)
        if (strcmp(MODELS[i]->name, name) == 0)
            return MODELS[i];
    return NULL;
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
    default:
        return TABLE_NAMES_NUMBERED[table_id];
    }
}

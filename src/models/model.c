/* model.c — the table of models and what every model shares. */
#include "psrec/models/model.h"

#include <assert.h>
#include <string.h>

#include "psrec/models/linalg.h"

extern const ModelOps MODEL_MF;  /* models/mf.c */
extern const ModelOps MODEL_BPR; /* models/bpr.c */

static const ModelOps *const MODELS[] = {&MODEL_MF, &MODEL_BPR};

const ModelOps *model_find(const char *name)
{
    for (size_t i = 0; i < sizeof MODELS / sizeof MODELS[0]; i++)
        if (strcmp(MODELS[i]->name, name) == 0)
            return MODELS[i];
    return NULL;
}

uint32_t model_table_width(const ModelOps *model, const ModelParams *params, uint32_t table_id)
{
    TableSpec specs[STORE_MAX_TABLES];
    int n = model->table_specs(params, specs);
    for (int t = 0; t < n; t++)
        if (specs[t].table_id == table_id)
            return specs[t].width;
    return 0;
}

float model_score_pair(const ModelOps *model, const ModelParams *params, const float *user_rep,
                       const float *item_rep)
{
    int width = model->score_width(params);
    float user_vector[width], item_vector[width]; /* width is dim + a few */
    model->user_vectors(params, user_rep, 1, user_vector);
    model->item_vectors(params, item_rep, 1, item_vector);
    float score = linalg_dot(user_vector, item_vector, width);
    return model->finish_score ? model->finish_score(params, score) : score;
}

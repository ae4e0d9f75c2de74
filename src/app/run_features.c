/* run_features.c — loading a run's feature maps (run_features.h). */
#include "psrec/app/run_features.h"

#include <string.h>

int run_features_load(RunFeatures *features, const ModelParams *params, const char *item_path,
                      const char *user_path, const Ratings *train, Error *err)
{
    memset(features, 0, sizeof *features);
    if (params->item_features) {
        if (!item_path || !item_path[0])
            return error_set(err, "the model uses item features: give --item-features FILE");
        if (feature_map_read(&features->item_features, item_path, "item", err) != 0)
            return -1;
        features->view.item_features = &features->item_features;
    }
    if (params->user_features) {
        if (!user_path || !user_path[0])
            return error_set(err, "the model uses user features: give --user-features FILE");
        if (feature_map_read(&features->user_features, user_path, "user", err) != 0)
            return -1;
        features->view.user_features = &features->user_features;
    }
    if (params->user_history) {
        feature_map_from_history(&features->user_history, train->users, train->items, train->n,
                                 params->history_scale);
        features->view.user_history = &features->user_history;
    }
    return 0;
}

void run_features_free(RunFeatures *features)
{
    if (!features)
        return;
    feature_map_free(&features->item_features);
    feature_map_free(&features->user_features);
    feature_map_free(&features->user_history);
    memset(features, 0, sizeof *features);
}

/* run_features.h — the feature maps of a run, loaded alike by every command.
 *
 * `train` loads them on every worker, `predict` and `recommend` from the
 * run's saved configuration (or files given to them instead), so that a
 * user or item is represented the same way wherever it is scored: its row
 * plus its item or profile features, plus (SVD++) its training items.
 */
#ifndef PSREC_RUN_FEATURES_H
#define PSREC_RUN_FEATURES_H

#include "psrec/core/util.h"
#include "psrec/data/dataset.h"
#include "psrec/data/features.h"
#include "psrec/models/model.h"

typedef struct {
    FeatureMap item_features;
    FeatureMap user_features;
    FeatureMap user_history;
    ModelFeatures view; /* the maps in use; points into this struct: do not move it */
} RunFeatures;

/* Loads the maps params' flags ask for: item features from item_path, user
 * features from user_path, the user history from train's (user, item)
 * pairs. Returns 0, or -1 with a message naming the file and line (or the
 * missing path); *features must be freed with run_features_free either
 * way. */
int run_features_load(RunFeatures *features, const ModelParams *params, const char *item_path,
                      const char *user_path, const Ratings *train, Error *err);

void run_features_free(RunFeatures *features);

#endif

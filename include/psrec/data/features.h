/* features.h — content features of items and users (hybrid models).
 *
 * A feature file is a CSV with a header whose columns are, by position, the
 * entity id (an item or a user), a feature id and an optional weight:
 * `item_id,attribute_id` (a product's category and brand) or
 * `user_id,feature_id,weight` (a profile). Ids are integers below 2^56; a
 * weight is a finite number ≥ 0 (1 when the column is absent); a pair given
 * twice adds its weights. A FeatureMap holds, per entity, its features and
 * weights normalised to sum to 1 (a weighted mean), sorted by entity id so
 * lookups are a binary search. The same structure carries SVD++'s implicit
 * term: a user's training items as its features, each weighted 1/√|N(u)|.
 */
#ifndef PSREC_FEATURES_H
#define PSREC_FEATURES_H

#include <stddef.h>
#include <stdint.h>

#include "psrec/core/util.h"

typedef struct {
    size_t n_entities;
    uint64_t *entities;  /* (n_entities,) ascending */
    size_t *start;       /* (n_entities + 1,) entity e's features: start[e] .. start[e+1] */
    uint64_t *features;  /* (n_pairs,) feature ids, ascending per entity */
    float *weights;      /* (n_pairs,) */
    size_t n_pairs;
    size_t n_features;   /* distinct feature ids */
    size_t n_lines;      /* data lines read (files only) */
} FeatureMap;

/* Reads a feature file into *map (zeroed first). entity_kind ("item",
 * "user") names the first column in messages. Returns 0, or -1 with
 * "FILE:LINE: expected …, found …" in *err for a malformed line, a negative
 * or non-finite weight, a missing header or an empty file, or a line with
 * a NUL byte; a file that is not UTF-8 text (UTF-16, binary, compressed) is
 * refused saying what it looks like; *map is then empty. A UTF-8
 * byte-order mark is skipped. An entity whose weights are all zero has no
 * features. */
int feature_map_read(FeatureMap *map, const char *path, const char *entity_kind, Error *err);

/* Builds SVD++'s implicit feedback term from n (user, item) pairs: each
 * user's distinct items, each weighted scale/√(number of them). */
void feature_map_from_history(FeatureMap *map, const uint64_t *users, const uint64_t *items,
                              size_t n, double scale);

/* The features of entity (n of them, *weights parallel), or NULL with *n = 0
 * when it has none. Pointers into map. */
const uint64_t *feature_map_find(const FeatureMap *map, uint64_t entity, const float **weights,
                                 size_t *n);

/* How many of the map's entities are not in ids (sorted ascending, n_ids):
 * e.g. items with features that no interaction names. */
size_t feature_map_count_missing(const FeatureMap *map, const uint64_t *ids, size_t n_ids);

/* Frees the arrays and zeroes *map; a zeroed map is a no-op. */
void feature_map_free(FeatureMap *map);

#endif

/* dataset.h — reading interactions (user, item, rating, timestamp).
 *
 * Formats: CSV with a header line naming the columns (defaults user_id,
 * item_id, rating, timestamp; other names selectable), MovieLens
 * tab-separated files (u.data, uN.base: user TAB item TAB rating TAB ts) and
 * MovieLens "::"-separated files (ratings.dat). A reader of partition p of n
 * reads only the byte range [size*p/n, size*(p+1)/n) of the file: a line
 * belongs to the partition its first byte falls in, so every line is read by
 * exactly one partition. A malformed line is an error naming FILE:LINE, what
 * was expected and what was found — or, when skip_malformed is set, it is
 * skipped and counted. Ids must be integers in [0, 2^56).
 */
#ifndef PSREC_DATASET_H
#define PSREC_DATASET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "psrec/core/util.h"

typedef enum {
    DATASET_FORMAT_AUTO = 0,       /* decided from the first line */
    DATASET_FORMAT_CSV = 1,        /* comma-separated with a header */
    DATASET_FORMAT_MOVIELENS_TAB = 2,
    DATASET_FORMAT_MOVIELENS_COLONS = 3
} DatasetFormat;

typedef struct {
    DatasetFormat format;
    const char *user_column;      /* CSV header names */
    const char *item_column;
    const char *rating_column;
    const char *timestamp_column; /* optional column */
    bool require_rating;          /* false: a file of (user, item) pairs is fine */
    bool skip_malformed;          /* skip and count bad lines instead of failing */
} DatasetOptions;

/* Column arrays of n interactions, in file order. ratings is NaN-free when
 * require_rating was set; otherwise a missing rating is 0. timestamps is 0
 * where the file has none. */
typedef struct {
    size_t n;
    uint64_t *users;     /* (n,) */
    uint64_t *items;     /* (n,) */
    float *ratings;      /* (n,) */
    int64_t *timestamps; /* (n,) */
    bool has_ratings;
    bool has_timestamps;
    size_t n_skipped;    /* malformed lines skipped (skip_malformed only) */
} Ratings;

/* Defaults: AUTO format, columns user_id/item_id/rating/timestamp,
 * require_rating true, skip_malformed false. */
void dataset_options_default(DatasetOptions *options);

/* Reads partition `part` of `n_parts` (0 ≤ part < n_parts) of the file into
 * *out (zeroed first; the caller frees it with ratings_free, also on error).
 * Returns 0, or -1 with "FILE:LINE: expected …, found …" (or a file error)
 * in *err. */
int dataset_read_partition(Ratings *out, const char *path, const DatasetOptions *options,
                           int part, int n_parts, Error *err);

/* The whole file: dataset_read_partition(out, path, options, 0, 1, err). */
int dataset_read(Ratings *out, const char *path, const DatasetOptions *options, Error *err);

/* Frees the arrays and zeroes *ratings. ratings_free on a zeroed struct is a
 * no-op. */
void ratings_free(Ratings *ratings);

#endif

/* dataset.h — reading interactions (user, item, rating, timestamp, event).
 *
 * Formats: CSV with a header line naming the columns (defaults user_id,
 * item_id, rating, timestamp, event; other names selectable), MovieLens
 * tab-separated files (u.data, uN.base: user TAB item TAB rating TAB ts) and
 * MovieLens "::"-separated files (ratings.dat). A reader of partition p of n
 * reads only the byte range [size*p/n, size*(p+1)/n) of the file: a line
 * belongs to the partition its first byte falls in, so every line is read by
 * exactly one partition. A malformed line is an error naming FILE:LINE, what
 * was expected and what was found (escaped: control characters and bytes
 * that are not UTF-8 are shown as \xNN) — or, when skip_malformed is set,
 * it is skipped and counted. Ids must be integers in [0, 2^56); ratings must
 * lie in the options' range; a line holding a NUL byte is malformed. A file
 * that is not UTF-8 text (UTF-16, binary, compressed) is refused as a whole,
 * saying what it looks like; a UTF-8 byte-order mark is skipped.
 *
 * Implicit feedback (views, carts, purchases) needs no rating: each
 * interaction has a weight, taken from its event name through EventWeights
 * ("view=1,cart=3,purchase=5"), or 1 when the file or the options give none.
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

/* Weights per event name, as given by text like "view=1,cart=3,purchase=5".
 * Names are kept in the order given; n == 0 means no weights were given. */
#define EVENT_WEIGHTS_MAX 32
#define EVENT_NAME_BYTES 32 /* a name has at most 31 characters */
/* The heaviest an event may weigh: weights scale the loss of an example,
 * and a weight of 1e30 would swamp every other one (and overflow the sums),
 * while a thousand to one is already more than any shop's purchase-to-view
 * ratio calls for. */
#define EVENT_WEIGHT_MAX 1000.0
typedef struct {
    size_t n;
    char names[EVENT_WEIGHTS_MAX][EVENT_NAME_BYTES];
    float weights[EVENT_WEIGHTS_MAX];
} EventWeights;

/* Parses comma-separated NAME=WEIGHT pairs into *out (spaces around names
 * and weights are ignored; "" gives n == 0). Returns 0, or -1 with a
 * message quoting the offending pair: a missing '=' or name, a name longer
 * than 31 characters, a weight that is not a number above 0 and at most
 * EVENT_WEIGHT_MAX, a name given twice, more than EVENT_WEIGHTS_MAX names.
 * *out is then empty. */
int event_weights_parse(EventWeights *out, const char *text, Error *err);

/* Index of the event called name[0, name_len) in weights, or -1. */
int event_weights_find(const EventWeights *weights, const char *name, size_t name_len);

typedef struct {
    DatasetFormat format;
    const char *user_column;      /* CSV header names */
    const char *item_column;
    const char *rating_column;
    const char *timestamp_column; /* optional column */
    const char *event_column;     /* optional column of event names */
    bool require_rating;          /* false: a file of (user, item) pairs is fine */
    bool implicit;                /* no rating read, even if present: all are 1 */
    bool skip_malformed;          /* skip and count bad lines instead of failing */
    /* NULL or empty (n == 0): every event weighs 1. Otherwise an event not
     * listed is an error "FILE:LINE: unknown event 'x' (--event-weights
     * lists ...)" (or a skipped line with skip_malformed). Owned by the
     * caller, which keeps it alive during the read. */
    const EventWeights *event_weights;
    /* Explicit ratings outside [rating_min, rating_max] are malformed lines:
     * "FILE:LINE: expected a rating from LOW to HIGH in field N
     * (--rating-range LOW:HIGH), found 'X'" (or skipped with skip_malformed).
     * Not used when no rating is read. */
    float rating_min;
    float rating_max;
} DatasetOptions;

/* Column arrays of n interactions, in file order. ratings is NaN-free when
 * require_rating was set; otherwise a missing rating is 0, and with implicit
 * every rating is 1 (has_ratings false). timestamps is 0 where the file has
 * none. has_events tells whether the file had the event column. */
typedef struct {
    size_t n;
    uint64_t *users;     /* (n,) */
    uint64_t *items;     /* (n,) */
    float *ratings;      /* (n,) */
    int64_t *timestamps; /* (n,) */
    float *weights; /* (n,) example weight: from the event column via event weights, else 1 */
    bool has_ratings;
    bool has_timestamps;
    bool has_events;
    size_t n_skipped;    /* malformed lines skipped (skip_malformed only) */
} Ratings;

/* The ratings accepted unless told otherwise: every usual scale (0.5-5
 * stars, 1-5, 1-10, 0-100) but no negative rating and no absurd magnitude
 * (one rating of 1e30 among thousands is enough to poison a model). Scales
 * beyond it, such as -10..10, are given with --rating-range. */
#define DATASET_RATING_MIN_DEFAULT 0.0f
#define DATASET_RATING_MAX_DEFAULT 100.0f
#define DATASET_RATING_RANGE_DEFAULT "0:100" /* the same, as --rating-range writes it */

/* Parses "LOW:HIGH" (two finite numbers, LOW <= HIGH; spaces around them
 * are ignored) into *low and *high. Returns 0, or -1 with a message
 * quoting the text; *low and *high are then unchanged. */
int rating_range_parse(float *low, float *high, const char *text, Error *err);

/* Defaults: AUTO format, columns user_id/item_id/rating/timestamp/event,
 * require_rating true, implicit false, skip_malformed false, no event
 * weights, ratings from DATASET_RATING_MIN_DEFAULT to
 * DATASET_RATING_MAX_DEFAULT. */
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

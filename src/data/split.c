/* split.c — leave-one-out by time: one sort, then one copy per output.
 *
 * Rows are sorted by (user, timestamp, input position); the input position
 * as the last key makes the order total, so qsort's instability cannot
 * matter and ties keep file order. The last two rows of each user's run
 * with at least three rows are marked test and validation; a final pass in
 * input order copies every row to the output its mark names.
 */
#include "psrec/data/split.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define SPLIT_MIN_INTERACTIONS 3 /* fewer: the user only trains */

typedef enum { SPLIT_TRAIN = 0, SPLIT_VALID = 1, SPLIT_TEST = 2 } SplitPart;

typedef struct {
    uint64_t user;
    int64_t timestamp; /* 0 for every row when file order is the time order */
    size_t row;        /* position in the input */
} SortKey;

static int sortkey_compare(const void *a, const void *b)
{
    const SortKey *x = a, *y = b;
    if (x->user != y->user)
        return x->user < y->user ? -1 : 1;
    if (x->timestamp != y->timestamp)
        return x->timestamp < y->timestamp ? -1 : 1;
    return (x->row > y->row) - (x->row < y->row);
}

static void ratings_allocate(Ratings *out, const Ratings *in, size_t n)
{
    memset(out, 0, sizeof *out);
    out->users = xmalloc(n * sizeof *out->users);
    out->items = xmalloc(n * sizeof *out->items);
    out->ratings = xmalloc(n * sizeof *out->ratings);
    out->weights = xmalloc(n * sizeof *out->weights);
    out->timestamps = xmalloc(n * sizeof *out->timestamps);
    out->has_ratings = in->has_ratings;
    out->has_timestamps = in->has_timestamps;
    out->has_events = in->has_events;
}

static void ratings_append_row(Ratings *out, const Ratings *in, size_t row)
{
    size_t at = out->n++;
    out->users[at] = in->users[row];
    out->items[at] = in->items[row];
    out->ratings[at] = in->ratings[row];
    out->weights[at] = in->weights ? in->weights[row] : 1.0f;
    out->timestamps[at] = in->timestamps[row];
}

int split_leave_one_out(const Ratings *in, bool allow_file_order, Ratings *train, Ratings *valid,
                        Ratings *test, Error *err)
{
    assert(in && train && valid && test);
    memset(train, 0, sizeof *train);
    memset(valid, 0, sizeof *valid);
    memset(test, 0, sizeof *test);
    if (!in->has_timestamps && !allow_file_order)
        return error_set(err, "leave-one-out split: expected a timestamp column to order each "
                              "user's interactions, found none in the file; "
                              "--allow-file-order uses file order instead");
    assert(in->n == 0 || (in->users && in->items && in->ratings && in->timestamps));

    size_t n = in->n;
    bool use_time = in->has_timestamps;
    SortKey *keys = xmalloc(n * sizeof *keys);
    for (size_t i = 0; i < n; i++)
        keys[i] = (SortKey){in->users[i], use_time ? in->timestamps[i] : 0, i};
    qsort(keys, n, sizeof *keys, sortkey_compare);

    unsigned char *part = xcalloc(n, sizeof *part); /* SPLIT_TRAIN everywhere */
    size_t n_held_out = 0;                          /* users with a valid and a test row */
    for (size_t begin = 0, end; begin < n; begin = end) {
        end = begin + 1;
        while (end < n && keys[end].user == keys[begin].user)
            end++;
        if (end - begin >= SPLIT_MIN_INTERACTIONS) {
            part[keys[end - 1].row] = SPLIT_TEST;
            part[keys[end - 2].row] = SPLIT_VALID;
            n_held_out++;
        }
    }
    free(keys);

    ratings_allocate(train, in, n - 2 * n_held_out);
    ratings_allocate(valid, in, n_held_out);
    ratings_allocate(test, in, n_held_out);
    Ratings *outputs[] = {train, valid, test};
    for (size_t i = 0; i < n; i++)
        ratings_append_row(outputs[part[i]], in, i);
    free(part);
    assert(train->n + valid->n + test->n == n);
    return 0;
}

bool split_item_is_cold(uint64_t item, double fraction, uint64_t seed)
{
    /* The top 53 bits of the hash as a uniform number in [0, 1). */
    uint64_t h = hash_u64(item ^ hash_u64(seed ^ 0x636f6c642d6974ULL));
    return (double)(h >> 11) * (1.0 / 9007199254740992.0) < fraction;
}

void split_cold_items(const Ratings *in, double fraction, uint64_t seed, Ratings *train,
                      Ratings *test)
{
    size_t n_cold = 0;
    for (size_t i = 0; i < in->n; i++)
        n_cold += split_item_is_cold(in->items[i], fraction, seed);
    ratings_allocate(train, in, in->n - n_cold);
    ratings_allocate(test, in, n_cold);
    for (size_t i = 0; i < in->n; i++)
        ratings_append_row(split_item_is_cold(in->items[i], fraction, seed) ? test : train, in, i);
}

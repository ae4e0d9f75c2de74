/* split.h — held-out splits: leave-one-out by time, and cold items.
 *
 * The standard protocol for ranking models: for every user, the most recent
 * interaction is the test interaction, the one before it the validation
 * interaction, and the rest are training. Users with fewer than three
 * interactions keep them all for training, so every evaluated user has at
 * least one training interaction. The three outputs always partition the
 * input: every input row lands in exactly one of them.
 */
#ifndef PSREC_SPLIT_H
#define PSREC_SPLIT_H

#include <stdbool.h>

#include "psrec/core/util.h"
#include "psrec/data/dataset.h"

/* Splits `in` into *train, *valid and *test (each zeroed first; the caller
 * frees all three with ratings_free, also on error).
 *
 * A user's interactions are ordered by timestamp, ties by their position in
 * `in`. When `in` has no timestamps, file order is the time order — but only
 * if allow_file_order is set; otherwise it returns -1 with a message saying
 * so (files seldom list each user's history in time order by accident, and
 * a silently wrong order would leak the future into training).
 *
 * Every output keeps its rows in input order and copies all columns (users,
 * items, ratings, weights, timestamps; NULL input weights become 1) and the
 * has_* flags; n_skipped is 0. O(n log n) time, O(n) extra memory. */
int split_leave_one_out(const Ratings *in, bool allow_file_order, Ratings *train, Ratings *valid,
                        Ratings *test, Error *err);

/* True when item is one of the held-out cold items: a hash of (seed, item)
 * below fraction of its range, so every process, layout and model agrees
 * on the set without talking, and about `fraction` of the items are cold. */
bool split_item_is_cold(uint64_t item, double fraction, uint64_t seed);

/* Splits `in` by item: every interaction of a cold item (split_item_is_cold)
 * goes to *test, the rest to *train (both zeroed first, freed by the
 * caller). Rows keep their input order and every column, as above. */
void split_cold_items(const Ratings *in, double fraction, uint64_t seed, Ratings *train,
                      Ratings *test);

#endif

/* history.h — each user's set of items, as catalogue indices.
 *
 * Ranking needs, per user, the items to leave out: negatives must not be
 * items the user has, and full-ranking metrics skip the training items. A
 * History is a compressed-sparse-row table: user u's items are
 * items[offsets[u] .. offsets[u+1]), sorted ascending and distinct, so a
 * membership test is a binary search and the list can be handed to
 * sampler_draw as its exclusion list. Users are numbered densely in the
 * order they first appear in the input.
 *
 * A History is built once and not changed: a caller that needs the union of
 * several sets (say train and validation items) builds one History from the
 * concatenation of their (user, item) columns.
 */
#ifndef PSREC_HISTORY_H
#define PSREC_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "psrec/core/keyindex.h"

typedef struct {
    size_t n_users;
    size_t *offsets; /* (n_users + 1,) */
    uint32_t *items; /* (offsets[n_users],) per user: sorted, distinct */
    KeyIndex *users; /* user id → dense user index */
} History;

/* Builds *out from n (user id, item index) pairs, in any order and with any
 * repeats. users and item_indices are (n,) and are not kept. O(n log n).
 * The caller frees *out with history_free. */
void history_build(History *out, const uint64_t *users, const uint32_t *item_indices, size_t n);

/* The dense index of user, or -1 when the user has no items here. */
int64_t history_find_user(const History *history, uint64_t user);

/* The items of user_index (< history_user_count): a sorted, distinct array
 * of *n_items indices owned by the history. */
const uint32_t *history_items(const History *history, size_t user_index, size_t *n_items);

/* Whether user_index has item_index (binary search). */
bool history_contains(const History *history, size_t user_index, uint32_t item_index);

/* Number of users (dense indices are 0 … count-1). */
size_t history_user_count(const History *history);

/* The id of user_index (< history_user_count). */
uint64_t history_user_id(const History *history, size_t user_index);

/* Frees the table and zeroes *history; a no-op on a zeroed history. */
void history_free(History *history);

#endif

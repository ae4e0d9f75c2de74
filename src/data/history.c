/* history.c — (user, item) pairs to a compressed-sparse-row table.
 *
 * Three passes: number the users and count their pairs, scatter the items
 * into one array by user (a counting sort, O(n)), then sort each user's
 * run and drop repeats, compacting the array in place. Only the per-user
 * sorts cost more than linear time.
 */
#include "psrec/data/history.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "psrec/core/util.h"
#include "psrec/ps/comm.h"

void history_build(History *out, const uint64_t *users, const uint32_t *item_indices, size_t n)
{
    assert(out && ((users && item_indices) || n == 0));
    memset(out, 0, sizeof *out);
    out->users = keyindex_create(n / 8 + 16);
    size_t *user_of = xmalloc(n * sizeof *user_of); /* dense user index per pair */
    for (size_t i = 0; i < n; i++)
        user_of[i] = keyindex_insert(out->users, users[i], NULL);
    size_t n_users = keyindex_size(out->users);

    /* offsets[u + 1] counts user u's pairs, then becomes the running end. */
    size_t *offsets = xcalloc(n_users + 1, sizeof *offsets);
    for (size_t i = 0; i < n; i++)
        offsets[user_of[i] + 1]++;
    for (size_t u = 0; u < n_users; u++)
        offsets[u + 1] += offsets[u];
    uint32_t *items = xmalloc(n * sizeof *items);
    size_t *fill = xmalloc((n_users + 1) * sizeof *fill);
    memcpy(fill, offsets, (n_users + 1) * sizeof *fill);
    for (size_t i = 0; i < n; i++)
        items[fill[user_of[i]]++] = item_indices[i];
    free(fill);
    free(user_of);

    /* Sort each run and drop repeats, moving it down to `kept`, which never
     * passes the run's start. */
    size_t kept = 0;
    for (size_t u = 0; u < n_users; u++) {
        comm_keepalive(); /* millions of users take a while */
        size_t begin = offsets[u], end = offsets[u + 1];
        size_t distinct = sort_unique_u32(items + begin, end - begin);
        memmove(items + kept, items + begin, distinct * sizeof *items);
        offsets[u] = kept;
        kept += distinct;
    }
    offsets[n_users] = kept;

    out->n_users = n_users;
    out->offsets = offsets;
    out->items = xrealloc(items, (kept ? kept : 1) * sizeof *items);
}

int64_t history_find_user(const History *history, uint64_t user)
{
    return history->users ? keyindex_find(history->users, user) : -1;
}

const uint32_t *history_items(const History *history, size_t user_index, size_t *n_items)
{
    assert(user_index < history->n_users);
    size_t begin = history->offsets[user_index];
    *n_items = history->offsets[user_index + 1] - begin;
    return history->items + begin;
}

bool history_contains(const History *history, size_t user_index, uint32_t item_index)
{
    size_t n;
    const uint32_t *items = history_items(history, user_index, &n);
    return sorted_u32_contains(items, n, item_index);
}

size_t history_user_count(const History *history)
{
    return history->n_users;
}

uint64_t history_user_id(const History *history, size_t user_index)
{
    assert(user_index < history->n_users);
    return keyindex_key_at(history->users, user_index);
}

void history_free(History *history)
{
    free(history->offsets);
    free(history->items);
    keyindex_destroy(history->users);
    memset(history, 0, sizeof *history);
}

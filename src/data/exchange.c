/* exchange.c — the user exchange and the catalogue agreement (exchange.h). */
#include "psrec/data/exchange.h"

#include <stdlib.h>
#include <string.h>

#include "psrec/core/keyindex.h"
#include "psrec/core/util.h"
#include "psrec/ps/comm.h"

/* One interaction as it travels. */
typedef struct {
    uint64_t user;
    uint64_t item;
    int64_t timestamp;
    float rating;
    float weight;
} InteractionRecord;

/* One catalogue entry as it travels. */
typedef struct {
    uint64_t item;
    double count;
} ItemRecord;

int exchange_owner(uint64_t user, int n_workers)
{
    /* Another mix than the key hash, so users and virtual shards do not
     * line up. */
    return (int)(hash_u64(user ^ 0x75736572ULL) % (uint64_t)n_workers);
}

void exchange_by_user(Ratings *data, int worker, int n_workers)
{
    (void)worker;
    size_t *send_bytes = xcalloc((size_t)n_workers, sizeof(size_t));
    size_t *recv_bytes = xcalloc((size_t)n_workers, sizeof(size_t));
    size_t *first = xcalloc((size_t)n_workers + 1, sizeof(size_t));
    int *owner = xmalloc((data->n ? data->n : 1) * sizeof(int));
    for (size_t i = 0; i < data->n; i++) {
        comm_keepalive(); /* millions of rows take a while */
        owner[i] = exchange_owner(data->users[i], n_workers);
        first[owner[i] + 1]++;
    }
    for (int w = 0; w < n_workers; w++) {
        send_bytes[w] = first[w + 1] * sizeof(InteractionRecord);
        first[w + 1] += first[w];
    }
    InteractionRecord *send = xmalloc((data->n ? data->n : 1) * sizeof(InteractionRecord));
    for (size_t i = 0; i < data->n; i++) {
        comm_keepalive(); /* fresh memory: page faults make this slow too */
        send[first[owner[i]]++] = (InteractionRecord){
            .user = data->users[i],
            .item = data->items[i],
            .timestamp = data->timestamps[i],
            .rating = data->ratings[i],
            .weight = data->weights ? data->weights[i] : 1.0f,
        };
    }
    ByteBuffer received = {0};
    comm_workers_alltoallv((const uint8_t *)send, send_bytes, &received, recv_bytes);
    free(send);

    uint64_t flags[3] = {data->has_ratings, data->has_timestamps, data->has_events};
    comm_workers_max_u64(flags, 3);
    size_t skipped = data->n_skipped;
    ratings_free(data);
    size_t n = received.len / sizeof(InteractionRecord);
    data->n = n;
    data->users = xmalloc((n ? n : 1) * sizeof(uint64_t));
    data->items = xmalloc((n ? n : 1) * sizeof(uint64_t));
    data->ratings = xmalloc((n ? n : 1) * sizeof(float));
    data->weights = xmalloc((n ? n : 1) * sizeof(float));
    data->timestamps = xmalloc((n ? n : 1) * sizeof(int64_t));
    for (size_t i = 0; i < n; i++) {
        comm_keepalive();
        InteractionRecord record;
        memcpy(&record, received.data + i * sizeof record, sizeof record);
        data->users[i] = record.user;
        data->items[i] = record.item;
        data->timestamps[i] = record.timestamp;
        data->ratings[i] = record.rating;
        data->weights[i] = record.weight;
    }
    data->has_ratings = flags[0] != 0;
    data->has_timestamps = flags[1] != 0;
    data->has_events = flags[2] != 0;
    data->n_skipped = skipped; /* this worker's own lines; the caller sums them */
    bytebuffer_free(&received);
    free(owner);
    free(first);
    free(recv_bytes);
    free(send_bytes);
}

void exchange_catalogue(Catalogue *out, const uint64_t *items, size_t n_items,
                        const uint64_t *counted, size_t n_counted)
{
    /* Local (item, count) pairs: every distinct item once, its count from
     * `counted`. A hash numbers the distinct items in one pass over the
     * rows that answers pings (comm_keepalive); sorting every row, as
     * this did, took seconds per few million rows without answering, and
     * catalogue_build sorts what arrives anyway. */
    KeyIndex *local = keyindex_create(1024);
    for (size_t i = 0; i < n_items; i++) {
        comm_keepalive();
        keyindex_insert(local, items[i], NULL);
    }
    size_t n_local = keyindex_size(local);
    ItemRecord *records = xmalloc((n_local ? n_local : 1) * sizeof(ItemRecord));
    for (size_t i = 0; i < n_local; i++)
        records[i] = (ItemRecord){.item = keyindex_key_at(local, i), .count = 0.0};
    for (size_t i = 0; i < n_counted; i++) {
        comm_keepalive();
        int64_t found = keyindex_find(local, counted[i]);
        if (found >= 0)
            records[found].count += 1.0;
    }
    ByteBuffer gathered = {0};
    comm_workers_allgatherv(records, n_local * sizeof(ItemRecord), &gathered);
    size_t n = gathered.len / sizeof(ItemRecord);
    uint64_t *ids = xmalloc((n ? n : 1) * sizeof(uint64_t));
    double *counts = xmalloc((n ? n : 1) * sizeof(double));
    for (size_t i = 0; i < n; i++) {
        ItemRecord record;
        memcpy(&record, gathered.data + i * sizeof record, sizeof record);
        ids[i] = record.item;
        counts[i] = record.count;
    }
    catalogue_build(out, ids, counts, n);
    free(counts);
    free(ids);
    bytebuffer_free(&gathered);
    free(records);
    keyindex_destroy(local);
}

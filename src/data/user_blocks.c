/* user_blocks.c — examples grouped into blocks of users (user_blocks.h). */
#include "psrec/data/user_blocks.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "psrec/core/keyindex.h"
#include "psrec/core/util.h"

size_t user_blocks_needed(size_t n_users, size_t row_bytes, size_t batch_size)
{
    if (row_bytes == 0) /* no user rows (neighbourhood models) */
        return 1;
    size_t per_block = row_bytes < USER_BLOCK_BYTES ? USER_BLOCK_BYTES / row_bytes : 1;
    if (per_block < USER_BLOCK_USERS_PER_BATCH_EXAMPLE * batch_size)
        per_block = USER_BLOCK_USERS_PER_BATCH_EXAMPLE * batch_size;
    size_t n_blocks = (n_users + per_block - 1) / per_block;
    return n_blocks > 0 ? n_blocks : 1;
}

/* A copy of array (n elements of element_bytes) with each element i moved
 * to position destination[i], in huge-page memory where large; frees
 * array. One array at a time, so the peak is one array more. */
static void *permute_array(void *array, size_t n, size_t element_bytes, const size_t *destination)
{
    if (!array)
        return NULL;
    size_t bytes = n * element_bytes;
    char *moved = bytes >= HUGE_PAGE_BYTES ? xmalloc_huge(bytes) : xmalloc(bytes ? bytes : 1);
    const char *from = array;
    for (size_t i = 0; i < n; i++)
        memcpy(moved + destination[i] * element_bytes, from + i * element_bytes, element_bytes);
    free(array);
    return moved;
}

/* Moves every example i of ratings to position destination[i]. */
static void permute_ratings(Ratings *ratings, const size_t *destination)
{
    size_t n = ratings->n;
    ratings->users = permute_array(ratings->users, n, sizeof *ratings->users, destination);
    ratings->items = permute_array(ratings->items, n, sizeof *ratings->items, destination);
    ratings->ratings = permute_array(ratings->ratings, n, sizeof *ratings->ratings, destination);
    ratings->timestamps =
        permute_array(ratings->timestamps, n, sizeof *ratings->timestamps, destination);
    ratings->weights = permute_array(ratings->weights, n, sizeof *ratings->weights, destination);
}

void user_blocks_arrange(Ratings *ratings, size_t n_blocks, UserBlocks *blocks)
{
    size_t n = ratings->n;
    blocks->n_blocks = n_blocks > 0 ? n_blocks : 1;
    blocks->start = xcalloc(blocks->n_blocks + 1, sizeof(size_t));
    size_t *destination = xmalloc((n ? n : 1) * sizeof(size_t));
    if (blocks->n_blocks == 1) { /* a plain shuffle: file order, moved */
        blocks->start[1] = n;
        for (size_t i = 0; i < n; i++)
            destination[i] = i;
        permute_ratings(ratings, destination);
        free(destination);
        return;
    }
    /* Users numbered by first appearance, with their block and example
     * counts; then each user's run of examples placed block by block. */
    KeyIndex *users = keyindex_create(1024);
    uint32_t *user_of = xmalloc((n ? n : 1) * sizeof(uint32_t));
    for (size_t i = 0; i < n; i++)
        user_of[i] = (uint32_t)keyindex_insert(users, ratings->users[i], NULL);
    size_t n_users = keyindex_size(users);
    size_t *run_start = xcalloc(n_users + 1, sizeof(size_t)); /* first counts, then starts */
    for (size_t i = 0; i < n; i++)
        run_start[user_of[i]]++;
    size_t *block_of_user = xmalloc((n_users ? n_users : 1) * sizeof(size_t));
    for (size_t u = 0; u < n_users; u++) {
        block_of_user[u] = (size_t)(hash_u64(keyindex_key_at(users, u)) % blocks->n_blocks);
        blocks->start[block_of_user[u] + 1] += run_start[u];
    }
    keyindex_destroy(users);
    for (size_t b = 0; b < blocks->n_blocks; b++)
        blocks->start[b + 1] += blocks->start[b];
    /* Users in order of first appearance within each block. */
    size_t *next = xmalloc(blocks->n_blocks * sizeof(size_t));
    memcpy(next, blocks->start, blocks->n_blocks * sizeof(size_t));
    for (size_t u = 0; u < n_users; u++) {
        size_t count = run_start[u];
        run_start[u] = next[block_of_user[u]];
        next[block_of_user[u]] += count;
    }
    free(next);
    free(block_of_user);
    for (size_t i = 0; i < n; i++)
        destination[i] = run_start[user_of[i]]++;
    free(run_start);
    free(user_of);
    permute_ratings(ratings, destination);
    free(destination);
}

/* Shuffles order[0..n) in place (Fisher–Yates). */
static void shuffle(size_t *order, size_t n, Rng *rng)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)rng_below(rng, i);
        size_t tmp = order[i - 1];
        order[i - 1] = order[j];
        order[j] = tmp;
    }
}

/* Orders the examples [first, first + count) of one block, whose users'
 * examples lie in runs (arranged), into order: each user's examples spread
 * evenly over the block's span, at times (j + U)/k for its k examples (j =
 * 0..k-1 in random order, U uniform per user), sorted by time into count
 * buckets. A minibatch sums a user's examples of one batch into one step,
 * which an adaptive optimizer (Adam) takes as one: spread out, a user
 * repeats within a batch only when it has more examples than the block has
 * batches. Runs are visited in random order, so users tie at random. */
static void order_block(const uint64_t *users, size_t first, size_t count, Rng *rng,
                        size_t *runs, size_t *bucket_of, size_t *bucket_start, size_t *order)
{
    size_t n_runs = 0;
    for (size_t i = first; i < first + count; i++)
        if (i == first || users[i] != users[i - 1])
            runs[n_runs++] = i;
    shuffle(runs, n_runs, rng);
    memset(bucket_start, 0, (count + 1) * sizeof(size_t));
    /* order[] is scratch here: each run's examples shuffled, in run order. */
    size_t at = 0;
    for (size_t r = 0; r < n_runs; r++) {
        size_t start = runs[r], k = 1;
        while (start + k < first + count && users[start + k] == users[start])
            k++;
        double offset = rng_uniform(rng);
        for (size_t j = 0; j < k; j++)
            order[at + j] = start + j;
        shuffle(order + at, k, rng);
        for (size_t j = 0; j < k; j++) {
            size_t bucket = (size_t)(((double)j + offset) / (double)k * (double)count);
            bucket_of[at + j] = bucket < count ? bucket : count - 1;
            bucket_start[bucket_of[at + j] + 1]++;
        }
        at += k;
    }
    for (size_t b = 0; b < count; b++)
        bucket_start[b + 1] += bucket_start[b];
    /* A stable counting sort by bucket, through runs[] as the output. */
    size_t *sorted = runs; /* n_runs ≤ count: reuse as room for count */
    for (size_t i = 0; i < count; i++)
        sorted[bucket_start[bucket_of[i]]++] = order[i];
    memcpy(order, sorted, count * sizeof(size_t));
}

void user_blocks_epoch_order(const UserBlocks *blocks, const uint64_t *users, size_t n,
                             uint64_t seed, int worker, int epoch, size_t *order)
{
    Rng rng;
    rng_seed(&rng, hash_u64(seed) ^ hash_u64(((uint64_t)worker << 32) | (uint64_t)epoch));
    if (!blocks || blocks->n_blocks <= 1) {
        assert(!blocks || blocks->start[1] == n);
        for (size_t i = 0; i < n; i++)
            order[i] = i;
        shuffle(order, n, &rng);
        return;
    }
    assert(blocks->start[blocks->n_blocks] == n);
    size_t n_blocks = blocks->n_blocks, largest = 0;
    for (size_t b = 0; b < n_blocks; b++)
        if (blocks->start[b + 1] - blocks->start[b] > largest)
            largest = blocks->start[b + 1] - blocks->start[b];
    size_t *block_order = xmalloc(n_blocks * sizeof(size_t));
    for (size_t b = 0; b < n_blocks; b++)
        block_order[b] = b;
    shuffle(block_order, n_blocks, &rng);
    size_t *runs = xmalloc((largest + 1) * sizeof(size_t));
    size_t *bucket_of = xmalloc((largest + 1) * sizeof(size_t));
    size_t *bucket_start = xmalloc((largest + 2) * sizeof(size_t));
    size_t at = 0;
    for (size_t k = 0; k < n_blocks; k++) {
        size_t b = block_order[k], first = blocks->start[b], count = blocks->start[b + 1] - first;
        if (count > 0)
            order_block(users, first, count, &rng, runs, bucket_of, bucket_start, order + at);
        at += count;
    }
    free(bucket_start);
    free(bucket_of);
    free(runs);
    free(block_order);
}

void user_blocks_free(UserBlocks *blocks)
{
    free(blocks->start);
    memset(blocks, 0, sizeof *blocks);
}

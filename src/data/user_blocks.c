/* user_blocks.c — examples grouped into blocks of users (user_blocks.h). */
#include "psrec/data/user_blocks.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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

void user_blocks_arrange(Ratings *ratings, size_t n_blocks, UserBlocks *blocks)
{
    size_t n = ratings->n;
    blocks->n_blocks = n_blocks > 0 ? n_blocks : 1;
    blocks->start = xcalloc(blocks->n_blocks + 1, sizeof(size_t));
    /* A stable counting sort by block: where each example goes. */
    size_t *destination = xmalloc((n ? n : 1) * sizeof(size_t));
    for (size_t i = 0; i < n; i++) {
        size_t block = (size_t)(hash_u64(ratings->users[i]) % blocks->n_blocks);
        destination[i] = block;
        blocks->start[block + 1]++;
    }
    for (size_t b = 0; b < blocks->n_blocks; b++)
        blocks->start[b + 1] += blocks->start[b];
    size_t *next = xmalloc(blocks->n_blocks * sizeof(size_t));
    memcpy(next, blocks->start, blocks->n_blocks * sizeof(size_t));
    for (size_t i = 0; i < n; i++)
        destination[i] = next[destination[i]]++;
    free(next);
    ratings->users = permute_array(ratings->users, n, sizeof *ratings->users, destination);
    ratings->items = permute_array(ratings->items, n, sizeof *ratings->items, destination);
    ratings->ratings = permute_array(ratings->ratings, n, sizeof *ratings->ratings, destination);
    ratings->timestamps = permute_array(ratings->timestamps, n, sizeof *ratings->timestamps, destination);
    ratings->weights = permute_array(ratings->weights, n, sizeof *ratings->weights, destination);
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

void user_blocks_epoch_order(const UserBlocks *blocks, size_t n, uint64_t seed, int worker,
                             int epoch, size_t *order)
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
    /* The blocks' order, then each block's examples in turn. */
    size_t n_blocks = blocks->n_blocks;
    size_t *block_order = xmalloc(n_blocks * sizeof(size_t));
    for (size_t b = 0; b < n_blocks; b++)
        block_order[b] = b;
    shuffle(block_order, n_blocks, &rng);
    size_t at = 0;
    for (size_t k = 0; k < n_blocks; k++) {
        size_t b = block_order[k], first = blocks->start[b], count = blocks->start[b + 1] - first;
        for (size_t i = 0; i < count; i++)
            order[at + i] = first + i;
        shuffle(order + at, count, &rng);
        at += count;
    }
    free(block_order);
}

void user_blocks_free(UserBlocks *blocks)
{
    free(blocks->start);
    memset(blocks, 0, sizeof *blocks);
}

/* user_blocks.h — a worker's training examples grouped into blocks of users.
 *
 * A parameter server's rows lie scattered over gigabytes; a batch of
 * uniformly shuffled examples touches user rows all over them, so nearly
 * every pull and push of a row misses the cache. Training visits the
 * blocks one after another instead (in a random order each epoch), so the
 * rows of the current block's users (about a megabyte, USER_BLOCK_BYTES)
 * stay in cache while the servers and the worker work through them.
 *
 * Within a block, each user's examples are spread evenly over the block's
 * span rather than shuffled: a batch draws from far fewer users than with
 * a plain shuffle, and a minibatch sums a user's examples of one batch into
 * one step, which Adam takes as one step (its size normalised). With a
 * plain shuffle inside blocks of 4 users per batch example, a batch of
 * 1024 named 1474 distinct rows instead of 1636 (users met twice), and a
 * generated data set's test RMSE rose by 0.007 under Adam; spread out, it
 * was 0.0006 better than a plain shuffle of everything (3 seeds). Items stay uniformly mixed in every batch:
 * blocking them too (as LIBMF does) would concentrate an item's
 * occurrences in a batch (tried with SGD: it diverged). One block (small
 * data, or --shuffle examples) is the plain shuffle.
 */
#ifndef PSREC_USER_BLOCKS_H
#define PSREC_USER_BLOCKS_H

#include <stddef.h>
#include <stdint.h>

#include "psrec/data/dataset.h"

/* The user rows a block aims to hold, in bytes. */
#define USER_BLOCK_BYTES ((size_t)1 << 20)
/* A block holds at least this many users per example of a batch, so
 * that it spans at least this many batches per example of an average user:
 * spread evenly, a user shares a batch with itself only with more than
 * this many times the average examples. (Blocks of 1/16 user per batch
 * example, shuffled within, cost bpr 15% of its full-ranking recall on
 * Amazon Beauty.) */
#define USER_BLOCK_USERS_PER_BATCH_EXAMPLE 4

typedef struct {
    size_t n_blocks;
    size_t *start; /* (n_blocks + 1,) block b covers examples [start[b], start[b + 1]) */
} UserBlocks;

/* How many blocks n_users users make when a block holds
 * about USER_BLOCK_BYTES of user rows of `row_bytes` each, but never fewer
 * than USER_BLOCK_USERS_PER_BATCH_EXAMPLE × batch_size users (at least 1;
 * row_bytes 0, a model without user rows: 1). */
size_t user_blocks_needed(size_t n_users, size_t row_bytes, size_t batch_size);

/* Reorders the examples of `ratings` so that each of n_blocks blocks is
 * contiguous (a user's block is hash_u64(user) % n_blocks; blocks in order
 * 0, 1, …) and, within a block, each user's examples form one run (users
 * in order of first appearance, a user's examples in file order), and
 * moves the arrays into huge-page memory where they are large (training
 * reads them in shuffled order: with 4 KiB pages nearly every read would
 * also miss the TLB). One block keeps file order. Fills *blocks; free with
 * user_blocks_free. */
void user_blocks_arrange(Ratings *ratings, size_t n_blocks, UserBlocks *blocks);

/* The order in which worker `worker` visits its n examples in an epoch: a
 * permutation of 0..n-1 into order that depends only on (blocks, users,
 * seed, worker, epoch). The blocks come one after another in a random
 * order; within a block each user's examples are spread evenly over the
 * block (in random order, at a random phase), so a minibatch seldom holds
 * one user twice. users is the arranged data's (user_blocks_arrange);
 * blocks NULL (or one block) is a plain Fisher–Yates shuffle of all n, and
 * users is then unused. */
void user_blocks_epoch_order(const UserBlocks *blocks, const uint64_t *users, size_t n,
                             uint64_t seed, int worker, int epoch, size_t *order);

void user_blocks_free(UserBlocks *blocks);

#endif

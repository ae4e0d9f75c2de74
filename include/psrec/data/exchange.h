/* exchange.h — moving interactions between workers so that each user's
 * history lives on one worker, and agreeing on the item catalogue.
 *
 * After every worker has read its byte range of a file, exchange_by_user
 * sends each interaction to the worker its user hashes to. Leave-one-out
 * splits, negative sampling that avoids a user's own items, and per-user
 * evaluation all need a user's whole history in one place. What a worker
 * receives keeps file order: the parts come in worker order, and worker w
 * read the w-th byte range.
 */
#ifndef PSREC_EXCHANGE_H
#define PSREC_EXCHANGE_H

#include <stdint.h>

#include "psrec/data/catalogue.h"
#include "psrec/data/dataset.h"

/* The worker (0..n_workers-1) that holds user's interactions. Depends only
 * on the user id and n_workers. */
int exchange_owner(uint64_t user, int n_workers);

/* Replaces *data (this worker's part of a file) with the interactions whose
 * users this worker owns, gathered from every worker. The has_* flags
 * become those of the whole file. Collective over the workers. */
void exchange_by_user(Ratings *data, int worker, int n_workers);

/* Builds, on every worker, the same catalogue: every item that occurs in
 * any worker's `items` (n_items entries), with its count of occurrences in
 * `counted` (the training interactions, which may be a subset). Collective
 * over the workers. */
void exchange_catalogue(Catalogue *out, const uint64_t *items, size_t n_items,
                        const uint64_t *counted, size_t n_counted);

#endif

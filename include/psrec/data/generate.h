/* generate.h — synthetic e-commerce ratings from known latent factors.
 *
 * Users and items get true factors and biases; items get a power-law
 * (Zipf) popularity, so a few items draw most interactions, as in a shop.
 * Each user rates a number of distinct items that also follows a heavy tail;
 * a rating is round(3.5 + b_u + b_i + p_u·q_i + noise) clipped to 1..5, with a
 * timestamp that grows through each user's history. The same config (and
 * seed) always writes the same bytes. A test split holds out a fraction of
 * each user's ratings, drawn by the same generator.
 */
#ifndef PSREC_GENERATE_H
#define PSREC_GENERATE_H

#include <stdint.h>

#include "psrec/app/config.h"
#include "psrec/core/util.h"

typedef struct {
    uint64_t n_train;   /* lines written to out_path */
    uint64_t n_test;    /* lines written to test_out_path */
    uint64_t n_users_active; /* users with at least one rating */
    uint64_t n_items_active; /* items with at least one rating */
} GenerateSummary;

/* Writes CSV files "user_id,item_id,rating,timestamp" with a header.
 * Returns 0, or -1 with a message (e.g. a file that cannot be written, or
 * more ratings asked than users × items allows). */
int generate_ratings(const GenerateConfig *config, GenerateSummary *summary, Error *err);

#endif

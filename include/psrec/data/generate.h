/* generate.h — synthetic e-commerce data from known latent factors.
 *
 * Users and items get true factors p_u, q_i and biases; items get a
 * power-law (Zipf) popularity, so a few items draw most interactions, as in a
 * shop. Each user has a heavy-tailed number of distinct items, never more
 * than half of them, and a history whose timestamps grow by 1 s to 3 days a
 * step. The same config (and seed) always writes the same bytes; a user's
 * true factors are the same in both modes. A test split holds out a fraction
 * of each user's lines, drawn by the same generator.
 *
 * Explicit feedback: a user's items are drawn one after another by
 * popularity alone, and each gets the rating
 * round(3.5 + b_u + b_i + p_u·q_i + noise) clipped to 1..5.
 *
 * Implicit feedback: a user's items are one draw without replacement from the
 * choice model (a multinomial logit)
 *     P(user u picks item i) ∝ popularity_i · exp(strength · p_u·q_i),
 * sampled exactly with the Gumbel-top-k trick: the `count` largest
 * log weight_i + Gumbel noise. Popularity stands for what a user is shown and
 * taste for what they take, so a model that learns p_u·q_i ranks far better
 * than best-sellers; strength 0 leaves popularity alone. The picked items are
 * then shuffled, so the history's order (and the last item left out by a
 * leave-one-out split) carries no affinity. Each interaction is one event,
 * from s = p_u·q_i + noise (std --noise-std):
 *     purchase if s > GENERATE_PURCHASE_THRESHOLD,
 *     cart     if s > GENERATE_CART_THRESHOLD,   view otherwise.
 * Drawing from all items costs users × items × dim operations.
 *
 * The truth file lists, for every user with at least one line, the truth_k
 * items of highest p_u·q_i among those the user has no line for (in either
 * file): what a perfect recommender would show. It costs users × items × dim
 * too (seconds for 10k users × 5k items × 8 factors), and is written
 * in both modes; its scores leave out the item bias b_i of explicit ratings.
 */
#ifndef PSREC_GENERATE_H
#define PSREC_GENERATE_H

#include <stdint.h>

#include "psrec/app/config.h"
#include "psrec/core/util.h"

/* Event thresholds on p_u·q_i + noise (p_u·q_i has std 0.8 over all pairs). */
#define GENERATE_CART_THRESHOLD 1.2
#define GENERATE_PURCHASE_THRESHOLD 2.0

typedef enum {
    GENERATE_EVENT_VIEW = 0,
    GENERATE_EVENT_CART = 1,
    GENERATE_EVENT_PURCHASE = 2,
    GENERATE_EVENT_COUNT
} GenerateEvent;

/* "view", "cart" or "purchase": the event column of implicit files. */
const char *generate_event_name(GenerateEvent event);

typedef struct {
    uint64_t n_train;        /* lines written to out_path */
    uint64_t n_test;         /* lines written to test_out_path */
    uint64_t n_users_active; /* users with at least one line */
    uint64_t n_items_active; /* items with at least one line */
    uint64_t n_events[GENERATE_EVENT_COUNT]; /* implicit: lines per event, train + test */
    uint64_t n_truth;        /* lines written to truth_out_path */
} GenerateSummary;

/* Writes config->out_path (and test_out_path, truth_out_path when not
 * empty) as CSV with a header: "user_id,item_id,rating,timestamp" for
 * explicit feedback, "user_id,item_id,timestamp,event" for implicit, and
 * "user_id,rank,item_id,true_score" for the truth. Ids count from 1. Returns
 * 0, or -1 with a message (e.g. a file that cannot be written, or more lines
 * asked than users × items / 2 allows); on failure no file is left behind. */
int generate_ratings(const GenerateConfig *config, GenerateSummary *summary, Error *err);

/* ---- the true model, for checking what a model learned against it */

typedef struct GenerateModel GenerateModel;

/* The true factors generate_ratings draws from for this config (only
 * items, dim and seed matter). Costs items × dim; the caller owns the result.
 * The config must pass generate_ratings' checks. */
GenerateModel *generate_model_create(const GenerateConfig *config);

/* p_u·q_i for user_id in 1..users and item_id in 1..items, as in the files:
 * the true_score of the truth file before it is printed to 6 decimals.
 * Costs O(dim). */
double generate_model_affinity(const GenerateModel *model, uint64_t user_id, uint64_t item_id);

/* affinities (items,) = p_u·q_i for user_id and every item, item_id - 1
 * indexing it: the same values as generate_model_affinity, in O(items × dim)
 * with one draw of the user's factors. */
void generate_model_user_affinities(const GenerateModel *model, uint64_t user_id,
                                    double *affinities);

/* Frees the model; NULL is a no-op. */
void generate_model_destroy(GenerateModel *model);

#endif

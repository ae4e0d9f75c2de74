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
 *
 * Attributes (when a features file is asked for): each item has a category
 * (one of `categories`, uniform) and a brand (one of `brands`, uniform);
 * each user an age band, a gender and a region (fixed shares below). Every
 * attribute value has its own true vector, and with s = feature_strength
 *     q_i = √s · (v_category + v_brand) / √2 + √(1−s) · e_i
 *     p_u = √s · (v_age + v_gender + v_region) / √3 + √(1−s) · e_u
 * where e_i, e_u are the individual factors drawn without attributes; each
 * coordinate keeps its variance, so p_u·q_i keeps its scale and only its
 * structure changes: items of one category are alike, and so are users of
 * one profile, so attributes predict what an item with no interactions
 * attracts. Attributes and their vectors come from streams of their own,
 * so without a features file (or with s = 0) every other byte is what it
 * was without attributes. Feature ids count from 1 and do not overlap
 * between kinds: items 1..C categories, C+1..C+B brands; users 1..6 age
 * bands, 7..8 genders, 9..18 regions.
 */
#ifndef PSREC_GENERATE_H
#define PSREC_GENERATE_H

#include <stdint.h>

#include "psrec/app/config.h"
#include "psrec/core/util.h"

/* Event thresholds on p_u·q_i + noise (p_u·q_i has std 0.8 over all pairs). */
#define GENERATE_CART_THRESHOLD 1.2
#define GENERATE_PURCHASE_THRESHOLD 2.0

/* User profiles: how many values of each attribute; feature ids follow
 * one another in this order (age bands first). */
#define GENERATE_AGE_BANDS 6
#define GENERATE_GENDERS 2
#define GENERATE_REGIONS 10

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
    uint64_t n_item_features; /* lines written to item_features_out_path */
    uint64_t n_user_features; /* lines written to user_features_out_path */
} GenerateSummary;

/* The output files, in the order GenerateEstimate lists them. */
typedef enum {
    GENERATE_OUTPUT_OUT = 0,           /* --out */
    GENERATE_OUTPUT_TEST,              /* --test-out */
    GENERATE_OUTPUT_TRUTH,             /* --truth-out */
    GENERATE_OUTPUT_ITEM_FEATURES,     /* --item-features-out */
    GENERATE_OUTPUT_USER_FEATURES,     /* --user-features-out */
    GENERATE_OUTPUT_COUNT
} GenerateOutput;

/* What generate_ratings will need, worked out from the config alone (in
 * microseconds, before anything is drawn): the peak of its allocations,
 * and the size of each file (0 for one not asked for). Memory is an upper
 * bound within a few per cent (the largest user is taken as large as the
 * cap allows); file sizes are expectations, from the average length of
 * the ids written. */
typedef struct {
    double memory_bytes;
    double file_bytes[GENERATE_OUTPUT_COUNT];
} GenerateEstimate;

/* Fills *estimate for a config that passes generate_ratings' own checks. */
void generate_estimate(const GenerateConfig *config, GenerateEstimate *estimate);

/* Writes config->out_path (and test_out_path, truth_out_path,
 * item_features_out_path, user_features_out_path when not empty) as CSV
 * with a header: "user_id,item_id,rating,timestamp" for explicit feedback,
 * "user_id,item_id,timestamp,event" for implicit,
 * "user_id,rank,item_id,true_score" for the truth, and "item_id,feature_id"
 * (two lines per item: category, brand) and "user_id,feature_id" (three
 * lines per user, every user: age band, gender, region) for the
 * attributes. Ids count from 1. Before any work it compares
 * generate_estimate with the memory available (memory_available_bytes) and
 * the free space of each output's file system, and refuses a config that
 * would not fit, giving the estimate and what there is. Returns 0, or -1
 * with a message (e.g. a file that cannot be written, more lines asked
 * than users × items / 2 allows, or a config too large for the machine);
 * on failure no file is left behind, and a file of the same name that was
 * there before is untouched unless the failure came after opening it. */
int generate_ratings(const GenerateConfig *config, GenerateSummary *summary, Error *err);

/* ---- the true model, for checking what a model learned against it */

typedef struct GenerateModel GenerateModel;

/* The true factors generate_ratings draws from for this config (only
 * items, dim and seed matter, and, when a features file is named, the
 * attribute settings). Costs items × dim; the caller owns the result.
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

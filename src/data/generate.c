/* generate.c — `psrec generate`: synthetic ratings or interactions from a
 * known model (generate.h describes the model).
 *
 * Items get true factors, biases and a Zipf popularity (over a random
 * permutation of ids, so popular items are not simply the small ids); each
 * user gets a heavy-tailed (lognormal) number of lines that sum exactly to
 * the requested total, never more than half the items, and draws that many
 * distinct items: by popularity (explicit) or from the choice model
 * (implicit). Each user's draws come from their own random stream seeded
 * from (seed, user), and the train/test coin from a separate stream, so the
 * output is a pure function of the config: same seed, same bytes — and the
 * train + test lines are the lines written without a split. The truth file
 * consumes no random numbers, so asking for it changes no other byte; the
 * attributes have streams of their own and mix into the factors only when
 * a features file is asked for, so without one every byte is as before.
 */
#include "psrec/data/generate.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "psrec/core/util.h"

/* Stream tags mixed into the seed so the streams never coincide. */
#define STREAM_ITEMS UINT64_C(0x6974656d73000001)
#define STREAM_COUNTS UINT64_C(0x636f756e74000002)
#define STREAM_USER UINT64_C(0x7573657273000003)
#define STREAM_SPLIT UINT64_C(0x73706c6974000004)
#define STREAM_FEATURES UINT64_C(0x6665617473000005) /* index: FEATURE_DRAW_* */
#define STREAM_PROFILE UINT64_C(0x70726f6669000006)  /* index: the user */

/* What each index of STREAM_FEATURES draws. */
#define FEATURE_DRAW_ITEM_ATTRIBUTES 0
#define FEATURE_DRAW_ITEM_VECTORS 1
#define FEATURE_DRAW_USER_VECTORS 2

#define ITEM_ATTRIBUTES 2 /* category, brand */
#define USER_ATTRIBUTES 3 /* age band, gender, region */
#define PROFILE_FEATURES (GENERATE_AGE_BANDS + GENERATE_GENDERS + GENERATE_REGIONS)

#define RATING_MEAN 3.5
#define USER_BIAS_STD 0.3
#define ITEM_BIAS_STD 0.4
#define INTERACTION_STD 0.8  /* std of p_u·q_i */
#define COUNT_LOG_STD 1.0    /* spread of log(ratings per user) */
#define TIMESTAMP_BASE 1000000000LL
#define TIMESTAMP_BASE_SPREAD 200000000ULL /* users start within ~6 years */
#define TIMESTAMP_MAX_GAP_S 259200ULL      /* up to 3 days between ratings */
/* Repeated draws after which a user's next item is taken uniformly from the
 * items they have not rated, so heavy users of a very skewed popularity
 * still finish quickly (see user_draw_new_rank). */
#define MAX_REJECTIONS 32
#define OUT_BUFFER_BYTES (1u << 20)
#define LINE_MAX_BYTES 128 /* longest line: four numbers or a 6-decimal score */

static Rng rng_stream(uint64_t seed, uint64_t tag, uint64_t index)
{
    Rng rng;
    rng_seed(&rng, hash_u64(seed ^ hash_u64(tag + index)));
    return rng;
}

/* ---- buffered CSV output */

typedef struct {
    FILE *file;
    const char *path; /* NULL when never opened */
    char *data;   /* (OUT_BUFFER_BYTES,) */
    size_t len;
    int error;    /* errno of the first failed write, 0 if none */
} CsvOut;

static void csvout_flush(CsvOut *out)
{
    if (out->len > 0 && out->error == 0 && fwrite(out->data, 1, out->len, out->file) != out->len)
        out->error = errno ? errno : EIO;
    out->len = 0;
}

/* Where the next line goes, with room for LINE_MAX_BYTES; the writer ends
 * it with csvout_line_end. */
static char *csvout_line_start(CsvOut *out)
{
    if (out->len + LINE_MAX_BYTES > OUT_BUFFER_BYTES)
        csvout_flush(out);
    return out->data + out->len;
}

static void csvout_line_end(CsvOut *out, const char *end)
{
    assert(end > out->data + out->len && end <= out->data + out->len + LINE_MAX_BYTES);
    out->len = (size_t)(end - out->data);
}

static char *text_append_u64(char *p, uint64_t x)
{
    char digits[20];
    int n = 0;
    do {
        digits[n++] = (char)('0' + x % 10);
        x /= 10;
    } while (x);
    while (n > 0)
        *p++ = digits[--n];
    return p;
}

static char *text_append(char *p, const char *text)
{
    size_t n = strlen(text);
    memcpy(p, text, n);
    return p + n;
}

/* Appends x and the comma that ends its field. */
static char *text_append_field(char *p, uint64_t x)
{
    p = text_append_u64(p, x);
    *p++ = ',';
    return p;
}

/* Appends "user,item,rating,timestamp\n". */
static void csvout_write_rating(CsvOut *out, uint64_t user, uint64_t item, int rating,
                                uint64_t timestamp)
{
    char *p = csvout_line_start(out);
    p = text_append_field(p, user);
    p = text_append_field(p, item);
    *p++ = (char)('0' + rating);
    *p++ = ',';
    p = text_append_u64(p, timestamp);
    *p++ = '\n';
    csvout_line_end(out, p);
}

/* Appends "user,item,timestamp,event\n". */
static void csvout_write_event(CsvOut *out, uint64_t user, uint64_t item, uint64_t timestamp,
                               GenerateEvent event)
{
    char *p = csvout_line_start(out);
    p = text_append_field(p, user);
    p = text_append_field(p, item);
    p = text_append_field(p, timestamp);
    p = text_append(p, generate_event_name(event));
    *p++ = '\n';
    csvout_line_end(out, p);
}

/* Appends "user,rank,item,score\n", the score with 6 decimals. */
static void csvout_write_truth(CsvOut *out, uint64_t user, uint64_t rank, uint64_t item,
                               double score)
{
    char *p = csvout_line_start(out);
    p = text_append_field(p, user);
    p = text_append_field(p, rank);
    p = text_append_field(p, item);
    /* An affinity is a dot product of bounded factors: far below 1e12. */
    int n = snprintf(p, 32, "%.6f", score);
    assert(n > 0 && n < 32);
    p += n;
    *p++ = '\n';
    csvout_line_end(out, p);
}

/* Appends "entity,feature\n": a line of a features file. */
static void csvout_write_feature(CsvOut *out, uint64_t entity, uint64_t feature)
{
    char *p = csvout_line_start(out);
    p = text_append_field(p, entity);
    p = text_append_u64(p, feature);
    *p++ = '\n';
    csvout_line_end(out, p);
}

/* Opens path for writing and writes the header line. Returns 0 or -1. */
static int csvout_open(CsvOut *out, const char *path, const char *header, Error *err)
{
    out->path = path;
    out->len = 0;
    out->error = 0;
    out->file = fopen(path, "wb");
    if (!out->file)
        return error_set(err, "cannot create '%s': %s", path, strerror(errno));
    out->data = xmalloc(OUT_BUFFER_BYTES);
    out->len = strlen(header);
    memcpy(out->data, header, out->len);
    return 0;
}

/* Flushes and closes (no-op when never opened). With `ok` false the file is
 * removed, so a failed run leaves no half-written file. Returns 0, or -1
 * when a write failed (only reported if ok). */
static int csvout_close(CsvOut *out, bool ok, Error *err)
{
    if (!out->file)
        return 0;
    csvout_flush(out);
    if (fclose(out->file) != 0 && out->error == 0)
        out->error = errno ? errno : EIO;
    out->file = NULL;
    free(out->data);
    out->data = NULL;
    if (ok && out->error != 0) {
        error_set(err, "cannot write '%s': %s", out->path, strerror(out->error));
        ok = false;
    }
    if (!ok)
        remove(out->path);
    return ok ? 0 : -1;
}

/* ---- attributes: who has which, and the true vector of each value */

/* Shares of the age bands 18–24, 25–34, 35–44, 45–54, 55–64, 65+: a shop's
 * customers lean young, but every band is present. */
static const double AGE_BAND_SHARES[GENERATE_AGE_BANDS] = {0.17, 0.28, 0.23, 0.16, 0.10, 0.06};

typedef struct {
    bool enabled;             /* a features file is asked for; all else is empty when not */
    double attribute_weight;  /* √s of the mix (generate.h) */
    double individual_weight; /* √(1−s) */
    int n_categories;
    int n_brands;
    int dim;
    uint64_t seed;
    uint32_t *item_features;  /* (n_items, ITEM_ATTRIBUTES) feature ids: category, brand */
    float *item_vectors;      /* (n_categories + n_brands, dim) by feature id − 1 */
    float *user_vectors;      /* (PROFILE_FEATURES, dim) by feature id − 1 */
} TrueFeatures;

/* The std of every true factor coordinate: var(p·q) = dim * std^4 for
 * independent factors, so this gives the interaction term INTERACTION_STD
 * whatever dim is. Attribute vectors share it, so mixing keeps it. */
static float factor_std_of_dim(int dim)
{
    return (float)sqrt(INTERACTION_STD / sqrt((double)dim));
}

/* (rows, dim) independent normals of std `std`, from one stream. */
static float *vectors_draw(int rows, int dim, float std, Rng *rng)
{
    size_t n = (size_t)rows * (size_t)dim;
    float *vectors = xmalloc(n * sizeof *vectors);
    for (size_t k = 0; k < n; k++)
        vectors[k] = std * (float)rng_normal(rng);
    return vectors;
}

/* Draws every item's attributes and every attribute value's vector, when a
 * features file is asked for; otherwise leaves `features` disabled. Each
 * kind of draw has its own stream, so e.g. --brands leaves the categories
 * and the user vectors alone. */
static void truefeatures_init(TrueFeatures *features, const GenerateConfig *config)
{
    memset(features, 0, sizeof *features);
    features->enabled = config->item_features_out_path[0] != '\0' ||
                        config->user_features_out_path[0] != '\0';
    if (!features->enabled)
        return;
    int dim = config->dim;
    float std = factor_std_of_dim(dim);
    features->attribute_weight = sqrt(config->feature_strength);
    features->individual_weight = sqrt(1.0 - config->feature_strength);
    features->n_categories = config->categories;
    features->n_brands = config->brands;
    features->dim = dim;
    features->seed = config->seed;

    Rng rng = rng_stream(config->seed, STREAM_FEATURES, FEATURE_DRAW_ITEM_ATTRIBUTES);
    features->item_features =
        xmalloc((size_t)config->items * ITEM_ATTRIBUTES * sizeof *features->item_features);
    for (size_t i = 0; i < (size_t)config->items; i++) {
        uint32_t *ids = features->item_features + i * ITEM_ATTRIBUTES;
        ids[0] = 1 + (uint32_t)rng_below(&rng, (uint64_t)config->categories);
        ids[1] = (uint32_t)config->categories + 1 +
                 (uint32_t)rng_below(&rng, (uint64_t)config->brands);
    }
    rng = rng_stream(config->seed, STREAM_FEATURES, FEATURE_DRAW_ITEM_VECTORS);
    features->item_vectors = vectors_draw(config->categories + config->brands, dim, std, &rng);
    rng = rng_stream(config->seed, STREAM_FEATURES, FEATURE_DRAW_USER_VECTORS);
    features->user_vectors = vectors_draw(PROFILE_FEATURES, dim, std, &rng);
}

static void truefeatures_free(TrueFeatures *features)
{
    free(features->item_features);
    free(features->item_vectors);
    free(features->user_vectors);
    memset(features, 0, sizeof *features);
}

/* User u's (0-based) profile as feature ids (USER_ATTRIBUTES,): age band,
 * gender, region, from the user's own profile stream, so the profile is
 * known without drawing anything else of the user. */
static void truefeatures_draw_profile(const TrueFeatures *features, uint64_t u, uint32_t *ids)
{
    Rng rng = rng_stream(features->seed, STREAM_PROFILE, u);
    double point = rng_uniform(&rng), cumulative = 0.0;
    int band = GENERATE_AGE_BANDS - 1; /* where rounding leaves the shares short of 1 */
    for (int b = 0; b < GENERATE_AGE_BANDS; b++) {
        cumulative += AGE_BAND_SHARES[b];
        if (point < cumulative) {
            band = b;
            break;
        }
    }
    ids[0] = 1 + (uint32_t)band;
    ids[1] = GENERATE_AGE_BANDS + 1 + (uint32_t)rng_below(&rng, GENERATE_GENDERS);
    ids[2] = GENERATE_AGE_BANDS + GENERATE_GENDERS + 1 +
             (uint32_t)rng_below(&rng, GENERATE_REGIONS);
}

/* factors (dim,) = √s · Σ vectors[id − 1] / √n_ids + √(1−s) · factors: the
 * individual factors mixed with the attributes' vectors (rows of `vectors`,
 * (?, dim)). With s = 0 the factors come back bit for bit. */
static void truefeatures_mix(const TrueFeatures *features, const float *vectors,
                             const uint32_t *ids, int n_ids, float *factors)
{
    int dim = features->dim;
    double scale = features->attribute_weight / sqrt((double)n_ids);
    for (int k = 0; k < dim; k++) {
        double sum = 0.0;
        for (int a = 0; a < n_ids; a++)
            sum += vectors[(size_t)(ids[a] - 1) * (size_t)dim + (size_t)k];
        factors[k] = (float)(scale * sum + features->individual_weight * factors[k]);
    }
}

/* ---- the true model */

typedef struct {
    int n_items;
    int dim;
    double *popularity_cdf; /* (n_items,) cumulative rank^-s, by rank */
    uint32_t *item_of_rank; /* (n_items,) a permutation of 0..n_items-1 */
    double *popularity_log; /* (n_items,) log rank^-s, by item id */
    float *item_factors;    /* (n_items, dim) by item id */
    float *item_bias;       /* (n_items,) */
    float factor_std;
} TrueItems;

/* Draws the items' popularity, biases and factors, the factors mixed with
 * their attributes when those are enabled. */
static void trueitems_init(TrueItems *items, const TrueFeatures *features,
                           const GenerateConfig *config)
{
    int n = config->items;
    int dim = config->dim;
    Rng rng = rng_stream(config->seed, STREAM_ITEMS, 0);
    items->n_items = n;
    items->dim = dim;
    items->factor_std = factor_std_of_dim(dim);

    items->popularity_cdf = xmalloc((size_t)n * sizeof *items->popularity_cdf);
    double total = 0.0;
    for (int r = 0; r < n; r++) {
        total += pow((double)(r + 1), -config->zipf_exponent);
        items->popularity_cdf[r] = total;
    }

    items->item_of_rank = xmalloc((size_t)n * sizeof *items->item_of_rank);
    for (int i = 0; i < n; i++)
        items->item_of_rank[i] = (uint32_t)i;
    for (int i = n - 1; i > 0; i--) {
        uint32_t j = (uint32_t)rng_below(&rng, (uint64_t)i + 1);
        uint32_t t = items->item_of_rank[i];
        items->item_of_rank[i] = items->item_of_rank[j];
        items->item_of_rank[j] = t;
    }
    items->popularity_log = xmalloc((size_t)n * sizeof *items->popularity_log);
    for (int r = 0; r < n; r++)
        items->popularity_log[items->item_of_rank[r]] = -config->zipf_exponent * log(r + 1.0);

    items->item_factors = xmalloc((size_t)n * (size_t)dim * sizeof *items->item_factors);
    items->item_bias = xmalloc((size_t)n * sizeof *items->item_bias);
    for (int i = 0; i < n; i++) {
        items->item_bias[i] = (float)(ITEM_BIAS_STD * rng_normal(&rng));
        for (int k = 0; k < dim; k++)
            items->item_factors[(size_t)i * (size_t)dim + (size_t)k] =
                items->factor_std * (float)rng_normal(&rng);
    }
    if (features->enabled)
        for (size_t i = 0; i < (size_t)n; i++)
            truefeatures_mix(features, features->item_vectors,
                             features->item_features + i * ITEM_ATTRIBUTES, ITEM_ATTRIBUTES,
                             items->item_factors + i * (size_t)dim);
}

static void trueitems_free(TrueItems *items)
{
    free(items->popularity_cdf);
    free(items->item_of_rank);
    free(items->popularity_log);
    free(items->item_factors);
    free(items->item_bias);
    memset(items, 0, sizeof *items);
}

/* A user's true bias, returned, and factors (dim,): the first draws of the
 * user's own stream, so both modes (and generate_model_affinity) agree. */
static double user_draw_factors(Rng *rng, float factor_std, int dim, float *factors)
{
    double bias = USER_BIAS_STD * rng_normal(rng);
    for (int k = 0; k < dim; k++)
        factors[k] = factor_std * (float)rng_normal(rng);
    return bias;
}

/* p·q in double, summed in order of k: every caller gets the same bits. */
static double factors_dot(const float *p, const float *q, int dim)
{
    double dot = 0.0;
    for (int k = 0; k < dim; k++)
        dot += (double)p[k] * (double)q[k];
    return dot;
}

/* A popularity rank drawn from the Zipf distribution: the first rank whose
 * cumulative weight exceeds a uniform point. */
static uint32_t trueitems_draw_rank(const TrueItems *items, Rng *rng)
{
    double target = rng_uniform(rng) * items->popularity_cdf[items->n_items - 1];
    uint32_t lo = 0, hi = (uint32_t)items->n_items - 1;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (items->popularity_cdf[mid] > target)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* ---- ratings per user */

/* Fills counts (n_users,) with heavy-tailed ratings per user that sum to
 * exactly `total`, each at most `cap`, and at least 1 when total >= n_users.
 * Requires total ≤ n_users * cap. */
static void user_counts_draw(uint32_t *counts, int n_users, uint64_t total, uint32_t cap,
                             uint64_t seed)
{
    assert(total <= (uint64_t)n_users * cap);
    Rng rng = rng_stream(seed, STREAM_COUNTS, 0);
    double *weights = xmalloc((size_t)n_users * sizeof *weights);
    double weight_sum = 0.0;
    for (int u = 0; u < n_users; u++) {
        weights[u] = exp(COUNT_LOG_STD * rng_normal(&rng));
        weight_sum += weights[u];
    }
    uint32_t floor_count = total >= (uint64_t)n_users ? 1 : 0;
    int64_t diff = (int64_t)total;
    for (int u = 0; u < n_users; u++) {
        double ideal = floor((double)total * weights[u] / weight_sum);
        uint32_t c = ideal >= (double)cap ? cap : (uint32_t)ideal;
        if (c < floor_count)
            c = floor_count;
        counts[u] = c;
        diff -= c;
    }
    free(weights);

    /* Rounding, the cap and the floor leave the sum off by `diff`: spread it
     * evenly over the users that can still move, starting at a random user.
     * A pass that does not finish saturates at least one user, so this ends. */
    int start = (int)rng_below(&rng, (uint64_t)n_users);
    while (diff != 0) {
        int64_t movable = 0;
        for (int u = 0; u < n_users; u++)
            movable += diff > 0 ? counts[u] < cap : counts[u] > floor_count;
        assert(movable > 0);
        int64_t need = diff > 0 ? diff : -diff;
        int64_t step = (need + movable - 1) / movable;
        for (int k = 0; k < n_users && diff != 0; k++) {
            int u = (start + k) % n_users;
            int64_t room = diff > 0 ? (int64_t)(cap - counts[u])
                                    : (int64_t)(counts[u] - floor_count);
            int64_t left = diff > 0 ? diff : -diff;
            int64_t delta = step < room ? step : room;
            if (delta > left)
                delta = left;
            if (diff > 0) {
                counts[u] += (uint32_t)delta;
                diff -= delta;
            } else {
                counts[u] -= (uint32_t)delta;
                diff += delta;
            }
        }
    }
}

/* ---- the per-user set of rated items: open addressing over rank + 1
 * (0 marks an empty slot), sized to at least twice the user's count. */

typedef struct {
    uint32_t *slots;
    size_t mask;      /* capacity - 1, capacity a power of two */
    size_t capacity;  /* allocated slots */
} RankSet;

static void rankset_reset(RankSet *set, uint32_t count)
{
    size_t need = 16;
    while (need < 2 * (size_t)count)
        need *= 2;
    if (need > set->capacity) {
        free(set->slots);
        set->slots = xmalloc(need * sizeof *set->slots);
        set->capacity = need;
    }
    set->mask = need - 1;
    memset(set->slots, 0, need * sizeof *set->slots);
}

/* Inserts rank; returns false when it was already there. */
static bool rankset_insert(RankSet *set, uint32_t rank)
{
    size_t i = (size_t)hash_u64(rank) & set->mask;
    while (set->slots[i] != 0) {
        if (set->slots[i] == rank + 1)
            return false;
        i = (i + 1) & set->mask;
    }
    set->slots[i] = rank + 1;
    return true;
}

/* A rank this user has not drawn yet: by popularity, or after *patience
 * repeats uniformly among the rest (the user holds at most half the items,
 * so the forward scan ends within a few steps on average). Each fallback
 * halves *patience: once a heavy user has exhausted the popular items, the
 * draws by popularity are almost all repeats and not worth their cost. */
static uint32_t user_draw_new_rank(const TrueItems *items, RankSet *taken, int *patience,
                                   Rng *rng)
{
    for (int attempt = 0; attempt < *patience; attempt++) {
        uint32_t rank = trueitems_draw_rank(items, rng);
        if (rankset_insert(taken, rank))
            return rank;
    }
    if (*patience > 1)
        *patience /= 2;
    uint32_t rank = (uint32_t)rng_below(rng, (uint64_t)items->n_items);
    while (!rankset_insert(taken, rank))
        rank = rank + 1 == (uint32_t)items->n_items ? 0 : rank + 1;
    return rank;
}

static int rating_clamp_round(double x)
{
    double r = floor(x + 0.5);
    if (r < 1.0)
        return 1;
    if (r > 5.0)
        return 5;
    return (int)r;
}

/* ---- choosing the top of a list of scored items */

typedef struct {
    double score;
    uint32_t item;
} ScoredItem;

static void scored_swap(ScoredItem *a, ScoredItem *b)
{
    ScoredItem t = *a;
    *a = *b;
    *b = t;
}

/* Reorders list (n,) so that its first k entries are the k of highest score,
 * in no particular order. Quickselect with a three-way partition: expected
 * O(n) for scores in random order, as affinities and Gumbel keys are. */
static void scored_select_top(ScoredItem *list, size_t n, size_t k)
{
    assert(k <= n);
    size_t lo = 0, hi = n; /* the boundary k lies strictly inside [lo, hi) */
    while (lo < k && k < hi) {
        double pivot = list[lo + (hi - lo) / 2].score;
        /* [lo, above) > pivot, [above, i) == pivot, [below, hi) < pivot */
        size_t above = lo, i = lo, below = hi;
        while (i < below) {
            if (list[i].score > pivot)
                scored_swap(&list[above++], &list[i++]);
            else if (list[i].score < pivot)
                scored_swap(&list[i], &list[--below]);
            else
                i++;
        }
        if (k < above)
            hi = above;
        else if (k <= below)
            return;
        else
            lo = below;
    }
}

/* Highest score first; ties by item id, so the order is the same on every
 * platform. */
static int scored_compare_desc(const void *a, const void *b)
{
    const ScoredItem *x = a, *y = b;
    if (x->score != y->score)
        return x->score < y->score ? 1 : -1;
    return (x->item > y->item) - (x->item < y->item);
}

/* ---- events */

const char *generate_event_name(GenerateEvent event)
{
    static const char *const NAMES[GENERATE_EVENT_COUNT] = {"view", "cart", "purchase"};
    assert(event >= 0 && event < GENERATE_EVENT_COUNT);
    return NAMES[event];
}

/* The event of an interaction whose affinity plus noise is `score`. */
static GenerateEvent event_of_score(double score)
{
    if (score > GENERATE_PURCHASE_THRESHOLD)
        return GENERATE_EVENT_PURCHASE;
    if (score > GENERATE_CART_THRESHOLD)
        return GENERATE_EVENT_CART;
    return GENERATE_EVENT_VIEW;
}

/* A standard Gumbel draw, -log(-log U). */
static double gumbel_draw(Rng *rng)
{
    double u = rng_uniform(rng);
    if (u < 1e-300)
        u = 1e-300;
    return -log(-log(u));
}

/* ---- the generator: the true model, the output files and per-user scratch */

typedef struct {
    const GenerateConfig *config;
    GenerateSummary *summary;
    TrueFeatures features;
    TrueItems items;
    uint32_t *counts;       /* (users,) lines per user, train + test */
    CsvOut train, test, truth, item_features, user_features;
    Rng split_rng;          /* the train/test coin, one stream for all users */
    uint8_t *item_seen;     /* (n_items,) 1 once an item has a line */
    /* the current user */
    float *user_factors;    /* (dim,) */
    uint32_t *user_items;   /* (max count,) the user's items in history order */
    uint8_t *interacted;    /* (n_items,) 1 for the user's items */
    double *affinity;       /* (n_items,) p_u·q_i by item id; implicit or truth only */
    ScoredItem *scored;     /* (n_items,) implicit or truth only */
    RankSet taken;          /* explicit: popularity ranks drawn so far */
} Generator;

/* Opens the files and builds the true model. Returns 0, or -1 with a
 * message and nothing left open or written. */
static int generator_init(Generator *gen, const GenerateConfig *config, GenerateSummary *summary,
                          Error *err)
{
    memset(gen, 0, sizeof *gen);
    gen->config = config;
    gen->summary = summary;
    bool implicit = config->feedback == GENERATE_FEEDBACK_IMPLICIT;
    const char *header = implicit ? "user_id,item_id,timestamp,event\n"
                                  : "user_id,item_id,rating,timestamp\n";
    struct {
        CsvOut *out;
        const char *path; /* "" = not asked for */
        const char *header;
    } files[] = {
        {&gen->train, config->out_path, header},
        {&gen->test, config->test_out_path, header},
        {&gen->truth, config->truth_out_path, "user_id,rank,item_id,true_score\n"},
        {&gen->item_features, config->item_features_out_path, "item_id,feature_id\n"},
        {&gen->user_features, config->user_features_out_path, "user_id,feature_id\n"},
    };
    size_t n_files = sizeof files / sizeof files[0];
    for (size_t f = 0; f < n_files; f++) {
        if ((f == 0 || files[f].path[0]) &&
            csvout_open(files[f].out, files[f].path, files[f].header, err) != 0) {
            for (size_t g = 0; g < f; g++)
                csvout_close(files[g].out, false, NULL);
            return -1;
        }
    }

    truefeatures_init(&gen->features, config);
    size_t n_items = (size_t)config->items;
    trueitems_init(&gen->items, &gen->features, config);
    if (gen->item_features.file) {
        for (size_t i = 0; i < n_items; i++)
            for (int a = 0; a < ITEM_ATTRIBUTES; a++)
                csvout_write_feature(&gen->item_features, (uint64_t)i + 1,
                                     gen->features.item_features[i * ITEM_ATTRIBUTES + a]);
        summary->n_item_features = (uint64_t)n_items * ITEM_ATTRIBUTES;
    }
    gen->counts = xmalloc((size_t)config->users * sizeof *gen->counts);
    user_counts_draw(gen->counts, config->users, config->ratings, (uint32_t)(config->items / 2),
                     config->seed);
    uint32_t max_count = 0;
    for (int u = 0; u < config->users; u++)
        max_count = gen->counts[u] > max_count ? gen->counts[u] : max_count;
    gen->split_rng = rng_stream(config->seed, STREAM_SPLIT, 0);
    gen->item_seen = xcalloc(n_items, 1);
    gen->user_factors = xmalloc((size_t)config->dim * sizeof *gen->user_factors);
    gen->user_items = xmalloc(((size_t)max_count + 1) * sizeof *gen->user_items);
    gen->interacted = xcalloc(n_items, 1);
    if (implicit || gen->truth.file) {
        gen->affinity = xmalloc(n_items * sizeof *gen->affinity);
        gen->scored = xmalloc(n_items * sizeof *gen->scored);
    }
    return 0;
}

/* Frees everything and closes the files; when one cannot be written, every
 * file is removed. Returns 0, or -1 with a message. */
static int generator_finish(Generator *gen, Error *err)
{
    truefeatures_free(&gen->features);
    trueitems_free(&gen->items);
    free(gen->counts);
    free(gen->item_seen);
    free(gen->user_factors);
    free(gen->user_items);
    free(gen->interacted);
    free(gen->affinity);
    free(gen->scored);
    free(gen->taken.slots);
    CsvOut *outs[] = {&gen->train, &gen->test, &gen->truth, &gen->item_features,
                      &gen->user_features};
    int n_outs = (int)(sizeof outs / sizeof outs[0]);
    int rc = 0;
    for (int k = 0; k < n_outs; k++)
        if (csvout_close(outs[k], rc == 0, err) != 0)
            rc = -1;
    /* Do not leave one file of a failed set. */
    for (int k = 0; rc != 0 && k < n_outs; k++)
        if (outs[k]->path)
            remove(outs[k]->path);
    return rc;
}

/* The file the user's next line goes to (test with chance test_fraction),
 * counted in the summary. */
static CsvOut *generator_route_line(Generator *gen, uint32_t item)
{
    bool to_test = gen->test.file && rng_uniform(&gen->split_rng) < gen->config->test_fraction;
    if (to_test)
        gen->summary->n_test++;
    else
        gen->summary->n_train++;
    if (!gen->item_seen[item]) {
        gen->item_seen[item] = 1;
        gen->summary->n_items_active++;
    }
    return to_test ? &gen->test : &gen->train;
}

/* affinity[i] = p_u·q_i for every item (the user's factors must be drawn). */
static void generator_user_affinities(Generator *gen)
{
    int dim = gen->config->dim;
    for (int i = 0; i < gen->items.n_items; i++)
        gen->affinity[i] = factors_dot(gen->user_factors,
                                       gen->items.item_factors + (size_t)i * (size_t)dim, dim);
}

/* Explicit: `count` distinct items by popularity, each rated. */
static void generator_write_ratings(Generator *gen, uint64_t user_id, uint32_t count,
                                    double user_bias, uint64_t timestamp, Rng *rng)
{
    const GenerateConfig *config = gen->config;
    const TrueItems *items = &gen->items;
    int dim = config->dim;
    rankset_reset(&gen->taken, count);
    int patience = MAX_REJECTIONS;
    for (uint32_t n = 0; n < count; n++) {
        uint32_t item = items->item_of_rank[user_draw_new_rank(items, &gen->taken, &patience, rng)];
        double dot = factors_dot(gen->user_factors,
                                 items->item_factors + (size_t)item * (size_t)dim, dim);
        double noise = config->noise_std * rng_normal(rng);
        int rating = rating_clamp_round(RATING_MEAN + user_bias + items->item_bias[item] + dot +
                                        noise);
        timestamp += 1 + rng_below(rng, TIMESTAMP_MAX_GAP_S);
        csvout_write_rating(generator_route_line(gen, item), user_id, (uint64_t)item + 1, rating,
                            timestamp);
        gen->user_items[n] = item;
    }
}

/* Implicit: `count` distinct items from the choice model, in random order,
 * each with an event. Needs the user's affinities. */
static void generator_write_interactions(Generator *gen, uint64_t user_id, uint32_t count,
                                         uint64_t timestamp, Rng *rng)
{
    const GenerateConfig *config = gen->config;
    int n_items = gen->items.n_items;
    /* Gumbel-top-k: the `count` largest log weight + Gumbel keys are a draw
     * without replacement in proportion to the weights. */
    for (int i = 0; i < n_items; i++) {
        double log_weight = gen->items.popularity_log[i] +
                            config->preference_strength * gen->affinity[i];
        gen->scored[i] = (ScoredItem){log_weight + gumbel_draw(rng), (uint32_t)i};
    }
    scored_select_top(gen->scored, (size_t)n_items, count);
    /* Selection leaves them in an order that depends on the keys: shuffle
     * (Fisher-Yates) so that time order is random. */
    for (uint32_t n = 0; n < count; n++)
        gen->user_items[n] = gen->scored[n].item;
    for (uint32_t n = count; n > 1; n--) {
        uint32_t j = (uint32_t)rng_below(rng, n);
        uint32_t t = gen->user_items[n - 1];
        gen->user_items[n - 1] = gen->user_items[j];
        gen->user_items[j] = t;
    }

    for (uint32_t n = 0; n < count; n++) {
        uint32_t item = gen->user_items[n];
        double score = gen->affinity[item] + config->noise_std * rng_normal(rng);
        GenerateEvent event = event_of_score(score);
        timestamp += 1 + rng_below(rng, TIMESTAMP_MAX_GAP_S);
        csvout_write_event(generator_route_line(gen, item), user_id, (uint64_t)item + 1,
                           timestamp, event);
        gen->summary->n_events[event]++;
    }
}

/* The truth: the user's truth_k items of highest affinity among those not
 * in user_items (marked in `interacted`), best first. */
static void generator_write_truth(Generator *gen, uint64_t user_id)
{
    size_t n = 0;
    for (int i = 0; i < gen->items.n_items; i++)
        if (!gen->interacted[i])
            gen->scored[n++] = (ScoredItem){gen->affinity[i], (uint32_t)i};
    size_t k = (size_t)gen->config->truth_k < n ? (size_t)gen->config->truth_k : n;
    scored_select_top(gen->scored, n, k);
    qsort(gen->scored, k, sizeof *gen->scored, scored_compare_desc);
    for (size_t r = 0; r < k; r++)
        csvout_write_truth(&gen->truth, user_id, (uint64_t)r + 1,
                           (uint64_t)gen->scored[r].item + 1, gen->scored[r].score);
    gen->summary->n_truth += k;
}

/* All lines of user u (0-based): their profile, when attributes are on
 * (every user has one), and their interactions, if they have any. */
static void generator_write_user(Generator *gen, int u)
{
    const GenerateConfig *config = gen->config;
    uint64_t user_id = (uint64_t)u + 1;
    uint32_t profile[USER_ATTRIBUTES];
    if (gen->features.enabled) {
        truefeatures_draw_profile(&gen->features, (uint64_t)u, profile);
        if (gen->user_features.file) {
            for (int a = 0; a < USER_ATTRIBUTES; a++)
                csvout_write_feature(&gen->user_features, user_id, profile[a]);
            gen->summary->n_user_features += USER_ATTRIBUTES;
        }
    }
    uint32_t count = gen->counts[u];
    if (count == 0)
        return;
    gen->summary->n_users_active++;
    /* Stream order: bias, factors, start time, then the mode's draws. */
    Rng rng = rng_stream(config->seed, STREAM_USER, (uint64_t)u);
    double user_bias = user_draw_factors(&rng, gen->items.factor_std, config->dim,
                                         gen->user_factors);
    if (gen->features.enabled)
        truefeatures_mix(&gen->features, gen->features.user_vectors, profile, USER_ATTRIBUTES,
                         gen->user_factors);
    uint64_t timestamp = (uint64_t)TIMESTAMP_BASE + rng_below(&rng, TIMESTAMP_BASE_SPREAD);
    if (gen->affinity)
        generator_user_affinities(gen);

    if (config->feedback == GENERATE_FEEDBACK_IMPLICIT)
        generator_write_interactions(gen, user_id, count, timestamp, &rng);
    else
        generator_write_ratings(gen, user_id, count, user_bias, timestamp, &rng);

    if (gen->truth.file) {
        for (uint32_t n = 0; n < count; n++)
            gen->interacted[gen->user_items[n]] = 1;
        generator_write_truth(gen, user_id);
        for (uint32_t n = 0; n < count; n++)
            gen->interacted[gen->user_items[n]] = 0;
    }
}

/* Checks what generate_ratings needs regardless of how the config was
 * built. */
static int generate_check(const GenerateConfig *config, Error *err)
{
    if (config->users < 1 || config->items < 2 || config->dim < 1)
        return error_set(err, "generate needs --users >= 1, --items >= 2 and --dim >= 1 "
                              "(found %d, %d, %d)",
                         config->users, config->items, config->dim);
    if (config->feedback != GENERATE_FEEDBACK_EXPLICIT &&
        config->feedback != GENERATE_FEEDBACK_IMPLICIT)
        return error_set(err, "--feedback must be explicit or implicit");
    if (!(config->test_fraction >= 0.0 && config->test_fraction < 1.0))
        return error_set(err, "--test-fraction must be in [0, 1), found %g", config->test_fraction);
    if (!(config->zipf_exponent >= 0.0) || !(config->noise_std >= 0.0) ||
        !(config->preference_strength >= 0.0) || !isfinite(config->preference_strength))
        return error_set(err, "--zipf-exponent, --noise-std and --preference-strength must be "
                              "0 or more");
    if (config->truth_out_path[0] && config->truth_k < 1)
        return error_set(err, "--truth-k must be 1 or more, found %d", config->truth_k);
    bool features = config->item_features_out_path[0] || config->user_features_out_path[0];
    if (features && (config->categories < 1 || config->brands < 1))
        return error_set(err, "--categories and --brands must be 1 or more (found %d, %d)",
                         config->categories, config->brands);
    if (features && !(config->feature_strength >= 0.0 && config->feature_strength <= 1.0))
        return error_set(err, "--feature-strength must be in [0, 1], found %g",
                         config->feature_strength);
    uint64_t limit = (uint64_t)config->users * (uint64_t)(config->items / 2);
    if (config->ratings > limit)
        return error_set(err, "--ratings %llu is more than --users %d * --items %d / 2 = %llu "
                              "allows (a user rates at most half the items)",
                         (unsigned long long)config->ratings, config->users, config->items,
                         (unsigned long long)limit);
    return 0;
}

/* ---- what a config will cost, before any of it is spent */

/* The mean number of decimal digits of the integers 1..n. */
static double mean_digits(double n)
{
    double total = 0.0, low = 1.0;
    for (int digits = 1; low <= n; digits++, low *= 10.0) {
        double high = low * 10.0 - 1.0 < n ? low * 10.0 - 1.0 : n;
        total += (high - low + 1.0) * digits;
    }
    return n >= 1.0 ? total / n : 1.0;
}

void generate_estimate(const GenerateConfig *config, GenerateEstimate *estimate)
{
    memset(estimate, 0, sizeof *estimate);
    double users = config->users, items = config->items, dim = config->dim;
    double lines = (double)config->ratings;
    bool implicit = config->feedback == GENERATE_FEEDBACK_IMPLICIT;
    bool truth = config->truth_out_path[0] != '\0';
    bool features = config->item_features_out_path[0] || config->user_features_out_path[0];

    /* Memory: what generator_init allocates, in its order. The user counts
     * are drawn with a temporary (users,) of doubles, freed before the
     * per-user scratch is made, so the peak is the larger of the two. */
    double items_model = items * (sizeof(double) * 2 + sizeof(uint32_t) + sizeof(float)) +
                         items * dim * sizeof(float);
    double attributes = features ? items * ITEM_ATTRIBUTES * sizeof(uint32_t) +
                                       ((double)config->categories + config->brands +
                                        PROFILE_FEATURES) * dim * sizeof(float)
                                 : 0.0;
    double base = items_model + attributes + users * sizeof(uint32_t);
    /* The busiest user: no more than the cap or the lines there are. */
    double max_count = lines < floor(items / 2) ? lines : floor(items / 2);
    double scratch = 2.0 * items + dim * sizeof(float) + (max_count + 1) * sizeof(uint32_t) +
                     (implicit || truth ? items * (sizeof(double) + sizeof(ScoredItem)) : 0.0) +
                     /* explicit: the rank set, a power of two >= 2 * count slots */
                     (implicit ? 0.0 : 4.0 * max_count * sizeof(uint32_t)) +
                     (double)GENERATE_OUTPUT_COUNT * OUT_BUFFER_BYTES;
    double counting = users * sizeof(double);
    estimate->memory_bytes = base + (scratch > counting ? scratch : counting);

    /* Files: header + lines * mean line length. A timestamp has 10 digits
     * (from 1e9, growing by at most 3 days a step); an implicit event is
     * mostly "view". */
    double user_digits = mean_digits(users), item_digits = mean_digits(items);
    double line_bytes = implicit ? user_digits + item_digits + 10 + 4.5 + 4
                                 : user_digits + item_digits + 1 + 10 + 4;
    double header_bytes = 40.0;
    double test_share = config->test_out_path[0] ? config->test_fraction : 0.0;
    estimate->file_bytes[GENERATE_OUTPUT_OUT] = header_bytes + lines * (1.0 - test_share) * line_bytes;
    if (config->test_out_path[0])
        estimate->file_bytes[GENERATE_OUTPUT_TEST] = header_bytes + lines * test_share * line_bytes;
    if (truth) {
        /* Users with a line (all, once there are as many lines), truth_k
         * each; a score is "-0.123456" or "1.234567". */
        double active = lines < users ? lines : users;
        double k = config->truth_k < items - 1 ? config->truth_k : items - 1;
        estimate->file_bytes[GENERATE_OUTPUT_TRUTH] =
            header_bytes + active * k * (user_digits + mean_digits(k) + item_digits + 8.5 + 4);
    }
    if (config->item_features_out_path[0])
        estimate->file_bytes[GENERATE_OUTPUT_ITEM_FEATURES] =
            header_bytes + items * ITEM_ATTRIBUTES *
                               (item_digits + mean_digits((double)config->categories +
                                                          config->brands) + 2);
    if (config->user_features_out_path[0])
        estimate->file_bytes[GENERATE_OUTPUT_USER_FEATURES] =
            header_bytes + users * USER_ATTRIBUTES * (user_digits + mean_digits(PROFILE_FEATURES) + 2);
}

/* The folder a file path names ("." for a bare name), into out. */
static void path_folder(const char *path, char *out, size_t out_bytes)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(out, out_bytes, ".");
    else if (slash == path)
        snprintf(out, out_bytes, "/");
    else
        snprintf(out, out_bytes, "%.*s", (int)(slash - path), path);
}

/* Refuses, before anything is drawn or opened, a config whose estimate
 * does not fit in the memory available or in the free space of the file
 * systems its outputs go to (a file about to be overwritten counts as
 * free: it is truncated first). A machine that does not say what it has
 * is not refused. */
static int generate_check_resources(const GenerateConfig *config, Error *err)
{
    GenerateEstimate estimate;
    generate_estimate(config, &estimate);
    char need[32], have[32], total[32];
    uint64_t available = memory_available_bytes();
    if (available > 0 && estimate.memory_bytes > (double)available)
        return error_set(err,
                         "--users %d --items %d --dim %d needs about %s of memory, and %s is "
                         "available (of %s physical): lower --users or --items (or --dim)",
                         config->users, config->items, config->dim,
                         bytes_format(need, sizeof need, estimate.memory_bytes),
                         bytes_format(have, sizeof have, (double)available),
                         bytes_format(total, sizeof total, (double)memory_physical_bytes()));

    static const char *const FLAGS[GENERATE_OUTPUT_COUNT] = {
        "--out", "--test-out", "--truth-out", "--item-features-out", "--user-features-out"};
    const char *paths[GENERATE_OUTPUT_COUNT] = {
        config->out_path, config->test_out_path, config->truth_out_path,
        config->item_features_out_path, config->user_features_out_path};
    struct stat folders[GENERATE_OUTPUT_COUNT];
    bool pending[GENERATE_OUTPUT_COUNT];
    char folder[OPTION_STRING_BYTES];
    for (int f = 0; f < GENERATE_OUTPUT_COUNT; f++) {
        path_folder(paths[f], folder, sizeof folder);
        /* A folder that cannot be seen is left to fopen to report. */
        pending[f] = estimate.file_bytes[f] > 0 && stat(folder, &folders[f]) == 0;
    }
    /* Per file system (the first output on it stands for it): the files
     * that go there against its free space. */
    for (int f = 0; f < GENERATE_OUTPUT_COUNT; f++) {
        if (!pending[f])
            continue;
        path_folder(paths[f], folder, sizeof folder);
        double free_bytes = path_free_bytes(folder), needed = 0.0, reclaimed = 0.0;
        char flags[160] = "";
        for (int g = f; g < GENERATE_OUTPUT_COUNT; g++) {
            if (!pending[g] || folders[g].st_dev != folders[f].st_dev)
                continue;
            pending[g] = false;
            needed += estimate.file_bytes[g];
            struct stat existing;
            if (stat(paths[g], &existing) == 0 && S_ISREG(existing.st_mode))
                reclaimed += (double)existing.st_size;
            size_t used = strlen(flags);
            snprintf(flags + used, sizeof flags - used, "%s%s", used ? " and " : "", FLAGS[g]);
        }
        if (free_bytes >= 0 && needed > free_bytes + reclaimed)
            return error_set(err,
                             "%s would need about %s on the file system of %s, and %s is free "
                             "there: lower --ratings (or --users for the profiles and truth), "
                             "or write elsewhere",
                             flags, bytes_format(need, sizeof need, needed), folder,
                             bytes_format(have, sizeof have, free_bytes + reclaimed));
    }
    return 0;
}

int generate_ratings(const GenerateConfig *config, GenerateSummary *summary, Error *err)
{
    memset(summary, 0, sizeof *summary);
    if (generate_check(config, err) != 0 || generate_check_resources(config, err) != 0)
        return -1;
    Generator gen;
    if (generator_init(&gen, config, summary, err) != 0)
        return -1;
    for (int u = 0; u < config->users; u++)
        generator_write_user(&gen, u);
    assert(summary->n_train + summary->n_test == config->ratings);
    return generator_finish(&gen, err);
}

/* ---- the true model, on its own */

struct GenerateModel {
    TrueFeatures features;
    TrueItems items;
    uint64_t seed;
};

GenerateModel *generate_model_create(const GenerateConfig *config)
{
    assert(config->items >= 2 && config->dim >= 1);
    GenerateModel *model = xcalloc(1, sizeof *model);
    truefeatures_init(&model->features, config);
    trueitems_init(&model->items, &model->features, config);
    model->seed = config->seed;
    return model;
}

/* The user's true factors (dim,), drawn as generator_write_user draws
 * them. */
static void model_user_factors(const GenerateModel *model, uint64_t user_id, float *factors)
{
    Rng rng = rng_stream(model->seed, STREAM_USER, user_id - 1);
    user_draw_factors(&rng, model->items.factor_std, model->items.dim, factors);
    if (model->features.enabled) {
        uint32_t profile[USER_ATTRIBUTES];
        truefeatures_draw_profile(&model->features, user_id - 1, profile);
        truefeatures_mix(&model->features, model->features.user_vectors, profile,
                         USER_ATTRIBUTES, factors);
    }
}

double generate_model_affinity(const GenerateModel *model, uint64_t user_id, uint64_t item_id)
{
    assert(user_id >= 1 && item_id >= 1 && item_id <= (uint64_t)model->items.n_items);
    int dim = model->items.dim;
    float *user_factors = xmalloc((size_t)dim * sizeof *user_factors);
    model_user_factors(model, user_id, user_factors);
    double affinity = factors_dot(user_factors,
                                  model->items.item_factors + (size_t)(item_id - 1) * (size_t)dim,
                                  dim);
    free(user_factors);
    return affinity;
}

void generate_model_user_affinities(const GenerateModel *model, uint64_t user_id,
                                    double *affinities)
{
    assert(user_id >= 1);
    int dim = model->items.dim;
    float *user_factors = xmalloc((size_t)dim * sizeof *user_factors);
    model_user_factors(model, user_id, user_factors);
    for (int i = 0; i < model->items.n_items; i++)
        affinities[i] = factors_dot(user_factors,
                                    model->items.item_factors + (size_t)i * (size_t)dim, dim);
    free(user_factors);
}

void generate_model_destroy(GenerateModel *model)
{
    if (!model)
        return;
    truefeatures_free(&model->features);
    trueitems_free(&model->items);
    free(model);
}

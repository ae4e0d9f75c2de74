/* generate.c — `psrec generate`: synthetic ratings from a known model.
 *
 * Items get true factors, biases and a Zipf popularity (over a random
 * permutation of ids, so popular items are not simply the small ids); each
 * user gets a heavy-tailed (lognormal) number of ratings that sum exactly to
 * the requested total, never more than half the items, and draws that many
 * distinct items by popularity. Each user's draws come from their own random
 * stream seeded from (seed, user), and the train/test coin from a separate
 * stream, so the output is a pure function of the config: same seed, same
 * bytes — and the train + test lines are the lines written without a split.
 */
#include "psrec/data/generate.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "psrec/core/util.h"

/* Stream tags mixed into the seed so the streams never coincide. */
#define STREAM_ITEMS UINT64_C(0x6974656d73000001)
#define STREAM_COUNTS UINT64_C(0x636f756e74000002)
#define STREAM_USER UINT64_C(0x7573657273000003)
#define STREAM_SPLIT UINT64_C(0x73706c6974000004)

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

static Rng rng_stream(uint64_t seed, uint64_t tag, uint64_t index)
{
    Rng rng;
    rng_seed(&rng, hash_u64(seed ^ hash_u64(tag + index)));
    return rng;
}

/* ---- buffered CSV output */

typedef struct {
    FILE *file;
    const char *path;
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

/* Appends "user,item,rating,timestamp\n". */
static void csvout_write_line(CsvOut *out, uint64_t user, uint64_t item, int rating,
                              uint64_t timestamp)
{
    if (out->len + 80 > OUT_BUFFER_BYTES)
        csvout_flush(out);
    char *p = out->data + out->len;
    p = text_append_u64(p, user);
    *p++ = ',';
    p = text_append_u64(p, item);
    *p++ = ',';
    *p++ = (char)('0' + rating);
    *p++ = ',';
    p = text_append_u64(p, timestamp);
    *p++ = '\n';
    out->len = (size_t)(p - out->data);
}

/* Opens path for writing and writes the header. Returns 0 or -1. */
static int csvout_open(CsvOut *out, const char *path, Error *err)
{
    out->path = path;
    out->len = 0;
    out->error = 0;
    out->file = fopen(path, "wb");
    if (!out->file)
        return error_set(err, "cannot create '%s': %s", path, strerror(errno));
    out->data = xmalloc(OUT_BUFFER_BYTES);
    static const char HEADER[] = "user_id,item_id,rating,timestamp\n";
    memcpy(out->data, HEADER, sizeof HEADER - 1);
    out->len = sizeof HEADER - 1;
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

/* ---- the true model */

typedef struct {
    int n_items;
    int dim;
    double *popularity_cdf; /* (n_items,) cumulative rank^-s, by rank */
    uint32_t *item_of_rank; /* (n_items,) a permutation of 0..n_items-1 */
    float *item_factors;    /* (n_items, dim) by item id */
    float *item_bias;       /* (n_items,) */
    float factor_std;
} TrueItems;

static void trueitems_init(TrueItems *items, const GenerateConfig *config)
{
    int n = config->items;
    int dim = config->dim;
    Rng rng = rng_stream(config->seed, STREAM_ITEMS, 0);
    items->n_items = n;
    items->dim = dim;
    /* var(p·q) = dim * std^4 for independent factors; pick std so that the
     * interaction term has INTERACTION_STD whatever dim is. */
    items->factor_std = (float)sqrt(INTERACTION_STD / sqrt((double)dim));

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

    items->item_factors = xmalloc((size_t)n * (size_t)dim * sizeof *items->item_factors);
    items->item_bias = xmalloc((size_t)n * sizeof *items->item_bias);
    for (int i = 0; i < n; i++) {
        items->item_bias[i] = (float)(ITEM_BIAS_STD * rng_normal(&rng));
        for (int k = 0; k < dim; k++)
            items->item_factors[(size_t)i * (size_t)dim + (size_t)k] =
                items->factor_std * (float)rng_normal(&rng);
    }
}

static void trueitems_free(TrueItems *items)
{
    free(items->popularity_cdf);
    free(items->item_of_rank);
    free(items->item_factors);
    free(items->item_bias);
    memset(items, 0, sizeof *items);
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

/* Checks what generate_ratings needs regardless of how the config was
 * built. */
static int generate_check(const GenerateConfig *config, Error *err)
{
    if (config->users < 1 || config->items < 2 || config->dim < 1)
        return error_set(err, "generate needs --users >= 1, --items >= 2 and --dim >= 1 "
                              "(found %d, %d, %d)",
                         config->users, config->items, config->dim);
    if (!(config->test_fraction >= 0.0 && config->test_fraction < 1.0))
        return error_set(err, "--test-fraction must be in [0, 1), found %g", config->test_fraction);
    if (!(config->zipf_exponent >= 0.0) || !(config->noise_std >= 0.0))
        return error_set(err, "--zipf-exponent and --noise-std must be 0 or more");
    uint64_t limit = (uint64_t)config->users * (uint64_t)(config->items / 2);
    if (config->ratings > limit)
        return error_set(err, "--ratings %llu is more than --users %d * --items %d / 2 = %llu "
                              "allows (a user rates at most half the items)",
                         (unsigned long long)config->ratings, config->users, config->items,
                         (unsigned long long)limit);
    return 0;
}

int generate_ratings(const GenerateConfig *config, GenerateSummary *summary, Error *err)
{
    memset(summary, 0, sizeof *summary);
    if (generate_check(config, err) != 0)
        return -1;
    bool split = config->test_out_path[0] != '\0';
    CsvOut train_out = {0}, test_out = {0};
    if (csvout_open(&train_out, config->out_path, err) != 0)
        return -1;
    if (split && csvout_open(&test_out, config->test_out_path, err) != 0) {
        csvout_close(&train_out, false, NULL);
        return -1;
    }

    TrueItems items;
    trueitems_init(&items, config);
    int dim = config->dim;
    uint32_t *counts = xmalloc((size_t)config->users * sizeof *counts);
    user_counts_draw(counts, config->users, config->ratings, (uint32_t)(config->items / 2),
                     config->seed);
    uint8_t *item_seen = xcalloc((size_t)config->items, 1);
    float *user_factors = xmalloc((size_t)dim * sizeof *user_factors);
    RankSet taken = {0};
    Rng split_rng = rng_stream(config->seed, STREAM_SPLIT, 0);

    for (int u = 0; u < config->users; u++) {
        if (counts[u] == 0)
            continue;
        summary->n_users_active++;
        Rng rng = rng_stream(config->seed, STREAM_USER, (uint64_t)u);
        double user_bias = USER_BIAS_STD * rng_normal(&rng);
        for (int k = 0; k < dim; k++)
            user_factors[k] = items.factor_std * (float)rng_normal(&rng);
        uint64_t timestamp = (uint64_t)TIMESTAMP_BASE + rng_below(&rng, TIMESTAMP_BASE_SPREAD);
        rankset_reset(&taken, counts[u]);
        int patience = MAX_REJECTIONS;

        for (uint32_t n = 0; n < counts[u]; n++) {
            uint32_t item = items.item_of_rank[user_draw_new_rank(&items, &taken, &patience, &rng)];
            const float *q = items.item_factors + (size_t)item * (size_t)dim;
            double dot = 0.0;
            for (int k = 0; k < dim; k++)
                dot += (double)user_factors[k] * (double)q[k];
            double noise = config->noise_std * rng_normal(&rng);
            int rating = rating_clamp_round(RATING_MEAN + user_bias + items.item_bias[item] + dot +
                                            noise);
            timestamp += 1 + rng_below(&rng, TIMESTAMP_MAX_GAP_S);

            bool to_test = split && rng_uniform(&split_rng) < config->test_fraction;
            CsvOut *out = to_test ? &test_out : &train_out;
            csvout_write_line(out, (uint64_t)u + 1, (uint64_t)item + 1, rating, timestamp);
            if (to_test)
                summary->n_test++;
            else
                summary->n_train++;
            if (!item_seen[item]) {
                item_seen[item] = 1;
                summary->n_items_active++;
            }
        }
    }
    assert(summary->n_train + summary->n_test == config->ratings);

    free(taken.slots);
    free(user_factors);
    free(item_seen);
    free(counts);
    trueitems_free(&items);
    int rc = csvout_close(&train_out, true, err);
    if (split) {
        int rc_test = csvout_close(&test_out, rc == 0, err);
        if (rc != 0 || rc_test != 0) {
            /* Do not leave one file of a failed pair. */
            remove(config->out_path);
            rc = -1;
        }
    }
    return rc;
}

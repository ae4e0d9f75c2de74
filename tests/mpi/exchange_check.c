/* exchange_check.c — checks the user exchange and the catalogue agreement
 * (exchange.h) in a real multi-rank job.
 *
 * Run as `mpirun -np N+1 exchange_check FILE`: ranks 0..N-1 are workers, the
 * last rank a server that only takes part in comm_finalize (comm_split_roles
 * needs one). FILE is a CSV with user_id,item_id,timestamp[,event] whose
 * timestamps number the lines in file order, so order can be checked. Each
 * worker reads its byte range, exchanges by user and checks that
 *   - it holds only users it owns (exchange_owner), in file order, and
 *     exchange_owner spreads the file's users over all workers;
 *   - the has_* flags agree on every worker and with the whole file;
 *   - summed over workers, the count and an order-independent checksum of
 *     (user, item, timestamp) equal those worker 0 computes from the whole
 *     file, so every line arrived exactly once;
 *   - exchange_catalogue builds the same catalogue on every worker, with the
 *     file's distinct items and their counts (all interactions, and a subset).
 * Worker 0 prints one PASS or FAIL line; a failure ends the job non-zero
 * through comm_abort.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "psrec/core/log.h"
#include "psrec/core/util.h"
#include "psrec/data/catalogue.h"
#include "psrec/data/dataset.h"
#include "psrec/data/exchange.h"
#include "psrec/ps/comm.h"

/* Problems logged per check and worker; the rest are only counted. */
#define REPORT_LIMIT 5

/* What the workers sum: problems found, interactions held, and the low and
 * high halves of their hashes. Each half is below 2^32, so sums of fewer
 * than 2^21 of them are exact in a double. */
enum { FIGURE_PROBLEMS, FIGURE_COUNT, FIGURE_HASH_LOW, FIGURE_HASH_HIGH, N_FIGURES };

static uint64_t interaction_hash(uint64_t user, uint64_t item, int64_t timestamp)
{
    return hash_u64(hash_u64(hash_u64(user) ^ item) ^ (uint64_t)timestamp);
}

static void figures_add(double figures[N_FIGURES], const Ratings *data)
{
    for (size_t i = 0; i < data->n; i++) {
        uint64_t h = interaction_hash(data->users[i], data->items[i], data->timestamps[i]);
        figures[FIGURE_COUNT] += 1.0;
        figures[FIGURE_HASH_LOW] += (double)(h & 0xffffffffULL);
        figures[FIGURE_HASH_HIGH] += (double)(h >> 32);
    }
}

typedef struct {
    uint64_t user;
    size_t position; /* in what the worker holds */
} UserPosition;

static int compare_by_user_then_position(const void *a, const void *b)
{
    const UserPosition *x = a, *y = b;
    if (x->user != y->user)
        return x->user < y->user ? -1 : 1;
    return x->position < y->position ? -1 : (x->position > y->position);
}

/* Problems in what this worker holds after the exchange: users it does not
 * own, one user's interactions out of file order, and (the header's
 * stronger promise) anything out of file order at all. */
static size_t check_held(const Ratings *data, int worker, int n_workers)
{
    size_t problems = 0;
    for (size_t i = 0; i < data->n; i++) {
        int owner = exchange_owner(data->users[i], n_workers);
        if (owner != worker && problems++ < REPORT_LIMIT)
            log_error("holds user %llu (line %lld), owned by worker %d",
                      (unsigned long long)data->users[i], (long long)data->timestamps[i], owner);
    }
    UserPosition *order = xmalloc((data->n ? data->n : 1) * sizeof(UserPosition));
    for (size_t i = 0; i < data->n; i++)
        order[i] = (UserPosition){.user = data->users[i], .position = i};
    qsort(order, data->n, sizeof(UserPosition), compare_by_user_then_position);
    for (size_t k = 1; k < data->n; k++) {
        size_t previous = order[k - 1].position, current = order[k].position;
        if (data->users[previous] == data->users[current] &&
            data->timestamps[previous] >= data->timestamps[current] && problems++ < REPORT_LIMIT)
            log_error("user %llu: line %lld comes after line %lld",
                      (unsigned long long)data->users[current],
                      (long long)data->timestamps[current], (long long)data->timestamps[previous]);
    }
    free(order);
    for (size_t i = 1; i < data->n; i++)
        if (data->timestamps[i - 1] >= data->timestamps[i] && problems++ < REPORT_LIMIT)
            log_error("position %zu: line %lld comes after line %lld", i,
                      (long long)data->timestamps[i], (long long)data->timestamps[i - 1]);
    return problems;
}

/* Items of the interactions on even lines: the `counted` subset. */
static uint64_t *items_on_even_lines(const Ratings *data, size_t *n_out)
{
    uint64_t *items = xmalloc((data->n ? data->n : 1) * sizeof(uint64_t));
    size_t n = 0;
    for (size_t i = 0; i < data->n; i++)
        if (data->timestamps[i] % 2 == 0)
            items[n++] = data->items[i];
    *n_out = n;
    return items;
}

static uint64_t catalogue_digest(const Catalogue *catalogue)
{
    uint64_t digest = checksum_update(CHECKSUM_INIT, &catalogue->n_items, sizeof(size_t));
    digest = checksum_update(digest, catalogue->ids, catalogue->n_items * sizeof(uint64_t));
    return checksum_update(digest, catalogue->counts, catalogue->n_items * sizeof(double));
}

static int compare_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : (x > y);
}

/* Problems in `catalogue` against the whole file, computed without the
 * catalogue module: its ids are the distinct `items` (n_items), ascending,
 * each with its number of occurrences in `counted` (n_counted). */
static size_t check_catalogue(const Catalogue *catalogue, const uint64_t *items, size_t n_items,
                              const uint64_t *counted, size_t n_counted, const char *name)
{
    uint64_t *sorted = xmalloc((n_items ? n_items : 1) * sizeof(uint64_t));
    uint64_t *sorted_counted = xmalloc((n_counted ? n_counted : 1) * sizeof(uint64_t));
    memcpy(sorted, items, n_items * sizeof(uint64_t));
    memcpy(sorted_counted, counted, n_counted * sizeof(uint64_t));
    qsort(sorted, n_items, sizeof(uint64_t), compare_u64);
    qsort(sorted_counted, n_counted, sizeof(uint64_t), compare_u64);
    size_t problems = 0, distinct = 0, j = 0;
    for (size_t i = 0; i < n_items; i++) {
        if (i > 0 && sorted[i] == sorted[i - 1])
            continue;
        double count = 0.0;
        while (j < n_counted && sorted_counted[j] < sorted[i])
            j++;
        for (; j < n_counted && sorted_counted[j] == sorted[i]; j++)
            count += 1.0;
        if (distinct < catalogue->n_items &&
            (catalogue->ids[distinct] != sorted[i] || catalogue->counts[distinct] != count) &&
            problems++ < REPORT_LIMIT)
            log_error("%s catalogue entry %zu is item %llu count %g; the file gives item %llu "
                      "count %g",
                      name, distinct, (unsigned long long)catalogue->ids[distinct],
                      catalogue->counts[distinct], (unsigned long long)sorted[i], count);
        distinct++;
    }
    if (catalogue->n_items != distinct && problems++ < REPORT_LIMIT)
        log_error("%s catalogue has %zu items; the file has %zu distinct", name,
                  catalogue->n_items, distinct);
    free(sorted_counted);
    free(sorted);
    return problems;
}

/* Problems in exchange_owner itself, over the distinct users of the whole
 * file: an owner out of range, or (with at least 16 users per worker) a
 * worker owning less than a quarter of its fair share — the owner check
 * above is blind to an exchange_owner that sends everyone to one worker. */
static size_t check_owner_balance(const Ratings *whole, int n_workers)
{
    uint64_t *users = xmalloc((whole->n ? whole->n : 1) * sizeof(uint64_t));
    memcpy(users, whole->users, whole->n * sizeof(uint64_t));
    qsort(users, whole->n, sizeof(uint64_t), compare_u64);
    size_t *owned = xcalloc((size_t)n_workers, sizeof(size_t));
    size_t problems = 0, distinct = 0;
    for (size_t i = 0; i < whole->n; i++) {
        if (i > 0 && users[i] == users[i - 1])
            continue;
        distinct++;
        int owner = exchange_owner(users[i], n_workers);
        if (owner >= 0 && owner < n_workers)
            owned[owner]++;
        else if (problems++ < REPORT_LIMIT)
            log_error("exchange_owner(%llu, %d) is %d", (unsigned long long)users[i], n_workers,
                      owner);
    }
    for (int w = 0; distinct >= 16 * (size_t)n_workers && w < n_workers; w++)
        if (owned[w] * 4 * (size_t)n_workers < distinct && problems++ < REPORT_LIMIT)
            log_error("worker %d owns %zu of %zu users", w, owned[w], distinct);
    free(owned);
    free(users);
    return problems;
}

static void read_or_die(Ratings *out, const char *path, int part, int n_parts)
{
    DatasetOptions options;
    dataset_options_default(&options);
    options.implicit = true;
    options.require_rating = false;
    Error err;
    if (dataset_read_partition(out, path, &options, part, n_parts, &err) != 0)
        fatal("%s", err.message);
}

int main(int argc, char **argv)
{
    comm_init(&argc, &argv);
    if (argc != 2 || comm_world_size() < 2) {
        if (comm_world_rank() == 0)
            fprintf(stderr, "usage: mpirun -np WORKERS+1 exchange_check FILE.csv\n");
        comm_abort(2);
    }
    CommLayout layout;
    comm_split_roles(&layout, 1);
    log_set_identity(layout.world_rank, layout.is_server ? "server" : "worker");
    if (layout.is_server) {
        comm_finalize();
        return 0;
    }
    const char *path = argv[1];
    int worker = layout.role_rank, n_workers = layout.n_workers;

    Ratings data;
    read_or_die(&data, path, worker, n_workers);
    exchange_by_user(&data, worker, n_workers);
    size_t problems = check_held(&data, worker, n_workers);

    /* The same catalogues on every worker: max of x and of ~x (that is,
     * ~min x) agree only when every worker has the same x. Likewise for the
     * flags, which must be the whole file's everywhere. */
    Catalogue full, subset;
    exchange_catalogue(&full, data.items, data.n, data.items, data.n);
    size_t n_even;
    uint64_t *even_items = items_on_even_lines(&data, &n_even);
    exchange_catalogue(&subset, data.items, data.n, even_items, n_even);
    enum { AGREE_FULL, AGREE_SUBSET, AGREE_TIMESTAMPS, AGREE_EVENTS, AGREE_RATINGS, N_AGREE };
    uint64_t local[N_AGREE] = {catalogue_digest(&full), catalogue_digest(&subset),
                               data.has_timestamps, data.has_events, data.has_ratings};
    uint64_t agreed[2 * N_AGREE];
    for (int k = 0; k < N_AGREE; k++) {
        agreed[2 * k] = local[k];
        agreed[2 * k + 1] = ~local[k];
    }
    comm_workers_max_u64(agreed, 2 * N_AGREE);

    double figures[N_FIGURES] = {[FIGURE_PROBLEMS] = (double)problems};
    figures_add(figures, &data);
    comm_workers_sum_double(figures, N_FIGURES);

    if (worker == 0) {
        size_t total = (size_t)figures[FIGURE_PROBLEMS];
        Ratings whole;
        read_or_die(&whole, path, 0, 1);
        const uint64_t expected_flags[N_AGREE] = {
            [AGREE_TIMESTAMPS] = whole.has_timestamps, [AGREE_EVENTS] = whole.has_events,
            [AGREE_RATINGS] = whole.has_ratings};
        const char *names[N_AGREE] = {"full catalogue", "subset catalogue", "has_timestamps",
                                      "has_events", "has_ratings"};
        for (int k = 0; k < N_AGREE; k++) {
            bool same = agreed[2 * k] == ~agreed[2 * k + 1];
            if (!same && total++ < REPORT_LIMIT)
                log_error("workers disagree on the %s", names[k]);
            else if (same && k >= AGREE_TIMESTAMPS && agreed[2 * k] != expected_flags[k] &&
                     total++ < REPORT_LIMIT)
                log_error("workers have %s %d; the whole file %d", names[k],
                          (int)agreed[2 * k], (int)expected_flags[k]);
        }
        double expected[N_FIGURES] = {0};
        figures_add(expected, &whole);
        if ((expected[FIGURE_COUNT] != figures[FIGURE_COUNT] ||
             expected[FIGURE_HASH_LOW] != figures[FIGURE_HASH_LOW] ||
             expected[FIGURE_HASH_HIGH] != figures[FIGURE_HASH_HIGH]) &&
            total++ < REPORT_LIMIT)
            log_error("workers hold %.0f interactions (checksum %.0f/%.0f); the file has %.0f "
                      "(checksum %.0f/%.0f)",
                      figures[FIGURE_COUNT], figures[FIGURE_HASH_LOW], figures[FIGURE_HASH_HIGH],
                      expected[FIGURE_COUNT], expected[FIGURE_HASH_LOW],
                      expected[FIGURE_HASH_HIGH]);
        total += check_owner_balance(&whole, n_workers);
        size_t n_whole_even;
        uint64_t *whole_even = items_on_even_lines(&whole, &n_whole_even);
        total += check_catalogue(&full, whole.items, whole.n, whole.items, whole.n, "full");
        total += check_catalogue(&subset, whole.items, whole.n, whole_even, n_whole_even,
                                 "subset");
        printf("exchange_check: %d workers, %zu interactions, %zu items: %s\n", n_workers,
               whole.n, full.n_items, total == 0 ? "PASS" : "FAIL");
        fflush(stdout);
        if (total != 0)
            comm_abort(1);
        free(whole_even);
        ratings_free(&whole);
    }
    free(even_items);
    catalogue_free(&subset);
    catalogue_free(&full);
    ratings_free(&data);
    comm_finalize();
    return 0;
}

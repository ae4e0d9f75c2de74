/* server.c — the parameter-server loop (see server.h).
 *
 * Invariants: clocks[w] is the number of pushes applied from worker w (or
 * UINT64_MAX once it is done); a pull is answered only when the slowest
 * clock ≥ its min_clock; messages from one worker are handled in the order
 * it sent them.
 */
#include "psrec/ps/server.h"

#include <assert.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "psrec/core/log.h"
#include "psrec/core/stop_signal.h"
#include "psrec/core/time_shares.h"
#include "psrec/core/util.h"
#include "psrec/ps/wire.h"

typedef struct {
    int source;             /* world rank of the requesting worker */
    WirePullRequest request;
} PendingPull;

/* The rows a training pull found, kept for the push of the same batch
 * (which names the same keys in the same order), so the push need not look
 * them up again. Two per worker: a worker sends its next batch's pull
 * before it pushes the current batch. */
typedef struct {
    uint64_t batch;   /* the batch the pull served; UINT64_MAX: none */
    size_t n_keys;
    size_t n_floats;  /* the rows' total width */
    size_t capacity;
    uint64_t *keys;
    StoreRow *rows;
} PulledRows;

#define PULLED_PER_WORKER 2

typedef struct {
    const CommLayout *layout;
    const ShardMap *map;
    const LearningRateSchedule *schedule;
    Store **store;          /* a restore replaces the store */
    const ServerSnapshot *snapshot;
    int snapshot_requests;  /* workers waiting for SNAPSHOT_SAVED, RESTORED or CHECKPOINT_SAVED */
    WireControl snapshot_asked; /* what they asked */
    const ServerPairs *pairs;
    PairTable *pair_sums;   /* the current block's sums, created on first use */
    int pairs_requests;     /* workers done with the current block */
    bool *pairs_sent;       /* (n_workers,) which of them */
    uint64_t pairs_block;   /* the block they are done with */
    ServerStats *stats;
    CommOutbox *outbox;
    uint64_t *clocks;       /* (n_workers,) */
    int workers_done;
    PendingPull *pending;   /* pulls waiting for slower workers */
    int n_pending;
    int pending_capacity;
    PulledRows *pulled;     /* (n_workers * PULLED_PER_WORKER,) */
    PulledRows scratch_rows; /* rows of a read, or of a push whose pull's were not kept */
    ByteBuffer encoded;     /* reused for every response */
} Server;

/* The slot a worker's pull for `batch` keeps its rows in. */
static PulledRows *pulled_rows(Server *server, int worker, uint64_t batch)
{
    return &server->pulled[(size_t)worker * PULLED_PER_WORKER + batch % PULLED_PER_WORKER];
}

/* Makes room for n keys and their rows in a slot. */
static void pulled_rows_reserve(PulledRows *slot, size_t n)
{
    if (n <= slot->capacity)
        return;
    slot->capacity = n * 2;
    slot->keys = xrealloc(slot->keys, slot->capacity * sizeof *slot->keys);
    slot->rows = xrealloc(slot->rows, slot->capacity * sizeof *slot->rows);
}

/* Empties every slot (at the start, and when the store is replaced). */
static void forget_pulled_rows(Server *server)
{
    for (int p = 0; p < server->layout->n_workers * PULLED_PER_WORKER; p++)
        server->pulled[p].batch = UINT64_MAX;
}

static const char *tag_name(int tag)
{
    switch (tag) {
    case COMM_TAG_PULL_REQUEST: return "PullRequest";
    case COMM_TAG_PULL_RESPONSE: return "PullResponse";
    case COMM_TAG_PUSH: return "Push";
    case COMM_TAG_CONTROL: return "Control";
    case COMM_TAG_PAIRS: return "PairCounts";
    default: return "unknown";
    }
}

static uint64_t slowest_clock(const Server *server)
{
    uint64_t slowest = UINT64_MAX;
    for (int w = 0; w < server->layout->n_workers; w++)
        if (server->clocks[w] < slowest)
            slowest = server->clocks[w];
    return slowest;
}

/* Checks that every key belongs to a table we have and to this server, and
 * returns the total width of their rows. A bad key is a protocol error. */
static size_t check_keys(const Server *server, const uint64_t *keys, size_t n_keys, int source,
                         const char *what)
{
    size_t total = 0;
    uint32_t me = (uint32_t)server->layout->role_rank;
    for (size_t k = 0; k < n_keys; k++) {
        const TableSpec *spec = store_table_spec(*server->store, key_table(keys[k]));
        if (!spec)
            fatal("protocol error: %s from rank %d names table %u, which this model does not have",
                  what, source, key_table(keys[k]));
        if (shardmap_server_of(server->map, keys[k]) != me)
            fatal("protocol error: %s from rank %d names key %u:%llu owned by server %u, not %u",
                  what, source, key_table(keys[k]), (unsigned long long)key_id(keys[k]),
                  shardmap_server_of(server->map, keys[k]), me);
        total += spec->width;
    }
    return total;
}

/* How many rows ahead of the one being copied or updated a server asks for
 * (store_prefetch_row): enough memory requests in flight to hide latency. */
#define SERVER_PREFETCH_ROWS 4

/* Copies the rows into a response's values (as floats, or as bfloat16 with
 * `bf16`), prefetching ahead; absent rows (data NULL: a read of rows never
 * trained) read as zeros. */
static void copy_rows(const Server *server, const StoreRow *rows, size_t n_rows, bool bf16,
                      uint8_t *values)
{
    size_t value_bytes = bf16 ? sizeof(uint16_t) : sizeof(float);
    for (size_t k = 0; k < n_rows; k++) {
        if (k + SERVER_PREFETCH_ROWS < n_rows && rows[k + SERVER_PREFETCH_ROWS].data)
            store_prefetch_row(*server->store, &rows[k + SERVER_PREFETCH_ROWS], false);
        size_t bytes = rows[k].width * value_bytes;
        if (!rows[k].data)
            memset(values, 0, bytes); /* 0.0 in either precision */
        else if (bf16)
            wire_put_bf16(values, rows[k].data, rows[k].width);
        else
            memcpy(values, rows[k].data, bytes);
        values += bytes;
    }
}

static void answer_pull(Server *server, int source, const WirePullRequest *request)
{
    size_t n_values = check_keys(server, request->keys, request->n_keys, source, "PullRequest");
    /* Training keeps the rows for the batch's push; reading uses a scratch slot. */
    PulledRows *kept = request->create ? pulled_rows(server, source, request->batch)
                                       : &server->scratch_rows;
    pulled_rows_reserve(kept, request->n_keys);
    kept->batch = request->create ? request->batch : UINT64_MAX;
    kept->n_keys = request->n_keys;
    kept->n_floats = n_values;
    if (request->n_keys > 0)
        memcpy(kept->keys, request->keys, request->n_keys * sizeof *kept->keys);
    if (request->create) {
        store_rows(*server->store, request->keys, request->n_keys, kept->rows);
    } else { /* reading: absent rows are not created */
        for (size_t k = 0; k < request->n_keys; k++) {
            uint64_t key = request->keys[k];
            kept->rows[k] = (StoreRow){
                .data = store_pull(*server->store, key, false),
                .width = store_table_spec(*server->store, key_table(key))->width};
        }
    }
    time_shares_charge(TIME_LOOKUP);
    WirePullResponse response = {
        .request_id = request->request_id,
        .n_values = n_values,
        .stop_signal = stop_signal_received(),
        .bf16 = request->bf16_values,
    };
    uint8_t *values = wire_encode_pull_response_open(&response, &server->encoded);
    time_shares_charge(TIME_WIRE);
    copy_rows(server, kept->rows, kept->n_keys, response.bf16, values);
    time_shares_charge(TIME_COPY);
    ServerStats *stats = server->stats;
    stats->pulls++;
    stats->rows_pulled += request->n_keys;
    if (request->create) {
        stats->train_bytes_sent += server->encoded.len;
        /* The pull serves batch `batch`, which in a sequential run would see
         * every batch before it; the slowest worker has pushed only
         * `slowest` of them. */
        uint64_t slowest = slowest_clock(server);
        uint64_t staleness = request->batch > slowest ? request->batch - slowest : 0;
        stats->staleness_sum += staleness;
        stats->staleness_samples++;
        if (staleness > stats->staleness_max)
            stats->staleness_max = staleness;
    }
    comm_outbox_send(server->outbox, source, COMM_TAG_PULL_RESPONSE, &server->encoded);
}

static void handle_pull(Server *server, int source, const ByteBuffer *message)
{
    Error err;
    WirePullRequest request;
    if (wire_decode_pull_request(&request, message->data, message->len, &err) != 0)
        fatal("protocol error: PullRequest from rank %d: %s", source, err.message);
    time_shares_charge(TIME_WIRE);
    if (request.min_clock <= slowest_clock(server)) {
        answer_pull(server, source, &request);
        wire_pull_request_free(&request);
        return;
    }
    if (server->n_pending == server->pending_capacity) {
        server->pending_capacity = server->pending_capacity ? 2 * server->pending_capacity : 8;
        server->pending = xrealloc(server->pending,
                                   (size_t)server->pending_capacity * sizeof(PendingPull));
    }
    server->pending[server->n_pending++] = (PendingPull){.source = source, .request = request};
}

/* Answers, in arrival order, every held pull the slowest clock now allows. */
static void answer_ready_pulls(Server *server)
{
    uint64_t slowest = slowest_clock(server);
    int kept = 0;
    for (int i = 0; i < server->n_pending; i++) {
        PendingPull *pull = &server->pending[i];
        if (pull->request.min_clock <= slowest) {
            answer_pull(server, pull->source, &pull->request);
            wire_pull_request_free(&pull->request);
        } else {
            server->pending[kept++] = *pull;
        }
    }
    server->n_pending = kept;
}

static void handle_push(Server *server, int source, const ByteBuffer *message)
{
    Error err;
    WirePush push;
    if (wire_decode_push(&push, message->data, message->len, &err) != 0)
        fatal("protocol error: Push from rank %d: %s", source, err.message);
    time_shares_charge(TIME_WIRE);
    uint64_t *clock = &server->clocks[source];
    if (push.clock != *clock + 1)
        fatal("protocol error: Push from rank %d is for clock %llu but its last push was %llu",
              source, (unsigned long long)push.clock, (unsigned long long)*clock);
    store_set_learning_rate(*server->store, server_learning_rate(server->schedule, push.clock));
    /* The batch's pull found these rows already (the usual case); its keys
     * were checked then. */
    uint64_t batch = push.clock - 1;
    PulledRows *kept = pulled_rows(server, source, batch);
    bool found = kept->batch == batch && kept->n_keys == push.n_keys &&
                 (push.n_keys == 0 ||
                  memcmp(kept->keys, push.keys, push.n_keys * sizeof *push.keys) == 0);
    size_t expected = found ? kept->n_floats
                            : check_keys(server, push.keys, push.n_keys, source, "Push");
    if (expected != push.n_grads)
        fatal("protocol error: Push from rank %d has %zu gradient values for %zu keys whose rows "
              "hold %zu",
              source, push.n_grads, push.n_keys, expected);
    const StoreRow *rows = kept->rows;
    if (!found) { /* a push whose pull's rows were not kept: look them up */
        pulled_rows_reserve(&server->scratch_rows, push.n_keys);
        store_rows(*server->store, push.keys, push.n_keys, server->scratch_rows.rows);
        rows = server->scratch_rows.rows;
    }
    time_shares_charge(TIME_LOOKUP);
    const float *grad = push.grads;
    for (size_t k = 0; k < push.n_keys; k++) {
        if (k + SERVER_PREFETCH_ROWS < push.n_keys)
            store_prefetch_row(*server->store, &rows[k + SERVER_PREFETCH_ROWS], true);
        store_push_row(*server->store, &rows[k], grad);
        grad += rows[k].width;
    }
    time_shares_charge(TIME_OPTIMIZER);
    kept->batch = UINT64_MAX;
    *clock = push.clock;
    server->stats->pushes++;
    server->stats->rows_pushed += push.n_keys;
    wire_push_free(&push);
    if (server->n_pending > 0)
        answer_ready_pulls(server);
}

/* Sends every worker a Control of kind carrying value: the answer to a
 * request all of them made (snapshot, pair merge). */
static void answer_every_worker(Server *server, WireControlKind kind, uint64_t value,
                                uint64_t checkpoint)
{
    WireControl answer = {.kind = kind, .value = value, .checkpoint = checkpoint};
    for (int w = 0; w < server->layout->n_workers; w++) {
        wire_encode_control(&answer, &server->encoded);
        comm_outbox_send(server->outbox, w, COMM_TAG_CONTROL, &server->encoded);
    }
}

/* What the answer to a snapshot-like request is called. */
static WireControlKind snapshot_answer(WireControlKind request)
{
    switch (request) {
    case WIRE_CONTROL_SNAPSHOT: return WIRE_CONTROL_SNAPSHOT_SAVED;
    case WIRE_CONTROL_RESTORE: return WIRE_CONTROL_RESTORED;
    default: return WIRE_CONTROL_CHECKPOINT_SAVED;
    }
}

/* A worker asks to save or restore the snapshot, or to write a checkpoint,
 * at its clock; the last one to ask triggers it. Every worker must ask the
 * same at the same clock with all its pushes in (and pushes nothing until
 * answered), so the rows are exactly the model at that clock. */
static void handle_snapshot(Server *server, int source, const WireControl *control)
{
    static const char *const what[] = {
        [WIRE_CONTROL_SNAPSHOT] = "save a snapshot",
        [WIRE_CONTROL_RESTORE] = "restore a snapshot",
        [WIRE_CONTROL_CHECKPOINT] = "write a checkpoint",
    };
    const char *asked = what[control->kind];
    if (!server->snapshot)
        fatal("protocol error: rank %d asks to %s, which this run does not take", source, asked);
    if (control->value != server->clocks[source])
        fatal("protocol error: rank %d asks to %s after %llu batches, but %llu of its pushes "
              "arrived here",
              source, asked, (unsigned long long)control->value,
              (unsigned long long)server->clocks[source]);
    const WireControl *first = &server->snapshot_asked;
    if (server->snapshot_requests > 0 &&
        (first->kind != control->kind || first->checkpoint != control->checkpoint))
        fatal("protocol error: rank %d asks to %s while others asked otherwise", source, asked);
    server->snapshot_asked = *control;
    if (++server->snapshot_requests < server->layout->n_workers)
        return;
    for (int w = 0; w < server->layout->n_workers; w++)
        if (server->clocks[w] != control->value)
            fatal("protocol error: asked to %s at clock %llu, but rank %d is at %llu", asked,
                  (unsigned long long)control->value, w, (unsigned long long)server->clocks[w]);
    Error err;
    const ServerSnapshot *snapshot = server->snapshot;
    if (control->kind == WIRE_CONTROL_SNAPSHOT &&
        snapshot->save(snapshot->context, *server->store, &err) != 0)
        fatal("cannot save the model: %s", err.message);
    if (control->kind == WIRE_CONTROL_CHECKPOINT &&
        snapshot->checkpoint(snapshot->context, *server->store, control->checkpoint, &err) != 0)
        fatal("cannot write checkpoint %llu: %s", (unsigned long long)control->checkpoint,
              err.message);
    if (control->kind == WIRE_CONTROL_RESTORE) {
        Store *restored = snapshot->restore(snapshot->context, *server->store, &err);
        if (!restored)
            fatal("cannot restore the saved model: %s", err.message);
        *server->store = restored;
        forget_pulled_rows(server); /* rows of the replaced store */
    }
    server->snapshot_requests = 0;
    answer_every_worker(server, snapshot_answer(control->kind), control->value,
                        control->checkpoint);
}

static void handle_pairs(Server *server, int source, const ByteBuffer *message)
{
    Error err;
    WirePairCounts counts;
    if (wire_decode_pair_counts(&counts, message->data, message->len, &err) != 0)
        fatal("protocol error: PairCounts from rank %d: %s", source, err.message);
    const ServerPairs *pairs = server->pairs;
    if (!pairs)
        fatal("protocol error: PairCounts from rank %d, but this model counts no pairs", source);
    if (counts.n_pairs > 0 && counts.width != (uint32_t)pairs->width)
        fatal("protocol error: PairCounts from rank %d has %u values per pair, not %d", source,
              counts.width, pairs->width);
    if (server->pairs_sent[source])
        fatal("protocol error: PairCounts from rank %d after it said PAIRS_DONE", source);
    check_keys(server, counts.rows, counts.n_pairs, source, "PairCounts");
    if (!server->pair_sums)
        server->pair_sums = pair_table_create(pairs->width);
    double values[16];
    for (size_t p = 0; p < counts.n_pairs; p++) {
        for (int v = 0; v < pairs->width; v++)
            values[v] = counts.values[p * (size_t)pairs->width + (size_t)v];
        pair_table_add(server->pair_sums, counts.rows[p], counts.columns[p], values);
    }
    for (size_t c = 0; c < counts.n_norms; c++)
        pair_table_set_norm(server->pair_sums, counts.norm_columns[c], counts.norms[c]);
    server->stats->pairs_received += counts.n_pairs;
    wire_pair_counts_free(&counts);
}

/* A worker has sent all its pairs of a block; the last one to say so
 * triggers the merge, and every worker is told. */
static void handle_pairs_done(Server *server, int source, const WireControl *control)
{
    if (!server->pairs)
        fatal("protocol error: rank %d is done with pairs, but this model counts none", source);
    if (server->pairs_requests > 0 && control->value != server->pairs_block)
        fatal("protocol error: rank %d is done with pair block %llu while others are at %llu",
              source, (unsigned long long)control->value,
              (unsigned long long)server->pairs_block);
    if (server->pairs_sent[source])
        fatal("protocol error: rank %d is done with pair block %llu twice", source,
              (unsigned long long)control->value);
    server->pairs_block = control->value;
    server->pairs_sent[source] = true;
    if (++server->pairs_requests < server->layout->n_workers)
        return;
    ServerStats *stats = server->stats;
    if (server->pair_sums) {
        size_t bytes = pair_table_bytes(server->pair_sums);
        if (bytes > stats->pair_bytes_peak)
            stats->pair_bytes_peak = bytes;
        stats->pairs_merged += pair_table_count(server->pair_sums);
        Error err;
        if (server->pairs->merge(server->pairs->context, *server->store, server->pair_sums,
                                 &err) != 0)
            fatal("cannot build rows from the pair counts: %s", err.message);
        /* The next block starts from an empty table (the memory is given
         * back: blocks exist to bound it). */
        pair_table_destroy(server->pair_sums);
        server->pair_sums = NULL;
    }
    server->pairs_requests = 0;
    memset(server->pairs_sent, 0, (size_t)server->layout->n_workers * sizeof(bool));
    answer_every_worker(server, WIRE_CONTROL_PAIRS_MERGED, control->value, 0);
}

static void handle_control(Server *server, int source, const ByteBuffer *message)
{
    Error err;
    WireControl control;
    if (wire_decode_control(&control, message->data, message->len, &err) != 0)
        fatal("protocol error: Control from rank %d: %s", source, err.message);
    if (control.kind == WIRE_CONTROL_SNAPSHOT || control.kind == WIRE_CONTROL_RESTORE ||
        control.kind == WIRE_CONTROL_CHECKPOINT) {
        handle_snapshot(server, source, &control);
        return;
    }
    if (control.kind == WIRE_CONTROL_PAIRS_DONE) {
        handle_pairs_done(server, source, &control);
        return;
    }
    if (control.kind != WIRE_CONTROL_WORKER_DONE)
        fatal("protocol error: Control of kind %d from rank %d, which only servers send",
              (int)control.kind, source);
    if (server->snapshot_requests > 0 || server->pairs_requests > 0)
        fatal("protocol error: rank %d is done while others wait for a snapshot or a pair merge",
              source);
    if (control.value != server->clocks[source])
        fatal("protocol error: rank %d is done after %llu batches, but %llu of its pushes "
              "arrived here",
              source, (unsigned long long)control.value,
              (unsigned long long)server->clocks[source]);
    server->clocks[source] = UINT64_MAX;
    server->workers_done++;
    if (server->n_pending > 0)
        answer_ready_pulls(server);
}

float server_learning_rate(const LearningRateSchedule *schedule, uint64_t clock)
{
    uint64_t epoch = clock > 0 ? (clock - 1) / schedule->batches_per_epoch : 0;
    return (float)((double)schedule->learning_rate * pow((double)schedule->decay, (double)epoch));
}

void server_run(const CommLayout *layout, const ShardMap *map, const LearningRateSchedule *schedule,
                uint64_t start_clock, Store **store, const ServerSnapshot *snapshot,
                const ServerPairs *pairs, ServerStats *stats)
{
    Server server = {
        .layout = layout,
        .map = map,
        .schedule = schedule,
        .store = store,
        .snapshot = snapshot,
        .pairs = pairs,
        .stats = stats,
        .outbox = comm_outbox_create(),
        .clocks = xcalloc((size_t)layout->n_workers, sizeof(uint64_t)),
        .pairs_sent = xcalloc((size_t)layout->n_workers, sizeof(bool)),
        .pulled = xcalloc((size_t)layout->n_workers * PULLED_PER_WORKER, sizeof(PulledRows)),
    };
    forget_pulled_rows(&server);
    memset(stats, 0, sizeof *stats);
    for (int w = 0; w < layout->n_workers; w++)
        server.clocks[w] = start_clock;
    ByteBuffer message = {0};
    time_shares_reset();
    while (server.workers_done < layout->n_workers) {
        int source, tag;
        comm_recv(&message, COMM_ANY_SOURCE, COMM_ANY_TAG, &source, &tag);
        if (source < 0 || source >= layout->n_workers)
            fatal("protocol error: %s message (tag %d) from rank %d, which is not a worker",
                  tag_name(tag), tag, source);
        if (server.clocks[source] == UINT64_MAX)
            fatal("protocol error: %s message from rank %d after it said WORKER_DONE",
                  tag_name(tag), source);
        switch (tag) {
        case COMM_TAG_PULL_REQUEST: handle_pull(&server, source, &message); break;
        case COMM_TAG_PUSH: handle_push(&server, source, &message); break;
        case COMM_TAG_CONTROL: handle_control(&server, source, &message); break;
        case COMM_TAG_PAIRS: handle_pairs(&server, source, &message); break;
        default:
            fatal("protocol error: unexpected message tag %d (%s) from rank %d", tag,
                  tag_name(tag), source);
        }
        time_shares_charge(TIME_OTHER);
        comm_outbox_progress(server.outbox);
    }
    if (server.n_pending > 0)
        fatal("protocol error: %d pulls still wait for clocks no worker will reach",
              server.n_pending);
    comm_outbox_destroy(server.outbox);
    pair_table_destroy(server.pair_sums);
    free(server.pairs_sent);
    bytebuffer_free(&message);
    bytebuffer_free(&server.encoded);
    free(server.pending);
    for (int p = 0; p < layout->n_workers * PULLED_PER_WORKER; p++) {
        free(server.pulled[p].keys);
        free(server.pulled[p].rows);
    }
    free(server.pulled);
    free(server.scratch_rows.keys);
    free(server.scratch_rows.rows);
    free(server.clocks);
}

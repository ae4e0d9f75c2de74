/* worker.c — minibatch training through the parameter servers (worker.h).
 *
 * A BatchPlan holds everything about one batch: its distinct keys (a
 * KeyIndex numbering them 0..n_unique-1), which key slot each example uses,
 * the keys grouped by owning server, and where each key's row sits in the
 * gathered params/grads arrays. Rows are laid out server by server, in the
 * order of that server's keys, so a pull response is copied in with one
 * memcpy and a push sends a slice of grads as it is. Two plans alternate so the next batch's pull can
 * be in flight while this one computes.
 */
#include "psrec/ps/worker.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "psrec/core/keyindex.h"
#include "psrec/core/log.h"
#include "psrec/core/util.h"
#include "psrec/ps/wire.h"

#define EVAL_CHUNK_EXAMPLES 16384

typedef struct {
    size_t n_keys;
    size_t capacity;
    uint64_t *keys;     /* (n_keys,) keys this server owns, in slot order */
    uint32_t *slots;    /* (n_keys,) their unique slot */
    size_t first_float; /* where this server's rows start in params/grads */
    size_t n_floats;    /* how many floats its rows hold */
    bool awaiting;      /* a pull to this server is in flight */
} ServerBatch;

typedef struct {
    KeyIndex *unique;
    size_t n_examples;
    size_t example_capacity;
    uint32_t *example_slots;   /* (n_examples, keys_per_example) */
    float *ratings;            /* (n_examples,) */
    size_t *row_offset;        /* (n_unique,) into params / grads */
    size_t offset_capacity;
    size_t n_floats;
    size_t float_capacity;
    float *params;             /* (n_floats,) rows as pulled */
    float *grads;              /* (n_floats,) summed gradients */
    ServerBatch *servers;      /* (n_servers,) */
    uint32_t request_id;
} BatchPlan;

struct Worker {
    WorkerSetup setup;
    uint32_t table_width[KEY_TABLE_MAX + 1];
    BatchPlan plans[2];        /* training: current and next batch */
    BatchPlan eval_plan;       /* evaluation chunks, larger than batches */
    CommOutbox *outbox;
    ByteBuffer encoded;
    ByteBuffer received;
    size_t *order;
    size_t order_capacity;
    uint64_t clock;            /* batches pushed */
    uint32_t next_request_id;
    WorkerStats stats;
};

/* ---- plans */

static void plan_init(BatchPlan *plan, int n_servers)
{
    memset(plan, 0, sizeof *plan);
    plan->unique = keyindex_create(4096);
    plan->servers = xcalloc((size_t)n_servers, sizeof(ServerBatch));
    /* Never NULL, so an empty batch's slices are still valid pointers. */
    plan->float_capacity = 1024;
    plan->params = xmalloc(plan->float_capacity * sizeof(float));
    plan->grads = xmalloc(plan->float_capacity * sizeof(float));
}

static void plan_free(BatchPlan *plan, int n_servers)
{
    keyindex_destroy(plan->unique);
    free(plan->example_slots);
    free(plan->ratings);
    free(plan->row_offset);
    free(plan->params);
    free(plan->grads);
    for (int s = 0; s < n_servers; s++) {
        free(plan->servers[s].keys);
        free(plan->servers[s].slots);
    }
    free(plan->servers);
}

/* Fills plan with examples order[first..last) of data: their keys, the
 * distinct keys grouped by server, and the row layout of params/grads. */
static void plan_build(Worker *worker, BatchPlan *plan, const Ratings *data, const size_t *order,
                       size_t first, size_t last)
{
    const ModelOps *model = worker->setup.model;
    int per_example = model->keys_per_example;
    size_t n = last - first;
    if (n > plan->example_capacity) {
        plan->example_capacity = n;
        plan->example_slots = xrealloc(plan->example_slots,
                                       n * (size_t)per_example * sizeof(uint32_t));
        plan->ratings = xrealloc(plan->ratings, n * sizeof(float));
    }
    plan->n_examples = n;
    keyindex_clear(plan->unique);
    uint64_t keys[MODEL_MAX_KEYS_PER_EXAMPLE];
    for (size_t e = 0; e < n; e++) {
        size_t example = order ? order[first + e] : first + e;
        model->example_keys(data->users[example], data->items[example], keys);
        for (int k = 0; k < per_example; k++)
            plan->example_slots[e * (size_t)per_example + (size_t)k] =
                (uint32_t)keyindex_insert(plan->unique, keys[k], NULL);
        plan->ratings[e] = data->ratings[example];
    }

    size_t n_unique = keyindex_size(plan->unique);
    const uint64_t *unique_keys = keyindex_keys(plan->unique);
    if (n_unique > plan->offset_capacity) {
        plan->offset_capacity = 2 * n_unique;
        plan->row_offset = xrealloc(plan->row_offset, plan->offset_capacity * sizeof(size_t));
    }
    int n_servers = worker->setup.layout->n_servers;
    for (int s = 0; s < n_servers; s++)
        plan->servers[s].n_keys = 0;
    for (size_t u = 0; u < n_unique; u++) {
        ServerBatch *server = &plan->servers[shardmap_server_of(worker->setup.map, unique_keys[u])];
        if (server->n_keys == server->capacity) {
            server->capacity = server->capacity ? 2 * server->capacity : 256;
            server->keys = xrealloc(server->keys, server->capacity * sizeof(uint64_t));
            server->slots = xrealloc(server->slots, server->capacity * sizeof(uint32_t));
        }
        server->keys[server->n_keys] = unique_keys[u];
        server->slots[server->n_keys] = (uint32_t)u;
        server->n_keys++;
    }
    size_t offset = 0;
    for (int s = 0; s < n_servers; s++) {
        ServerBatch *server = &plan->servers[s];
        server->first_float = offset;
        for (size_t k = 0; k < server->n_keys; k++) {
            plan->row_offset[server->slots[k]] = offset;
            offset += worker->table_width[key_table(server->keys[k])];
        }
        server->n_floats = offset - server->first_float;
    }
    plan->n_floats = offset;
    if (offset > plan->float_capacity) {
        plan->float_capacity = 2 * offset;
        plan->params = xrealloc(plan->params, plan->float_capacity * sizeof(float));
        plan->grads = xrealloc(plan->grads, plan->float_capacity * sizeof(float));
    }
}

/* Sends one PullRequest to each server that owns keys of the plan, for the
 * batch with global index `batch`. */
static void plan_send_pulls(Worker *worker, BatchPlan *plan, uint64_t batch, uint64_t min_clock,
                            bool create)
{
    plan->request_id = worker->next_request_id++;
    for (int s = 0; s < worker->setup.layout->n_servers; s++) {
        ServerBatch *server = &plan->servers[s];
        server->awaiting = server->n_keys > 0;
        if (!server->awaiting)
            continue;
        WirePullRequest request = {
            .request_id = plan->request_id,
            .min_clock = min_clock,
            .batch = batch,
            .create = create,
            .n_keys = server->n_keys,
            .keys = server->keys,
        };
        wire_encode_pull_request(&request, &worker->encoded);
        if (create)
            worker->stats.train_bytes_sent += worker->encoded.len;
        comm_outbox_send(worker->outbox, comm_server_world_rank(worker->setup.layout, s),
                         COMM_TAG_PULL_REQUEST, &worker->encoded);
    }
}

/* Receives every response the plan awaits and scatters the rows into
 * plan->params. Sizes that disagree with the request are protocol errors. */
static void plan_receive_pulls(Worker *worker, BatchPlan *plan)
{
    double wait_start = time_now_s();
    for (int s = 0; s < worker->setup.layout->n_servers; s++) {
        ServerBatch *server = &plan->servers[s];
        if (!server->awaiting)
            continue;
        int source = comm_server_world_rank(worker->setup.layout, s);
        comm_recv(&worker->received, source, COMM_TAG_PULL_RESPONSE, NULL, NULL);
        Error err;
        WirePullResponse response;
        if (wire_decode_pull_response(&response, worker->received.data, worker->received.len,
                                      &err) != 0)
            fatal("protocol error: PullResponse from server rank %d: %s", source, err.message);
        if (response.request_id != plan->request_id)
            fatal("protocol error: PullResponse from server rank %d answers request %u, "
                  "expected %u",
                  source, response.request_id, plan->request_id);
        if (response.n_values != server->n_floats)
            fatal("protocol error: PullResponse from server rank %d has %zu values for %zu keys "
                  "whose rows hold %zu",
                  source, response.n_values, server->n_keys, server->n_floats);
        memcpy(plan->params + server->first_float, response.values,
               server->n_floats * sizeof(float));
        wire_pull_response_free(&response);
        server->awaiting = false;
    }
    worker->stats.pull_wait_seconds += time_now_s() - wait_start;
}

/* Forward and backward pass over the plan's examples; gradients summed per
 * key into plan->grads. Returns the summed squared error. */
static double plan_compute(Worker *worker, BatchPlan *plan)
{
    const ModelOps *model = worker->setup.model;
    int per_example = model->keys_per_example;
    memset(plan->grads, 0, plan->n_floats * sizeof(float));
    const float *rows[MODEL_MAX_KEYS_PER_EXAMPLE];
    float *grads[MODEL_MAX_KEYS_PER_EXAMPLE];
    double squared_error = 0.0;
    for (size_t e = 0; e < plan->n_examples; e++) {
        const uint32_t *slots = plan->example_slots + e * (size_t)per_example;
        for (int k = 0; k < per_example; k++) {
            rows[k] = plan->params + plan->row_offset[slots[k]];
            grads[k] = plan->grads + plan->row_offset[slots[k]];
        }
        squared_error += model->example_gradient(&worker->setup.params, rows, grads,
                                                 plan->ratings[e]);
    }
    return squared_error;
}

/* Sends the plan's gradients: one Push to every server, advancing the clock. */
static void plan_push(Worker *worker, BatchPlan *plan)
{
    worker->clock++;
    for (int s = 0; s < worker->setup.layout->n_servers; s++) {
        ServerBatch *server = &plan->servers[s];
        WirePush push = {
            .clock = worker->clock,
            .n_keys = server->n_keys,
            .keys = server->keys,
            .n_grads = server->n_floats,
            .grads = plan->grads + server->first_float,
        };
        wire_encode_push(&push, &worker->encoded);
        worker->stats.train_bytes_sent += worker->encoded.len;
        comm_outbox_send(worker->outbox, comm_server_world_rank(worker->setup.layout, s),
                         COMM_TAG_PUSH, &worker->encoded);
    }
    comm_outbox_progress(worker->outbox);
}

/* ---- public */

Worker *worker_create(const WorkerSetup *setup)
{
    Worker *worker = xcalloc(1, sizeof(Worker));
    worker->setup = *setup;
    TableSpec specs[STORE_MAX_TABLES];
    int n_tables = setup->model->table_specs(&setup->params, specs);
    for (int t = 0; t < n_tables; t++)
        worker->table_width[specs[t].table_id] = specs[t].width;
    for (int p = 0; p < 2; p++)
        plan_init(&worker->plans[p], setup->layout->n_servers);
    plan_init(&worker->eval_plan, setup->layout->n_servers);
    worker->outbox = comm_outbox_create();
    return worker;
}

void worker_destroy(Worker *worker)
{
    if (!worker)
        return;
    comm_outbox_destroy(worker->outbox);
    for (int p = 0; p < 2; p++)
        plan_free(&worker->plans[p], worker->setup.layout->n_servers);
    plan_free(&worker->eval_plan, worker->setup.layout->n_servers);
    bytebuffer_free(&worker->encoded);
    bytebuffer_free(&worker->received);
    free(worker->order);
    free(worker);
}

void worker_epoch_order(size_t *order, size_t n, uint64_t seed, int worker, int epoch)
{
    Rng rng;
    rng_seed(&rng, hash_u64(seed) ^ hash_u64(((uint64_t)worker << 32) | (uint64_t)epoch));
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    for (size_t i = n; i > 1; i--) { /* Fisher–Yates */
        size_t j = (size_t)rng_below(&rng, i);
        size_t tmp = order[i - 1];
        order[i - 1] = order[j];
        order[j] = tmp;
    }
}

size_t worker_batch_start(size_t n, uint64_t n_batches, uint64_t batch)
{
    /* floor(n * batch / n_batches) without overflowing n * batch. */
    uint64_t whole = n / n_batches, rest = n % n_batches;
    return (size_t)(whole * batch + rest * batch / n_batches);
}

/* min_clock of a training pull for the batch with global index g. */
static uint64_t pull_min_clock(const Worker *worker, uint64_t global_batch)
{
    uint64_t staleness = worker->setup.staleness;
    if (staleness == WORKER_NEVER_WAIT || staleness >= global_batch)
        return 0;
    return global_batch - staleness;
}

double worker_train_epoch(Worker *worker, const Ratings *train, int epoch, uint64_t n_batches,
                          Progress *progress)
{
    assert(n_batches >= 1);
    size_t n = train->n;
    if (n > worker->order_capacity) {
        worker->order_capacity = n;
        worker->order = xrealloc(worker->order, n * sizeof(size_t));
    }
    worker_epoch_order(worker->order, n, worker->setup.seed, worker->setup.layout->role_rank,
                       epoch);
    uint64_t first_global = worker->clock;
    double squared_error = 0.0;
    BatchPlan *current = &worker->plans[0];
    BatchPlan *next = &worker->plans[1];
    plan_build(worker, current, train, worker->order, worker_batch_start(n, n_batches, 0),
               worker_batch_start(n, n_batches, 1));
    plan_send_pulls(worker, current, first_global, pull_min_clock(worker, first_global), true);
    for (uint64_t b = 0; b < n_batches; b++) {
        plan_receive_pulls(worker, current);
        if (b + 1 < n_batches) {
            plan_build(worker, next, train, worker->order,
                       worker_batch_start(n, n_batches, b + 1),
                       worker_batch_start(n, n_batches, b + 2));
            plan_send_pulls(worker, next, first_global + b + 1,
                            pull_min_clock(worker, first_global + b + 1), true);
        }
        squared_error += plan_compute(worker, current);
        plan_push(worker, current);
        if (progress)
            progress_update(progress, (double)(b + 1) / (double)n_batches);
        BatchPlan *done = current;
        current = next;
        next = done;
    }
    return squared_error;
}

void worker_evaluate(Worker *worker, const Ratings *test, ErrorStats *stats)
{
    const ModelOps *model = worker->setup.model;
    int per_example = model->keys_per_example;
    BatchPlan *plan = &worker->eval_plan;
    const float *rows[MODEL_MAX_KEYS_PER_EXAMPLE];
    for (size_t first = 0; first < test->n; first += EVAL_CHUNK_EXAMPLES) {
        size_t last = first + EVAL_CHUNK_EXAMPLES < test->n ? first + EVAL_CHUNK_EXAMPLES : test->n;
        plan_build(worker, plan, test, NULL, first, last);
        plan_send_pulls(worker, plan, worker->clock, worker->clock, false);
        plan_receive_pulls(worker, plan);
        for (size_t e = 0; e < plan->n_examples; e++) {
            const uint32_t *slots = plan->example_slots + e * (size_t)per_example;
            for (int k = 0; k < per_example; k++)
                rows[k] = plan->params + plan->row_offset[slots[k]];
            float prediction = model->predict(&worker->setup.params, rows);
            error_stats_add(stats, prediction, plan->ratings[e]);
        }
    }
}

void worker_finish(Worker *worker)
{
    WireControl done = {.kind = WIRE_CONTROL_WORKER_DONE, .value = worker->clock};
    for (int s = 0; s < worker->setup.layout->n_servers; s++) {
        wire_encode_control(&done, &worker->encoded);
        comm_outbox_send(worker->outbox, comm_server_world_rank(worker->setup.layout, s),
                         COMM_TAG_CONTROL, &worker->encoded);
    }
    comm_outbox_flush(worker->outbox);
}

const WorkerStats *worker_stats(const Worker *worker) { return &worker->stats; }

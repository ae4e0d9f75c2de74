/* worker.c — minibatch training through the parameter servers (worker.h).
 *
 * A BatchPlan holds everything about one batch: its distinct keys (a
 * KeyIndex numbering them 0..n_unique-1), each example's bags of key slots
 * (the user, its item, its negatives — each a row plus its features), the
 * model's dense blocks (pulled with every batch), the keys grouped by owning server,
 * and where each key's row sits in the gathered params/grads arrays. Rows
 * are laid out server by server, in the order of that server's keys, so a
 * pull response is copied in with one memcpy and a push sends a slice of
 * grads as it is. Two plans alternate so the next batch's pull can be in
 * flight while this one computes. Where every bag is one row, a model that
 * reads rows in place (mf, bpr) computes on params and grads directly
 * (plan_compute_in_place); otherwise bags are gathered into dense arrays
 * and their gradients scattered back.
 */
#include "psrec/ps/worker.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "psrec/core/time_shares.h"
#include "psrec/core/keyindex.h"
#include "psrec/core/log.h"
#include "psrec/core/stop_signal.h"
#include "psrec/core/util.h"
#include "psrec/ps/wire.h"

#define EVAL_CHUNK_EXAMPLES 16384
/* How many examples ahead plan_build asks for a shuffled example's fields. */
#define PLAN_PREFETCH_EXAMPLES 16

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
    int items_per_example;
    /* Per example, 1 + items_per_example bags of keys (the user, then its
     * items); each bag is a weighted sum of rows. Bag b of example e covers
     * entries bag_start[e*n_bags + b] .. bag_start[e*n_bags + b + 1] of
     * bag_slots / bag_weights. */
    uint32_t *bag_start;       /* (n_examples * n_bags + 1,) */
    size_t bag_capacity;
    uint32_t *bag_slots;       /* (n_entries,) unique slot of each entry's key */
    float *bag_weights;        /* (n_entries,) */
    size_t entry_capacity;
    /* For rows_in_place: where each example's user row and item rows sit in
     * params (and their gradients in grads). */
    size_t *user_offsets;      /* (n_examples,) */
    size_t *item_offsets;      /* (n_examples * items_per_example,) */
    float *labels;             /* (n_examples,) */
    float *weights;            /* (n_examples,) */
    size_t *row_offset;        /* (n_unique,) into params / grads */
    size_t offset_capacity;
    size_t n_floats;
    size_t float_capacity;
    float *params;             /* (n_floats,) rows as pulled */
    float *grads;              /* (n_floats,) summed gradients */
    uint32_t *dense_slots;     /* (n_dense_blocks,) unique slot of each dense block */
    ServerBatch *servers;      /* (n_servers,) */
    uint32_t request_id;
} BatchPlan;

/* The dense representations a model computes on (see ModelBatch). */
typedef struct {
    size_t capacity_users;
    size_t capacity_items;
    float *users, *items, *grad_users, *grad_items;
} Representations;

struct Worker {
    WorkerSetup setup;
    uint32_t table_width[KEY_TABLE_MAX + 1];
    int user_width;
    int item_width;
    size_t n_dense_blocks;
    float *dense;              /* (n_dense_blocks * MODEL_DENSE_BLOCK,) as pulled */
    float *grad_dense;         /* same shape */
    BatchPlan plans[2];        /* training: current and next batch */
    BatchPlan eval_plan;       /* evaluation chunks, larger than batches */
    Representations reps;
    CommOutbox *outbox;
    ByteBuffer encoded;
    ByteBuffer received;
    size_t *order;
    size_t order_capacity;
    uint64_t clock;            /* batches pushed */
    CommVote *vote;            /* the pause vote in flight, or NULL */
    uint32_t next_request_id;
    WorkerStats stats;
};

/* ---- plans */

static void plan_init(BatchPlan *plan, int n_servers, size_t n_dense_blocks)
{
    memset(plan, 0, sizeof *plan);
    plan->unique = keyindex_create(4096);
    plan->dense_slots = xmalloc((n_dense_blocks ? n_dense_blocks : 1) * sizeof(uint32_t));
    plan->servers = xcalloc((size_t)n_servers, sizeof(ServerBatch));
    /* Never NULL, so an empty batch's slices are still valid pointers. */
    plan->float_capacity = 1024;
    plan->params = xmalloc(plan->float_capacity * sizeof(float));
    plan->grads = xmalloc(plan->float_capacity * sizeof(float));
}

static void plan_free(BatchPlan *plan, int n_servers)
{
    keyindex_destroy(plan->unique);
    free(plan->bag_start);
    free(plan->bag_slots);
    free(plan->bag_weights);
    free(plan->labels);
    free(plan->weights);
    free(plan->user_offsets);
    free(plan->item_offsets);
    free(plan->row_offset);
    free(plan->params);
    free(plan->grads);
    free(plan->dense_slots);
    for (int s = 0; s < n_servers; s++) {
        free(plan->servers[s].keys);
        free(plan->servers[s].slots);
    }
    free(plan->servers);
}

/* Starts a plan of n examples with items_per_example items each, and room
 * for n_bags bags. */
static void plan_begin(BatchPlan *plan, size_t n, int items_per_example, size_t n_bags)
{
    if (n > plan->example_capacity) {
        plan->example_capacity = 2 * n;
        plan->labels = xrealloc(plan->labels, plan->example_capacity * sizeof(float));
        plan->weights = xrealloc(plan->weights, plan->example_capacity * sizeof(float));
        plan->user_offsets =
            xrealloc(plan->user_offsets, plan->example_capacity * sizeof(size_t));
    }
    if (n_bags + 1 > plan->bag_capacity) { /* n_bags ≥ the items of n examples */
        plan->bag_capacity = 2 * (n_bags + 1);
        plan->bag_start = xrealloc(plan->bag_start, plan->bag_capacity * sizeof(uint32_t));
        plan->item_offsets = xrealloc(plan->item_offsets, plan->bag_capacity * sizeof(size_t));
    }
    plan->bag_start[0] = 0;
    plan->n_examples = n;
    plan->items_per_example = items_per_example;
    keyindex_clear(plan->unique);
}

/* Appends one entry to the plan's last bag (a ModelBagEntry over a plan
 * whose bag_start[bag + 1] is the bag's end so far). */
typedef struct {
    BatchPlan *plan;
    size_t bag;
} BagCursor;

static void plan_add_entry(void *context, uint64_t key, float weight)
{
    BagCursor *cursor = context;
    BatchPlan *plan = cursor->plan;
    uint32_t entry = plan->bag_start[cursor->bag + 1];
    if (entry >= plan->entry_capacity) {
        plan->entry_capacity = plan->entry_capacity ? 2 * plan->entry_capacity : 4096;
        plan->bag_slots = xrealloc(plan->bag_slots, plan->entry_capacity * sizeof(uint32_t));
        plan->bag_weights = xrealloc(plan->bag_weights, plan->entry_capacity * sizeof(float));
    }
    plan->bag_slots[entry] = (uint32_t)keyindex_insert(plan->unique, key, NULL);
    plan->bag_weights[entry] = weight;
    plan->bag_start[cursor->bag + 1] = entry + 1;
}

/* Appends bag number `bag` of the plan: the representation of row `id` of
 * `table` (the row and its features). */
static void plan_add_bag(const Worker *worker, BatchPlan *plan, size_t bag, uint32_t table,
                         uint64_t id)
{
    plan->bag_start[bag + 1] = plan->bag_start[bag];
    BagCursor cursor = {.plan = plan, .bag = bag};
    model_bag(worker->setup.features, table, id, plan_add_entry, &cursor);
}

/* Whether every bag of the plan is its row alone (no features): each bag
 * holds its row, so exactly when there are as many entries as bags. */
static bool plan_single_rows(const BatchPlan *plan)
{
    size_t n_bags = plan->n_examples * (1 + (size_t)plan->items_per_example);
    return plan->bag_start[n_bags] == n_bags;
}

/* Adds the model's dense blocks to the plan's keys (every batch needs all
 * of them; they belong to no bag). */
static void plan_add_dense(const Worker *worker, BatchPlan *plan)
{
    for (size_t b = 0; b < worker->n_dense_blocks; b++)
        plan->dense_slots[b] =
            (uint32_t)keyindex_insert(plan->unique, key_make(MODEL_TABLE_DENSE, b), NULL);
}

/* Groups the plan's distinct keys by server and lays out params/grads. */
static void plan_layout(Worker *worker, BatchPlan *plan)
{
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

/* The Rng of one batch's negative samples: depends only on (seed, worker,
 * epoch, batch), so a run is reproducible. */
static void batch_rng(Rng *rng, uint64_t seed, int worker, int epoch, uint64_t batch)
{
    rng_seed(rng, hash_u64(seed ^ 0x6e65676174697665ULL) ^
                      hash_u64(((uint64_t)worker << 40) ^ ((uint64_t)epoch << 24) ^ batch));
}

/* Fills plan with examples order[first..last) of data: their bags (the
 * user, the item, and for implicit models negatives drawn with rng), the
 * distinct keys grouped by server, and the row layout of params/grads. */
static void plan_build(Worker *worker, BatchPlan *plan, const Ratings *data, const size_t *order,
                       size_t first, size_t last, Rng *rng)
{
    const WorkerSetup *setup = &worker->setup;
    int negatives = setup->model->implicit ? setup->params.negatives : 0;
    int n_bags = 2 + negatives;
    plan_begin(plan, last - first, 1 + negatives, (last - first) * (size_t)n_bags);
    for (size_t e = 0; e < plan->n_examples; e++) {
        /* Shuffled examples are scattered over the data: ask for later
         * ones' fields early so their cache misses overlap. */
        if (order && e + PLAN_PREFETCH_EXAMPLES < plan->n_examples) {
            size_t ahead = order[first + e + PLAN_PREFETCH_EXAMPLES];
            __builtin_prefetch(&data->users[ahead]);
            __builtin_prefetch(&data->items[ahead]);
            __builtin_prefetch(&data->ratings[ahead]);
            if (data->weights)
                __builtin_prefetch(&data->weights[ahead]);
        }
        size_t example = order ? order[first + e] : first + e;
        uint64_t user = data->users[example];
        size_t bag = e * (size_t)n_bags;
        plan_add_bag(worker, plan, bag, MODEL_TABLE_USER, user);
        plan_add_bag(worker, plan, bag + 1, MODEL_TABLE_ITEM, data->items[example]);
        if (negatives > 0) {
            size_t n_own = 0;
            const uint32_t *own = NULL;
            int64_t user_index = history_find_user(setup->positives, user);
            if (user_index >= 0)
                own = history_items(setup->positives, (size_t)user_index, &n_own);
            for (int j = 0; j < negatives; j++) {
                uint32_t negative = sampler_draw(setup->sampler, rng, own, n_own);
                /* Only a user who has every item has no negative: the
                 * positive stands in, and its gradients cancel. */
                uint64_t id = negative == UINT32_MAX ? data->items[example]
                                                     : setup->catalogue->ids[negative];
                plan_add_bag(worker, plan, bag + 2 + (size_t)j, MODEL_TABLE_ITEM, id);
            }
        }
        plan->labels[e] = data->ratings[example];
        plan->weights[e] = data->weights ? data->weights[example] : 1.0f;
    }
    plan_add_dense(worker, plan);
    plan_layout(worker, plan);
    time_shares_charge(TIME_LOOKUP);
}

/* Fills plan with one bag per row ids[0..n) of table (each with its
 * features). */
static void plan_build_rows(Worker *worker, BatchPlan *plan, uint32_t table, const uint64_t *ids,
                            size_t n)
{
    plan_begin(plan, 0, 0, n);
    for (size_t k = 0; k < n; k++)
        plan_add_bag(worker, plan, k, table, ids[k]);
    plan_layout(worker, plan);
}

/* Gathers the representation of bag `bag` (width floats) into out. */
static void plan_gather_bag(const BatchPlan *plan, size_t bag, int width, float *out)
{
    uint32_t first = plan->bag_start[bag];
    if (plan->bag_start[bag + 1] == first + 1 && plan->bag_weights[first] == 1.0f) {
        /* A row without features (the usual bag): the row itself. */
        memcpy(out, plan->params + plan->row_offset[plan->bag_slots[first]],
               (size_t)width * sizeof(float));
        return;
    }
    memset(out, 0, (size_t)width * sizeof(float));
    for (uint32_t k = plan->bag_start[bag]; k < plan->bag_start[bag + 1]; k++) {
        const float *row = plan->params + plan->row_offset[plan->bag_slots[k]];
        float w = plan->bag_weights[k];
        for (int f = 0; f < width; f++)
            out[f] += w * row[f];
    }
}

/* Adds the gradient of bag `bag`'s representation onto its rows. */
static void plan_scatter_bag(BatchPlan *plan, size_t bag, int width, const float *grad,
                             float l2_features)
{
    for (uint32_t k = plan->bag_start[bag]; k < plan->bag_start[bag + 1]; k++) {
        size_t offset = plan->row_offset[plan->bag_slots[k]];
        float *row = plan->grads + offset;
        float w = plan->bag_weights[k];
        for (int f = 0; f < width; f++)
            row[f] += w * grad[f];
        /* A feature row (every entry after the first, the row itself) also
         * decays on its own, per weighted occurrence: shared by many
         * users or items, it is otherwise held only through their sums. */
        if (k > plan->bag_start[bag] && l2_features > 0.0f) {
            const float *weights = plan->params + offset;
            for (int f = 0; f < width; f++)
                row[f] += l2_features * w * weights[f];
        }
    }
}

/* Makes room in reps for n users and n*items_per_example items and gathers
 * the plan's representations into a ModelBatch. */
static void plan_gather(Worker *worker, BatchPlan *plan, ModelBatch *batch)
{
    Representations *reps = &worker->reps;
    size_t n = plan->n_examples, per = (size_t)plan->items_per_example;
    size_t user_floats = n * (size_t)worker->user_width;
    size_t item_floats = n * per * (size_t)worker->item_width;
    if (user_floats > reps->capacity_users) {
        reps->capacity_users = 2 * user_floats;
        reps->users = xrealloc(reps->users, reps->capacity_users * sizeof(float));
        reps->grad_users = xrealloc(reps->grad_users, reps->capacity_users * sizeof(float));
    }
    if (item_floats > reps->capacity_items) {
        reps->capacity_items = 2 * item_floats;
        reps->items = xrealloc(reps->items, reps->capacity_items * sizeof(float));
        reps->grad_items = xrealloc(reps->grad_items, reps->capacity_items * sizeof(float));
    }
    size_t n_bags = 1 + per;
    for (size_t e = 0; e < n; e++) {
        plan_gather_bag(plan, e * n_bags, worker->user_width,
                        reps->users + e * (size_t)worker->user_width);
        for (size_t j = 0; j < per; j++)
            plan_gather_bag(plan, e * n_bags + 1 + j, worker->item_width,
                            reps->items + (e * per + j) * (size_t)worker->item_width);
    }
    if (user_floats)
        memset(reps->grad_users, 0, user_floats * sizeof(float));
    if (item_floats)
        memset(reps->grad_items, 0, item_floats * sizeof(float));
    *batch = (ModelBatch){
        .n_examples = n,
        .items_per_example = plan->items_per_example,
        .user_width = worker->user_width,
        .item_width = worker->item_width,
        .users = reps->users,
        .items = reps->items,
        .labels = plan->labels,
        .weights = plan->weights,
        .grad_users = reps->grad_users,
        .grad_items = reps->grad_items,
    };
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
            /* Reads (evaluation, predictions) stay exact. */
            .bf16_values = create && worker->setup.pull_bf16,
            .n_keys = server->n_keys,
            .keys = server->keys,
        };
        wire_encode_pull_request(&request, &worker->encoded);
        time_shares_charge(TIME_WIRE);
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
        if (wire_decode_pull_response_into(&response, worker->received.data,
                                           worker->received.len, plan->params + server->first_float,
                                           server->n_floats, &err) != 0)
            fatal("protocol error: PullResponse from server rank %d: %s", source, err.message);
        time_shares_charge(TIME_WIRE);
        if (response.request_id != plan->request_id)
            fatal("protocol error: PullResponse from server rank %d answers request %u, "
                  "expected %u",
                  source, response.request_id, plan->request_id);
        if (response.n_values != server->n_floats)
            fatal("protocol error: PullResponse from server rank %d has %zu values for %zu keys "
                  "whose rows hold %zu",
                  source, response.n_values, server->n_keys, server->n_floats);
        if (response.stop_signal)
            stop_signal_raise(response.stop_signal); /* a server was told to stop */
        server->awaiting = false;
    }
    worker->stats.pull_wait_seconds += time_now_s() - wait_start;
}

/* Copies the plan's dense blocks into one vector for the model (batch->dense)
 * and zeroes its gradient. */
static void plan_gather_dense(Worker *worker, const BatchPlan *plan, ModelBatch *batch)
{
    if (worker->n_dense_blocks == 0)
        return;
    for (size_t b = 0; b < worker->n_dense_blocks; b++)
        memcpy(worker->dense + b * MODEL_DENSE_BLOCK,
               plan->params + plan->row_offset[plan->dense_slots[b]],
               MODEL_DENSE_BLOCK * sizeof(float));
    memset(worker->grad_dense, 0, worker->n_dense_blocks * MODEL_DENSE_BLOCK * sizeof(float));
    batch->dense = worker->dense;
    batch->grad_dense = worker->grad_dense;
}

/* plan_compute for a model that reads rows in place, when every bag is one
 * row: the model reads the pulled rows in plan->params and sums gradients
 * straight into plan->grads, with no copy either way. */
static double plan_compute_in_place(Worker *worker, BatchPlan *plan)
{
    size_t per = (size_t)plan->items_per_example, n_bags = 1 + per;
    for (size_t e = 0; e < plan->n_examples; e++) {
        const uint32_t *slots = plan->bag_slots + e * n_bags; /* one entry a bag */
        plan->user_offsets[e] = plan->row_offset[slots[0]];
        for (size_t j = 0; j < per; j++)
            plan->item_offsets[e * per + j] = plan->row_offset[slots[1 + j]];
    }
    memset(plan->grads, 0, plan->n_floats * sizeof(float));
    time_shares_charge(TIME_COPY);
    ModelBatch batch = {
        .n_examples = plan->n_examples,
        .items_per_example = plan->items_per_example,
        .user_width = worker->user_width,
        .item_width = worker->item_width,
        .users = plan->params,
        .items = plan->params,
        .user_offsets = plan->user_offsets,
        .item_offsets = plan->item_offsets,
        .labels = plan->labels,
        .weights = plan->weights,
        .grad_users = plan->grads,
        .grad_items = plan->grads,
    };
    double loss = worker->setup.model->batch_gradient(&worker->setup.params, &batch);
    time_shares_charge(TIME_MODEL);
    return loss;
}

/* Forward and backward pass over the plan's examples; gradients summed per
 * key into plan->grads. Returns the model's summed loss. */
static double plan_compute(Worker *worker, BatchPlan *plan)
{
    if (worker->setup.model->rows_in_place && plan_single_rows(plan) && worker->n_dense_blocks == 0)
        return plan_compute_in_place(worker, plan);
    ModelBatch batch;
    plan_gather(worker, plan, &batch);
    plan_gather_dense(worker, plan, &batch);
    time_shares_charge(TIME_COPY);
    double loss = worker->setup.model->batch_gradient(&worker->setup.params, &batch);
    time_shares_charge(TIME_MODEL);
    memset(plan->grads, 0, plan->n_floats * sizeof(float));
    for (size_t b = 0; b < worker->n_dense_blocks; b++) /* one row each: no sum needed */
        memcpy(plan->grads + plan->row_offset[plan->dense_slots[b]],
               worker->grad_dense + b * MODEL_DENSE_BLOCK, MODEL_DENSE_BLOCK * sizeof(float));
    size_t per = (size_t)plan->items_per_example, n_bags = 1 + per;
    float l2_features = worker->setup.params.l2_features;
    for (size_t e = 0; e < plan->n_examples; e++) {
        plan_scatter_bag(plan, e * n_bags, worker->user_width,
                         batch.grad_users + e * (size_t)worker->user_width, l2_features);
        for (size_t j = 0; j < per; j++)
            plan_scatter_bag(plan, e * n_bags + 1 + j, worker->item_width,
                             batch.grad_items + (e * per + j) * (size_t)worker->item_width,
                             l2_features);
    }
    time_shares_charge(TIME_COPY);
    return loss;
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
        time_shares_charge(TIME_WIRE);
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
    int n_tables = model_table_specs(setup->model, &setup->params, specs);
    for (int t = 0; t < n_tables; t++)
        worker->table_width[specs[t].table_id] = specs[t].width;
    worker->user_width = (int)worker->table_width[MODEL_TABLE_USER];
    worker->item_width = (int)worker->table_width[MODEL_TABLE_ITEM];
    worker->n_dense_blocks = model_dense_blocks(setup->model, &setup->params);
    size_t dense_floats = worker->n_dense_blocks * MODEL_DENSE_BLOCK;
    worker->dense = xcalloc(dense_floats ? dense_floats : 1, sizeof(float));
    worker->grad_dense = xcalloc(dense_floats ? dense_floats : 1, sizeof(float));
    assert(worker->user_width > 0 && worker->item_width > 0);
    assert(!setup->model->implicit || setup->params.negatives == 0 ||
           (setup->catalogue && setup->sampler && setup->positives));
    for (int p = 0; p < 2; p++)
        plan_init(&worker->plans[p], setup->layout->n_servers, worker->n_dense_blocks);
    plan_init(&worker->eval_plan, setup->layout->n_servers, worker->n_dense_blocks);
    worker->outbox = comm_outbox_create();
    worker->clock = setup->start_clock;
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
    free(worker->reps.users);
    free(worker->reps.items);
    free(worker->reps.grad_users);
    free(worker->reps.grad_items);
    free(worker->order);
    free(worker->dense);
    free(worker->grad_dense);
    free(worker);
}

size_t worker_batch_start(size_t n, uint64_t n_batches, uint64_t batch)
{
    /* floor(n * batch / n_batches) without overflowing n * batch. */
    uint64_t whole = n / n_batches, rest = n % n_batches;
    return (size_t)(whole * batch + rest * batch / n_batches);
}

/* Plans batch `batch` of the epoch (of n_batches over train, in the epoch's
 * order), its negatives drawn from the batch's own Rng. */
static void plan_build_batch(Worker *worker, BatchPlan *plan, const Ratings *train, int epoch,
                             uint64_t n_batches, uint64_t batch)
{
    Rng rng;
    batch_rng(&rng, worker->setup.seed, worker->setup.layout->role_rank, epoch, batch);
    plan_build(worker, plan, train, worker->order, worker_batch_start(train->n, n_batches, batch),
               worker_batch_start(train->n, n_batches, batch + 1), &rng);
}

/* min_clock of a training pull for the batch with global index g. */
static uint64_t pull_min_clock(const Worker *worker, uint64_t global_batch)
{
    uint64_t staleness = worker->setup.staleness;
    if (staleness == WORKER_NEVER_WAIT || staleness >= global_batch)
        return 0;
    return global_batch - staleness;
}

/* Called before batch `global`'s successor is planned: at a decision point
 * (the clock after this batch is a multiple of WORKER_VOTE_INTERVAL)
 * collects the vote started at the previous one and starts the next.
 * Returns the agreed pause bits (0: go on). */
static uint64_t vote_at(Worker *worker, uint64_t global)
{
    if ((global + 1) % WORKER_VOTE_INTERVAL != 0 || !worker->setup.pause_wanted)
        return 0;
    uint64_t agreed = worker->vote ? comm_workers_vote_finish(worker->vote) : 0;
    worker->vote = NULL;
    const WorkerSetup *setup = &worker->setup;
    if (agreed == 0)
        worker->vote = comm_workers_vote_start(setup->pause_wanted(setup->pause_context));
    return agreed;
}

void worker_train_epoch(Worker *worker, const Ratings *train, int epoch, uint64_t n_batches,
                        uint64_t first_batch, Progress *progress, EpochRun *run)
{
    assert(n_batches >= 1 && first_batch <= n_batches);
    memset(run, 0, sizeof *run);
    size_t n = train->n;
    if (n > worker->order_capacity) {
        worker->order_capacity = n;
        worker->order = xrealloc(worker->order, n * sizeof(size_t));
    }
    user_blocks_epoch_order(worker->setup.blocks, train->users, n, worker->setup.seed,
                            worker->setup.layout->role_rank, epoch, worker->order);
    /* Global batch index of batch b: first_global + b. */
    uint64_t first_global = worker->clock - first_batch;
    BatchPlan *current = &worker->plans[0];
    BatchPlan *next = &worker->plans[1];
    if (first_batch < n_batches) {
        plan_build_batch(worker, current, train, epoch, n_batches, first_batch);
        plan_send_pulls(worker, current, worker->clock, pull_min_clock(worker, worker->clock),
                        true);
    }
    for (uint64_t b = first_batch; b < n_batches; b++) {
        /* The next batch's plan is built while this batch's rows are on
         * their way, so its pull leaves as soon as they arrive: the servers
         * do not wait for the build between two pulls. */
        if (b + 1 < n_batches)
            plan_build_batch(worker, next, train, epoch, n_batches, b + 1);
        plan_receive_pulls(worker, current);
        /* A pause is decided before the next batch's pull is sent, so
         * nothing is in flight when the workers stop after this batch. */
        run->pause = vote_at(worker, first_global + b);
        time_shares_charge(TIME_OTHER);
        if (b + 1 < n_batches && !run->pause)
            plan_send_pulls(worker, next, first_global + b + 1,
                            pull_min_clock(worker, first_global + b + 1), true);
        run->loss += plan_compute(worker, current);
        plan_push(worker, current);
        run->batches++;
        if (progress)
            progress_update(progress, (double)(b + 1) / (double)n_batches);
        if (run->pause)
            return;
        BatchPlan *done = current;
        current = next;
        next = done;
    }
    if (worker->vote) /* the epoch's end is a decision point too */
        run->pause = comm_workers_vote_finish(worker->vote);
    worker->vote = NULL;
}

/* Pulls the plan's rows for reading at the worker's clock (never creating
 * rows: absent ones read as zeros), once every worker has pushed as many
 * batches as this one. */
static void plan_read(Worker *worker, BatchPlan *plan)
{
    plan_send_pulls(worker, plan, worker->clock, worker->clock, false);
    plan_receive_pulls(worker, plan);
}

void worker_representation_reader(void *worker, uint32_t table, const uint64_t *ids, size_t n,
                                  float *out)
{
    worker_read_representations(worker, table, ids, n, out);
}

void worker_evaluate_ratings(Worker *worker, const Ratings *test, ErrorStats *stats)
{
    const ModelOps *model = worker->setup.model;
    const ModelParams *params = &worker->setup.params;
    BatchPlan *plan = &worker->eval_plan;
    model_read_dense(model, params, worker_representation_reader, worker, worker->dense);
    const float *dense = worker->n_dense_blocks > 0 ? worker->dense : NULL;
    for (size_t first = 0; first < test->n; first += EVAL_CHUNK_EXAMPLES) {
        size_t last = first + EVAL_CHUNK_EXAMPLES < test->n ? first + EVAL_CHUNK_EXAMPLES : test->n;
        plan_build(worker, plan, test, NULL, first, last, NULL);
        plan_read(worker, plan);
        ModelBatch batch;
        plan_gather(worker, plan, &batch);
        for (size_t e = 0; e < batch.n_examples; e++) {
            float prediction = model_score_pair(
                model, params, dense, batch.users + e * (size_t)batch.user_width,
                batch.items + e * (size_t)batch.items_per_example * (size_t)batch.item_width);
            error_stats_add(stats, prediction, test->ratings[first + e]);
        }
    }
}

void worker_read_representations(Worker *worker, uint32_t table, const uint64_t *ids, size_t n,
                                 float *out)
{
    int width = (int)worker->table_width[table];
    assert(width > 0);
    BatchPlan *plan = &worker->eval_plan;
    for (size_t first = 0; first < n; first += EVAL_CHUNK_EXAMPLES) {
        size_t count = n - first < EVAL_CHUNK_EXAMPLES ? n - first : EVAL_CHUNK_EXAMPLES;
        plan_build_rows(worker, plan, table, ids + first, count);
        plan_read(worker, plan);
        for (size_t k = 0; k < count; k++)
            plan_gather_bag(plan, k, width, out + (first + k) * (size_t)width);
    }
}

/* Sends a Control to every server. */
static void send_control_to_servers(Worker *worker, const WireControl *message)
{
    for (int s = 0; s < worker->setup.layout->n_servers; s++) {
        wire_encode_control(message, &worker->encoded);
        comm_outbox_send(worker->outbox, comm_server_world_rank(worker->setup.layout, s),
                         COMM_TAG_CONTROL, &worker->encoded);
    }
}

/* Sends `request` to every server and waits for each to answer `answer`
 * with the same value and checkpoint number (the snapshot, checkpoint and
 * pair-merge requests: see server.h). */
static void worker_ask_servers(Worker *worker, WireControl request, WireControlKind answer)
{
    send_control_to_servers(worker, &request);
    for (int s = 0; s < worker->setup.layout->n_servers; s++) {
        int source = comm_server_world_rank(worker->setup.layout, s);
        comm_recv(&worker->received, source, COMM_TAG_CONTROL, NULL, NULL);
        Error err;
        WireControl got;
        if (wire_decode_control(&got, worker->received.data, worker->received.len, &err) != 0)
            fatal("protocol error: Control from server rank %d: %s", source, err.message);
        if (got.kind != answer || got.value != request.value ||
            got.checkpoint != request.checkpoint)
            fatal("protocol error: server rank %d answered Control kind %d with kind %d for "
                  "%llu",
                  source, (int)request.kind, (int)got.kind, (unsigned long long)got.value);
    }
}

void worker_snapshot(Worker *worker)
{
    worker_ask_servers(worker, (WireControl){.kind = WIRE_CONTROL_SNAPSHOT, .value = worker->clock},
                       WIRE_CONTROL_SNAPSHOT_SAVED);
}

void worker_restore_snapshot(Worker *worker)
{
    worker_ask_servers(worker, (WireControl){.kind = WIRE_CONTROL_RESTORE, .value = worker->clock},
                       WIRE_CONTROL_RESTORED);
}

void worker_checkpoint(Worker *worker, uint64_t number)
{
    WireControl request = {
        .kind = WIRE_CONTROL_CHECKPOINT, .value = worker->clock, .checkpoint = number};
    worker_ask_servers(worker, request, WIRE_CONTROL_CHECKPOINT_SAVED);
}

uint64_t worker_clock(const Worker *worker) { return worker->clock; }

void worker_send_pairs(Worker *worker, PairTable *pairs)
{
    int n_servers = worker->setup.layout->n_servers;
    size_t n = pair_table_count(pairs);
    int width = pair_table_width(pairs);
    /* Group the pairs by owning server: counting pass, then placement. */
    size_t *first = xcalloc((size_t)n_servers + 1, sizeof(size_t));
    uint32_t *owner = xmalloc((n ? n : 1) * sizeof(uint32_t));
    for (size_t p = 0; p < n; p++) {
        owner[p] = shardmap_server_of(worker->setup.map, pair_table_row(pairs, p));
        first[owner[p] + 1]++;
    }
    for (int s = 0; s < n_servers; s++)
        first[s + 1] += first[s];
    size_t *next = xmalloc((size_t)n_servers * sizeof(size_t));
    memcpy(next, first, (size_t)n_servers * sizeof(size_t));
    uint64_t *rows = xmalloc((n ? n : 1) * sizeof(uint64_t));
    uint64_t *columns = xmalloc((n ? n : 1) * sizeof(uint64_t));
    float *values = xmalloc((n ? n : 1) * (size_t)width * sizeof(float));
    for (size_t p = 0; p < n; p++) {
        size_t at = next[owner[p]]++;
        rows[at] = pair_table_row(pairs, p);
        columns[at] = pair_table_column(pairs, p);
        const double *sums = pair_table_values(pairs, p);
        for (int v = 0; v < width; v++)
            values[at * (size_t)width + (size_t)v] = (float)sums[v];
    }
    /* Each message carries the norms of the distinct columns it names. */
    KeyIndex *named = keyindex_create(1024);
    float *norms = xmalloc((2 * n + 1) * sizeof(float));
    for (int s = 0; s < n_servers; s++) {
        if (first[s + 1] == first[s])
            continue;
        keyindex_clear(named);
        for (size_t p = first[s]; p < first[s + 1]; p++) {
            uint64_t ids[2] = {key_id(rows[p]), columns[p]};
            for (int k = 0; k < 2; k++) {
                bool inserted;
                size_t at = keyindex_insert(named, ids[k], &inserted);
                if (inserted) {
                    double norm;
                    bool known = pair_table_norm(pairs, ids[k], &norm);
                    assert(known);
                    (void)known;
                    norms[at] = (float)norm;
                }
            }
        }
        WirePairCounts message = {
            .width = (uint32_t)width,
            .n_pairs = first[s + 1] - first[s],
            .rows = rows + first[s],
            .columns = columns + first[s],
            .n_values = (first[s + 1] - first[s]) * (size_t)width,
            .values = values + first[s] * (size_t)width,
            .n_norms = keyindex_size(named),
            .norm_columns = (uint64_t *)keyindex_keys(named),
            .norms = norms,
        };
        wire_encode_pair_counts(&message, &worker->encoded);
        comm_outbox_send(worker->outbox, comm_server_world_rank(worker->setup.layout, s),
                         COMM_TAG_PAIRS, &worker->encoded);
    }
    keyindex_destroy(named);
    free(norms);
    free(values);
    free(columns);
    free(rows);
    free(next);
    free(owner);
    free(first);
    pair_table_clear(pairs);
}

void worker_merge_pairs(Worker *worker, uint64_t block)
{
    worker_ask_servers(worker, (WireControl){.kind = WIRE_CONTROL_PAIRS_DONE, .value = block},
                       WIRE_CONTROL_PAIRS_MERGED);
}

void worker_finish(Worker *worker)
{
    send_control_to_servers(worker,
                            &(WireControl){.kind = WIRE_CONTROL_WORKER_DONE, .value = worker->clock});
    comm_outbox_flush(worker->outbox);
}

const WorkerStats *worker_stats(const Worker *worker) { return &worker->stats; }

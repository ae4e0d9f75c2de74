/* plain_loop.c — the yardstick of scripts/bench: psrec's `mf` training steps
 * in one process on one core, with nothing a parameter server adds.
 *
 * Same model, loss, L2, initialisation scale and minibatch lazy-Adam / SGD
 * steps as `psrec train --model mf` (src/models/mf.c, src/ps/optimizer.c,
 * src/ps/store.c), but on dense arrays indexed by user and item (ids are
 * remapped to 0..n-1 once, while loading): no MPI, no messages, no key
 * hashing. A psrec run that is not faster than this loop gains nothing from
 * its parameter servers. It draws its own shuffles and initial factors, so
 * it agrees with psrec statistically (the train MSE per epoch tracks
 * psrec's); tests/mpi/reference_mf.c is the bit-for-bit check.
 *
 * --count-rows reports instead how many distinct rows a batch touches (the
 * traffic a parameter server cannot avoid), for scripts/bench's
 * bytes-per-example ratio. Standalone on purpose: it links nothing of psrec.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- failures: this is a command-line tool, so a failure prints and exits */

static void plain_fail(const char *message, const char *detail)
{
    fprintf(stderr, "plain_loop: %s%s%s\n", message, detail ? ": " : "", detail ? detail : "");
    exit(1);
}

static void *plain_malloc(size_t bytes)
{
    void *p = malloc(bytes ? bytes : 1);
    if (!p)
        plain_fail("out of memory", NULL);
    return p;
}

static void *plain_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        plain_fail("out of memory", NULL);
    return p;
}

static double time_now_s(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + 1e-9 * (double)now.tv_nsec;
}

/* ---- configuration: one struct, defaults and help from one table */

typedef struct {
    char train_path[4096];
    int dim;
    int batch_size;
    int epochs;
    char optimizer[8];   /* adam | sgd */
    float learning_rate;
    float l2;            /* on factors */
    float l2_bias;       /* on biases */
    float init_std;
    float beta1, beta2, epsilon;
    uint64_t seed;
    bool count_rows;     /* report distinct rows per batch instead of training */
    int workers;         /* --count-rows: the data split over this many workers */
} PlainConfig;

typedef enum { PLAIN_INT, PLAIN_FLOAT, PLAIN_UINT64, PLAIN_STRING, PLAIN_BOOL } PlainKind;

typedef struct {
    const char *name;
    PlainKind kind;
    size_t offset;
    size_t size;              /* PLAIN_STRING: the field's bytes */
    const char *default_text; /* psrec train's defaults, so a bare run compares like with like */
    const char *help;
} PlainOption;

#define PLAIN_FIELD(field) offsetof(PlainConfig, field), sizeof(((PlainConfig *)0)->field)

static const PlainOption PLAIN_OPTIONS[] = {
    {"train", PLAIN_STRING, PLAIN_FIELD(train_path), "",
     "CSV with a header: user_id,item_id,rating[,timestamp] (what psrec train reads)"},
    {"dim", PLAIN_INT, PLAIN_FIELD(dim), "32", "latent factors per user and item"},
    {"batch-size", PLAIN_INT, PLAIN_FIELD(batch_size), "1024", "examples per minibatch"},
    {"epochs", PLAIN_INT, PLAIN_FIELD(epochs), "20", "passes over the data"},
    {"optimizer", PLAIN_STRING, PLAIN_FIELD(optimizer), "adam", "adam (lazy, per-row steps) or sgd"},
    {"learning-rate", PLAIN_FLOAT, PLAIN_FIELD(learning_rate), "0.005", "step size"},
    {"l2", PLAIN_FLOAT, PLAIN_FIELD(l2), "0.05", "L2 penalty on factors"},
    {"l2-bias", PLAIN_FLOAT, PLAIN_FIELD(l2_bias), "0.01", "L2 penalty on biases"},
    {"init-std", PLAIN_FLOAT, PLAIN_FIELD(init_std), "0.1", "standard deviation of the initial factors"},
    {"beta1", PLAIN_FLOAT, PLAIN_FIELD(beta1), "0.9", "adam: decay of the gradient mean"},
    {"beta2", PLAIN_FLOAT, PLAIN_FIELD(beta2), "0.999", "adam: decay of the squared-gradient mean"},
    {"epsilon", PLAIN_FLOAT, PLAIN_FIELD(epsilon), "1e-8", "adam: added to the denominator"},
    {"seed", PLAIN_UINT64, PLAIN_FIELD(seed), "42", "seed of initialisation and shuffling"},
    {"count-rows", PLAIN_BOOL, PLAIN_FIELD(count_rows), "false",
     "report the distinct users and items per batch and the minimum bytes per example, "
     "instead of training"},
    {"workers", PLAIN_INT, PLAIN_FIELD(workers), "1",
     "--count-rows: the layout's workers (each user's examples on one worker, as in psrec)"},
};
#define PLAIN_OPTION_COUNT (sizeof PLAIN_OPTIONS / sizeof PLAIN_OPTIONS[0])

/* Sets one field from text. Returns 0, or -1 when the text is not a value
 * of the option's kind. */
static int plain_option_set(PlainConfig *config, const PlainOption *option, const char *text)
{
    char *field = (char *)config + option->offset;
    char *end = NULL;
    errno = 0;
    switch (option->kind) {
    case PLAIN_INT: {
        long value = strtol(text, &end, 10);
        if (*text == '\0' || *end != '\0' || errno || value < 1 || value > 100000000)
            return -1;
        *(int *)field = (int)value;
        return 0;
    }
    case PLAIN_FLOAT: {
        float value = strtof(text, &end);
        if (*text == '\0' || *end != '\0' || errno || !(value >= 0.0f))
            return -1;
        *(float *)field = value;
        return 0;
    }
    case PLAIN_UINT64: {
        unsigned long long value = strtoull(text, &end, 10);
        if (*text == '\0' || *end != '\0' || errno)
            return -1;
        *(uint64_t *)field = value;
        return 0;
    }
    case PLAIN_STRING:
        if (strlen(text) >= option->size)
            return -1;
        strcpy(field, text);
        return 0;
    case PLAIN_BOOL:
        if (strcmp(text, "true") != 0 && strcmp(text, "false") != 0)
            return -1;
        *(bool *)field = strcmp(text, "true") == 0;
        return 0;
    }
    return -1;
}

static void plain_config_default(PlainConfig *config)
{
    memset(config, 0, sizeof *config);
    for (size_t i = 0; i < PLAIN_OPTION_COUNT; i++)
        if (plain_option_set(config, &PLAIN_OPTIONS[i], PLAIN_OPTIONS[i].default_text) != 0)
            plain_fail("bad default of option", PLAIN_OPTIONS[i].name);
}

static void plain_usage(FILE *out)
{
    fprintf(out, "usage: plain_loop --train FILE [options]\n"
                 "psrec's mf training steps in one process on one core (see scripts/bench).\n"
                 "Prints examples_per_s=... train_seconds=... final_mse=...\n\n");
    for (size_t i = 0; i < PLAIN_OPTION_COUNT; i++)
        fprintf(out, "  --%-14s %s (default %s)\n", PLAIN_OPTIONS[i].name, PLAIN_OPTIONS[i].help,
                PLAIN_OPTIONS[i].default_text[0] ? PLAIN_OPTIONS[i].default_text : "none");
}

/* Fills config from the defaults and the command line (--name value, or
 * --name for a boolean). Exits with a message on a bad flag or value. */
static void plain_config_parse(PlainConfig *config, int argc, char **argv)
{
    plain_config_default(config);
    for (int a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--help") == 0) {
            plain_usage(stdout);
            exit(0);
        }
        const PlainOption *option = NULL;
        for (size_t i = 0; i < PLAIN_OPTION_COUNT; i++)
            if (strncmp(argv[a], "--", 2) == 0 && strcmp(argv[a] + 2, PLAIN_OPTIONS[i].name) == 0)
                option = &PLAIN_OPTIONS[i];
        if (!option) {
            plain_usage(stderr);
            plain_fail("unknown option", argv[a]);
        }
        const char *value = "true";
        if (option->kind != PLAIN_BOOL || (a + 1 < argc && strncmp(argv[a + 1], "--", 2) != 0)) {
            if (a + 1 >= argc)
                plain_fail("this option needs a value", argv[a]);
            value = argv[++a];
        }
        if (plain_option_set(config, option, value) != 0) {
            fprintf(stderr, "plain_loop: --%s: cannot use \"%s\"\n", option->name, value);
            exit(1);
        }
    }
    if (!config->train_path[0])
        plain_fail("--train FILE is required", NULL);
    if (strcmp(config->optimizer, "adam") != 0 && strcmp(config->optimizer, "sgd") != 0)
        plain_fail("--optimizer must be adam or sgd, found", config->optimizer);
    if (!(config->learning_rate > 0.0f))
        plain_fail("--learning-rate must be above 0", NULL);
    if (!(config->beta1 < 1.0f) || !(config->beta2 < 1.0f))
        plain_fail("--beta1 and --beta2 must be below 1", NULL);
}

/* ---- random numbers: splitmix64 for shuffles and initial factors */

typedef struct {
    uint64_t state;
} PlainRng;

static uint64_t mix_u64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rng_next(PlainRng *rng)
{
    rng->state += 0x9e3779b97f4a7c15ULL;
    return mix_u64(rng->state);
}

/* Uniform in [0, bound); the modulo bias is below 2^-40 for the bounds here. */
static size_t rng_below(PlainRng *rng, size_t bound) { return (size_t)(rng_next(rng) % bound); }

static double rng_uniform_open(PlainRng *rng) /* (0, 1) */
{
    return ((double)(rng_next(rng) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

static double rng_normal(PlainRng *rng) /* Box–Muller, one of the pair */
{
    double u1 = rng_uniform_open(rng), u2 = rng_uniform_open(rng);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* ---- loading: ids remapped to dense numbers once, here */

/* Open-addressing map from a file's id to its dense number 0..n-1. Used
 * only while loading: the training loop never hashes. */
typedef struct {
    size_t capacity;  /* a power of two */
    size_t n;
    uint64_t *ids;    /* (capacity,) UINT64_MAX: empty (psrec's ids are below 2^56) */
    uint32_t *numbers;
} IdMap;

static void idmap_init(IdMap *map)
{
    map->capacity = 1024;
    map->n = 0;
    map->ids = plain_malloc(map->capacity * sizeof *map->ids);
    memset(map->ids, 0xff, map->capacity * sizeof *map->ids);
    map->numbers = plain_malloc(map->capacity * sizeof *map->numbers);
}

static void idmap_free(IdMap *map)
{
    free(map->ids);
    free(map->numbers);
}

static uint32_t idmap_number(IdMap *map, uint64_t id);

static void idmap_grow(IdMap *map)
{
    IdMap bigger = {.capacity = 2 * map->capacity};
    bigger.ids = plain_malloc(bigger.capacity * sizeof *bigger.ids);
    memset(bigger.ids, 0xff, bigger.capacity * sizeof *bigger.ids);
    bigger.numbers = plain_malloc(bigger.capacity * sizeof *bigger.numbers);
    for (size_t i = 0; i < map->capacity; i++)
        if (map->ids[i] != UINT64_MAX) {
            size_t at = mix_u64(map->ids[i]) & (bigger.capacity - 1);
            while (bigger.ids[at] != UINT64_MAX)
                at = (at + 1) & (bigger.capacity - 1);
            bigger.ids[at] = map->ids[i];
            bigger.numbers[at] = map->numbers[i];
        }
    bigger.n = map->n;
    idmap_free(map);
    *map = bigger;
}

/* The dense number of id, giving it the next one when it is new. */
static uint32_t idmap_number(IdMap *map, uint64_t id)
{
    if (2 * (map->n + 1) > map->capacity)
        idmap_grow(map);
    size_t at = mix_u64(id) & (map->capacity - 1);
    while (map->ids[at] != UINT64_MAX) {
        if (map->ids[at] == id)
            return map->numbers[at];
        at = (at + 1) & (map->capacity - 1);
    }
    map->ids[at] = id;
    map->numbers[at] = (uint32_t)map->n;
    return (uint32_t)map->n++;
}

typedef struct {
    size_t n;            /* examples */
    size_t n_users, n_items;
    uint32_t *users;     /* (n,) dense user numbers */
    uint32_t *items;     /* (n,) dense item numbers */
    float *ratings;      /* (n,) */
    uint64_t *user_ids;  /* (n_users,) the file's id of each user number */
    double mean_rating;  /* μ: fixed, as in psrec */
} PlainData;

/* Reads path's ratings. Exits naming FILE:LINE on a line that is not
 * user_id,item_id,rating[,timestamp] with integer ids. */
static void plain_data_load(PlainData *data, const char *path)
{
    FILE *file = fopen(path, "r");
    if (!file)
        plain_fail(strerror(errno), path);
    IdMap user_map, item_map;
    idmap_init(&user_map);
    idmap_init(&item_map);
    size_t capacity = 1 << 20;
    memset(data, 0, sizeof *data);
    data->users = plain_malloc(capacity * sizeof *data->users);
    data->items = plain_malloc(capacity * sizeof *data->items);
    data->ratings = plain_malloc(capacity * sizeof *data->ratings);
    char *line = NULL;
    size_t line_capacity = 0;
    size_t line_number = 0;
    double sum = 0.0;
    while (getline(&line, &line_capacity, file) != -1) {
        line_number++;
        line[strcspn(line, "\r\n")] = '\0';
        if (line_number == 1) { /* psrec's default columns, in this order */
            if (strncmp(line, "user_id,item_id,rating", 22) != 0) {
                fprintf(stderr, "plain_loop: %s:1: expected the header "
                                "user_id,item_id,rating[,timestamp]\n", path);
                exit(1);
            }
            continue;
        }
        if (line[0] == '\0')
            continue;
        char *end;
        errno = 0;
        unsigned long long user = strtoull(line, &end, 10);
        bool ok = end != line && *end == ',' && errno == 0;
        char *item_text = end + 1;
        unsigned long long item = ok ? strtoull(item_text, &end, 10) : 0;
        ok = ok && end != item_text && *end == ',' && errno == 0;
        char *rating_text = end + 1;
        double rating = ok ? strtod(rating_text, &end) : 0.0;
        ok = ok && end != rating_text && (*end == ',' || *end == '\0') && isfinite(rating);
        if (!ok) {
            fprintf(stderr, "plain_loop: %s:%zu: expected user_id,item_id,rating[,timestamp] "
                            "with integer ids, found \"%.60s\"\n", path, line_number, line);
            exit(1);
        }
        if (data->n == capacity) {
            capacity *= 2;
            data->users = realloc(data->users, capacity * sizeof *data->users);
            data->items = realloc(data->items, capacity * sizeof *data->items);
            data->ratings = realloc(data->ratings, capacity * sizeof *data->ratings);
            if (!data->users || !data->items || !data->ratings)
                plain_fail("out of memory", NULL);
        }
        data->users[data->n] = idmap_number(&user_map, user);
        data->items[data->n] = idmap_number(&item_map, item);
        data->ratings[data->n] = (float)rating;
        sum += (float)rating;
        data->n++;
    }
    free(line);
    if (ferror(file))
        plain_fail("cannot read", path);
    fclose(file);
    if (data->n == 0)
        plain_fail("no ratings in", path);
    data->n_users = user_map.n;
    data->n_items = item_map.n;
    data->mean_rating = sum / (double)data->n;
    /* Keep each user's file id: --count-rows splits users over workers by it. */
    data->user_ids = plain_malloc(data->n_users * sizeof *data->user_ids);
    for (size_t i = 0; i < user_map.capacity; i++)
        if (user_map.ids[i] != UINT64_MAX)
            data->user_ids[user_map.numbers[i]] = user_map.ids[i];
    idmap_free(&user_map);
    idmap_free(&item_map);
}

static void plain_data_free(PlainData *data)
{
    free(data->users);
    free(data->items);
    free(data->ratings);
    free(data->user_ids);
}

/* ---- the model's tables: dense, one slab each */

/* A table of n_rows rows laid out as psrec's store lays them out: a row is
 * its width weights followed by its optimizer state (Adam: m then v), with
 * a step count per row for lazy Adam's bias correction. The batch's summed
 * gradients live in a small array of slots, one per distinct row the batch
 * touched, so they stay in cache whatever the table's size. */
typedef struct {
    size_t n_rows;
    size_t width;         /* weights per row: dim + 1 (bias first) */
    size_t stride;        /* floats per row in the slab */
    float *slab;          /* (n_rows, stride) */
    uint32_t *steps;      /* (n_rows,) updates of each row */
    int32_t *slot_of_row; /* (n_rows,) its slot in this batch, or -1 */
    uint32_t *touched;    /* (n_touched,) the row of each slot */
    size_t n_touched;
    float *grads;         /* (batch_size, width) summed gradient of each slot */
} DenseTable;

static void table_init(DenseTable *table, size_t n_rows, const PlainConfig *config,
                       bool adam, PlainRng *rng)
{
    table->n_rows = n_rows;
    table->width = (size_t)config->dim + 1;
    table->stride = table->width * (adam ? 3 : 1);
    table->slab = plain_calloc(n_rows * table->stride, sizeof *table->slab);
    table->steps = plain_calloc(n_rows, sizeof *table->steps);
    table->slot_of_row = plain_malloc(n_rows * sizeof *table->slot_of_row);
    memset(table->slot_of_row, 0xff, n_rows * sizeof *table->slot_of_row);
    table->touched = plain_malloc((size_t)config->batch_size * sizeof *table->touched);
    table->n_touched = 0;
    table->grads = plain_malloc((size_t)config->batch_size * table->width * sizeof *table->grads);
    /* psrec's initialisation: the bias 0, factors ~ N(0, init_std²), Adam's
     * state 0 (calloc). Done here, once: a dense trainer has no first pull. */
    for (size_t r = 0; r < n_rows; r++) {
        float *weights = table->slab + r * table->stride;
        for (size_t f = 1; f < table->width; f++)
            weights[f] = (float)((double)config->init_std * rng_normal(rng));
    }
}

static void table_free(DenseTable *table)
{
    free(table->slab);
    free(table->steps);
    free(table->slot_of_row);
    free(table->touched);
    free(table->grads);
}

/* The gradient slot of row in this batch, zeroed when the row is new to it. */
static float *table_grad_of(DenseTable *table, uint32_t row)
{
    int32_t slot = table->slot_of_row[row];
    if (slot < 0) {
        slot = (int32_t)table->n_touched++;
        table->slot_of_row[row] = slot;
        table->touched[slot] = row;
        memset(table->grads + (size_t)slot * table->width, 0, table->width * sizeof(float));
    }
    return table->grads + (size_t)slot * table->width;
}

/* Lazy Adam on one row, as src/ps/optimizer.c computes it: the row's own
 * step t, the corrections folded into the step size, float state. */
static void adam_step(const PlainConfig *config, float *restrict weights, uint32_t t,
                      const float *restrict grad, size_t width)
{
    float *restrict m = weights + width;
    float *restrict v = weights + 2 * width;
    const float beta1 = config->beta1, beta2 = config->beta2, eps = config->epsilon;
    double bias1 = 1.0 - pow((double)beta1, (double)t);
    double bias2 = 1.0 - pow((double)beta2, (double)t);
    const float step_size = (float)((double)config->learning_rate / bias1);
    const float inv_bias2 = (float)(1.0 / bias2);
    for (size_t i = 0; i < width; i++) {
        float g = grad[i];
        m[i] = beta1 * m[i] + (1.0f - beta1) * g;
        v[i] = beta2 * v[i] + (1.0f - beta2) * g * g;
        weights[i] -= step_size * m[i] / (sqrtf(v[i] * inv_bias2) + eps);
    }
}

/* One optimizer step per row the batch touched, with its summed gradient;
 * then the slots are free for the next batch. */
static void table_apply_batch(DenseTable *table, const PlainConfig *config, bool adam)
{
    const float lr = config->learning_rate;
    for (size_t s = 0; s < table->n_touched; s++) {
        uint32_t row = table->touched[s];
        float *weights = table->slab + (size_t)row * table->stride;
        const float *grad = table->grads + s * table->width;
        uint32_t t = ++table->steps[row];
        if (adam) {
            adam_step(config, weights, t, grad, table->width);
        } else {
            for (size_t i = 0; i < table->width; i++)
                weights[i] -= lr * grad[i];
        }
        table->slot_of_row[row] = -1;
    }
    table->n_touched = 0;
}

/* ---- training */

static void shuffle(size_t *order, size_t n, PlainRng *rng)
{
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    for (size_t i = n; i > 1; i--) { /* Fisher–Yates */
        size_t j = rng_below(rng, i);
        size_t tmp = order[i - 1];
        order[i - 1] = order[j];
        order[j] = tmp;
    }
}

/* psrec's batch boundaries: n examples in n_batches near-equal slices. */
static size_t batch_start(size_t n, size_t n_batches, size_t batch)
{
    size_t whole = n / n_batches, rest = n % n_batches;
    return whole * batch + rest * batch / n_batches;
}

/* Gradients of examples order[first..last) at the batch's starting point,
 * summed per row: mf.c's loss ½(r̂ − r)² + ½λ|p|² + ½λ|q|² + ½λ_b(b_u² + b_i²)
 * per example (the L2 terms once per occurrence, as there). Returns the
 * batch's summed squared error. */
static double batch_gradient(const PlainConfig *config, const PlainData *data,
                             const size_t *order, size_t first, size_t last,
                             DenseTable *users, DenseTable *items)
{
    const size_t dim = (size_t)config->dim;
    const float l2 = config->l2, l2_bias = config->l2_bias;
    double squared_error = 0.0;
    for (size_t p = first; p < last; p++) {
        size_t example = order[p];
        uint32_t u = data->users[example], i = data->items[example];
        const float *user = users->slab + (size_t)u * users->stride;
        const float *item = items->slab + (size_t)i * items->stride;
        float *grad_user = table_grad_of(users, u);
        float *grad_item = table_grad_of(items, i);
        double dot = 0.0;
        for (size_t f = 1; f <= dim; f++)
            dot += (double)user[f] * (double)item[f];
        double error = data->mean_rating + (double)user[0] + (double)item[0] + dot -
                       (double)data->ratings[example];
        float e = (float)error;
        grad_user[0] += e + l2_bias * user[0];
        grad_item[0] += e + l2_bias * item[0];
        for (size_t f = 1; f <= dim; f++) {
            grad_user[f] += e * item[f] + l2 * user[f];
            grad_item[f] += e * user[f] + l2 * item[f];
        }
        squared_error += error * error;
    }
    return squared_error;
}

static int plain_train(const PlainConfig *config, const PlainData *data, double load_seconds)
{
    bool adam = strcmp(config->optimizer, "adam") == 0;
    PlainRng rng = {.state = mix_u64(config->seed)};
    DenseTable users, items;
    table_init(&users, data->n_users, config, adam, &rng);
    table_init(&items, data->n_items, config, adam, &rng);
    size_t *order = plain_malloc(data->n * sizeof *order);
    size_t n_batches = (data->n + (size_t)config->batch_size - 1) / (size_t)config->batch_size;
    double train_seconds = 0.0, mse = 0.0;
    for (int epoch = 0; epoch < config->epochs; epoch++) {
        double start = time_now_s();
        shuffle(order, data->n, &rng);
        double squared_error = 0.0;
        for (size_t b = 0; b < n_batches; b++) {
            squared_error += batch_gradient(config, data, order, batch_start(data->n, n_batches, b),
                                            batch_start(data->n, n_batches, b + 1), &users, &items);
            table_apply_batch(&users, config, adam);
            table_apply_batch(&items, config, adam);
        }
        double seconds = time_now_s() - start;
        train_seconds += seconds;
        mse = squared_error / (double)data->n;
        /* Per epoch on stderr: stdout stays the one line scripts read. */
        fprintf(stderr, "epoch=%d train_mse=%.6f seconds=%.3f\n", epoch + 1, mse, seconds);
        if (!isfinite(mse))
            plain_fail("the loss is not finite: lower --learning-rate", NULL);
    }
    double examples = (double)data->n * config->epochs;
    printf("examples_per_s=%.0f train_seconds=%.3f final_mse=%.6f load_seconds=%.3f examples=%zu "
           "users=%zu items=%zu optimizer=%s dim=%d batch_size=%d epochs=%d\n",
           examples / train_seconds, train_seconds, mse, load_seconds, data->n, data->n_users,
           data->n_items, config->optimizer, config->dim, config->batch_size, config->epochs);
    free(order);
    table_free(&users);
    table_free(&items);
    return 0;
}

/* ---- --count-rows: the traffic a parameter server cannot avoid */

/* The worker that holds a user's examples when there are n_workers: users
 * are spread by a mix of their file id, as psrec's exchange spreads them
 * (not the same mix, the same statistics). */
static int user_worker(uint64_t user_id, int n_workers)
{
    return (int)(mix_u64(user_id ^ 0x75736572ULL) % (uint64_t)n_workers);
}

/* Expected distinct rows in a batch of b examples drawn without
 * replacement from a worker's n examples, where row r occurs count[r]
 * times among them: Σ_r 1 − Π_{j<b} (1 − count[r]/(n − j)). That is the
 * chance that a uniformly shuffled epoch's slice of b misses none of the
 * row's occurrences, so it does not depend on the shuffle drawn. Rows with
 * the same count share the product, computed once. */
static double expected_distinct_rows(const uint32_t *count, size_t n_rows, size_t n, size_t b)
{
    if (b == 0)
        return 0.0;
    uint32_t max_count = 0;
    for (size_t r = 0; r < n_rows; r++)
        max_count = count[r] > max_count ? count[r] : max_count;
    size_t *rows_with = plain_calloc((size_t)max_count + 1, sizeof *rows_with);
    for (size_t r = 0; r < n_rows; r++)
        rows_with[count[r]]++;
    double expected = 0.0;
    for (uint32_t c = 1; c <= max_count; c++) {
        if (rows_with[c] == 0)
            continue;
        double log_missed = 0.0; /* log P(none of c occurrences in the batch) */
        if ((size_t)c > n - b) {
            log_missed = -INFINITY; /* too many to miss */
        } else {
            for (size_t j = 0; j < b; j++)
                log_missed += log1p(-(double)c / (double)(n - j));
        }
        expected += (double)rows_with[c] * (1.0 - exp(log_missed));
    }
    free(rows_with);
    return expected;
}

/* Distinct rows per batch actually seen in one shuffled epoch of a
 * worker's examples (a check on the expectation). seen is (n_rows,) and
 * holds batch stamps. */
static size_t sampled_distinct_rows(const uint32_t *rows, const size_t *order, size_t first,
                                    size_t last, uint64_t stamp, uint64_t *seen)
{
    size_t distinct = 0;
    for (size_t p = first; p < last; p++) {
        uint32_t r = rows[order[p]];
        if (seen[r] != stamp) {
            seen[r] = stamp;
            distinct++;
        }
    }
    return distinct;
}

/* Prints the distinct users and items per batch, expected and sampled,
 * over an epoch of the layout's workers, and from them the minimum
 * training traffic per example: each distinct row's width floats pulled
 * and its gradient pushed (4 bytes each way), plus 8 bytes for its key. */
static int plain_count_rows(const PlainConfig *config, const PlainData *data)
{
    int n_workers = config->workers;
    size_t n = data->n, batch = (size_t)config->batch_size;
    /* Each worker's examples (in file order) and its row counts. */
    int *worker_of_user = plain_malloc(data->n_users * sizeof *worker_of_user);
    for (size_t u = 0; u < data->n_users; u++)
        worker_of_user[u] = user_worker(data->user_ids[u], n_workers);
    size_t *examples_of = plain_calloc((size_t)n_workers, sizeof *examples_of);
    for (size_t e = 0; e < n; e++)
        examples_of[worker_of_user[data->users[e]]]++;
    /* psrec: every worker runs as many batches as the largest needs. */
    size_t n_batches = 1;
    for (int w = 0; w < n_workers; w++) {
        size_t needed = (examples_of[w] + batch - 1) / batch;
        n_batches = needed > n_batches ? needed : n_batches;
    }
    uint32_t *user_count = plain_malloc(data->n_users * sizeof *user_count);
    uint32_t *item_count = plain_malloc(data->n_items * sizeof *item_count);
    size_t *examples = plain_malloc(n * sizeof *examples);
    size_t *order = plain_malloc(n * sizeof *order);
    uint64_t *user_seen = plain_calloc(data->n_users, sizeof *user_seen);
    uint64_t *item_seen = plain_calloc(data->n_items, sizeof *item_seen);
    PlainRng rng = {.state = mix_u64(config->seed)};
    double expected_users = 0.0, expected_items = 0.0; /* per epoch, all workers */
    size_t sampled_users = 0, sampled_items = 0;
    uint64_t stamp = 0;
    for (int w = 0; w < n_workers; w++) {
        size_t n_w = 0;
        memset(user_count, 0, data->n_users * sizeof *user_count);
        memset(item_count, 0, data->n_items * sizeof *item_count);
        for (size_t e = 0; e < n; e++)
            if (worker_of_user[data->users[e]] == w) {
                examples[n_w++] = e;
                user_count[data->users[e]]++;
                item_count[data->items[e]]++;
            }
        /* Batches of n_w / n_batches: q or q + 1 examples. */
        size_t q = n_w / n_batches, larger = n_w - q * n_batches;
        expected_users += (double)(n_batches - larger) *
                              expected_distinct_rows(user_count, data->n_users, n_w, q) +
                          (double)larger *
                              expected_distinct_rows(user_count, data->n_users, n_w, q + 1);
        expected_items += (double)(n_batches - larger) *
                              expected_distinct_rows(item_count, data->n_items, n_w, q) +
                          (double)larger *
                              expected_distinct_rows(item_count, data->n_items, n_w, q + 1);
        shuffle(order, n_w, &rng);
        for (size_t p = 0; p < n_w; p++)
            order[p] = examples[order[p]];
        for (size_t b = 0; b < n_batches; b++) {
            size_t first = batch_start(n_w, n_batches, b), last = batch_start(n_w, n_batches, b + 1);
            stamp++;
            sampled_users += sampled_distinct_rows(data->users, order, first, last, stamp, user_seen);
            sampled_items += sampled_distinct_rows(data->items, order, first, last, stamp, item_seen);
        }
    }
    double batches = (double)n_batches * n_workers;
    double width = (double)config->dim + 1;
    double row_bytes = 2.0 * width * 4.0 + 8.0;
    printf("workers=%d batch_size=%d batches_per_epoch=%zu users_per_batch=%.2f "
           "items_per_batch=%.2f rows_per_batch=%.2f sampled_users_per_batch=%.2f "
           "sampled_items_per_batch=%.2f row_bytes=%.0f min_bytes_per_example=%.3f\n",
           n_workers, config->batch_size, n_batches, expected_users / batches,
           expected_items / batches, (expected_users + expected_items) / batches,
           (double)sampled_users / batches, (double)sampled_items / batches, row_bytes,
           (expected_users + expected_items) * row_bytes / (double)n);
    free(worker_of_user);
    free(examples_of);
    free(user_count);
    free(item_count);
    free(examples);
    free(order);
    free(user_seen);
    free(item_seen);
    return 0;
}

int main(int argc, char **argv)
{
    PlainConfig config;
    plain_config_parse(&config, argc, argv);
    double load_start = time_now_s();
    PlainData data;
    plain_data_load(&data, config.train_path);
    double load_seconds = time_now_s() - load_start;
    int status = config.count_rows ? plain_count_rows(&config, &data)
                                   : plain_train(&config, &data, load_seconds);
    plain_data_free(&data);
    return status;
}

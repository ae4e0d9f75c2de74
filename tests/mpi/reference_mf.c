/* reference_mf.c — a single-process reference implementation of psrec's
 * minibatch training of biased MF, to check the MPI job against.
 *
 * It reads the configuration a `psrec train` run saved, replays the same
 * schedule (one worker: the same shuffled order and batch boundaries, the
 * same reproducible row initialisation) with plain dense arrays and its own
 * SGD / Adagrad / Adam, then compares its predictions with the ones
 * `psrec predict` wrote for the same pairs. With BSP and one worker the
 * parameter-server job must compute exactly these steps, so the predictions
 * agree to 1e-5.
 *
 * usage: reference_mf RUN_DIR PREDICTIONS_CSV
 * Exit 0 when every prediction agrees, 1 otherwise (with the worst pair).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "psrec/app/config.h"
#include "psrec/data/dataset.h"
#include "psrec/data/user_blocks.h"
#include "psrec/core/keyindex.h"
#include "psrec/core/keys.h"
#include "psrec/models/linalg.h"
#include "psrec/models/model.h"
#include "psrec/ps/store.h"
#include "psrec/ps/worker.h"

#define TOLERANCE 1e-5

typedef struct {
    int width;
    size_t n_rows;
    float *weights;   /* (n_rows, width) */
    float *first;     /* (n_rows, width) Adam m / Adagrad sum of squares */
    float *second;    /* (n_rows, width) Adam v */
    unsigned *steps;  /* (n_rows,) */
    float *grads;     /* (n_rows, width) */
    char *touched;    /* (n_rows,) in the current batch */
    char *exists;     /* (n_rows,) created by training (psrec creates rows on first pull) */
} DenseTable;

static void table_init(DenseTable *table, uint32_t table_id, size_t n_rows, const TrainConfig *config)
{
    table->width = config->dim + 1;
    table->n_rows = n_rows;
    size_t n = n_rows * (size_t)table->width;
    table->weights = calloc(n, sizeof(float));
    table->first = calloc(n, sizeof(float));
    table->second = calloc(n, sizeof(float));
    table->grads = calloc(n, sizeof(float));
    table->steps = calloc(n_rows, sizeof(unsigned));
    table->touched = calloc(n_rows, 1);
    table->exists = calloc(n_rows, 1);
    TableSpec spec = {.table_id = table_id, .width = (uint32_t)table->width, .zero_leading = 1,
                      .init_std = config->init_std};
    for (size_t id = 0; id < n_rows; id++) {
        store_init_row(&spec, config->seed, key_make(table_id, id),
                       table->weights + id * (size_t)table->width);
        for (int f = 0; f < table->width; f++)
            table->first[id * (size_t)table->width + (size_t)f] =
                config->optimizer == 1 ? config->adagrad_init : 0.0f;
    }
}

/* One optimizer step on row id with its summed gradient (optimizer.h). */
static void table_update_row(DenseTable *table, size_t id, const TrainConfig *config,
                             float learning_rate)
{
    float *w = table->weights + id * (size_t)table->width;
    float *g = table->grads + id * (size_t)table->width;
    float *a = table->first + id * (size_t)table->width;
    float *b = table->second + id * (size_t)table->width;
    unsigned t = ++table->steps[id];
    for (int f = 0; f < table->width; f++) {
        if (config->optimizer == 0) {
            w[f] -= learning_rate * g[f];
        } else if (config->optimizer == 1) {
            a[f] += g[f] * g[f];
            w[f] -= learning_rate * g[f] / (sqrtf(a[f]) + config->epsilon);
        } else {
            a[f] = config->beta1 * a[f] + (1.0f - config->beta1) * g[f];
            b[f] = config->beta2 * b[f] + (1.0f - config->beta2) * g[f] * g[f];
            double m_hat = a[f] / (1.0 - pow(config->beta1, t));
            double v_hat = b[f] / (1.0 - pow(config->beta2, t));
            w[f] -= (float)(learning_rate * m_hat / (sqrt(v_hat) + config->epsilon));
        }
        g[f] = 0.0f;
    }
}

static double raw_prediction(double mu, int dim, const float *u, const float *v)
{
    return mu + (double)u[0] + (double)v[0] + linalg_dot_double(u + 1, v + 1, dim);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: reference_mf RUN_DIR PREDICTIONS_CSV\n");
        return 2;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/config.conf", argv[1]);
    char *config_args[] = {"--config", path};
    TrainConfig config;
    Error err;
    if (config_load_train(&config, 2, config_args, &err) != 0) {
        fprintf(stderr, "reference_mf: %s\n", err.message);
        return 2;
    }
    DatasetOptions options;
    dataset_options_default(&options);
    options.format = (DatasetFormat)config.format;
    Ratings train = {0};
    if (dataset_read(&train, config.train_path, &options, &err) != 0) {
        fprintf(stderr, "reference_mf: %s\n", err.message);
        return 2;
    }
    /* The worker's order: its examples grouped in user blocks as train does. */
    size_t n_users = 0;
    {
        KeyIndex *users = keyindex_create(1024);
        for (size_t i = 0; i < train.n; i++)
            keyindex_insert(users, train.users[i], NULL);
        n_users = keyindex_size(users);
        keyindex_destroy(users);
    }
    UserBlocks blocks;
    user_blocks_arrange(&train,
                        config.shuffle == SHUFFLE_BLOCKS
                            ? user_blocks_needed(n_users, (size_t)(config.dim + 1) * sizeof(float),
                                                 (size_t)config.batch_size)
                            : 1,
                        &blocks);
    printf("reference_mf: %zu user blocks\n", blocks.n_blocks);
    uint64_t max_user = 0, max_item = 0;
    double sum = 0, low = INFINITY, high = -INFINITY;
    for (size_t i = 0; i < train.n; i++) {
        max_user = train.users[i] > max_user ? train.users[i] : max_user;
        max_item = train.items[i] > max_item ? train.items[i] : max_item;
        sum += train.ratings[i];
        low = fmin(low, train.ratings[i]);
        high = fmax(high, train.ratings[i]);
    }
    double mu = sum / (double)train.n;
    DenseTable users, items;
    table_init(&users, MODEL_TABLE_USER, max_user + 1, &config);
    table_init(&items, MODEL_TABLE_ITEM, max_item + 1, &config);
    int dim = config.dim;

    size_t *order = malloc(train.n * sizeof(size_t));
    uint64_t n_batches = (train.n + (size_t)config.batch_size - 1) / (size_t)config.batch_size;
    for (int epoch = 0; epoch < config.epochs; epoch++) {
        user_blocks_epoch_order(&blocks, train.users, train.n, config.seed, 0, epoch, order);
        float learning_rate = (float)((double)config.learning_rate * pow(config.lr_decay, epoch));
        for (uint64_t b = 0; b < n_batches; b++) {
            size_t first = worker_batch_start(train.n, n_batches, b);
            size_t last = worker_batch_start(train.n, n_batches, b + 1);
            /* Gradients of the whole batch at the batch's starting point. */
            for (size_t p = first; p < last; p++) {
                size_t i = order[p];
                uint64_t u = train.users[i], v = train.items[i];
                float *pu = users.weights + u * (size_t)users.width;
                float *qi = items.weights + v * (size_t)items.width;
                float *gu = users.grads + u * (size_t)users.width;
                float *gi = items.grads + v * (size_t)items.width;
                float e = (float)(raw_prediction(mu, dim, pu, qi) - (double)train.ratings[i]);
                gu[0] += e + config.l2_bias * pu[0];
                gi[0] += e + config.l2_bias * qi[0];
                for (int f = 1; f <= dim; f++) {
                    gu[f] += e * qi[f] + config.l2 * pu[f];
                    gi[f] += e * pu[f] + config.l2 * qi[f];
                }
                users.touched[u] = items.touched[v] = 1;
                users.exists[u] = items.exists[v] = 1;
            }
            for (size_t p = first; p < last; p++) {
                size_t i = order[p];
                if (users.touched[train.users[i]]) {
                    table_update_row(&users, train.users[i], &config, learning_rate);
                    users.touched[train.users[i]] = 0;
                }
                if (items.touched[train.items[i]]) {
                    table_update_row(&items, train.items[i], &config, learning_rate);
                    items.touched[train.items[i]] = 0;
                }
            }
        }
    }

    /* Compare with psrec predict's output. */
    FILE *file = fopen(argv[2], "r");
    if (!file) {
        fprintf(stderr, "reference_mf: cannot open %s\n", argv[2]);
        return 2;
    }
    char line[256];
    size_t compared = 0;
    double worst = 0.0;
    unsigned long long worst_user = 0, worst_item = 0;
    float zeros[4097] = {0};
    while (fgets(line, sizeof line, file)) {
        unsigned long long u, v;
        double predicted;
        if (sscanf(line, "%llu,%llu,%lf", &u, &v, &predicted) != 3) {
            fprintf(stderr, "reference_mf: bad line in %s: %s", argv[2], line);
            return 2;
        }
        /* A row training never created reads as zeros: the model's fallback. */
        const float *pu = u < users.n_rows && users.exists[u]
                              ? users.weights + u * (size_t)users.width
                              : zeros;
        const float *qi = v < items.n_rows && items.exists[v]
                              ? items.weights + v * (size_t)items.width
                              : zeros;
        double expected = fmin(fmax(raw_prediction(mu, dim, pu, qi), low), high);
        double difference = fabs(expected - predicted);
        if (difference > worst) {
            worst = difference;
            worst_user = u;
            worst_item = v;
        }
        compared++;
    }
    fclose(file);
    printf("reference_mf: %zu predictions compared, largest difference %.3g (user %llu, item "
           "%llu)\n",
           compared, worst, worst_user, worst_item);
    if (compared == 0 || worst > TOLERANCE) {
        fprintf(stderr, "reference_mf: FAILED: difference %.3g exceeds %.0e\n", worst, TOLERANCE);
        return 1;
    }
    return 0;
}

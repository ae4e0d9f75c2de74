/* training_set.c — loading, exchange, split and indexes (training_set.h). */
#include "psrec/data/training_set.h"

#include <stdlib.h>
#include <string.h>

#include "psrec/core/util.h"
#include "psrec/data/exchange.h"
#include "psrec/data/split.h"

int training_set_load(TrainingSet *set, const TrainingSetOptions *options, bool distributed,
                      int worker, int n_workers, Error *err)
{
    memset(set, 0, sizeof *set);
    int part = distributed ? worker : 0, parts = distributed ? n_workers : 1;
    Ratings all = {0};
    bool has_test = options->test_path && options->test_path[0];
    int rc = dataset_read_partition(&all, options->train_path, &options->dataset, part, parts, err);
    if (rc == 0 && has_test)
        rc = dataset_read_partition(&set->test, options->test_path, &options->dataset, part,
                                    parts, err);
    if (distributed) {
        /* Every worker takes part in the exchanges, even one whose reading
         * failed (with what it has), so none is left waiting; the caller
         * agrees on the failure afterwards. */
        exchange_by_user(&all, worker, n_workers);
        if (has_test)
            exchange_by_user(&set->test, worker, n_workers);
    }
    if (rc != 0) {
        ratings_free(&all);
        return -1;
    }
    if (options->leave_one_out) {
        rc = split_leave_one_out(&all, options->allow_file_order, &set->train, &set->valid,
                                 &set->test, err);
        if (rc == 0)
            set->train.n_skipped = all.n_skipped;
        ratings_free(&all);
    } else if (options->cold_fraction > 0.0) {
        split_cold_items(&all, options->cold_fraction, options->cold_seed, &set->train,
                         &set->test);
        set->train.n_skipped = all.n_skipped;
        ratings_free(&all);
    } else {
        set->train = all; /* moved */
    }
    return rc;
}

/* Catalogue indices of data's items (every item is in the catalogue). */
static uint32_t *item_indices(const Catalogue *catalogue, const Ratings *data)
{
    uint32_t *indices = xmalloc((data->n ? data->n : 1) * sizeof(uint32_t));
    for (size_t i = 0; i < data->n; i++) {
        int64_t index = catalogue_find(catalogue, data->items[i]);
        indices[i] = (uint32_t)index;
    }
    return indices;
}

/* A history of the users and items of the first n_parts of parts. */
static void history_of(History *out, const Catalogue *catalogue, const Ratings *const *parts,
                       int n_parts)
{
    size_t n = 0;
    for (int p = 0; p < n_parts; p++)
        n += parts[p]->n;
    uint64_t *users = xmalloc((n ? n : 1) * sizeof(uint64_t));
    uint32_t *items = xmalloc((n ? n : 1) * sizeof(uint32_t));
    size_t at = 0;
    for (int p = 0; p < n_parts; p++) {
        uint32_t *indices = item_indices(catalogue, parts[p]);
        if (parts[p]->n > 0) { /* an empty split may have no arrays at all */
            memcpy(users + at, parts[p]->users, parts[p]->n * sizeof(uint64_t));
            memcpy(items + at, indices, parts[p]->n * sizeof(uint32_t));
        }
        at += parts[p]->n;
        free(indices);
    }
    history_build(out, users, items, n);
    free(items);
    free(users);
}

void training_set_index(TrainingSet *set, const TrainingSetOptions *options, bool distributed)
{
    /* Every item of every split, so held-out items can be ranked, and the
     * extra items. */
    size_t n = set->train.n + set->valid.n + set->test.n + options->n_extra_items;
    uint64_t *items = xmalloc((n ? n : 1) * sizeof(uint64_t));
    const Ratings *splits[3] = {&set->train, &set->valid, &set->test};
    size_t at = 0;
    for (size_t s = 0; s < 3; at += splits[s]->n, s++)
        if (splits[s]->n > 0) /* an empty split may have no arrays at all */
            memcpy(items + at, splits[s]->items, splits[s]->n * sizeof(uint64_t));
    if (options->n_extra_items > 0)
        memcpy(items + at, options->extra_items, options->n_extra_items * sizeof(uint64_t));
    if (distributed) {
        exchange_catalogue(&set->catalogue, items, n, set->train.items, set->train.n);
    } else {
        double *counts = xcalloc(n ? n : 1, sizeof(double));
        for (size_t i = 0; i < set->train.n; i++)
            counts[i] = 1.0;
        catalogue_build(&set->catalogue, items, counts, n);
        free(counts);
    }
    free(items);
    if (options->cold_fraction > 0.0) {
        set->cold_items = xmalloc((set->catalogue.n_items ? set->catalogue.n_items : 1) *
                                  sizeof(uint32_t));
        for (size_t i = 0; i < set->catalogue.n_items; i++)
            if (split_item_is_cold(set->catalogue.ids[i], options->cold_fraction,
                                   options->cold_seed))
                set->cold_items[set->n_cold_items++] = (uint32_t)i;
    }
    if (!options->index_users)
        return;
    const Ratings *parts[3] = {&set->train, &set->valid, &set->test};
    history_of(&set->known_train, &set->catalogue, parts, 1);
    history_of(&set->known_valid, &set->catalogue, parts, 2);
    history_of(&set->seen, &set->catalogue, parts, 3);
    if (options->cold_fraction > 0.0 && options->negative_sampling == SAMPLER_UNIFORM)
        /* Uniform over the items with training interactions (count^0 = 1,
         * no count → never): a held-out cold item must not be trained as a
         * negative, or its test would not be cold. */
        sampler_init(&set->sampler, SAMPLER_POPULARITY, set->catalogue.counts,
                     set->catalogue.n_items, 0.0);
    else
        sampler_init(&set->sampler, options->negative_sampling, set->catalogue.counts,
                     set->catalogue.n_items, options->popularity_exponent);
    set->indexed = true;
}

void training_set_arrange(TrainingSet *set, size_t n_blocks)
{
    user_blocks_free(&set->train_blocks);
    user_blocks_arrange(&set->train, n_blocks, &set->train_blocks);
}

void training_set_free(TrainingSet *set)
{
    if (!set)
        return;
    ratings_free(&set->train);
    user_blocks_free(&set->train_blocks);
    ratings_free(&set->valid);
    ratings_free(&set->test);
    catalogue_free(&set->catalogue);
    free(set->cold_items);
    if (set->indexed) {
        history_free(&set->known_train);
        history_free(&set->known_valid);
        history_free(&set->seen);
        sampler_free(&set->sampler);
    }
    memset(set, 0, sizeof *set);
}

/* store.h — the rows a parameter server owns.
 *
 * A store holds several tables (one per table id). Each table is a KeyIndex
 * over rows with a fixed stride, kept in chunks that never move: a row is
 * its `width` weights followed by its optimizer state, with its update
 * count beside it, and its address stays valid while the store lives. Rows are created on first pull (or first push) with an
 * initialisation that depends only on the key, the seed and the table's
 * spec, so the same key gets the same start on any server layout.
 */
#ifndef PSREC_STORE_H
#define PSREC_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "psrec/ps/optimizer.h"

#define STORE_MAX_TABLES 16

typedef struct {
    uint32_t table_id;     /* key_table() of the keys that live here */
    uint32_t width;        /* weights per row */
    uint32_t zero_leading; /* the first zero_leading weights start at 0 (biases) */
    float init_std;        /* the others start ~ N(0, init_std²) */
} TableSpec;

typedef struct Store Store;

/* Creates an empty store with the given tables (n_tables ≤ STORE_MAX_TABLES,
 * distinct table ids). init_seed makes row initialisation reproducible.
 * The caller owns the store; free with store_destroy. */
Store *store_create(const TableSpec *tables, int n_tables, const OptimizerConfig *optimizer,
                    uint64_t init_seed);
/* Frees the store; store_destroy(NULL) is a no-op. */
void store_destroy(Store *store);

/* The spec of the table a key belongs to, or NULL if the store has no such
 * table (a protocol error for the caller to report). */
const TableSpec *store_table_spec(const Store *store, uint32_t table_id);

/* The weights of key's row (width floats, valid while the store lives). An
 * absent row is created and initialised when `create` is true; otherwise
 * NULL is returned. The key's table must exist. */
float *store_pull(Store *store, uint64_t key, bool create);

/* Applies one optimizer step with grad (width floats) to key's row, creating
 * the row first if it is absent. The key's table must exist. */
void store_push(Store *store, uint64_t key, const float *grad);

/* A row found once and updated later without a second lookup (a server
 * keeps a pull's rows for the push of the same batch). */
typedef struct {
    float *data;    /* weights, then optimizer state */
    uint32_t *step;
    uint32_t width;
} StoreRow;

/* key's row, created (and initialised) if absent. The key's table must exist. */
StoreRow store_row(Store *store, uint64_t key);

/* store_row for each of n keys, into rows: the same rows, with the hash
 * lookups of later keys started early so their cache misses overlap. */
void store_rows(Store *store, const uint64_t *keys, size_t n, StoreRow *rows);

/* Asks the CPU to fetch a row's weights (and, with `with_state`, its
 * optimizer state) into the cache ahead of use. Rows are scattered over far
 * more memory than the caches hold; touching them one after the other
 * waits for memory once per cache line. */
void store_prefetch_row(const Store *store, const StoreRow *row, bool with_state);

/* store_push on a row store_row returned. */
void store_push_row(Store *store, const StoreRow *row, const float *grad);

/* Changes the learning rate of later store_push calls (a schedule). */
void store_set_learning_rate(Store *store, float learning_rate);

/* The initial weights of key's row (what store_pull would create), written
 * into weights (width floats). Used by tests and reference implementations. */
void store_init_row(const TableSpec *spec, uint64_t init_seed, uint64_t key, float *weights);

/* ---- whole-table access, for checkpoints */
int store_table_count(const Store *store);
const TableSpec *store_table_at(const Store *store, int table_index);
size_t store_row_count(const Store *store, int table_index);
/* Floats per row in the slab: width + optimizer state. */
size_t store_row_stride(const Store *store, int table_index);
/* Row r of a table: its key, its slab entry (stride floats) and its step. */
uint64_t store_row_key(const Store *store, int table_index, size_t row);
float *store_row_data(Store *store, int table_index, size_t row);
uint32_t *store_row_step(Store *store, int table_index, size_t row);
/* Inserts (or overwrites) a row with the given slab entry (stride floats)
 * and step, e.g. when a checkpoint is loaded. */
void store_put_row(Store *store, uint64_t key, const float *data, uint32_t step);
/* Total bytes the store's tables hold (slabs, steps, key index). */
size_t store_bytes(const Store *store);

#endif

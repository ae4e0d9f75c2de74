/* store.c — the rows a parameter server owns, in chunks per table.
 *
 * Each table is a KeyIndex giving every key a dense row number, and chunks
 * of chunk_rows rows of floats (row r in chunk r / chunk_rows: width
 * weights, then optimizer state) with the row's step count beside them.
 * Chunks are never moved once allocated: a row's address stays valid while
 * the store lives (a server may keep it from a pull to the push that
 * follows), growing never copies rows, and at most one partly used chunk
 * per table is the store's overhead over the rows themselves.
 * Invariant: for each table, rows [0, keyindex_size) are initialised and
 * n_chunks * chunk_rows ≥ keyindex_size.
 */
#include "psrec/ps/store.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "psrec/core/keyindex.h"
#include "psrec/core/keys.h"
#include "psrec/core/util.h"

/* Rows per chunk, at least: large enough that the chunk table is tiny,
 * small enough that the last, partly used chunk costs little (4096 rows of
 * dim 64 with Adam: 3 MiB). A chunk is then filled up to a whole number of
 * huge pages, one at least (xmalloc_huge): rows are read at random, and
 * huge pages spare each read a TLB miss. */
#define STORE_CHUNK_MIN_ROWS 4096u

typedef struct {
    float *rows;          /* (chunk_rows, stride) */
    uint32_t *steps;      /* (chunk_rows,) update count of each row */
} StoreChunk;

typedef struct {
    TableSpec spec;
    size_t stride;        /* floats per row: width + optimizer state */
    size_t chunk_rows;    /* rows per chunk */
    size_t chunk_bytes;   /* the memory of a chunk's rows (≥ chunk_rows * stride floats) */
    KeyIndex *index;      /* key → row number */
    StoreChunk *chunks;   /* (chunk_capacity,), the first n_chunks allocated */
    size_t n_chunks;
    size_t chunk_capacity;
} StoreTable;

static float *table_row(const StoreTable *table, size_t row)
{
    return table->chunks[row / table->chunk_rows].rows + (row % table->chunk_rows) * table->stride;
}

static uint32_t *table_step(const StoreTable *table, size_t row)
{
    return &table->chunks[row / table->chunk_rows].steps[row % table->chunk_rows];
}

struct Store {
    OptimizerConfig optimizer;
    uint64_t init_seed;
    int n_tables;
    StoreTable tables[STORE_MAX_TABLES];
    /* table id → position in tables + 1 (0 = no such table); key_table()
     * is 8 bits, so this covers every possible key. */
    uint8_t table_of_id[KEY_TABLE_MAX + 1];
};

Store *store_create(const TableSpec *tables, int n_tables, const OptimizerConfig *optimizer,
                    uint64_t init_seed)
{
    assert(n_tables >= 0 && n_tables <= STORE_MAX_TABLES);
    Store *store = xcalloc(1, sizeof *store);
    store->optimizer = *optimizer;
    store->init_seed = init_seed;
    store->n_tables = n_tables;
    for (int t = 0; t < n_tables; t++) {
        const TableSpec *spec = &tables[t];
        assert(spec->table_id <= KEY_TABLE_MAX);
        assert(store->table_of_id[spec->table_id] == 0 && "duplicate table id");
        assert(spec->zero_leading <= spec->width);
        StoreTable *table = &store->tables[t];
        table->spec = *spec;
        table->stride = spec->width + optimizer_state_floats(optimizer->kind, spec->width);
        size_t row_bytes = table->stride * sizeof(float);
        size_t chunk_bytes = STORE_CHUNK_MIN_ROWS * row_bytes;
        if (chunk_bytes < HUGE_PAGE_BYTES)
            chunk_bytes = HUGE_PAGE_BYTES;
        table->chunk_bytes = xmalloc_huge_size(chunk_bytes);
        table->chunk_rows = table->chunk_bytes / row_bytes;
        table->index = keyindex_create(0);
        store->table_of_id[spec->table_id] = (uint8_t)(t + 1);
    }
    return store;
}

void store_destroy(Store *store)
{
    if (!store)
        return;
    for (int t = 0; t < store->n_tables; t++) {
        StoreTable *table = &store->tables[t];
        keyindex_destroy(table->index);
        for (size_t c = 0; c < table->n_chunks; c++) {
            free(table->chunks[c].rows);
            free(table->chunks[c].steps);
        }
        free(table->chunks);
    }
    free(store);
}

const TableSpec *store_table_spec(const Store *store, uint32_t table_id)
{
    if (table_id > KEY_TABLE_MAX || store->table_of_id[table_id] == 0)
        return NULL;
    return &store->tables[store->table_of_id[table_id] - 1].spec;
}

/* The table holding key; asserts it exists (callers check the spec first). */
static StoreTable *store_table_of_key(Store *store, uint64_t key)
{
    uint8_t position = store->table_of_id[key_table(key)];
    assert(position != 0 && "key of a table the store does not have");
    return &store->tables[position - 1];
}

/* Makes room for at least `rows` rows: new chunks, never a move. */
static void store_table_reserve(StoreTable *table, size_t rows)
{
    while (table->n_chunks * table->chunk_rows < rows) {
        if (table->n_chunks == table->chunk_capacity) {
            table->chunk_capacity = table->chunk_capacity ? 2 * table->chunk_capacity : 16;
            table->chunks =
                xrealloc(table->chunks, table->chunk_capacity * sizeof *table->chunks);
        }
        StoreChunk *chunk = &table->chunks[table->n_chunks++];
        chunk->rows = xmalloc_huge(table->chunk_bytes);
        chunk->steps = xmalloc(table->chunk_rows * sizeof *chunk->steps);
    }
}

/* The row number of key, creating the row when absent. A new row gets its
 * initial weights, fresh optimizer state and step 0 when `initialise` is
 * true; otherwise its slab entry is left for the caller to overwrite. */
static size_t store_table_get_row(const Store *store, StoreTable *table, uint64_t key,
                                  bool initialise)
{
    bool inserted;
    size_t row = keyindex_insert(table->index, key, &inserted);
    if (inserted) {
        store_table_reserve(table, row + 1);
        if (initialise) {
            float *data = table_row(table, row);
            store_init_row(&table->spec, store->init_seed, key, data);
            optimizer_init_state(&store->optimizer, data + table->spec.width, table->spec.width);
            *table_step(table, row) = 0;
        }
    }
    return row;
}

float *store_pull(Store *store, uint64_t key, bool create)
{
    StoreTable *table = store_table_of_key(store, key);
    size_t row;
    if (create) {
        row = store_table_get_row(store, table, key, true);
    } else {
        int64_t found = keyindex_find(table->index, key);
        if (found < 0)
            return NULL;
        row = (size_t)found;
    }
    return table_row(table, row);
}

StoreRow store_row(Store *store, uint64_t key)
{
    StoreTable *table = store_table_of_key(store, key);
    size_t row = store_table_get_row(store, table, key, true);
    return (StoreRow){.data = table_row(table, row),
                      .step = table_step(table, row),
                      .width = table->spec.width};
}

/* How many keys ahead store_rows starts a lookup: enough misses in flight to
 * hide memory latency, few enough that the prefetched slots stay cached. */
#define STORE_LOOKUP_AHEAD 8

void store_rows(Store *store, const uint64_t *keys, size_t n, StoreRow *rows)
{
    for (size_t k = 0; k < n; k++) {
        if (k + STORE_LOOKUP_AHEAD < n) {
            uint64_t ahead = keys[k + STORE_LOOKUP_AHEAD];
            keyindex_prefetch(store_table_of_key(store, ahead)->index, ahead);
        }
        rows[k] = store_row(store, keys[k]);
    }
}

void store_prefetch_row(const Store *store, const StoreRow *row, bool with_state)
{
    size_t floats = row->width;
    if (with_state)
        floats += optimizer_state_floats(store->optimizer.kind, row->width);
    const char *first = (const char *)row->data;
    const char *last = first + floats * sizeof(float) - 1;
    for (const char *line = first; line <= last; line += 64)
        __builtin_prefetch(line, 1);
    __builtin_prefetch(last, 1); /* the last line when the row starts mid-line */
    __builtin_prefetch(row->step, 1);
}

void store_push_row(Store *store, const StoreRow *row, const float *grad)
{
    optimizer_apply(&store->optimizer, row->data, row->data + row->width, row->step, grad,
                    row->width);
}

void store_push(Store *store, uint64_t key, const float *grad)
{
    StoreRow row = store_row(store, key);
    store_push_row(store, &row, grad);
}

void store_set_learning_rate(Store *store, float learning_rate)
{
    store->optimizer.learning_rate = learning_rate;
}

void store_init_row(const TableSpec *spec, uint64_t init_seed, uint64_t key, float *weights)
{
    /* Seeded from the key alone (mixed with the run seed) so a row starts the
     * same whichever server creates it and whatever was created before. */
    Rng rng;
    rng_seed(&rng, hash_u64(key ^ hash_u64(init_seed)));
    uint32_t zeros = spec->zero_leading < spec->width ? spec->zero_leading : spec->width;
    for (uint32_t i = 0; i < zeros; i++)
        weights[i] = 0.0f;
    rng_fill_normal(&rng, weights + zeros, spec->width - zeros, spec->init_std);
}

int store_table_count(const Store *store) { return store->n_tables; }

const TableSpec *store_table_at(const Store *store, int table_index)
{
    assert(table_index >= 0 && table_index < store->n_tables);
    return &store->tables[table_index].spec;
}

size_t store_row_count(const Store *store, int table_index)
{
    assert(table_index >= 0 && table_index < store->n_tables);
    return keyindex_size(store->tables[table_index].index);
}

size_t store_row_stride(const Store *store, int table_index)
{
    assert(table_index >= 0 && table_index < store->n_tables);
    return store->tables[table_index].stride;
}

uint64_t store_row_key(const Store *store, int table_index, size_t row)
{
    assert(table_index >= 0 && table_index < store->n_tables);
    return keyindex_key_at(store->tables[table_index].index, row);
}

float *store_row_data(Store *store, int table_index, size_t row)
{
    assert(table_index >= 0 && table_index < store->n_tables);
    StoreTable *table = &store->tables[table_index];
    assert(row < keyindex_size(table->index));
    return table_row(table, row);
}

uint32_t *store_row_step(Store *store, int table_index, size_t row)
{
    assert(table_index >= 0 && table_index < store->n_tables);
    StoreTable *table = &store->tables[table_index];
    assert(row < keyindex_size(table->index));
    return table_step(table, row);
}

void store_put_row(Store *store, uint64_t key, const float *data, uint32_t step)
{
    StoreTable *table = store_table_of_key(store, key);
    size_t row = store_table_get_row(store, table, key, false);
    memcpy(table_row(table, row), data, table->stride * sizeof *data);
    *table_step(table, row) = step;
}

size_t store_bytes(const Store *store)
{
    size_t bytes = sizeof *store;
    for (int t = 0; t < store->n_tables; t++) {
        const StoreTable *table = &store->tables[t];
        bytes += table->n_chunks * (table->chunk_bytes + table->chunk_rows * sizeof(uint32_t));
        bytes += table->chunk_capacity * sizeof *table->chunks;
        bytes += keyindex_bytes(table->index);
    }
    return bytes;
}

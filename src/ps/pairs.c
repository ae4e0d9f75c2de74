/* pairs.c — pair sums in an open-addressing hash table (pairs.h).
 *
 * Pairs live in parallel arrays (rows, columns, sums with a stride of
 * width) in insertion order; `slots` maps a hashed (row, column) to its
 * position + 1 (0 = empty), probed linearly and kept at most half full.
 * Sorting permutes the arrays and rebuilds the slots.
 */
#include "psrec/ps/pairs.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "psrec/core/keyindex.h"
#include "psrec/core/util.h"

struct PairTable {
    int width;
    size_t n, capacity;
    uint64_t *rows, *columns;
    double *sums;        /* (capacity * width,) */
    size_t *slots;       /* (n_slots,) position + 1, or 0 */
    size_t n_slots;      /* a power of two */
    bool slots_stale;    /* sorted since the slots were built: rebuild before adding */
    KeyIndex *norm_index; /* column → position in norms */
    double *norms;
    size_t norm_capacity;
};

PairTable *pair_table_create(int width)
{
    assert(width >= 1 && width <= 16);
    PairTable *table = xcalloc(1, sizeof(PairTable));
    table->width = width;
    table->n_slots = 1024;
    table->slots = xcalloc(table->n_slots, sizeof(size_t));
    table->norm_index = keyindex_create(64);
    return table;
}

void pair_table_destroy(PairTable *table)
{
    if (!table)
        return;
    free(table->rows);
    free(table->columns);
    free(table->sums);
    free(table->slots);
    keyindex_destroy(table->norm_index);
    free(table->norms);
    free(table);
}

void pair_table_clear(PairTable *table)
{
    table->n = 0;
    memset(table->slots, 0, table->n_slots * sizeof(size_t));
    table->slots_stale = false;
}

int pair_table_width(const PairTable *table) { return table->width; }
size_t pair_table_count(const PairTable *table) { return table->n; }

static size_t pair_hash(uint64_t row, uint64_t column)
{
    return (size_t)hash_u64(row * 0x9e3779b97f4a7c15ULL ^ hash_u64(column));
}

/* Rebuilds the slots for the pairs' current positions, at n_slots. */
static void rehash(PairTable *table, size_t n_slots)
{
    free(table->slots);
    table->n_slots = n_slots;
    table->slots = xcalloc(n_slots, sizeof(size_t));
    table->slots_stale = false;
    size_t mask = n_slots - 1;
    for (size_t p = 0; p < table->n; p++) {
        size_t s = pair_hash(table->rows[p], table->columns[p]) & mask;
        while (table->slots[s])
            s = (s + 1) & mask;
        table->slots[s] = p + 1;
    }
}

void pair_table_add(PairTable *table, uint64_t row, uint64_t column, const double *values)
{
    if (table->slots_stale)
        rehash(table, table->n_slots);
    size_t width = (size_t)table->width;
    size_t mask = table->n_slots - 1;
    size_t s = pair_hash(row, column) & mask;
    for (;;) {
        size_t at = table->slots[s];
        if (at == 0)
            break;
        if (table->rows[at - 1] == row && table->columns[at - 1] == column) {
            double *sums = table->sums + (at - 1) * width;
            for (size_t v = 0; v < width; v++)
                sums[v] += values[v];
            return;
        }
        s = (s + 1) & mask;
    }
    if (table->n == table->capacity) {
        table->capacity = table->capacity ? 2 * table->capacity : 1024;
        table->rows = xrealloc(table->rows, table->capacity * sizeof(uint64_t));
        table->columns = xrealloc(table->columns, table->capacity * sizeof(uint64_t));
        table->sums = xrealloc(table->sums, table->capacity * width * sizeof(double));
    }
    size_t p = table->n++;
    table->rows[p] = row;
    table->columns[p] = column;
    memcpy(table->sums + p * width, values, width * sizeof(double));
    table->slots[s] = p + 1;
    if (2 * table->n > table->n_slots)
        rehash(table, 2 * table->n_slots);
}

void pair_table_set_norm(PairTable *table, uint64_t column, double norm)
{
    size_t at = keyindex_insert(table->norm_index, column, NULL);
    if (at >= table->norm_capacity) {
        table->norm_capacity = table->norm_capacity ? 2 * table->norm_capacity : 1024;
        table->norms = xrealloc(table->norms, table->norm_capacity * sizeof(double));
    }
    table->norms[at] = norm;
}

bool pair_table_norm(const PairTable *table, uint64_t column, double *norm)
{
    int64_t at = keyindex_find(table->norm_index, column);
    if (at < 0)
        return false;
    *norm = table->norms[at];
    return true;
}

size_t pair_table_bytes(const PairTable *table)
{
    return sizeof *table + table->capacity * (2 * sizeof(uint64_t) + (size_t)table->width * sizeof(double)) +
           table->n_slots * sizeof(size_t) + keyindex_bytes(table->norm_index) +
           table->norm_capacity * sizeof(double);
}

uint64_t pair_table_row(const PairTable *table, size_t p) { return table->rows[p]; }
uint64_t pair_table_column(const PairTable *table, size_t p) { return table->columns[p]; }
const double *pair_table_values(const PairTable *table, size_t p)
{
    return table->sums + p * (size_t)table->width;
}

/* qsort has no context: the sort goes through positions and a file-local
 * pointer to the table being sorted (never used from two threads). */
static const PairTable *sorting;

static int compare_positions(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    if (sorting->rows[x] != sorting->rows[y])
        return sorting->rows[x] < sorting->rows[y] ? -1 : 1;
    if (sorting->columns[x] != sorting->columns[y])
        return sorting->columns[x] < sorting->columns[y] ? -1 : 1;
    return 0;
}

void pair_table_sort(PairTable *table)
{
    size_t n = table->n, width = (size_t)table->width;
    if (n < 2)
        return;
    size_t *order = xmalloc(n * sizeof(size_t));
    for (size_t p = 0; p < n; p++)
        order[p] = p;
    sorting = table;
    qsort(order, n, sizeof(size_t), compare_positions);
    sorting = NULL;
    uint64_t *rows = xmalloc(table->capacity * sizeof(uint64_t));
    uint64_t *columns = xmalloc(table->capacity * sizeof(uint64_t));
    double *sums = xmalloc(table->capacity * width * sizeof(double));
    for (size_t p = 0; p < n; p++) {
        rows[p] = table->rows[order[p]];
        columns[p] = table->columns[order[p]];
        memcpy(sums + p * width, table->sums + order[p] * width, width * sizeof(double));
    }
    free(order);
    free(table->rows);
    free(table->columns);
    free(table->sums);
    table->rows = rows;
    table->columns = columns;
    table->sums = sums;
    table->slots_stale = true; /* most sorted tables are read, then dropped */
}

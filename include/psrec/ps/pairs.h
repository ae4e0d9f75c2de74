/* pairs.h — sums over (row, column) pairs: the co-occurrence counts of
 * neighbourhood models.
 *
 * A PairTable adds up a fixed number of values (its width) per pair: a
 * worker combines the pairs of its users' histories in one before sending
 * them, and a server merges what every worker sent for the rows it owns,
 * then turns each row's pairs into the row (an item's top-K neighbours).
 * Sums are kept in double so that counts stay exact far beyond 2^24. A
 * table also keeps a norm per column (e.g. how many users an item has),
 * which similarities divide by. Memory grows with the distinct pairs; the
 * caller bounds it by counting a block of rows at a time.
 */
#ifndef PSREC_PAIRS_H
#define PSREC_PAIRS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct PairTable PairTable;

/* An empty table of `width` values per pair (1 ≤ width ≤ 16). The caller
 * owns it; pair_table_destroy(NULL) is a no-op. */
PairTable *pair_table_create(int width);
void pair_table_destroy(PairTable *table);
/* Forgets every pair (norms stay), keeping the memory. */
void pair_table_clear(PairTable *table);

int pair_table_width(const PairTable *table);
/* Adds values[0..width) to the sums of (row, column), creating it at zero. */
void pair_table_add(PairTable *table, uint64_t row, uint64_t column, const double *values);
/* Sets the norm of column (the last value set wins). */
void pair_table_set_norm(PairTable *table, uint64_t column, double norm);
/* The norm of column into *norm: false when none was set. */
bool pair_table_norm(const PairTable *table, uint64_t column, double *norm);

/* Distinct pairs held, and the bytes the table holds (for memory budgets). */
size_t pair_table_count(const PairTable *table);
size_t pair_table_bytes(const PairTable *table);

/* Pair p (< pair_table_count) in insertion order, or in (row, column)
 * order after pair_table_sort: its row, column and width sums. */
uint64_t pair_table_row(const PairTable *table, size_t p);
uint64_t pair_table_column(const PairTable *table, size_t p);
const double *pair_table_values(const PairTable *table, size_t p);
/* Orders the pairs by row, then column, so that each row's pairs are
 * consecutive. Adding after sorting is allowed (the order is then lost). */
void pair_table_sort(PairTable *table);

#endif

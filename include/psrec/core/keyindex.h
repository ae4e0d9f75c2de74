/* keyindex.h — an open-addressing hash map from 64-bit keys to dense indices.
 *
 * Keys are numbered 0, 1, 2, … in the order they are first inserted, so a
 * caller can keep the per-key data in plain arrays (a slab with a stride)
 * indexed by that number. The table probes linearly over a power-of-two
 * array of slots kept at most half full, and doubles when it would pass
 * that. Keys are never removed (keyindex_clear forgets all of them at once,
 * keeping the memory). Every 64-bit value is a valid key.
 */
#ifndef PSREC_KEYINDEX_H
#define PSREC_KEYINDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct KeyIndex KeyIndex;

/* Creates an empty index sized for about `expected_keys` keys without
 * growing. The caller owns it; destroy with keyindex_destroy. */
KeyIndex *keyindex_create(size_t expected_keys);

/* Frees the index. keyindex_destroy(NULL) is a no-op. */
void keyindex_destroy(KeyIndex *index);

/* Forgets every key; memory is kept for reuse. */
void keyindex_clear(KeyIndex *index);

/* Number of keys held. */
size_t keyindex_size(const KeyIndex *index);

/* The index of key, or -1 when it is absent. */
int64_t keyindex_find(const KeyIndex *index, uint64_t key);

/* Asks the CPU to fetch key's home slot into the cache, so a lookup of it a
 * little later does not stall (batched lookups overlap their misses). */
void keyindex_prefetch(const KeyIndex *index, uint64_t key);

/* The index of key, inserting it (with the next free index) when absent.
 * *inserted (if not NULL) tells whether it was new. */
size_t keyindex_insert(KeyIndex *index, uint64_t key, bool *inserted);

/* The key that has the given index; index < keyindex_size. */
uint64_t keyindex_key_at(const KeyIndex *index, size_t position);

/* All keys in index order: (keyindex_size,) array owned by the index, valid
 * until the next insert or clear. */
const uint64_t *keyindex_keys(const KeyIndex *index);

/* Bytes the index holds (slots, key array and the struct), for memory
 * accounting such as store_bytes. */
size_t keyindex_bytes(const KeyIndex *index);

#endif

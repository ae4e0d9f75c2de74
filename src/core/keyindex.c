/* keyindex.c — open-addressing map from 64-bit keys to dense indices.
 *
 * Keys live in a dense array in insertion order (position = index); each
 * slot holds index+1, with 0 meaning empty, so every 64-bit key is valid.
 * Invariants: n_slots is a power of two, count ≤ n_slots/2 (the dense array
 * has exactly n_slots/2 entries of capacity), and every key's probe run from
 * its home slot contains no empty slot. Lookups sit on the hot path of
 * servers and workers, so a slot also caches its key: a probe then costs one
 * cache miss instead of two (measured about 2x faster for 1M keys).
 */
#include "psrec/core/keyindex.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "psrec/core/util.h"

#define KEYINDEX_MIN_SLOTS 8

typedef struct {
    uint64_t key;   /* copy of keys[entry - 1], valid when entry != 0 */
    uint64_t entry; /* index+1 of the key in this slot, 0 = empty */
} KeyIndexSlot;

struct KeyIndex {
    KeyIndexSlot *slots; /* (n_slots,) */
    uint64_t *keys;      /* (n_slots/2,) keys in index order; first count valid */
    size_t n_slots;      /* power of two */
    unsigned shift;      /* 64 - log2(n_slots): home slot = top bits of the hash */
    size_t count;
};

/* Home slot of key. Uses the *top* bits of a mixer distinct from hash_u64:
 * a server's keys are exactly those whose hash_u64 falls in its vshards, so
 * hash_u64's low bits are far from uniform there and would cluster badly. */
static inline size_t keyindex_home_slot(const KeyIndex *index, uint64_t key)
{
    uint64_t x = key;
    x ^= x >> 33;
    x *= UINT64_C(0xff51afd7ed558ccd);
    x ^= x >> 33;
    x *= UINT64_C(0xc4ceb9fe1a85ec53);
    x ^= x >> 33;
    return (size_t)(x >> index->shift);
}

/* Allocates an empty slot array of n_slots (a power of two ≥ the minimum)
 * and sizes the dense key array to match; existing keys are kept. */
static void keyindex_resize(KeyIndex *index, size_t n_slots)
{
    assert(n_slots >= KEYINDEX_MIN_SLOTS && (n_slots & (n_slots - 1)) == 0);
    free(index->slots);
    /* Probed at random: huge pages where the table is large. */
    index->slots = xmalloc_huge(n_slots * sizeof *index->slots);
    memset(index->slots, 0, n_slots * sizeof *index->slots);
    index->keys = xrealloc(index->keys, n_slots / 2 * sizeof *index->keys);
    index->n_slots = n_slots;
    unsigned log2 = 0;
    while (((size_t)1 << log2) < n_slots)
        log2++;
    index->shift = 64 - log2;
}

/* Puts position into the first empty slot of key's probe run; key must be
 * absent from the slots (true when rebuilding or after a failed find). */
static void keyindex_place(KeyIndex *index, uint64_t key, size_t position)
{
    size_t mask = index->n_slots - 1;
    size_t slot = keyindex_home_slot(index, key);
    while (index->slots[slot].entry != 0)
        slot = (slot + 1) & mask;
    index->slots[slot].key = key;
    index->slots[slot].entry = position + 1;
}

KeyIndex *keyindex_create(size_t expected_keys)
{
    KeyIndex *index = xcalloc(1, sizeof *index);
    size_t n_slots = KEYINDEX_MIN_SLOTS;
    while (n_slots / 2 < expected_keys)
        n_slots *= 2;
    keyindex_resize(index, n_slots);
    return index;
}

void keyindex_destroy(KeyIndex *index)
{
    if (!index)
        return;
    free(index->slots);
    free(index->keys);
    free(index);
}

void keyindex_clear(KeyIndex *index)
{
    memset(index->slots, 0, index->n_slots * sizeof *index->slots);
    index->count = 0;
}

size_t keyindex_size(const KeyIndex *index) { return index->count; }

int64_t keyindex_find(const KeyIndex *index, uint64_t key)
{
    const KeyIndexSlot *slots = index->slots;
    size_t mask = index->n_slots - 1;
    size_t slot = keyindex_home_slot(index, key);
    uint64_t entry;
    while ((entry = slots[slot].entry) != 0) {
        if (slots[slot].key == key)
            return (int64_t)(entry - 1);
        slot = (slot + 1) & mask;
    }
    return -1;
}

void keyindex_prefetch(const KeyIndex *index, uint64_t key)
{
    __builtin_prefetch(&index->slots[keyindex_home_slot(index, key)]);
}

size_t keyindex_insert(KeyIndex *index, uint64_t key, bool *inserted)
{
    size_t mask = index->n_slots - 1;
    size_t slot = keyindex_home_slot(index, key);
    uint64_t entry;
    while ((entry = index->slots[slot].entry) != 0) {
        if (index->slots[slot].key == key) {
            if (inserted)
                *inserted = false;
            return entry - 1;
        }
        slot = (slot + 1) & mask;
    }
    size_t position = index->count;
    if (position + 1 > index->n_slots / 2) {
        /* Doubling invalidates the slot found above: rebuild from the dense
         * keys (the authoritative copy) and place the new key afresh. */
        keyindex_resize(index, index->n_slots * 2);
        for (size_t i = 0; i < position; i++)
            keyindex_place(index, index->keys[i], i);
        keyindex_place(index, key, position);
    } else {
        index->slots[slot].key = key;
        index->slots[slot].entry = position + 1;
    }
    index->keys[position] = key;
    index->count = position + 1;
    if (inserted)
        *inserted = true;
    return position;
}

uint64_t keyindex_key_at(const KeyIndex *index, size_t position)
{
    assert(position < index->count);
    return index->keys[position];
}

const uint64_t *keyindex_keys(const KeyIndex *index) { return index->keys; }

size_t keyindex_bytes(const KeyIndex *index)
{
    return sizeof *index + index->n_slots * sizeof *index->slots +
           index->n_slots / 2 * sizeof *index->keys;
}

/* catalogue.c — sort the (id, count) pairs, merge runs of equal ids, index.
 *
 * Pairs are sorted by id and then by count, so the counts of one id are
 * summed in the same order whatever order the pairs arrived in: floating
 * point sums then agree to the last bit on every process. The KeyIndex is
 * filled in id order, so its dense index equals the position in ids.
 */
#include "psrec/data/catalogue.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "psrec/core/util.h"

typedef struct {
    uint64_t id;
    double count;
} CataloguePair;

static int pair_compare(const void *a, const void *b)
{
    const CataloguePair *x = a, *y = b;
    if (x->id != y->id)
        return x->id < y->id ? -1 : 1;
    return (x->count > y->count) - (x->count < y->count);
}

void catalogue_build(Catalogue *out, const uint64_t *ids, const double *counts, size_t n)
{
    assert(out && (ids || n == 0));
    memset(out, 0, sizeof *out);
    CataloguePair *pairs = xmalloc(n * sizeof *pairs);
    for (size_t i = 0; i < n; i++)
        pairs[i] = (CataloguePair){ids[i], counts ? counts[i] : 1.0};
    qsort(pairs, n, sizeof *pairs, pair_compare);

    out->ids = xmalloc(n * sizeof *out->ids);
    out->counts = xmalloc(n * sizeof *out->counts);
    size_t n_items = 0;
    for (size_t i = 0; i < n; i++) {
        if (n_items > 0 && out->ids[n_items - 1] == pairs[i].id) {
            out->counts[n_items - 1] += pairs[i].count;
        } else {
            out->ids[n_items] = pairs[i].id;
            out->counts[n_items] = pairs[i].count;
            n_items++;
        }
    }
    free(pairs);
    out->n_items = n_items;
    out->ids = xrealloc(out->ids, (n_items ? n_items : 1) * sizeof *out->ids);
    out->counts = xrealloc(out->counts, (n_items ? n_items : 1) * sizeof *out->counts);
    out->index = keyindex_create(n_items);
    for (size_t i = 0; i < n_items; i++) {
        size_t position = keyindex_insert(out->index, out->ids[i], NULL);
        assert(position == i);
        (void)position;
    }
}

int64_t catalogue_find(const Catalogue *catalogue, uint64_t id)
{
    return catalogue->index ? keyindex_find(catalogue->index, id) : -1;
}

void catalogue_free(Catalogue *catalogue)
{
    free(catalogue->ids);
    free(catalogue->counts);
    keyindex_destroy(catalogue->index);
    memset(catalogue, 0, sizeof *catalogue);
}

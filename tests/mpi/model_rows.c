/* model_rows.c — lists every row of a trained model, for tests that compare
 * two models row by row (test_warm_start.sh).
 *
 * `model_rows RUN_DIR` loads RUN_DIR/model as psrec predict does
 * (model_files_load: every shard checked) and prints one line per row,
 * `table id step hash`, where step is the row's optimizer step count and
 * hash an FNV-1a checksum of all its floats — weights and optimizer state
 * (Adam's m and v) — so two rows print alike only when they are the same
 * bit for bit. No MPI.
 */
#include <inttypes.h>
#include <stdio.h>

#include "psrec/app/model_files.h"
#include "psrec/core/keys.h"
#include "psrec/core/util.h"

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: model_rows RUN_DIR\n");
        return 2;
    }
    ModelManifest manifest;
    ModelParams params;
    const ModelOps *model;
    Error err;
    Store *store = model_files_load(argv[1], &manifest, &params, &model, &err);
    if (!store) {
        fprintf(stderr, "model_rows: %s\n", err.message);
        return 1;
    }
    for (int t = 0; t < store_table_count(store); t++) {
        size_t stride = store_row_stride(store, t);
        for (size_t r = 0; r < store_row_count(store, t); r++) {
            uint64_t key = store_row_key(store, t, r);
            uint64_t hash = checksum_update(CHECKSUM_INIT, store_row_data(store, t, r),
                                            stride * sizeof(float));
            printf("%u %" PRIu64 " %u %016" PRIx64 "\n", key_table(key), key_id(key),
                   *store_row_step(store, t, r), hash);
        }
    }
    store_destroy(store);
    return 0;
}

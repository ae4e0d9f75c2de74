/* corrupt_sender.c — sends a parameter server a message that must be
 * rejected, to check that the job ends with a clear protocol error instead
 * of a crash, a hang or silent garbage.
 *
 * Run as `mpirun -np 2 corrupt_sender MODE`: rank 1 is a real server
 * (server_run over an mf store); rank 0 plays a worker and sends
 *   garbage    — bytes that do not decode as a Push;
 *   sizes      — a well-formed Push whose gradient count disagrees with its keys;
 *   after-done — WORKER_DONE, then a Push, which must not reset the worker's
 *                clock and let the server stop serving the others early;
 *   pair-sizes — a PairCounts whose values are not `width` per pair;
 *   pairs      — a well-formed PairCounts to a model that counts no pairs.
 * The server must abort the job; rank 0 then waits for an answer that never
 * comes, so the job only ends through that abort.
 */
#include <stdio.h>
#include <string.h>

#include "psrec/ps/comm.h"
#include "psrec/core/keys.h"
#include "psrec/core/log.h"
#include "psrec/models/model.h"
#include "psrec/ps/server.h"
#include "psrec/ps/store.h"
#include "psrec/ps/wire.h"

int main(int argc, char **argv)
{
    comm_init(&argc, &argv);
    if (argc != 2 || comm_world_size() != 3) {
        fprintf(stderr,
                "usage: mpirun -np 3 corrupt_sender garbage|sizes|after-done|pair-sizes|pairs\n");
        comm_abort(2);
    }
    /* Ranks 0 and 1 are workers (rank 1 stays silent, so the server must keep
     * serving), rank 2 the server. */
    CommLayout layout;
    comm_split_roles(&layout, 1);
    log_set_identity(layout.world_rank, layout.is_server ? "server" : "worker");
    ShardMap map;
    shardmap_init(&map, 16, 1);
    ModelParams params = {.dim = 4, .init_std = 0.1f};
    const ModelOps *mf = model_find("mf");
    if (layout.is_server) {
        TableSpec specs[STORE_MAX_TABLES];
        int n_tables = mf->table_specs(&params, specs);
        OptimizerConfig optimizer = {.kind = OPTIMIZER_SGD, .learning_rate = 0.1f};
        Store *store = store_create(specs, n_tables, &optimizer, 1);
        LearningRateSchedule schedule = {.learning_rate = 0.1f, .decay = 1.0f,
                                         .batches_per_epoch = 1};
        ServerStats stats;
        server_run(&layout, &map, &schedule, 0, &store, NULL, NULL, &stats);
        store_destroy(store);
    } else if (layout.role_rank == 0) {
        CommOutbox *outbox = comm_outbox_create();
        ByteBuffer message = {0};
        if (strcmp(argv[1], "garbage") == 0) {
            /* Field 2 (packed keys) claims 16 bytes but only one follows. */
            static const uint8_t garbage[] = {0x12, 0x10, 0x01};
            bytebuffer_reserve(&message, sizeof garbage);
            memcpy(message.data, garbage, sizeof garbage);
            message.len = sizeof garbage;
        } else if (strcmp(argv[1], "after-done") == 0) {
            WireControl done = {.kind = WIRE_CONTROL_WORKER_DONE, .value = 0};
            wire_encode_control(&done, &message);
            comm_outbox_send(outbox, comm_server_world_rank(&layout, 0), COMM_TAG_CONTROL,
                             &message);
            WirePush push = {.clock = 0};
            wire_encode_push(&push, &message);
        } else if (strncmp(argv[1], "pair", 4) == 0) {
            uint64_t rows[2] = {key_make(MODEL_TABLE_ITEM, 1), key_make(MODEL_TABLE_ITEM, 2)};
            uint64_t columns[2] = {2, 1};
            float values[3] = {1, 1, 1};
            WirePairCounts pairs = {.width = 1, .n_pairs = 2, .rows = rows, .columns = columns,
                                    .n_values = strcmp(argv[1], "pairs") == 0 ? 2 : 3,
                                    .values = values};
            wire_encode_pair_counts(&pairs, &message);
            comm_outbox_send(outbox, comm_server_world_rank(&layout, 0), COMM_TAG_PAIRS,
                             &message);
            comm_outbox_flush(outbox);
            ByteBuffer never = {0};
            comm_recv(&never, COMM_ANY_SOURCE, COMM_ANY_TAG, NULL, NULL);
            comm_finalize();
            return 0;
        } else {
            uint64_t keys[2] = {key_make(MODEL_TABLE_USER, 1), key_make(MODEL_TABLE_ITEM, 2)};
            float grads[3] = {0.1f, 0.2f, 0.3f}; /* rows of width 5 need 10 */
            WirePush push = {.clock = 1, .n_keys = 2, .keys = keys, .n_grads = 3, .grads = grads};
            wire_encode_push(&push, &message);
        }
        comm_outbox_send(outbox, comm_server_world_rank(&layout, 0), COMM_TAG_PUSH, &message);
        comm_outbox_flush(outbox);
        ByteBuffer never = {0};
        comm_recv(&never, COMM_ANY_SOURCE, COMM_ANY_TAG, NULL, NULL);
    } else {
        ByteBuffer never = {0}; /* the silent worker: waits for the abort */
        comm_recv(&never, COMM_ANY_SOURCE, COMM_ANY_TAG, NULL, NULL);
    }
    comm_finalize();
    return 0;
}

/* comm.c — MPI behind the contract of comm.h. The only file that includes
 * <mpi.h>. The role communicator is the module's state, set once in
 * comm_split_roles. */
#include "psrec/ps/comm.h"

#include <assert.h>
#include <limits.h>
#include <mpi.h>
#include <stdlib.h>
#include <string.h>

#include "psrec/core/log.h"

static MPI_Comm role_comm = MPI_COMM_NULL;

static _Noreturn void abort_job(int exit_code)
{
    MPI_Abort(MPI_COMM_WORLD, exit_code);
    abort(); /* MPI_Abort does not return; this keeps _Noreturn honest */
}

void comm_init(int *argc, char ***argv)
{
    /* A parameter server spends most of its time waiting for messages, and
     * jobs often place more ranks than cores (servers beside workers). Open
     * MPI busy-polls while waiting unless told to yield the core, which
     * made an oversubscribed job tens of times slower; a user's own setting
     * of this variable wins. */
    setenv("OMPI_MCA_mpi_yield_when_idle", "1", 0);
    MPI_Init(argc, argv);
    /* Errors in MPI calls end the job with MPI's message rather than
     * returning codes nobody could act on. */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_ARE_FATAL);
    log_set_abort_handler(abort_job);
}

void comm_finalize(void)
{
    if (role_comm != MPI_COMM_NULL)
        MPI_Comm_free(&role_comm);
    MPI_Finalize();
}

int comm_world_rank(void)
{
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    return rank;
}

int comm_world_size(void)
{
    int size;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    return size;
}

void comm_split_roles(CommLayout *layout, int n_servers)
{
    layout->world_rank = comm_world_rank();
    layout->world_size = comm_world_size();
    assert(n_servers >= 1 && n_servers < layout->world_size);
    layout->n_servers = n_servers;
    layout->n_workers = layout->world_size - n_servers;
    layout->is_server = layout->world_rank >= layout->n_workers;
    layout->role_rank = layout->is_server ? layout->world_rank - layout->n_workers
                                          : layout->world_rank;
    MPI_Comm_split(MPI_COMM_WORLD, layout->is_server ? 1 : 0, layout->world_rank, &role_comm);
}

int comm_server_world_rank(const CommLayout *layout, int server)
{
    assert(server >= 0 && server < layout->n_servers);
    return layout->n_workers + server;
}

/* ---- outbox: in-flight sends with the buffers they own, plus a pool of
 * finished buffers handed back to callers so steady state allocates nothing. */
struct CommOutbox {
    MPI_Request *requests;
    ByteBuffer *buffers;  /* buffers[i] belongs to requests[i] */
    int n_active;
    int capacity;
    ByteBuffer *pool;
    int n_pool;
    int pool_capacity;
};

CommOutbox *comm_outbox_create(void) { return xcalloc(1, sizeof(CommOutbox)); }

static void outbox_recycle(CommOutbox *outbox, ByteBuffer *buf)
{
    if (outbox->n_pool == outbox->pool_capacity) {
        outbox->pool_capacity = outbox->pool_capacity ? 2 * outbox->pool_capacity : 8;
        outbox->pool = xrealloc(outbox->pool, (size_t)outbox->pool_capacity * sizeof(ByteBuffer));
    }
    buf->len = 0;
    outbox->pool[outbox->n_pool++] = *buf;
    memset(buf, 0, sizeof *buf);
}

/* Drops completed entries (their buffers go to the pool), keeping the active
 * ones packed at the front. */
static void outbox_compact(CommOutbox *outbox)
{
    int kept = 0;
    for (int i = 0; i < outbox->n_active; i++) {
        if (outbox->requests[i] == MPI_REQUEST_NULL) {
            outbox_recycle(outbox, &outbox->buffers[i]);
        } else {
            outbox->requests[kept] = outbox->requests[i];
            outbox->buffers[kept] = outbox->buffers[i];
            kept++;
        }
    }
    outbox->n_active = kept;
}

void comm_outbox_send(CommOutbox *outbox, int dest_world_rank, CommTag tag, ByteBuffer *message)
{
    if (message->len > (size_t)INT_MAX)
        fatal("message of %zu bytes exceeds MPI's 2 GiB count limit; use smaller batches",
              message->len);
    if (outbox->n_active == outbox->capacity) {
        comm_outbox_progress(outbox);
        if (outbox->n_active == outbox->capacity) {
            outbox->capacity = outbox->capacity ? 2 * outbox->capacity : 16;
            outbox->requests = xrealloc(outbox->requests,
                                        (size_t)outbox->capacity * sizeof(MPI_Request));
            outbox->buffers = xrealloc(outbox->buffers,
                                       (size_t)outbox->capacity * sizeof(ByteBuffer));
        }
    }
    int slot = outbox->n_active++;
    outbox->buffers[slot] = *message;
    MPI_Isend(outbox->buffers[slot].data, (int)message->len, MPI_BYTE, dest_world_rank, (int)tag,
              MPI_COMM_WORLD, &outbox->requests[slot]);
    /* Hand back recycled memory so the caller can encode the next message. */
    if (outbox->n_pool > 0) {
        *message = outbox->pool[--outbox->n_pool];
    } else {
        memset(message, 0, sizeof *message);
    }
}

void comm_outbox_progress(CommOutbox *outbox)
{
    if (outbox->n_active == 0)
        return;
    int flag;
    MPI_Testall(outbox->n_active, outbox->requests, &flag, MPI_STATUSES_IGNORE);
    if (!flag) {
        /* Testall leaves requests untouched unless all completed; test each. */
        for (int i = 0; i < outbox->n_active; i++)
            MPI_Test(&outbox->requests[i], &flag, MPI_STATUS_IGNORE);
    }
    outbox_compact(outbox);
}

void comm_outbox_flush(CommOutbox *outbox)
{
    if (outbox->n_active == 0)
        return;
    MPI_Waitall(outbox->n_active, outbox->requests, MPI_STATUSES_IGNORE);
    outbox_compact(outbox);
}

void comm_outbox_destroy(CommOutbox *outbox)
{
    if (!outbox)
        return;
    comm_outbox_flush(outbox);
    for (int i = 0; i < outbox->n_pool; i++)
        bytebuffer_free(&outbox->pool[i]);
    free(outbox->pool);
    free(outbox->requests);
    free(outbox->buffers);
    free(outbox);
}

void comm_recv(ByteBuffer *buf, int source, int tag, int *out_source, int *out_tag)
{
    MPI_Status status;
    MPI_Probe(source == COMM_ANY_SOURCE ? MPI_ANY_SOURCE : source,
              tag == COMM_ANY_TAG ? MPI_ANY_TAG : tag, MPI_COMM_WORLD, &status);
    int count;
    MPI_Get_count(&status, MPI_BYTE, &count);
    bytebuffer_reserve(buf, (size_t)count);
    MPI_Recv(buf->data, count, MPI_BYTE, status.MPI_SOURCE, status.MPI_TAG, MPI_COMM_WORLD,
             MPI_STATUS_IGNORE);
    buf->len = (size_t)count;
    if (out_source)
        *out_source = status.MPI_SOURCE;
    if (out_tag)
        *out_tag = status.MPI_TAG;
}

void comm_workers_sum_double(double *values, int n)
{
    MPI_Allreduce(MPI_IN_PLACE, values, n, MPI_DOUBLE, MPI_SUM, role_comm);
}

void comm_workers_max_u64(uint64_t *values, int n)
{
    MPI_Allreduce(MPI_IN_PLACE, values, n, MPI_UINT64_T, MPI_MAX, role_comm);
}

void comm_workers_max_double(double *values, int n)
{
    MPI_Allreduce(MPI_IN_PLACE, values, n, MPI_DOUBLE, MPI_MAX, role_comm);
}

void comm_workers_barrier(void) { MPI_Barrier(role_comm); }

/* MPI counts are ints: a larger exchange is refused rather than truncated. */
static int byte_count(size_t bytes)
{
    if (bytes > (size_t)INT_MAX)
        fatal("an exchange of %zu bytes between two workers is larger than MPI's %d-byte "
              "limit; start more workers",
              bytes, INT_MAX);
    return (int)bytes;
}

void comm_workers_alltoallv(const uint8_t *send, const size_t *send_bytes, ByteBuffer *recv,
                            size_t *recv_bytes)
{
    int n;
    MPI_Comm_size(role_comm, &n);
    int *counts = xmalloc(4 * (size_t)n * sizeof(int));
    int *send_counts = counts, *send_offsets = counts + n;
    int *recv_counts = counts + 2 * n, *recv_offsets = counts + 3 * n;
    size_t offset = 0;
    for (int w = 0; w < n; w++) {
        send_counts[w] = byte_count(send_bytes[w]);
        send_offsets[w] = byte_count(offset);
        offset += send_bytes[w];
    }
    MPI_Alltoall(send_counts, 1, MPI_INT, recv_counts, 1, MPI_INT, role_comm);
    size_t total = 0;
    for (int w = 0; w < n; w++) {
        recv_offsets[w] = byte_count(total);
        recv_bytes[w] = (size_t)recv_counts[w];
        total += recv_bytes[w];
    }
    byte_count(total);
    bytebuffer_reserve(recv, total ? total : 1);
    recv->len = total;
    MPI_Alltoallv(send, send_counts, send_offsets, MPI_BYTE, recv->data, recv_counts,
                  recv_offsets, MPI_BYTE, role_comm);
    free(counts);
}

void comm_workers_allgatherv(const void *send, size_t bytes, ByteBuffer *recv)
{
    int n;
    MPI_Comm_size(role_comm, &n);
    int *counts = xmalloc(2 * (size_t)n * sizeof(int));
    int *offsets = counts + n;
    int mine = byte_count(bytes);
    MPI_Allgather(&mine, 1, MPI_INT, counts, 1, MPI_INT, role_comm);
    size_t total = 0;
    for (int w = 0; w < n; w++) {
        offsets[w] = byte_count(total);
        total += (size_t)counts[w];
    }
    byte_count(total);
    bytebuffer_reserve(recv, total ? total : 1);
    recv->len = total;
    MPI_Allgatherv(send, mine, MPI_BYTE, recv->data, counts, offsets, MPI_BYTE, role_comm);
    free(counts);
}

void comm_world_sum_double(double *values, int n)
{
    MPI_Allreduce(MPI_IN_PLACE, values, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
}

void comm_world_max_double(double *values, int n)
{
    MPI_Allreduce(MPI_IN_PLACE, values, n, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
}

void comm_world_max_int(int *value)
{
    MPI_Allreduce(MPI_IN_PLACE, value, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
}

void comm_world_min_int(int *value)
{
    MPI_Allreduce(MPI_IN_PLACE, value, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
}

void comm_world_broadcast(void *data, size_t bytes, int root)
{
    assert(bytes <= (size_t)INT_MAX);
    MPI_Bcast(data, (int)bytes, MPI_BYTE, root, MPI_COMM_WORLD);
}

_Noreturn void comm_abort(int exit_code) { abort_job(exit_code); }

struct CommVote {
    uint64_t bits; /* in place: this worker's, then everyone's */
    MPI_Request request;
};

CommVote *comm_workers_vote_start(uint64_t bits)
{
    CommVote *vote = xmalloc(sizeof *vote);
    vote->bits = bits;
    MPI_Iallreduce(MPI_IN_PLACE, &vote->bits, 1, MPI_UINT64_T, MPI_BOR, role_comm,
                   &vote->request);
    return vote;
}

uint64_t comm_workers_vote_finish(CommVote *vote)
{
    MPI_Wait(&vote->request, MPI_STATUS_IGNORE);
    uint64_t bits = vote->bits;
    free(vote);
    return bits;
}

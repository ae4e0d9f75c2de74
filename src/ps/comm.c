/* comm.c — MPI behind the contract of comm.h. The only file that includes
 * <mpi.h>. The module's state: the role communicator, set once in
 * comm_split_roles, and the liveness watch (its own communicator, what each
 * peer last answered, the timeout), set up in comm_init. No MPI call here
 * blocks: waits poll (wait_until) so that they can answer and send pings. */
#include "psrec/ps/comm.h"

#include <assert.h>
#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "psrec/core/log.h"
#include "psrec/core/time_shares.h"

static MPI_Comm role_comm = MPI_COMM_NULL;
/* The role group's world ranks: [role_first_rank, role_first_rank + role_size). */
static int role_first_rank = 0;
static int role_size = 0;

static _Noreturn void abort_job(int exit_code)
{
    MPI_Abort(MPI_COMM_WORLD, exit_code);
    abort(); /* MPI_Abort does not return; this keeps _Noreturn honest */
}

/* ---- liveness (comm.h): pings and pongs between waiting ranks */

enum {
    LIVENESS_PING = 1,   /* are you there? (no payload) */
    LIVENESS_PONG = 2,   /* yes */
    LIVENESS_STALLED = 3 /* I found a stalled rank and will end the job */
};

/* Host names are cut to this (with the NUL): enough to find the node. */
#define HOST_NAME_BYTES 64
/* How often pings are answered and the watched ranks judged, at most. */
#define LIVENESS_SERVICE_INTERVAL_S 0.1
/* comm_keepalive reads the clock once per this many calls: a line of CSV
 * takes about a microsecond, a clock read 35 ns, and a caller doing a few
 * milliseconds per call is still serviced well within a second. */
#define KEEPALIVE_CALLS_PER_CLOCK_READ 16
/* A rank that found a stalled one waits this long for the notice of a
 * lower rank that found it at the same moment before it reports. */
#define LIVENESS_REPORT_GRACE_S 0.5
/* A wait idle for this long sleeps between polls: it leaves the core to
 * ranks with work (jobs often place more ranks than cores) while adding at
 * most a sleep to the first message after a long pause, never to the
 * steady traffic of training. */
#define WAIT_IDLE_BEFORE_SLEEP_S 0.01
#define WAIT_SLEEP_NS 100000L
/* With more ranks than cores on the host (comm_init), waits sleep at once
 * for this long at a time: short enough to add little to a message's way,
 * long enough to leave the core to a rank with work. */
#define WAIT_OVERSUBSCRIBED_SLEEP_NS 20000L
static double wait_idle_before_sleep_s = WAIT_IDLE_BEFORE_SLEEP_S;
static long wait_sleep_ns = WAIT_SLEEP_NS;

typedef struct {
    double answered_s;   /* when its last PONG came (0: never) */
    double pinged_s;     /* when our unanswered PING went out (0: none) */
    MPI_Request ping;    /* our PING to it, until MPI is done with it */
    MPI_Request pong;    /* our PONG to it */
    MPI_Request notice;  /* our STALLED notice to it */
} Peer;

static struct {
    MPI_Comm comm; /* MPI_COMM_NULL: not watching (before comm_init, after finalize) */
    double timeout_s;
    int rank, size;
    int n_workers;          /* 0 until comm_split_roles: ranks have no role yet */
    char *hosts;            /* size × HOST_NAME_BYTES */
    Peer *peers;            /* by world rank */
    double next_service_s;  /* service pings again from then */
    unsigned keepalive_calls;
    /* A stalled rank this rank found, and when it reports it. */
    int stalled_rank;       /* -1: none */
    double stalled_for_s;
    double report_at_s;
    bool report_deferred;   /* another rank reports; this one only if the job lingers */
    int lowest_notice_rank; /* the lowest rank that said it reports; INT_MAX: none */
} liveness = {.comm = MPI_COMM_NULL, .timeout_s = COMM_RANK_TIMEOUT_DEFAULT_S,
              .stalled_rank = -1, .lowest_notice_rank = INT_MAX};

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Collective over the world (comm_init): the ping communicator, every
 * rank's host name, and the table of peers. */
static void liveness_init(void)
{
    MPI_Comm_dup(MPI_COMM_WORLD, &liveness.comm);
    MPI_Comm_rank(MPI_COMM_WORLD, &liveness.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &liveness.size);
    char name[MPI_MAX_PROCESSOR_NAME];
    int len = 0;
    MPI_Get_processor_name(name, &len);
    char mine[HOST_NAME_BYTES] = {0};
    snprintf(mine, sizeof mine, "%.*s", len, name);
    liveness.hosts = xmalloc((size_t)liveness.size * HOST_NAME_BYTES);
    MPI_Allgather(mine, HOST_NAME_BYTES, MPI_CHAR, liveness.hosts, HOST_NAME_BYTES, MPI_CHAR,
                  MPI_COMM_WORLD);
    liveness.peers = xcalloc((size_t)liveness.size, sizeof(Peer));
    for (int r = 0; r < liveness.size; r++) {
        liveness.peers[r].ping = MPI_REQUEST_NULL;
        liveness.peers[r].pong = MPI_REQUEST_NULL;
        liveness.peers[r].notice = MPI_REQUEST_NULL;
    }
}

/* Sends a message of `kind` (no payload) to rank `to` unless the last one
 * sent through *request is still in flight (it says the same thing). */
static void liveness_send(int to, int kind, MPI_Request *request)
{
    if (*request != MPI_REQUEST_NULL) {
        int done;
        MPI_Test(request, &done, MPI_STATUS_IGNORE);
        if (!done)
            return;
    }
    MPI_Isend(NULL, 0, MPI_BYTE, to, kind, liveness.comm, request);
}

/* "server 0 on host x" (or "worker 2", or before roles "on host x"). */
static void describe_rank(int rank, char *out, size_t out_bytes)
{
    const char *host = liveness.hosts + (size_t)rank * HOST_NAME_BYTES;
    if (liveness.n_workers == 0)
        snprintf(out, out_bytes, "on host %s", host);
    else if (rank < liveness.n_workers)
        snprintf(out, out_bytes, "worker %d on host %s", rank, host);
    else
        snprintf(out, out_bytes, "server %d on host %s", rank - liveness.n_workers, host);
}

/* A rank that finds a stalled one reports it unless another did first:
 * it tells every other rank that it will, and reports after the grace
 * unless a lower rank said the same meanwhile (liveness_report_if_due). A
 * rank that stays quiet still reports if the job is there a timeout later,
 * so a lost report cannot leave the job hanging. */
static void liveness_defer_report(double now)
{
    liveness.report_deferred = true;
    liveness.report_at_s = now + liveness.timeout_s;
}

static void liveness_found_stalled(int rank, double silent_s, double now)
{
    if (liveness.stalled_rank >= 0)
        return;
    liveness.stalled_rank = rank;
    liveness.stalled_for_s = silent_s;
    if (liveness.lowest_notice_rank != INT_MAX) {
        liveness_defer_report(now);
        return;
    }
    liveness.report_at_s = now + LIVENESS_REPORT_GRACE_S;
    for (int r = 0; r < liveness.size; r++)
        if (r != liveness.rank && r != rank)
            liveness_send(r, LIVENESS_STALLED, &liveness.peers[r].notice);
}

static void liveness_report_if_due(double now)
{
    if (liveness.stalled_rank < 0 || now < liveness.report_at_s)
        return;
    if (!liveness.report_deferred && liveness.lowest_notice_rank < liveness.rank) {
        liveness_defer_report(now);
        return;
    }
    char who[HOST_NAME_BYTES + 32];
    describe_rank(liveness.stalled_rank, who, sizeof who);
    fatal("rank %d (%s) has not answered for %.0f s (stopped, or stuck in a system call); "
          "ending the job. Raise --rank-timeout if ranks legitimately work that long without "
          "answering",
          liveness.stalled_rank, who, liveness.stalled_for_s);
}

/* Answers the pings that came, takes the pongs and notices. */
static void liveness_take_messages(double now)
{
    for (;;) {
        int flag;
        MPI_Status status;
        MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, liveness.comm, &flag, &status);
        if (!flag)
            return;
        MPI_Recv(NULL, 0, MPI_BYTE, status.MPI_SOURCE, status.MPI_TAG, liveness.comm,
                 MPI_STATUS_IGNORE);
        Peer *peer = &liveness.peers[status.MPI_SOURCE];
        if (status.MPI_TAG == LIVENESS_PING) {
            liveness_send(status.MPI_SOURCE, LIVENESS_PONG, &peer->pong);
        } else if (status.MPI_TAG == LIVENESS_PONG) {
            peer->answered_s = now;
            peer->pinged_s = 0;
        } else if (status.MPI_TAG == LIVENESS_STALLED &&
                   status.MPI_SOURCE < liveness.lowest_notice_rank) {
            liveness.lowest_notice_rank = status.MPI_SOURCE;
        }
    }
}

/* What a wait waits for: the world ranks [first_rank, first_rank + n_ranks)
 * it pings when it makes no progress, since when it has waited. */
typedef struct {
    int first_rank;
    int n_ranks;
    double started_s;
} Wait;

/* A wait idle for a quarter of the timeout pings each rank it waits for
 * that has not answered lately; a ping unanswered for the other three
 * quarters names its rank stalled. */
static void liveness_watch(const Wait *wait, double now)
{
    double timeout = liveness.timeout_s;
    if (timeout <= 0 || now - wait->started_s < timeout / 4)
        return;
    for (int r = wait->first_rank; r < wait->first_rank + wait->n_ranks; r++) {
        if (r == liveness.rank)
            continue;
        Peer *peer = &liveness.peers[r];
        if (peer->pinged_s > 0) {
            if (now - peer->pinged_s >= timeout * 3 / 4) {
                double since = peer->answered_s > wait->started_s ? peer->answered_s
                                                                  : wait->started_s;
                liveness_found_stalled(r, now - since, now);
            }
        } else if (now - peer->answered_s >= timeout / 4) {
            log_debug("waited %.1f s without progress: asking rank %d whether it is still there",
                      now - wait->started_s, r);
            liveness_send(r, LIVENESS_PING, &peer->ping);
            peer->pinged_s = now;
        }
    }
}

/* Pings in and out, at most every LIVENESS_SERVICE_INTERVAL_S; wait is the
 * wait in progress, or NULL from comm_keepalive. */
static void liveness_service(const Wait *wait, double now)
{
    if (now < liveness.next_service_s)
        return;
    liveness.next_service_s = now + LIVENESS_SERVICE_INTERVAL_S;
    liveness_take_messages(now);
    if (wait)
        liveness_watch(wait, now);
    liveness_report_if_due(now);
}

void comm_keepalive(void)
{
    if (++liveness.keepalive_calls < KEEPALIVE_CALLS_PER_CLOCK_READ)
        return;
    liveness.keepalive_calls = 0;
    if (liveness.comm == MPI_COMM_NULL)
        return;
    liveness_service(NULL, now_s());
}

void comm_set_rank_timeout(double seconds)
{
    assert(seconds >= 0);
    liveness.timeout_s = seconds;
}

/* One look at whether what a wait waits for has happened. */
typedef bool (*WaitPoll)(void *state);

/* Polls until poll(state) says done, servicing pings meanwhile and ending
 * the job if a rank it waits for (first_rank, n_ranks) is stalled. */
static void wait_until(WaitPoll poll, void *state, int first_rank, int n_ranks)
{
    /* A clock read even when what it waits for is there already: a busy
     * server, whose messages always are, still answers pings, however
     * long each message keeps it. */
    double now = now_s();
    liveness_service(NULL, now);
    if (poll(state))
        return;
    Wait wait = {.first_rank = first_rank, .n_ranks = n_ranks, .started_s = now};
    for (;;) {
        if (poll(state))
            return;
        now = now_s();
        liveness_service(&wait, now);
        if (now - wait.started_s >= wait_idle_before_sleep_s) {
            struct timespec pause = {.tv_sec = 0, .tv_nsec = wait_sleep_ns};
            nanosleep(&pause, NULL);
        }
    }
}

static bool request_done(void *request)
{
    int done;
    MPI_Test(request, &done, MPI_STATUS_IGNORE);
    return done != 0;
}

/* Waits for a collective's request; group is its communicator's ranks. */
static void wait_world(MPI_Request *request)
{
    wait_until(request_done, request, 0, liveness.size);
}

static void wait_role(MPI_Request *request)
{
    wait_until(request_done, request, role_first_rank, role_size);
}

/* Ends the watch at comm_finalize, when every rank is past its last wait. */
static void liveness_shutdown(void)
{
    for (int r = 0; r < liveness.size; r++) {
        MPI_Request *requests[3] = {&liveness.peers[r].ping, &liveness.peers[r].pong,
                                    &liveness.peers[r].notice};
        for (int k = 0; k < 3; k++)
            if (*requests[k] != MPI_REQUEST_NULL)
                MPI_Request_free(requests[k]); /* a 0-byte send finishes by itself */
    }
    MPI_Comm_free(&liveness.comm);
    free(liveness.peers);
    free(liveness.hosts);
    liveness.peers = NULL;
    liveness.hosts = NULL;
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
    liveness_init();
    MPI_Comm local;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &local);
    int local_ranks;
    MPI_Comm_size(local, &local_ranks);
    MPI_Comm_free(&local);
    /* More ranks than cores on this host: a rank polling for its messages
     * takes the core a busy one needs (3 ranks on 2 cores trained 40%
     * slower than 2), so waits sleep at once, in short naps. */
    if (local_ranks > machine_cores()) {
        wait_idle_before_sleep_s = 0.0;
        wait_sleep_ns = WAIT_OVERSUBSCRIBED_SLEEP_NS;
    }
}

void comm_finalize(void)
{
    /* MPI_Finalize does not answer pings: meet the others first. */
    MPI_Request request;
    MPI_Ibarrier(MPI_COMM_WORLD, &request);
    wait_world(&request);
    liveness_shutdown();
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

const char *comm_rank_host(int world_rank)
{
    assert(liveness.hosts != NULL && world_rank >= 0 && world_rank < liveness.size);
    return liveness.hosts + (size_t)world_rank * HOST_NAME_BYTES;
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
    role_first_rank = layout->is_server ? layout->n_workers : 0;
    role_size = layout->is_server ? layout->n_servers : layout->n_workers;
    liveness.n_workers = layout->n_workers;
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
    time_shares_charge(TIME_TRANSFER);
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
    time_shares_charge(TIME_TRANSFER);
}

static bool outbox_all_sent(void *outbox_state)
{
    CommOutbox *outbox = outbox_state;
    int done;
    MPI_Testall(outbox->n_active, outbox->requests, &done, MPI_STATUSES_IGNORE);
    return done != 0;
}

void comm_outbox_flush(CommOutbox *outbox)
{
    if (outbox->n_active == 0)
        return;
    /* The destinations could be anyone: every rank is watched. */
    wait_until(outbox_all_sent, outbox, 0, liveness.size);
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

/* A probe for a message: what comm_recv waits for. */
typedef struct {
    int source, tag;
    MPI_Status status;
} Probe;

static bool message_arrived(void *probe_state)
{
    Probe *probe = probe_state;
    int arrived;
    MPI_Iprobe(probe->source, probe->tag, MPI_COMM_WORLD, &arrived, &probe->status);
    return arrived != 0;
}

void comm_recv(ByteBuffer *buf, int source, int tag, int *out_source, int *out_tag)
{
    Probe probe = {.source = source == COMM_ANY_SOURCE ? MPI_ANY_SOURCE : source,
                   .tag = tag == COMM_ANY_TAG ? MPI_ANY_TAG : tag};
    if (source == COMM_ANY_SOURCE)
        wait_until(message_arrived, &probe, 0, liveness.size);
    else
        wait_until(message_arrived, &probe, source, 1);
    time_shares_charge(TIME_WAIT);
    MPI_Status status = probe.status;
    int count;
    MPI_Get_count(&status, MPI_BYTE, &count);
    bytebuffer_reserve(buf, (size_t)count);
    MPI_Recv(buf->data, count, MPI_BYTE, status.MPI_SOURCE, status.MPI_TAG, MPI_COMM_WORLD,
             MPI_STATUS_IGNORE);
    buf->len = (size_t)count;
    time_shares_charge(TIME_TRANSFER);
    if (out_source)
        *out_source = status.MPI_SOURCE;
    if (out_tag)
        *out_tag = status.MPI_TAG;
}

void comm_workers_sum_double(double *values, int n)
{
    MPI_Request request;
    MPI_Iallreduce(MPI_IN_PLACE, values, n, MPI_DOUBLE, MPI_SUM, role_comm, &request);
    wait_role(&request);
}

void comm_workers_max_u64(uint64_t *values, int n)
{
    MPI_Request request;
    MPI_Iallreduce(MPI_IN_PLACE, values, n, MPI_UINT64_T, MPI_MAX, role_comm, &request);
    wait_role(&request);
}

void comm_workers_max_double(double *values, int n)
{
    MPI_Request request;
    MPI_Iallreduce(MPI_IN_PLACE, values, n, MPI_DOUBLE, MPI_MAX, role_comm, &request);
    wait_role(&request);
}

void comm_workers_barrier(void)
{
    MPI_Request request;
    MPI_Ibarrier(role_comm, &request);
    wait_role(&request);
}

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
    MPI_Request request;
    MPI_Ialltoall(send_counts, 1, MPI_INT, recv_counts, 1, MPI_INT, role_comm, &request);
    wait_role(&request);
    size_t total = 0;
    for (int w = 0; w < n; w++) {
        recv_offsets[w] = byte_count(total);
        recv_bytes[w] = (size_t)recv_counts[w];
        total += recv_bytes[w];
    }
    byte_count(total);
    bytebuffer_reserve(recv, total ? total : 1);
    recv->len = total;
    MPI_Ialltoallv(send, send_counts, send_offsets, MPI_BYTE, recv->data, recv_counts,
                   recv_offsets, MPI_BYTE, role_comm, &request);
    wait_role(&request);
    free(counts);
}

void comm_workers_allgatherv(const void *send, size_t bytes, ByteBuffer *recv)
{
    int n;
    MPI_Comm_size(role_comm, &n);
    int *counts = xmalloc(2 * (size_t)n * sizeof(int));
    int *offsets = counts + n;
    int mine = byte_count(bytes);
    MPI_Request request;
    MPI_Iallgather(&mine, 1, MPI_INT, counts, 1, MPI_INT, role_comm, &request);
    wait_role(&request);
    size_t total = 0;
    for (int w = 0; w < n; w++) {
        offsets[w] = byte_count(total);
        total += (size_t)counts[w];
    }
    byte_count(total);
    bytebuffer_reserve(recv, total ? total : 1);
    recv->len = total;
    MPI_Iallgatherv(send, mine, MPI_BYTE, recv->data, counts, offsets, MPI_BYTE, role_comm,
                    &request);
    wait_role(&request);
    free(counts);
}

void comm_world_sum_double(double *values, int n)
{
    MPI_Request request;
    MPI_Iallreduce(MPI_IN_PLACE, values, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD, &request);
    wait_world(&request);
}

void comm_world_max_double(double *values, int n)
{
    MPI_Request request;
    MPI_Iallreduce(MPI_IN_PLACE, values, n, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD, &request);
    wait_world(&request);
}

void comm_world_max_int(int *value)
{
    MPI_Request request;
    MPI_Iallreduce(MPI_IN_PLACE, value, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD, &request);
    wait_world(&request);
}

void comm_world_min_int(int *value)
{
    MPI_Request request;
    MPI_Iallreduce(MPI_IN_PLACE, value, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD, &request);
    wait_world(&request);
}

void comm_world_broadcast(void *data, size_t bytes, int root)
{
    assert(bytes <= (size_t)INT_MAX);
    MPI_Request request;
    MPI_Ibcast(data, (int)bytes, MPI_BYTE, root, MPI_COMM_WORLD, &request);
    wait_world(&request);
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
    wait_role(&vote->request);
    uint64_t bits = vote->bits;
    free(vote);
    return bits;
}
